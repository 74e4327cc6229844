// Package natstest runs a real NATS server with JetStream for tests, on a
// free 127.0.0.1 port with its store in a test directory, and publishes
// snapshots the way the control plane does.
package natstest

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Server is a running test NATS server.
type Server struct {
	*server.Server
	Dir  string
	Port int
}

// Start runs a JetStream-enabled server storing in dir; port 0 picks a
// free one (pass a previous Port to restart on the same address).
func Start(tb testing.TB, dir string, port int) *Server {
	tb.Helper()
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	return &Server{Server: s, Dir: dir, Port: s.Addr().(*net.TCPAddr).Port}
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.ClientURL() }

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

// Publisher writes snapshots into the buckets like the control plane.
type Publisher struct {
	tb      testing.TB
	Conn    *nats.Conn
	JS      jetstream.JetStream
	Zones   jetstream.KeyValue
	Accts   jetstream.KeyValue
	Objects jetstream.ObjectStore
}

// NewPublisher connects to url and creates the buckets.
func NewPublisher(tb testing.TB, url string) *Publisher {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatalf("connect publisher: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := &Publisher{tb: tb, Conn: nc, JS: js}
	if p.Zones, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: snapshot.ZonesBucket}); err != nil {
		tb.Fatalf("create zones bucket: %v", err)
	}
	if p.Accts, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: snapshot.AccountsBucket}); err != nil {
		tb.Fatalf("create accounts bucket: %v", err)
	}
	if p.Objects, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: snapshot.ObjectBucket}); err != nil {
		tb.Fatalf("create object bucket: %v", err)
	}
	return p
}

// PutZone publishes a zone snapshot into the KV bucket.
func (p *Publisher) PutZone(z *snapshot.Zone) {
	p.tb.Helper()
	b, err := snapshot.MarshalZone(z)
	if err != nil {
		p.tb.Fatal(err)
	}
	p.PutZoneBytes(snapshot.ZoneKey(z.GetHeader().GetName()), b)
}

// PutZoneBytes publishes raw bytes under a zone key (for bad input).
func (p *Publisher) PutZoneBytes(key string, b []byte) {
	p.tb.Helper()
	if _, err := p.Zones.Put(context.Background(), key, b); err != nil {
		p.tb.Fatalf("put zone %s: %v", key, err)
	}
}

// PutZoneObject publishes a zone through the object store, the way zones
// too large for a KV value travel.
func (p *Publisher) PutZoneObject(z *snapshot.Zone) {
	p.tb.Helper()
	key := snapshot.ZoneKey(z.GetHeader().GetName())
	b, err := snapshot.MarshalZone(z)
	if err != nil {
		p.tb.Fatal(err)
	}
	if _, err := p.Objects.Put(context.Background(), jetstream.ObjectMeta{Name: key}, bytes.NewReader(b)); err != nil {
		p.tb.Fatalf("put object %s: %v", key, err)
	}
	p.PutZone(&snapshot.Zone{Header: z.GetHeader(), RecordsObject: key})
}

// DeleteZone removes a zone.
func (p *Publisher) DeleteZone(name string) {
	p.tb.Helper()
	if err := p.Zones.Delete(context.Background(), snapshot.ZoneKey(name)); err != nil {
		p.tb.Fatalf("delete zone %s: %v", name, err)
	}
}

// PutAccount publishes account settings.
func (p *Publisher) PutAccount(a *snapshot.Account) {
	p.tb.Helper()
	b, err := snapshot.MarshalAccount(a)
	if err != nil {
		p.tb.Fatal(err)
	}
	if _, err := p.Accts.Put(context.Background(), a.GetAccountId(), b); err != nil {
		p.tb.Fatalf("put account %s: %v", a.GetAccountId(), err)
	}
}

// Eventually waits up to timeout for cond, failing the test otherwise.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
