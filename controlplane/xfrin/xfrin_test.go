package xfrin

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

var etcdCli *clientv3.Client

func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

const (
	zone     = "sec.example."
	tsigName = "xfr-key.example."
	secret   = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
)

// primary is a test primary server: it serves versions of one zone over
// TCP, AXFR always and IXFR from any version it keeps, TSIG-signed when
// given a secret, and can misbehave on request.
type primary struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	// versions by serial; the highest is current.
	versions map[uint32][]dns.RR
	serial   uint32
	// misbehaviour
	truncate bool // end the stream without the final SOA
	stall    bool // send the first message, then nothing
	backward uint32
}

func rrs(t *testing.T, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, rr)
	}
	return out
}

func soa(t *testing.T, serial uint32) dns.RR {
	return rrs(t, zone+" 3600 IN SOA ns1.primary.example. admin.primary.example. "+strconv.FormatUint(uint64(serial), 10)+" 7200 3600 1209600 300")[0]
}

func startPrimary(t *testing.T, withTSIG bool) *primary {
	t.Helper()
	p := &primary{t: t, versions: map[uint32][]dns.RR{}}
	srv := &dns.Server{Addr: "127.0.0.1:0", Net: "tcp"}
	if withTSIG {
		srv.TsigSecret = map[string]string{tsigName: secret}
	}
	ready := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(ready) }
	srv.Handler = dns.HandlerFunc(p.serve)
	go srv.ListenAndServe()
	<-ready
	t.Cleanup(func() { srv.Shutdown() })
	p.addr = srv.Listener.Addr().String()
	return p
}

func (p *primary) set(serial uint32, records []dns.RR) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.versions[serial] = records
	p.serial = serial
}

func (p *primary) serve(w dns.ResponseWriter, r *dns.Msg) {
	p.mu.Lock()
	serial, cur := p.serial, p.versions[p.serial]
	versions := p.versions
	truncate, stall, backward := p.truncate, p.stall, p.backward
	p.mu.Unlock()
	if backward != 0 {
		serial = backward
	}
	q := r.Question[0]
	reply := func(m *dns.Msg) {
		if r.IsTsig() != nil {
			if w.TsigStatus() != nil {
				// As BIND does: NOTAUTH (BADSIG), unsigned.
				bad := new(dns.Msg)
				bad.SetRcode(r, dns.RcodeNotAuth)
				w.WriteMsg(bad)
				return
			}
			m.SetTsig(r.Extra[len(r.Extra)-1].(*dns.TSIG).Hdr.Name, dns.HmacSHA256, 300, time.Now().Unix())
		}
		w.WriteMsg(m)
	}
	switch q.Qtype {
	case dns.TypeSOA:
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = []dns.RR{soa(p.t, serial)}
		reply(m)
	case dns.TypeAXFR, dns.TypeIXFR:
		var stream []dns.RR
		if q.Qtype == dns.TypeIXFR {
			have := r.Ns[0].(*dns.SOA).Serial
			if !Newer(serial, have) {
				stream = []dns.RR{soa(p.t, serial)}
			} else if old, ok := versions[have]; ok && backward == 0 {
				stream = append(stream, soa(p.t, serial), soa(p.t, have))
				stream = append(stream, diff(old, cur)...)
				stream = append(stream, soa(p.t, serial))
				stream = append(stream, diff(cur, old)...)
				stream = append(stream, soa(p.t, serial))
			}
		}
		if stream == nil {
			stream = append(append([]dns.RR{soa(p.t, serial)}, cur...), soa(p.t, serial))
		}
		if truncate {
			stream = stream[:len(stream)-1]
		}
		// Two messages, so that TSIG covers a multi-message stream.
		half := len(stream) / 2
		msgs := [][]dns.RR{stream[:half], stream[half:]}
		if half == 0 {
			msgs = [][]dns.RR{stream}
		}
		for i, part := range msgs {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Answer = part
			if i > 0 {
				w.TsigTimersOnly(true)
			}
			reply(m)
			if stall {
				time.Sleep(3 * time.Second)
				return
			}
		}
	}
}

// diff returns the records of a not in b.
func diff(a, b []dns.RR) []dns.RR {
	in := map[string]bool{}
	for _, r := range b {
		in[r.String()] = true
	}
	var out []dns.RR
	for _, r := range a {
		if !in[r.String()] {
			out = append(out, r)
		}
	}
	return out
}

func newStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	st := store.NewWithConfig(etcdCli, store.Config{Prefix: etcdtest.Prefix(t)}, zaptest.NewLogger(t))
	z, err := st.CreateZone(context.Background(), "acct", zone, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "sec1", AccountId: "acct", Name: zone, Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY,
			Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, CreatedOn: timestamppb.Now()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, z.GetId()
}

func served(t *testing.T, st *store.Store, zoneID string) []string {
	t.Helper()
	recs, err := st.ZoneRecords(context.Background(), zoneID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.GetName()+" "+r.GetType()+" "+r.GetContent()+" "+r.GetMeta().GetManagedBy())
	}
	return out
}

func TestNewerFollowsRFC1982(t *testing.T) {
	tests := []struct {
		a, b uint32
		want bool
	}{
		{2, 1, true}, {1, 2, false}, {1, 1, false},
		{0, 0xffffffff, true}, // wraps
		{0xffffffff, 0, false},
		{1 << 31, 0, false}, // exactly half-way: undefined, not newer
		{1<<31 - 1, 0, true},
	}
	for _, tc := range tests {
		if got := Newer(tc.a, tc.b); got != tc.want {
			t.Errorf("Newer(%d, %d) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// AXFR then IXFR from a TSIG-signing primary: the store holds exactly the
// primary's records, marked as transferred; an IXFR changes only what
// changed (unchanged records keep their ids); an up-to-date IXFR changes
// nothing; the user's override records are never touched.
func TestTransfersKeepTheZoneEqualToThePrimary(t *testing.T) {
	ctx := context.Background()
	p := startPrimary(t, true)
	st, id := newStore(t)
	pr := Primary{Addr: p.addr, IXFR: true, TSIG: &TSIG{Name: tsigName, Secret: secret}}
	v1 := rrs(t, "www.sec.example. 300 IN A 192.0.2.1", "sec.example. 300 IN MX 10 mail.sec.example.",
		"mail.sec.example. 300 IN A 192.0.2.25", "sec.example. 300 IN TXT \"v=spf1 -all\"", "old.sec.example. 300 IN A 192.0.2.9",
		"sec.example. 300 IN HINFO \"pc\" \"linux\"")
	p.set(10, v1)
	// An override the user made: not from the primary, never removed.
	if err := st.UpdateRecords(ctx, id, func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
		return []store.RecordOp{{Put: &dnsv1.Record{Id: "override1", ZoneId: id, Name: "www.sec.example.", Type: "A", Content: "192.0.2.200", Ttl: 1, Proxied: true}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if s, err := SerialOf(ctx, pr, zone); err != nil || s != 10 {
		t.Fatalf("serial %d, %v", s, err)
	}
	res, err := Fetch(ctx, pr, zone, nil, Limits{})
	if err != nil || !res.Full || res.Serial != 10 || res.Method != "AXFR" {
		t.Fatalf("axfr: %+v, %v", res, err)
	}
	a, err := Apply(ctx, st, id, res, time.Now())
	if err != nil || a.Put != 5 || len(a.Skipped) != 1 || !strings.Contains(a.Skipped[0], "HINFO") {
		t.Fatalf("apply axfr: %+v, %v", a, err)
	}
	first := served(t, st, id)
	// Five records, the override and the primary's SOA (kept as a
	// transferred record: the builder serves it as the zone's SOA).
	if len(first) != 7 || !slices.Contains(first, "sec.example. SOA ns1.primary.example. admin.primary.example. 10 7200 3600 1209600 300 secondary_dns") {
		t.Fatalf("after AXFR: %v", first)
	}
	recs, _ := st.ZoneRecords(ctx, id, 0)
	ids := map[string]string{}
	for _, r := range recs {
		ids[r.GetName()+r.GetType()+r.GetContent()] = r.GetId()
	}

	v2 := append(rrs(t, "new.sec.example. 300 IN A 192.0.2.10"), v1[:4]...) // old.* removed, new.* added
	v2 = append(v2, v1[5])
	p.set(11, v2)
	have := uint32(10)
	res, err = Fetch(ctx, pr, zone, &have, Limits{})
	if err != nil || res.Full || len(res.Diffs) != 1 || res.Method != "IXFR" || res.Serial != 11 {
		t.Fatalf("ixfr: %+v, %v", res, err)
	}
	if a, err = Apply(ctx, st, id, res, time.Now()); err != nil || a.Put != 1 || a.Deleted != 1 {
		t.Fatalf("apply ixfr: %+v, %v", a, err)
	}
	got := strings.Join(served(t, st, id), "\n")
	if strings.Contains(got, "old.sec.example.") || !strings.Contains(got, "new.sec.example. A 192.0.2.10 secondary_dns") ||
		!strings.Contains(got, "www.sec.example. A 192.0.2.200 ") || !strings.Contains(got, "admin.primary.example. 11 7200") {
		t.Fatalf("after IXFR:\n%s", got)
	}
	recs, _ = st.ZoneRecords(ctx, id, 0)
	for _, r := range recs {
		if old, ok := ids[r.GetName()+r.GetType()+r.GetContent()]; ok && old != r.GetId() {
			t.Errorf("%s %s rewritten by an IXFR that did not change it", r.GetName(), r.GetType())
		}
	}
	have = 11
	if res, err = Fetch(ctx, pr, zone, &have, Limits{}); err != nil || !res.UpToDate {
		t.Fatalf("up-to-date ixfr: %+v, %v", res, err)
	}
	// A full transfer replaces the transferred records, not the override.
	res, _ = Fetch(ctx, pr, zone, nil, Limits{})
	if a, err = Apply(ctx, st, id, res, time.Now()); err != nil || a.Put != 0 || a.Deleted != 0 {
		t.Fatalf("axfr of an unchanged zone wrote %+v, %v", a, err)
	}
	if !strings.Contains(strings.Join(served(t, st, id), "\n"), "192.0.2.200") {
		t.Fatal("the override was removed")
	}
}

// Every broken transfer ends with an error wrapping ErrTransfer, before
// anything reaches the store (Fetch returns no result to Apply).
func TestBrokenTransfersFail(t *testing.T) {
	ctx := context.Background()
	v := rrs(t, "www.sec.example. 300 IN A 192.0.2.1", "a.sec.example. 300 IN A 192.0.2.2", "b.sec.example. 300 IN A 192.0.2.3")
	quick := Limits{Timeout: 2 * time.Second}
	tests := []struct {
		name   string
		tsig   bool
		client *TSIG
		setup  func(p *primary)
		have   *uint32
		lim    Limits
	}{
		{"wrong TSIG secret", true, &TSIG{Name: tsigName, Secret: "d3Jvbmctc2VjcmV0"}, nil, nil, quick},
		{"TSIG asked, primary does not sign", false, &TSIG{Name: tsigName, Secret: secret}, nil, nil, quick},
		{"stream without its final SOA", false, nil, func(p *primary) { p.truncate = true }, nil, quick},
		{"more records than the limit", false, nil, nil, nil, Limits{MaxRecords: 3, Timeout: 2 * time.Second}},
		{"primary stalls mid-transfer", false, nil, func(p *primary) { p.stall = true }, nil, Limits{Timeout: 500 * time.Millisecond}},
		{"serial going backwards", false, nil, func(p *primary) { p.backward = 5 }, ptr(uint32(7)), quick},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startPrimary(t, tc.tsig)
			// AXFR throughout: an IXFR answer of an older serial is "up to
			// date" (the worker reports the backwards serial from its SOA
			// check); an AXFR of it is an error.
			p.set(7, v)
			if tc.setup != nil {
				tc.setup(p)
			}
			pr := Primary{Addr: p.addr, TSIG: tc.client}
			res, err := Fetch(ctx, pr, zone, tc.have, tc.lim)
			if err == nil {
				t.Fatalf("transfer succeeded: %+v", res)
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, ErrTransfer) {
				t.Errorf("error does not wrap ErrTransfer: %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
