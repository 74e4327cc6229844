package dnssec

import (
	"bytes"
	"crypto"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func testRing(t *testing.T) *keyseal.Ring {
	t.Helper()
	k, err := keyseal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	r, err := keyseal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEnableMakesAKSKAndAZSKThatSignAndVerify(t *testing.T) {
	ring := testRing(t)
	st, err := Enable(nil, ring, "z1", "example.com.", Policy{}.WithDefaults(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING || len(st.GetKeys()) != 2 {
		t.Fatalf("state after enable: %v", st)
	}
	for _, k := range st.GetKeys() {
		if k.GetAlgorithm() != 13 || (k.GetFlags() != FlagsKSK && k.GetFlags() != FlagsZSK) {
			t.Errorf("key %d: algorithm %d flags %d", k.GetKeyTag(), k.GetAlgorithm(), k.GetFlags())
		}
		priv, err := OpenKey(ring, "z1", k)
		if err != nil {
			t.Fatal(err)
		}
		// The sealed blob never holds the key in the clear.
		if bytes.Contains(k.GetSealedPrivateKey(), priv.D.Bytes()) {
			t.Fatal("sealed key holds the private scalar")
		}
		// A signature made with the opened key verifies with the published one.
		a := &dns.A{Hdr: dns.RR_Header{Name: "www.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: []byte{192, 0, 2, 1}}
		key := DNSKEY("example.com.", k)
		sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: "www.example.com.", Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 300},
			KeyTag: key.KeyTag(), SignerName: "example.com.", Algorithm: 13, Inception: uint32(t0.Unix()), Expiration: uint32(t0.Add(time.Hour).Unix())}
		if err := sig.Sign(crypto.Signer(priv), []dns.RR{a}); err != nil {
			t.Fatal(err)
		}
		if err := sig.Verify(key, []dns.RR{a}); err != nil {
			t.Errorf("verify with key %d: %v", k.GetKeyTag(), err)
		}
		if uint32(key.KeyTag()) != k.GetKeyTag() {
			t.Errorf("stored key tag %d, computed %d", k.GetKeyTag(), key.KeyTag())
		}
	}
	// A key's blob does not open as another zone's.
	if _, err := OpenKey(ring, "z2", st.GetKeys()[0]); !errors.Is(err, keyseal.ErrOpen) {
		t.Fatalf("opened under another zone: %v", err)
	}
}

func TestViewCarriesWhatARegistrarNeeds(t *testing.T) {
	st, _ := Enable(nil, testRing(t), "z1", "example.com.", Policy{}.WithDefaults(), t0)
	v := View("example.com.", st, t0)
	ds := DS("example.com.", st)
	if v.GetAlgorithm() != 13 || v.GetFlags() != 257 || v.GetDigestType() != 2 || v.GetKeyType() != "ECDSAP256SHA256" ||
		v.GetDigestAlgorithm() != "SHA256" || v.GetKeyTag() != uint32(ds.KeyTag) || v.GetDigest() != strings.ToUpper(ds.Digest) ||
		len(v.GetDigest()) != 64 || v.GetPublicKey() == "" || v.GetModifiedOn() == nil {
		t.Fatalf("view %v", v)
	}
	rr, err := dns.NewRR(v.GetDs())
	if err != nil {
		t.Fatalf("ds %q does not parse: %v", v.GetDs(), err)
	}
	if got := rr.(*dns.DS); got.KeyTag != ds.KeyTag || !strings.EqualFold(got.Digest, ds.Digest) || got.Hdr.Name != "example.com." {
		t.Fatalf("ds %v", got)
	}
	if len(v.GetKeys()) != 2 || v.GetKeys()[0].GetState() != "active" {
		t.Fatalf("keys %v", v.GetKeys())
	}
	if d := View("example.com.", nil, t0); d.GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED || d.GetModifiedOn() != nil || d.GetDs() != "" {
		t.Fatalf("view of nothing: %v", d)
	}
}

func TestStatusTransitionsFollowTheDocuments(t *testing.T) {
	ring, p := testRing(t), Policy{}.WithDefaults()
	pending, _ := Enable(nil, ring, "z1", "example.com.", p, t0)
	tests := []struct {
		name string
		from dnsv1.DnssecStatus
		do   func(*dnsv1.DnssecState) (*dnsv1.DnssecState, error)
		want dnsv1.DnssecStatus
	}{
		{"enable pending stays pending", dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, func(s *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			return Enable(s, ring, "z1", "example.com.", p, t0)
		}, dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING},
		{"enable active stays active", dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, func(s *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			return Enable(s, ring, "z1", "example.com.", p, t0)
		}, dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE},
		{"disable active waits for the DS to go", dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, func(s *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			return Disable(s, t0)
		}, dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED},
		{"disable pending waits for one check", dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, func(s *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			return Disable(s, t0)
		}, dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED},
		{"enable disabled is pending again", dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED, func(s *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			return Enable(s, ring, "z1", "example.com.", p, t0)
		}, dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING},
		{"enable pending-disabled is pending again", dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED, func(s *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			return Enable(s, ring, "z1", "example.com.", p, t0)
		}, dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := cloneState(pending)
			s.Status = tc.from
			keys := s.GetKeys()[0].GetKeyTag()
			got, err := tc.do(s)
			if err != nil || got.GetStatus() != tc.want {
				t.Fatalf("got %v, %v; want %v", got.GetStatus(), err, tc.want)
			}
			if got.GetKeys()[0].GetKeyTag() != keys {
				t.Fatal("keys replaced: the DS at the parent would no longer match")
			}
		})
	}
	for _, s := range []dnsv1.DnssecStatus{dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED} {
		c := cloneState(pending)
		c.Status = s
		if err := Delete(c); !errors.Is(err, ErrTransition) {
			t.Errorf("delete from %s: %v", StatusName(s), err)
		}
	}
	c := cloneState(pending)
	c.Status = dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED
	if err := Delete(c); err != nil || Delete(nil) != nil {
		t.Errorf("delete from disabled/nothing: %v", err)
	}
}

func cloneState(s *dnsv1.DnssecState) *dnsv1.DnssecState {
	return proto.Clone(s).(*dnsv1.DnssecState)
}

func TestZSKRolloverPrepublishesThenRetiresThenRemoves(t *testing.T) {
	ring, p := testRing(t), Policy{ZSKLifetime: 30 * 24 * time.Hour, Prepublish: 2 * time.Hour, RetiredKeep: 26 * time.Hour}
	st, _ := Enable(nil, ring, "z1", "example.com.", p, t0)
	old := st.GetKeys()[1]
	if _, err := RollZSK(st, ring, "z1", "example.com.", p, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := RollZSK(st, ring, "z1", "example.com.", p, t0.Add(time.Minute)); !errors.Is(err, ErrRollInProgress) {
		t.Fatalf("second roll during the first: %v", err)
	}
	next := st.GetKeys()[2]
	states := func(at time.Time) string { return KeyState(old, at) + "/" + KeyState(next, at) }
	if got := states(t0.Add(time.Hour)); got != "active/published" {
		t.Errorf("during pre-publication: %s", got)
	}
	if got := states(t0.Add(3 * time.Hour)); got != "retired/active" {
		t.Errorf("after the switch: %s", got)
	}
	changed, err := Maintain(st, ring, "z1", "example.com.", p, t0.Add(27*time.Hour))
	if err != nil || changed || len(st.GetKeys()) != 3 {
		t.Fatalf("before removal: changed %v, %d keys, %v", changed, len(st.GetKeys()), err)
	}
	changed, err = Maintain(st, ring, "z1", "example.com.", p, t0.Add(28*time.Hour+time.Minute))
	if err != nil || !changed || len(st.GetKeys()) != 2 || st.GetKeys()[1].GetKeyTag() != next.GetKeyTag() {
		t.Fatalf("after removal: changed %v, keys %v, %v", changed, st.GetKeys(), err)
	}
	// The schedule starts the next rollover on its own.
	changed, err = Maintain(st, ring, "z1", "example.com.", p, t0.Add(2*time.Hour+p.ZSKLifetime+time.Second))
	if err != nil || !changed || len(st.GetKeys()) != 3 || KeyState(st.GetKeys()[2], t0.Add(2*time.Hour+p.ZSKLifetime+time.Second)) != "published" {
		t.Fatalf("scheduled roll: changed %v, keys %d, %v", changed, len(st.GetKeys()), err)
	}
}

// parent serves DS records for the worker's checks, as a resolver would.
type parent struct {
	addr string
	mu   sync.Mutex // the server's goroutines read ds while tests set it
	ds   map[string][]dns.RR
}

// set makes the parent serve rrs as name's DS set (none: no DS).
func (p *parent) set(name string, rrs ...dns.RR) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(rrs) == 0 {
		delete(p.ds, name)
		return
	}
	p.ds[name] = rrs
}

func startParent(t *testing.T) *parent {
	t.Helper()
	p := &parent{ds: map[string][]dns.RR{}}
	srv := &dns.Server{Addr: "127.0.0.1:0", Net: "udp"}
	ready := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(ready) }
	srv.Handler = dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if q := r.Question[0]; q.Qtype == dns.TypeDS {
			p.mu.Lock()
			m.Answer = p.ds[strings.ToLower(q.Name)]
			p.mu.Unlock()
		}
		w.WriteMsg(m)
	})
	go srv.ListenAndServe()
	<-ready
	t.Cleanup(func() { srv.Shutdown() })
	p.addr = srv.PacketConn.LocalAddr().String()
	return p
}
