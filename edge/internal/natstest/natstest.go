// Package natstest runs a real NATS server with JetStream for tests, on a
// free 127.0.0.1 port with its store in a test directory, and publishes
// snapshots the way the control plane does.
package natstest

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/zonegrid/zonegrid/pkg/natsauth"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Server is a running test NATS server.
type Server struct {
	*server.Server
	Dir  string
	Port int
	// Users are the nkey users of a server started with StartSecure.
	Users *Users
}

// Users holds one nkey user per role, granted natsauth's permissions.
type Users struct {
	ControlPlane, Edge nkeys.KeyPair
}

// Option connects as the role's user.
func (u *Users) Option(tb testing.TB, r natsauth.Role) nats.Option {
	tb.Helper()
	kp := u.ControlPlane
	if r == natsauth.Edge {
		kp = u.Edge
	}
	pub, err := kp.PublicKey()
	if err != nil {
		tb.Fatal(err)
	}
	return nats.Nkey(pub, kp.Sign)
}

// SeedFile writes the role's seed to a 0600 file under dir (what
// --nats-nkey-seed reads) and returns its path.
func (u *Users) SeedFile(tb testing.TB, dir string, r natsauth.Role) string {
	tb.Helper()
	kp := u.ControlPlane
	if r == natsauth.Edge {
		kp = u.Edge
	}
	seed, err := kp.Seed()
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, string(r)+".nk")
	if err := os.WriteFile(p, seed, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Start runs a JetStream-enabled server storing in dir; port 0 picks a
// free one (pass a previous Port to restart on the same address).
func Start(tb testing.TB, dir string, port int) *Server {
	tb.Helper()
	return start(tb, dir, port, nil)
}

// StartSecure runs a server like Start that admits only two nkey users,
// the control plane and an edge, with the permissions of package
// natsauth.
func StartSecure(tb testing.TB, dir string) *Server {
	tb.Helper()
	u := &Users{}
	var err error
	if u.ControlPlane, err = nkeys.CreateUser(); err != nil {
		tb.Fatal(err)
	}
	if u.Edge, err = nkeys.CreateUser(); err != nil {
		tb.Fatal(err)
	}
	return start(tb, dir, 0, u)
}

func start(tb testing.TB, dir string, port int, users *Users) *Server {
	tb.Helper()
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true,
	}
	if users != nil {
		for _, r := range []struct {
			role natsauth.Role
			kp   nkeys.KeyPair
		}{{natsauth.ControlPlane, users.ControlPlane}, {natsauth.Edge, users.Edge}} {
			pub, err := r.kp.PublicKey()
			if err != nil {
				tb.Fatal(err)
			}
			p, err := natsauth.For(r.role)
			if err != nil {
				tb.Fatal(err)
			}
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: pub, Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: p.PublishAllow},
				Subscribe: &server.SubjectPermission{Allow: p.SubscribeAllow},
			}})
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	return &Server{Server: s, Dir: dir, Port: s.Addr().(*net.TCPAddr).Port, Users: users}
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
	// Signer, when set, signs every value like a control plane with
	// --snapshot-signing-key.
	Signer *snapshot.Signer
}

// NewPublisher connects to url and creates the buckets.
func NewPublisher(tb testing.TB, url string, opts ...nats.Option) *Publisher {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
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
	key := snapshot.ZoneKey(z.GetHeader().GetName())
	p.PutZoneBytes(key, p.seal(snapshot.ZoneBinding(key), b))
}

// seal signs b for binding when the publisher has a Signer.
func (p *Publisher) seal(binding string, b []byte) []byte {
	p.tb.Helper()
	out, err := p.Signer.Seal(binding, b)
	if err != nil {
		p.tb.Fatal(err)
	}
	return out
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
	p.PutObjectOnly(z)
	p.PutZone(&snapshot.Zone{Header: z.GetHeader(), RecordsObject: snapshot.ZoneKey(z.GetHeader().GetName())})
}

// PutObjectOnly stores a zone's object without publishing the pointer to
// it: what an edge finds when it retries a fetch that failed.
func (p *Publisher) PutObjectOnly(z *snapshot.Zone) {
	p.tb.Helper()
	key := snapshot.ZoneKey(z.GetHeader().GetName())
	b, err := snapshot.MarshalZone(z)
	if err != nil {
		p.tb.Fatal(err)
	}
	b = p.seal(snapshot.ObjectBinding(key), b)
	if _, err := p.Objects.Put(context.Background(), jetstream.ObjectMeta{Name: key}, bytes.NewReader(b)); err != nil {
		p.tb.Fatalf("put object %s: %v", key, err)
	}
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
	b = p.seal(snapshot.AccountBinding(a.GetAccountId()), b)
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
