package dnsserver

import (
	"context"
	"encoding/base64"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/xfrauth"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/notify"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

type sinkFunc func(notify.Notice)

func (f sinkFunc) Accept(n notify.Notice) { f(n) }

type notices struct {
	mu  sync.Mutex
	got []notify.Notice
}

func (n *notices) Accept(x notify.Notice) {
	n.mu.Lock()
	n.got = append(n.got, x)
	n.mu.Unlock()
}

func (n *notices) take() []notify.Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.got
	n.got = nil
	return g
}

var (
	notifySecret = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	otherSecret  = base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
)

// notifyHandler serves sec.example. (a secondary zone: NOTIFY from
// 192.0.2.1 and 198.51.100.0/24, key xfr.example.) and example.com. (a
// full zone without transfers).
func notifyHandler(tb testing.TB) (*Handler, *notices) {
	tb.Helper()
	kek, _ := keyseal.Generate()
	ring, _ := keyseal.New(kek)
	raw, _ := base64.StdEncoding.DecodeString(notifySecret)
	sealed, err := ring.Seal(raw, keyseal.TSIGContext("acct-1", "t1"))
	if err != nil {
		tb.Fatal(err)
	}
	set := zonecache.NewSet()
	set.SetPrepare(func(z *zonecache.Zone) {
		p, err := xfrauth.Prepare(z.Header.GetTransfer(), ring)
		if err != nil {
			tb.Fatal(err)
		}
		z.Transfer = p
	})
	sec := zonetest.Header("sec.example.", 5)
	sec.Transfer = &snapshot.Transfer{NotifyFrom: []string{"192.0.2.1/32", "198.51.100.0/24"},
		Tsig: &snapshot.TransferTsig{Id: "t1", AccountId: "acct-1", Name: "xfr.example.", Algorithm: dns.HmacSHA256, SealedSecret: sealed}}
	for _, s := range []*snapshot.Zone{
		zonetest.Zone(tb, sec, "www IN A 192.0.2.80\n"),
		zonetest.Zone(tb, zonetest.Header("example.com.", 1), "www IN A 192.0.2.1\n"),
	} {
		z, err := zonecache.Build(s)
		if err != nil {
			tb.Fatal(err)
		}
		set.Put(z)
	}
	sink := &notices{}
	h := NewHandler(answer.New(answer.Config{Zones: set}), nil, WithNotify(set, sink, nil))
	h.SetReady(true)
	return h, sink
}

func notifyMsg(zone string) *dns.Msg {
	m := new(dns.Msg)
	m.SetNotify(zone)
	return m
}

func withSerial(m *dns.Msg, serial uint32) *dns.Msg {
	soa, _ := dns.NewRR(m.Question[0].Name + " 3600 IN SOA ns.primary. admin.primary. 1 3600 600 86400 300")
	soa.(*dns.SOA).Serial = serial
	m.Answer = append(m.Answer, soa)
	return m
}

// signed packs m with a TSIG under key name and secret, signed at skew
// from now.
func signed(tb testing.TB, m *dns.Msg, name, secret string, skew time.Duration) []byte {
	tb.Helper()
	m.SetTsig(name, dns.HmacSHA256, 300, time.Now().Add(skew).Unix())
	b, _, err := dns.TsigGenerate(m, secret, "", false)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestNotifyIsAnsweredPerRFC1996And8945(t *testing.T) {
	h, sink := notifyHandler(t)
	primary, acl, stranger := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.77"), netip.MustParseAddr("203.0.113.5")
	tests := []struct {
		name     string
		msg      func(t *testing.T) []byte
		src      netip.Addr
		rcode    int
		tsigErr  int // -1: no TSIG in the answer
		signedOK bool
		notice   *notify.Notice
	}{
		{"unsigned from a primary is accepted", func(t *testing.T) []byte { return pack(t, notifyMsg("sec.example.")) },
			primary, dns.RcodeSuccess, -1, false, &notify.Notice{ZoneID: "id-sec.example", Zone: "sec.example.", Source: "192.0.2.1"}},
		{"the answer section's serial goes with the notice", func(t *testing.T) []byte { return pack(t, withSerial(notifyMsg("sec.example."), 42)) },
			primary, dns.RcodeSuccess, -1, false, &notify.Notice{ZoneID: "id-sec.example", Zone: "sec.example.", Source: "192.0.2.1", Serial: 42, HasSerial: true}},
		{"any case of the zone name", func(t *testing.T) []byte { return pack(t, notifyMsg("SEC.Example.")) },
			primary, dns.RcodeSuccess, -1, false, &notify.Notice{ZoneID: "id-sec.example", Zone: "sec.example.", Source: "192.0.2.1"}},
		{"from an ACL range is accepted", func(t *testing.T) []byte { return pack(t, notifyMsg("sec.example.")) },
			acl, dns.RcodeSuccess, -1, false, &notify.Notice{ZoneID: "id-sec.example", Zone: "sec.example.", Source: "198.51.100.77"}},
		{"from an IPv4-mapped primary is accepted", func(t *testing.T) []byte { return pack(t, notifyMsg("sec.example.")) },
			netip.MustParseAddr("::ffff:192.0.2.1").Unmap(), dns.RcodeSuccess, -1, false, &notify.Notice{ZoneID: "id-sec.example", Zone: "sec.example.", Source: "192.0.2.1"}},
		{"from a stranger is refused", func(t *testing.T) []byte { return pack(t, notifyMsg("sec.example.")) },
			stranger, dns.RcodeRefused, -1, false, nil},
		{"a zone that is not secondary is refused", func(t *testing.T) []byte { return pack(t, notifyMsg("example.com.")) },
			primary, dns.RcodeRefused, -1, false, nil},
		{"an unknown zone is refused", func(t *testing.T) []byte { return pack(t, notifyMsg("nope.example.")) },
			primary, dns.RcodeRefused, -1, false, nil},
		{"a name below the apex is refused", func(t *testing.T) []byte { return pack(t, notifyMsg("www.sec.example.")) },
			primary, dns.RcodeRefused, -1, false, nil},
		{"another class is refused", func(t *testing.T) []byte {
			m := notifyMsg("sec.example.")
			m.Question[0].Qclass = dns.ClassCHAOS
			return pack(t, m)
		}, primary, dns.RcodeRefused, -1, false, nil},
		{"a question other than SOA is a format error", func(t *testing.T) []byte {
			m := notifyMsg("sec.example.")
			m.Question[0].Qtype = dns.TypeA
			return pack(t, m)
		}, primary, dns.RcodeFormatError, -1, false, nil},
		{"no question is a format error", func(t *testing.T) []byte {
			m := notifyMsg("sec.example.")
			m.Question = nil
			return pack(t, m)
		}, primary, dns.RcodeFormatError, -1, false, nil},
		{"two questions are a format error", func(t *testing.T) []byte {
			m := notifyMsg("sec.example.")
			m.Question = append(m.Question, m.Question[0])
			return pack(t, m)
		}, primary, dns.RcodeFormatError, -1, false, nil},
		{"a message cut short is a format error", func(t *testing.T) []byte {
			b := pack(t, notifyMsg("sec.example."))
			return b[:len(b)-3]
		}, primary, dns.RcodeFormatError, -1, false, nil},
		{"a TSIG that is not the last record is a format error", func(t *testing.T) []byte {
			b := signed(t, notifyMsg("sec.example."), "xfr.example.", notifySecret, 0)
			m := new(dns.Msg)
			if err := m.Unpack(b); err != nil {
				t.Fatal(err)
			}
			m.Extra = append(m.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}})
			return pack(t, m)
		}, primary, dns.RcodeFormatError, -1, false, nil},
		{"signed with the zone's key is accepted and answered signed", func(t *testing.T) []byte {
			return signed(t, notifyMsg("sec.example."), "xfr.example.", notifySecret, 0)
		}, primary, dns.RcodeSuccess, dns.RcodeSuccess, true, &notify.Notice{ZoneID: "id-sec.example", Zone: "sec.example.", Source: "192.0.2.1", Signed: true}},
		{"signed with the wrong secret is NOTAUTH BADSIG", func(t *testing.T) []byte {
			return signed(t, notifyMsg("sec.example."), "xfr.example.", otherSecret, 0)
		}, primary, dns.RcodeNotAuth, dns.RcodeBadSig, false, nil},
		{"signed with an unknown key is NOTAUTH BADKEY", func(t *testing.T) []byte {
			return signed(t, notifyMsg("sec.example."), "other.example.", notifySecret, 0)
		}, primary, dns.RcodeNotAuth, dns.RcodeBadKey, false, nil},
		{"signed for a zone without a key is NOTAUTH BADKEY", func(t *testing.T) []byte {
			return signed(t, notifyMsg("example.com."), "xfr.example.", notifySecret, 0)
		}, primary, dns.RcodeNotAuth, dns.RcodeBadKey, false, nil},
		{"signed too long ago is NOTAUTH BADTIME, signed", func(t *testing.T) []byte {
			return signed(t, notifyMsg("sec.example."), "xfr.example.", notifySecret, -time.Hour)
		}, primary, dns.RcodeNotAuth, dns.RcodeBadTime, true, nil},
		{"signed with the key from a stranger is refused, signed", func(t *testing.T) []byte {
			return signed(t, notifyMsg("sec.example."), "xfr.example.", notifySecret, 0)
		}, stranger, dns.RcodeRefused, dns.RcodeSuccess, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.msg(t)
			for _, tcp := range []bool{false, true} {
				b := h.ServeNotify(q, tc.src, tcp, make([]byte, 0, 512))
				r := new(dns.Msg)
				if err := r.Unpack(b); err != nil {
					t.Fatalf("answer does not parse: %v", err)
				}
				var id uint16 = uint16(q[0])<<8 | uint16(q[1])
				if !r.Response || r.Opcode != dns.OpcodeNotify || r.Id != id || r.Rcode != tc.rcode {
					t.Fatalf("answer: %v", r)
				}
				if tc.rcode == dns.RcodeSuccess && (!r.Authoritative || len(r.Question) != 1 || r.Question[0].Qtype != dns.TypeSOA) {
					t.Fatalf("accepted answer without AA or question: %v", r)
				}
				ts := r.IsTsig()
				switch {
				case tc.tsigErr < 0 && ts != nil:
					t.Fatalf("unexpected TSIG: %v", ts)
				case tc.tsigErr >= 0 && (ts == nil || int(ts.Error) != tc.tsigErr):
					t.Fatalf("TSIG %v, want error %d", ts, tc.tsigErr)
				}
				if tc.signedOK {
					req := new(dns.Msg)
					_ = req.Unpack(q)
					if tc.rcode == dns.RcodeNotAuth {
						// miekg/dns does not verify NOTAUTH answers; BADTIME
						// is signed and carries the request's time.
						if ts.MAC == "" || ts.TimeSigned != req.IsTsig().TimeSigned || ts.OtherLen != 6 {
							t.Fatalf("BADTIME answer: %v", ts)
						}
					} else if err := dns.TsigVerify(b, notifySecret, req.IsTsig().MAC, false); err != nil {
						t.Fatalf("answer's TSIG does not verify with the zone's key: %v", err)
					}
				} else if ts != nil && ts.MAC != "" {
					t.Fatalf("BADKEY/BADSIG answer carries a MAC: %v", ts)
				}
				got := sink.take()
				if tc.notice == nil {
					if len(got) != 0 {
						t.Fatalf("notice forwarded: %+v", got)
					}
					continue
				}
				if len(got) != 1 {
					t.Fatalf("notices %+v, want one", got)
				}
				got[0].Received = 0
				if got[0] != *tc.notice {
					t.Fatalf("notice %+v, want %+v", got[0], *tc.notice)
				}
			}
		})
	}
}

// Before the zones are loaded a NOTIFY gets SERVFAIL (try again), not a
// REFUSED that would be wrong; without WithNotify it stays NOTIMP.
func TestNotifyBeforeReadyAndWithoutNotifyConfigured(t *testing.T) {
	h, sink := notifyHandler(t)
	h.SetReady(false)
	r := new(dns.Msg)
	if err := r.Unpack(h.ServeNotify(pack(t, notifyMsg("sec.example.")), netip.MustParseAddr("192.0.2.1"), false, nil)); err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("not ready: %v %v", r, err)
	}
	if len(sink.take()) != 0 {
		t.Fatal("notice forwarded before ready")
	}
	plain := testHandler(t)
	if plain.wantsNotify(pack(t, notifyMsg("example.com."))) {
		t.Fatal("a handler without WithNotify routes NOTIFY")
	}
	if err := r.Unpack(plain.Serve(context.Background(), pack(t, notifyMsg("example.com.")), false, nil)); err != nil || r.Rcode != dns.RcodeNotImplemented {
		t.Fatalf("without notify: %v %v", r, err)
	}
}

// Over the real sockets: UDP and TCP, the source taken from the packet.
func TestServerAnswersNotifyOverUDPAndTCP(t *testing.T) {
	h, sink := notifyHandler(t)
	s, err := Listen("127.0.0.1:0", "127.0.0.1:0", h, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(func() { _ = s.Close() })
	for _, c := range []struct {
		net, addr string
	}{{"udp", s.UDPAddr()}, {"tcp", s.TCPAddr()}} {
		// 127.0.0.1 is no primary of the zone: REFUSED, and normal
		// queries still answered on the same socket.
		r, _, err := (&dns.Client{Net: c.net, Timeout: 2 * time.Second}).Exchange(notifyMsg("sec.example."), c.addr)
		if err != nil || r.Rcode != dns.RcodeRefused || r.Opcode != dns.OpcodeNotify {
			t.Fatalf("%s: %v %v", c.net, r, err)
		}
		r, _, err = (&dns.Client{Net: c.net, Timeout: 2 * time.Second}).Exchange(query("www.sec.example.", dns.TypeA, 0), c.addr)
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("%s query: %v %v", c.net, r, err)
		}
	}
	if len(sink.take()) != 0 {
		t.Fatal("refused NOTIFY forwarded")
	}
}

// Whatever bytes arrive with the NOTIFY opcode, the answer is a message or
// nothing, never a panic.
func FuzzServeNotify(f *testing.F) {
	h, _ := notifyHandler(f)
	f.Add(pack(f, notifyMsg("sec.example.")))
	f.Add(pack(f, withSerial(notifyMsg("sec.example."), 9)))
	f.Add(signed(f, notifyMsg("sec.example."), "xfr.example.", notifySecret, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !isNotify(b) {
			return
		}
		_ = h.ServeNotify(b, netip.MustParseAddr("192.0.2.1"), false, make([]byte, 0, 512))
	})
}
