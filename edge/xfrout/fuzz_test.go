package xfrout

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzHandle feeds arbitrary requests to the listener's request handling
// (both transports, from an allowed source, the zone with a key linked):
// it never panics, and whatever it writes is a DNS message replying to the
// request's id.
func FuzzHandle(f *testing.F) {
	for _, qt := range []uint16{dns.TypeSOA, dns.TypeAXFR, dns.TypeIXFR, dns.TypeA} {
		m := new(dns.Msg)
		m.SetQuestion("example.test.", qt)
		if qt == dns.TypeIXFR {
			m.Ns = []dns.RR{clientSOA(100)}
		}
		b, _ := m.Pack()
		f.Add(b, false)
		m.SetTsig(keyName, dns.HmacSHA256, 300, 0)
		b, _, _ = dns.TsigGenerate(m, keySecret, "", false)
		f.Add(b, true)
	}
	fx := newFixture(&testing.T{}, []string{"127.0.0.0/8"}, true)
	src := netip.MustParseAddr("127.0.0.1")
	f.Fuzz(func(t *testing.T, raw []byte, udp bool) {
		if len(raw) < 12 || len(raw) > dns.MaxMsgSize {
			return // the listeners drop these before handle
		}
		_ = fx.srv.handle(context.Background(), raw, src, !udp, func(b []byte) error {
			if len(b) < 12 || b[0] != raw[0] || b[1] != raw[1] || b[2]&0x80 == 0 {
				t.Fatalf("reply %x to request %x", b, raw)
			}
			return nil
		})
	})
}
