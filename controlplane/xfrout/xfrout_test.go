package xfrout

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/builder"
	"github.com/zonegrid/zonegrid/controlplane/embedded"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

const (
	tsigName   = "notify.example.test."
	tsigSecret = "bm90aWZ5LXRlc3Qta2V5LXNlY3JldC0wMTIzNDU2Nzg5"
)

// receiver is a secondary's NOTIFY endpoint: it refuses the first refuse
// NOTIFYs, then acknowledges; it records the serial of each NOTIFY and
// whether its TSIG verified.
type receiver struct {
	addr string
	mu   sync.Mutex
	// refuse is how many NOTIFYs are still answered REFUSED.
	refuse  int
	got     []uint32
	signed  []bool
	answers []int
}

func startReceiver(t *testing.T, refuse int) *receiver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{addr: pc.LocalAddr().String(), refuse: refuse}
	srv := &dns.Server{PacketConn: pc, TsigSecret: map[string]string{tsigName: tsigSecret},
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, m *dns.Msg) {
			resp := new(dns.Msg)
			resp.SetReply(m)
			r.mu.Lock()
			serial := uint32(0)
			if len(m.Answer) == 1 {
				if soa, ok := m.Answer[0].(*dns.SOA); ok {
					serial = soa.Serial
				}
			}
			r.got = append(r.got, serial)
			r.signed = append(r.signed, m.IsTsig() != nil && w.TsigStatus() == nil)
			if m.Opcode != dns.OpcodeNotify {
				resp.Rcode = dns.RcodeFormatError
			} else if r.refuse > 0 {
				r.refuse--
				resp.Rcode = dns.RcodeRefused
			}
			r.answers = append(r.answers, resp.Rcode)
			r.mu.Unlock()
			if t := m.IsTsig(); t != nil {
				resp.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
			}
			w.WriteMsg(resp)
		})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return r
}

func (r *receiver) snapshot() (got []uint32, signed []bool, answers []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint32(nil), r.got...), append([]bool(nil), r.signed...), append([]int(nil), r.answers...)
}

type env struct {
	st   *store.Store
	nc   *nats.Conn
	ring *keyseal.Ring
	cli  *clientv3.Client
}

// newEnv starts real etcd and NATS and, with builderToo, a builder
// publishing every change as a delta (the delta stream path) once a zone
// has a record.
func newEnv(t *testing.T, builderToo bool) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := zaptest.NewLogger(t)
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir(), UnsafeNoFsync: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.EtcdEndpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	nc, err := nats.Connect(srv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e := &env{st: store.New(cli, "/zg", log), nc: nc, cli: cli}
	kek, _ := keyseal.Generate()
	e.ring, _ = keyseal.New(kek)
	if builderToo {
		e.startBuilder(t)
	}
	return e
}

func (e *env) startBuilder(t *testing.T) {
	t.Helper()
	b, err := builder.New(e.st, e.nc, builder.Config{SOARname: "dns.test.", DeltaThreshold: 1}, zaptest.NewLogger(t).Named("builder"))
	if err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(bctx) }()
	t.Cleanup(func() { bcancel(); <-done })
}

// outgoingZone creates example.test. (full, active) with one record and a
// TSIG, links a peer at addr with it and enables outgoing transfers.
func (e *env) outgoingZone(t *testing.T, addr string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.st.CreateZone(ctx, "acct", "example.test.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "z1", AccountId: "acct", Name: "example.test.", Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, Type: dnsv1.ZoneType_ZONE_TYPE_FULL,
			NameServers: []string{"ns1.zonegrid.test."}, CreatedOn: timestamppb.Now()}, nil
	}); err != nil {
		t.Fatal(err)
	}
	e.putRecord(t, "r1", "www.example.test.", "192.0.2.1")
	raw, _ := base64.StdEncoding.DecodeString(tsigSecret)
	sealed, err := e.ring.Seal(raw, keyseal.TSIGContext("acct", "t1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateTsig(ctx, &dnsv1.StoredTsig{Tsig: &dnsv1.Tsig{Id: "t1", AccountId: "acct", Name: tsigName, Algorithm: dns.HmacSHA256}, SealedSecret: sealed}); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	if err := e.st.CreatePeer(ctx, &dnsv1.Peer{Id: "p1", AccountId: "acct", Name: "secondary", Ip: host, Port: uint32(p), TsigId: "t1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateOutgoingTransfer(ctx, "z1", []string{"p1"}, func(_ *dnsv1.Zone, _ *dnsv1.OutgoingTransfer, _ []*dnsv1.Peer) (*dnsv1.OutgoingTransfer, error) {
		return &dnsv1.OutgoingTransfer{ZoneId: "z1", ZoneName: "example.test.", Enabled: true, Peers: []string{"p1"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	return "z1"
}

// putRecord writes a record and returns the lowest revision the write can
// have: the version it makes, and the serial announcing it, are at least
// that. Not etcd's revision read after the write: a test goroutine
// descheduled between the two (a loaded machine) reads it after the
// builder stored its published revision and the worker its status (each a
// write), above the version's serial, and waits for a serial that never
// comes. A 300 ms pause there failed TestNotifyRetriedUntilAcknowledged
// every time exactly as CI once did ("never: the change announced" after
// 20 s, nothing logged), though the delta had been delivered and announced.
func (e *env) putRecord(t *testing.T, id, name, content string) int64 {
	t.Helper()
	before, err := e.st.CurrentRevision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpdateRecords(context.Background(), "z1", func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
		return []store.RecordOp{{Put: &dnsv1.Record{Id: id, Name: name, Type: "A", Content: content, Ttl: 300}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	return before + 1
}

// startWorker runs a worker; opts change its test configuration.
func (e *env) startWorker(t *testing.T, opts ...func(*Config)) *Worker {
	t.Helper()
	cfg := Config{
		OpenTsig: func(s *dnsv1.StoredTsig) ([]byte, error) {
			return e.ring.Open(s.GetSealedSecret(), keyseal.TSIGContext(s.GetTsig().GetAccountId(), s.GetTsig().GetId()))
		},
		ID: "test", Delay: 10 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	w := New(e.st, e.nc, cfg, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (e *env) status(t *testing.T) *dnsv1.TransferStatus {
	t.Helper()
	s, err := e.st.GetTransferStatus(context.Background(), "z1", store.TransferOutgoing)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return s
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A version of a zone with outgoing transfers makes the worker NOTIFY the
// linked peer, TSIG-signed with its key, with the version's serial; a peer
// that refuses is retried (backoff) until it acknowledges, the status
// going from FAILING to OK with the peer's acknowledged serial; a record
// change (published as a delta) is announced with its new serial.
func TestNotifyRetriedUntilAcknowledged(t *testing.T) {
	e := newEnv(t, true)
	r := startReceiver(t, 2)
	e.outgoingZone(t, r.addr)
	e.startWorker(t)

	eventually(t, "FAILING while the peer refuses", func() bool {
		s := e.status(t)
		return s.GetState() == dnsv1.TransferState_TRANSFER_STATE_FAILING && s.GetPeers()[0].GetLastError() != ""
	})
	eventually(t, "OK once acknowledged", func() bool {
		return e.status(t).GetState() == dnsv1.TransferState_TRANSFER_STATE_OK
	})
	got, signed, answers := r.snapshot()
	if len(got) < 3 || answers[0] != dns.RcodeRefused || answers[len(answers)-1] != dns.RcodeSuccess {
		t.Fatalf("NOTIFYs %v answered %v: want two refused then acknowledged", got, answers)
	}
	for i, s := range signed {
		if !s {
			t.Fatalf("NOTIFY %d not signed with the peer's key", i)
		}
	}
	st := e.status(t)
	serial := got[len(got)-1]
	if st.GetSerial() != serial || st.GetPeers()[0].GetSerial() != serial || st.GetPeers()[0].GetLastSuccessTime() == nil || st.GetPeers()[0].GetLastError() != "" {
		t.Fatalf("status after the acknowledgement: %v", st)
	}

	// A change: announced with the new serial (the version's revision).
	rev := e.putRecord(t, "r2", "new.example.test.", "192.0.2.2")
	eventually(t, "the change announced", func() bool {
		got, _, _ := r.snapshot()
		return got[len(got)-1] >= uint32(rev) && e.status(t).GetSerial() == got[len(got)-1] &&
			e.status(t).GetState() == dnsv1.TransferState_TRANSFER_STATE_OK
	})
}

// Outgoing transfers disabled: nothing is sent.
func TestNoNotifyWithOutgoingDisabled(t *testing.T) {
	e := newEnv(t, true)
	r := startReceiver(t, 0)
	e.outgoingZone(t, r.addr)
	if _, err := e.st.UpdateOutgoingTransfer(context.Background(), "z1", []string{"p1"}, func(_ *dnsv1.Zone, _ *dnsv1.OutgoingTransfer, _ []*dnsv1.Peer) (*dnsv1.OutgoingTransfer, error) {
		return &dnsv1.OutgoingTransfer{ZoneId: "z1", ZoneName: "example.test.", Enabled: false, Peers: []string{"p1"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the builder publishes the disabled version
	e.startWorker(t)
	e.putRecord(t, "r2", "new.example.test.", "192.0.2.2")
	time.Sleep(time.Second)
	if got, _, _ := r.snapshot(); len(got) != 0 {
		t.Fatalf("NOTIFY sent for a zone with outgoing transfers off: %v", got)
	}
}

// Before the builder's first publication the zones bucket does not exist:
// the leader waits for it within its term instead of resigning and
// campaigning again (each a write to etcd, seen by tests that assert a
// refused call leaves etcd's revision alone), and announces the zone once
// the builder publishes it.
func TestLeaderWaitsForTheZonesBucketWithoutCampaigningAgain(t *testing.T) {
	e := newEnv(t, false)
	r := startReceiver(t, 0)
	e.outgoingZone(t, r.addr)
	e.startWorker(t)
	ctx := context.Background()
	eventually(t, "the worker leads", func() bool {
		resp, err := e.cli.Get(ctx, e.st.Prefix()+"/meta/xfrout/election", clientv3.WithPrefix(), clientv3.WithCountOnly())
		return err == nil && resp.Count == 1
	})
	before, err := e.st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The old restart loop resigned and campaigned again after 200, 400 and
	// 800 ms of backoff: at least four writes in this time.
	time.Sleep(1600 * time.Millisecond)
	if after, err := e.st.CurrentRevision(ctx); err != nil || after != before {
		t.Fatalf("etcd revision %d → %d (%v) while no zone was published: the worker wrote to etcd", before, after, err)
	}
	e.startBuilder(t)
	eventually(t, "the zone announced once published", func() bool {
		got, _, _ := r.snapshot()
		return len(got) > 0 && e.status(t).GetState() == dnsv1.TransferState_TRANSFER_STATE_OK
	})
}

// stallCheck is the tests' StallCheck: short, so that a stall is found
// in well under a second.
func stallCheck(c *Config) { c.StallCheck = 100 * time.Millisecond }

// pauseConsumers pauses every consumer of stream for an hour and returns
// how many. A paused consumer is the stall nats.go cannot see: the server
// keeps sending the heartbeats of its pull requests (and of a push
// consumer) while delivering nothing, so the client never starts it over;
// a consumer the server wedged, or lost while the heartbeats' absence goes
// unnoticed for 10 to 20 s, looks the same to the worker.
func pauseConsumers(t *testing.T, nc *nats.Conn, stream string) int {
	t.Helper()
	ctx := context.Background()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	names := s.ConsumerNames(ctx)
	for name := range names.Name() {
		if _, err := s.PauseConsumer(ctx, name, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("pause consumer %s of %s: %v", name, stream, err)
		}
		n++
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// announced waits until the peer acknowledged a NOTIFY of serial at least
// min and the status says so.
func (e *env) announced(t *testing.T, r *receiver, min uint32) {
	t.Helper()
	eventually(t, fmt.Sprintf("serial %d announced", min), func() bool {
		got, _, _ := r.snapshot()
		return len(got) > 0 && got[len(got)-1] >= min && e.status(t).GetSerial() == got[len(got)-1] &&
			e.status(t).GetState() == dnsv1.TransferState_TRANSFER_STATE_OK
	})
}

// A delta consumer that stops delivering while the connection stays up
// (CI once saw a change go unannounced for 20 s, nothing logged) is found
// stalled within a few checks and consumed again after the last delta
// handled: the change published meanwhile is announced, and the stall is
// counted.
func TestNotifyFollowsDeltasPastAStalledConsumer(t *testing.T) {
	e := newEnv(t, true)
	r := startReceiver(t, 0)
	e.outgoingZone(t, r.addr)
	w := e.startWorker(t, stallCheck)
	e.announced(t, r, 1)
	// A change, published as a delta: the consumer delivers.
	e.announced(t, r, uint32(e.putRecord(t, "r2", "new.example.test.", "192.0.2.2")))

	if pauseConsumers(t, e.nc, snapshot.DeltaStream) == 0 {
		t.Fatal("no consumer on the delta stream")
	}
	start := time.Now()
	e.announced(t, r, uint32(e.putRecord(t, "r3", "newer.example.test.", "192.0.2.3")))
	t.Logf("announced %v after the change, past the stalled consumer", time.Since(start).Round(time.Millisecond))
	if n := testutil.ToFloat64(w.stalls.WithLabelValues("deltas")); n < 1 {
		t.Fatalf("deltas stalls counted: %v, want at least 1", n)
	}
}

// The zones bucket's watch likewise: a stalled watch starts over, and the
// version published meanwhile is announced.
func TestNotifyFollowsZonesPastAStalledWatch(t *testing.T) {
	e := newEnv(t, false)
	r := startReceiver(t, 0)
	e.outgoingZone(t, r.addr)
	// The builder's buckets, written here directly: every version is a
	// full snapshot, so the zones watch alone carries them.
	ctx := context.Background()
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: snapshot.ZonesBucket})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: snapshot.DeltaStream, Subjects: []string{snapshot.DeltaSubjectPrefix + ">"}}); err != nil {
		t.Fatal(err)
	}
	publish := func(version uint64) {
		t.Helper()
		b, err := snapshot.MarshalZone(&snapshot.Zone{Header: &snapshot.ZoneHeader{
			Format: snapshot.FormatVersion, ZoneId: "z1", AccountId: "acct", Name: "example.test.", Version: version,
			Soa: &snapshot.Soa{Serial: uint32(version)}, Transfer: &snapshot.Transfer{Outgoing: true},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, snapshot.ZoneKey("example.test."), b); err != nil {
			t.Fatal(err)
		}
	}
	publish(100)
	w := e.startWorker(t, stallCheck)
	e.announced(t, r, 100)
	publish(101)
	e.announced(t, r, 101)

	if pauseConsumers(t, e.nc, "KV_"+snapshot.ZonesBucket) == 0 {
		t.Fatal("no consumer on the zones bucket")
	}
	start := time.Now()
	publish(102)
	e.announced(t, r, 102)
	t.Logf("announced %v after the version, past the stalled watch", time.Since(start).Round(time.Millisecond))
	if n := testutil.ToFloat64(w.stalls.WithLabelValues("zones")); n < 1 {
		t.Fatalf("zones stalls counted: %v, want at least 1", n)
	}
}
