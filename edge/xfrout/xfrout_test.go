package xfrout

import (
	"context"
	"encoding/base64"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/xfrauth"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

const (
	keyName   = "xfr.example.test."
	keySecret = "eHhmci1vdXQtdGVzdC1rZXktc2VjcmV0LTEyMzQ1Njc4OTA="
)

var (
	anycast4 = []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12")}
	anycast6 = []netip.Addr{netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::11"), netip.MustParseAddr("2001:db8::12")}
)

// zoneText is example.test. with a proxied name, an apex CNAME (DNS-only,
// flattened onto an in-zone target), a CNAME below the apex (kept), a
// delegation with glue and ordinary data.
const zoneText = `
@        CNAME origin.example.test.
@        MX 10 mail.example.test.
origin   A 198.51.100.1
origin   AAAA 2001:db8:1::1
www      A 198.51.100.7 ; proxied
www      TXT "hello"
alias    CNAME www.example.test.
mail     A 198.51.100.25
sub      NS ns.sub.example.test.
ns.sub   A 198.51.100.53
`

type fixture struct {
	t      *testing.T
	ring   *keyseal.Ring
	zones  *zonecache.Set
	engine *answer.Engine
	srv    *Server
	cur    *zonecache.Zone
}

// newFixture serves example.test. (version 100) with transfer sources
// transferTo and, with tsig, the key above linked.
func newFixture(t *testing.T, transferTo []string, tsig bool, edit ...func(*Config)) *fixture {
	t.Helper()
	k, err := keyseal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyseal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ring: ring, zones: zonecache.NewSet()}
	f.engine = answer.New(answer.Config{Zones: f.zones, AnycastIPv4: anycast4, AnycastIPv6: anycast6})
	cfg := Config{Addr: "127.0.0.1:0", Engine: f.engine, Zones: f.zones}
	for _, e := range edit {
		e(&cfg)
	}
	if f.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	f.zones.SetInstalled(f.srv.Installed)
	tr := &snapshot.Transfer{Outgoing: true, TransferTo: transferTo}
	if tsig {
		raw, _ := base64.StdEncoding.DecodeString(keySecret)
		sealed, err := ring.Seal(raw, keyseal.TSIGContext("acct-1", "tsig-1"))
		if err != nil {
			t.Fatal(err)
		}
		tr.Tsig = &snapshot.TransferTsig{Id: "tsig-1", AccountId: "acct-1", Name: keyName, Algorithm: dns.HmacSHA256, SealedSecret: sealed}
	}
	h := zonetest.Header("example.test.", 100)
	h.Transfer = tr
	z, err := zonecache.Build(zonetest.Zone(t, h, zoneText))
	if err != nil {
		t.Fatal(err)
	}
	f.put(z)
	if err := f.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close() })
	f.waitSerial(100)
	return f
}

// put installs z with its transfer policy, as the node's preparer does.
func (f *fixture) put(z *zonecache.Zone) {
	f.t.Helper()
	p, err := xfrauth.Prepare(z.Header.GetTransfer(), f.ring)
	if err != nil {
		f.t.Fatal(err)
	}
	z.Transfer = p
	if !f.zones.Put(z) {
		f.t.Fatalf("version %d not installed", z.Version)
	}
	f.cur = z
}

// delta installs the next version: records upserted (zone-file lines with
// ids) and deleted by id.
func (f *fixture) delta(version uint64, upserts map[string]string, deletes ...string) {
	f.t.Helper()
	d := &snapshot.ZoneDelta{Name: "example.test.", ZoneId: f.cur.Header.GetZoneId(), FromVersion: f.cur.Version, ToVersion: version, Deletes: deletes}
	for id, line := range upserts {
		proxied := strings.HasSuffix(line, "; proxied")
		rr, err := dns.NewRR("$ORIGIN example.test.\n" + strings.TrimSuffix(line, "; proxied"))
		if err != nil {
			f.t.Fatal(err)
		}
		buf := make([]byte, dns.Len(rr)+64)
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			f.t.Fatal(err)
		}
		d.Upserts = append(d.Upserts, &snapshot.Record{Id: id, Rr: buf[:n], Proxied: proxied})
	}
	z, err := zonecache.ApplyDelta(f.cur, d)
	if err != nil {
		f.t.Fatal(err)
	}
	f.put(z)
	f.waitSerial(uint32(version))
}

// waitSerial waits until the history worker serves serial.
func (f *fixture) waitSerial(serial uint32) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st := f.srv.state("example.test."); st != nil && st.soa.Serial == serial {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("serial %d never served", serial)
}

// recordID is the id zonetest gives the i-th record of zoneText.
func recordID(i int) string {
	return "r" + string(rune('a'+i%26)) + strings.TrimLeft(string(rune('0'+i)), "")
}

// xfr runs an AXFR (serial 0) or IXFR from serial and returns every
// record received, the envelopes' errors joined.
func (f *fixture) xfr(qtype uint16, serial uint32, signed bool, secret string) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion("example.test.", qtype)
	if qtype == dns.TypeIXFR {
		m.Ns = []dns.RR{clientSOA(serial)}
	}
	tr := &dns.Transfer{DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second}
	if signed {
		m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
		tr.TsigSecret = map[string]string{keyName: secret}
	}
	ch, err := tr.In(m, f.srv.Addr())
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	for env := range ch {
		if env.Error != nil {
			return out, env.Error
		}
		out = append(out, env.RR...)
	}
	return out, nil
}

// clientSOA is the SOA a secondary at serial puts in its IXFR request.
func clientSOA(serial uint32) *dns.SOA {
	return &dns.SOA{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET},
		Ns: "ns1.zonegrid.test.", Mbox: "dns.zonegrid.test.", Serial: serial}
}

// rcodeOf sends one request over TCP (signed with secret when signed) and
// returns the first reply's rcode.
func (f *fixture) rcodeOf(qtype uint16, signed bool, secret string) int {
	f.t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("example.test.", qtype)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	if signed {
		m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
		c.TsigSecret = map[string]string{keyName: secret}
	}
	resp, _, err := c.Exchange(m, f.srv.Addr())
	if resp == nil {
		f.t.Fatalf("%s: no answer: %v", dns.TypeToString[qtype], err)
	}
	return resp.Rcode
}

func texts(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
}

func TestAXFRCarriesWhatTheEdgeAnswers(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false)
	rrs, err := f.xfr(dns.TypeAXFR, 0, false, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rrs) < 2 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("not framed by the SOA: %v", rrs)
	}
	got := texts(rrs[1 : len(rrs)-1])
	// The proxied name's pair of addresses per family, as the edge picks
	// them for this zone id.
	www := answerOf(t, f.engine, "www.example.test.", dns.TypeA)
	www = append(www, answerOf(t, f.engine, "www.example.test.", dns.TypeAAAA)...)
	want := []string{
		"example.test. 300 IN A 198.51.100.1",                // apex CNAME flattened (F1)
		"example.test. 300 IN AAAA 2001:db8:1::1",            // ...both families
		"example.test. 300 IN MX 10 mail.example.test.",      // as stored
		"example.test. 86400 IN NS ns1.zonegrid.test.",       // the served NS
		"example.test. 86400 IN NS ns2.zonegrid.test.",       //
		"origin.example.test. 300 IN A 198.51.100.1",         //
		"origin.example.test. 300 IN AAAA 2001:db8:1::1",     //
		`www.example.test. 300 IN TXT "hello"`,               // other types at a proxied name (P6)
		"alias.example.test. 300 IN CNAME www.example.test.", // not flattened below the apex
		"mail.example.test. 300 IN A 198.51.100.25",
		"sub.example.test. 300 IN NS ns.sub.example.test.", // delegation and glue as stored
		"ns.sub.example.test. 300 IN A 198.51.100.53",
	}
	want = append(want, texts(www)...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("AXFR:\n got %q\nwant %q", got, want)
	}
	if len(www) != 4 {
		t.Fatalf("proxied name: %d anycast addresses, want 2 A and 2 AAAA: %v", len(www), www)
	}
}

// answerOf is what the edge answers.
func answerOf(t *testing.T, e *answer.Engine, name string, qtype uint16) []dns.RR {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	resp := new(dns.Msg)
	resp.SetReply(q)
	e.Answer(context.Background(), q.Question[0], resp)
	return resp.Answer
}

func TestFlattenAllCnamesFlattensBelowTheApex(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false)
	h := zonetest.Header("example.test.", 101)
	h.Transfer = f.cur.Header.GetTransfer()
	h.FlattenAllCnames = true
	z, err := zonecache.Build(zonetest.Zone(t, h, zoneText))
	if err != nil {
		t.Fatal(err)
	}
	f.put(z)
	f.waitSerial(101)
	rrs, err := f.xfr(dns.TypeAXFR, 0, false, "")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(texts(rrs), "\n")
	if strings.Contains(got, "CNAME") {
		t.Fatalf("a CNAME went out although every CNAME is flattened:\n%s", got)
	}
	// alias → www, proxied: the anycast addresses.
	if !strings.Contains(got, "alias.example.test. 300 IN A 192.0.2.") || !strings.Contains(got, "alias.example.test. 300 IN AAAA 2001:db8::1") {
		t.Fatalf("alias not flattened onto the proxied target:\n%s", got)
	}
}

func TestIXFRAnswersFromTheHistory(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false)
	// 101: a record added; 102: mail becomes proxied, the added record
	// changes again; 103: origin (the apex CNAME's target) changes.
	f.delta(101, map[string]string{"new1": "new 300 IN A 198.51.100.77"})
	f.delta(102, map[string]string{"new1": "new 300 IN A 198.51.100.78", recordID(7): "mail 300 IN A 198.51.100.25 ; proxied"})
	f.delta(103, map[string]string{recordID(2): "origin 300 IN A 198.51.100.2"})

	axfr, err := f.xfr(dns.TypeAXFR, 0, false, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		from uint32
		// want: the sequence's records as text (sorted), or axfr / soa.
		dels, adds []string
		kind       string
	}{
		{name: "one version back", from: 102, kind: "ixfr",
			dels: []string{"example.test. 300 IN A 198.51.100.1", "origin.example.test. 300 IN A 198.51.100.1"},
			adds: []string{"example.test. 300 IN A 198.51.100.2", "origin.example.test. 300 IN A 198.51.100.2"}},
		{name: "three versions back, condensed", from: 100, kind: "ixfr",
			dels: []string{"example.test. 300 IN A 198.51.100.1", "mail.example.test. 300 IN A 198.51.100.25", "origin.example.test. 300 IN A 198.51.100.1"},
			adds: append([]string{"example.test. 300 IN A 198.51.100.2", "new.example.test. 300 IN A 198.51.100.78", "origin.example.test. 300 IN A 198.51.100.2"},
				anycastTexts(t, f, "mail.example.test.")...)},
		{name: "current serial: the SOA alone", from: 103, kind: "soa"},
		{name: "serial ahead of ours: the SOA alone", from: 2000, kind: "soa"},
		{name: "serial unknown: AXFR-style", from: 50, kind: "axfr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rrs, err := f.xfr(dns.TypeIXFR, tt.from, false, "")
			if err != nil {
				t.Fatal(err)
			}
			switch tt.kind {
			case "soa":
				if len(rrs) != 1 || rrs[0].(*dns.SOA).Serial != 103 {
					t.Fatalf("want the current SOA alone, got %v", rrs)
				}
			case "axfr":
				if !slices.Equal(texts(rrs), texts(axfr)) {
					t.Fatalf("want the AXFR, got %v", rrs)
				}
			case "ixfr":
				dels, adds := splitIXFR(t, rrs, tt.from, 103)
				slices.Sort(tt.dels)
				slices.Sort(tt.adds)
				if !slices.Equal(dels, tt.dels) || !slices.Equal(adds, tt.adds) {
					t.Fatalf("IXFR from %d:\n dels %q\n want %q\n adds %q\n want %q", tt.from, dels, tt.dels, adds, tt.adds)
				}
			}
		})
	}
}

func anycastTexts(t *testing.T, f *fixture, name string) []string {
	rrs := answerOf(t, f.engine, name, dns.TypeA)
	return texts(append(rrs, answerOf(t, f.engine, name, dns.TypeAAAA)...))
}

// splitIXFR checks the framing of a one-sequence IXFR reply and returns
// its deleted and added records as text.
func splitIXFR(t *testing.T, rrs []dns.RR, from, to uint32) (dels, adds []string) {
	t.Helper()
	var soas []int
	for i, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			soas = append(soas, i)
			_ = soa
		}
	}
	if len(soas) != 4 || soas[0] != 0 || soas[3] != len(rrs)-1 ||
		rrs[0].(*dns.SOA).Serial != to || rrs[soas[1]].(*dns.SOA).Serial != from || rrs[soas[2]].(*dns.SOA).Serial != to {
		t.Fatalf("not a condensed IXFR %d→%d: %v", from, to, rrs)
	}
	return texts(rrs[soas[1]+1 : soas[2]]), texts(rrs[soas[2]+1 : soas[3]])
}

func TestTransferNeedsAnAllowedSourceAndTheLinkedKey(t *testing.T) {
	tests := []struct {
		name       string
		transferTo []string
		tsig       bool
		signed     bool
		secret     string
		wantRcode  int
	}{
		{name: "allowed, no key linked", transferTo: []string{"127.0.0.1"}},
		{name: "source outside the ACL", transferTo: []string{"192.0.2.0/24"}, wantRcode: dns.RcodeRefused},
		{name: "outside the ACL even signed", transferTo: []string{"192.0.2.0/24"}, tsig: true, signed: true, secret: keySecret, wantRcode: dns.RcodeRefused},
		{name: "key linked, request unsigned", transferTo: []string{"127.0.0.1"}, tsig: true, wantRcode: dns.RcodeRefused},
		{name: "key linked, wrong secret", transferTo: []string{"127.0.0.1"}, tsig: true, signed: true, secret: base64.StdEncoding.EncodeToString([]byte("not the secret at all, no")), wantRcode: dns.RcodeNotAuth},
		{name: "no key linked, request signed", transferTo: []string{"127.0.0.1"}, signed: true, secret: keySecret, wantRcode: dns.RcodeNotAuth},
		{name: "key linked, signed with it: every message verified", transferTo: []string{"127.0.0.1"}, tsig: true, signed: true, secret: keySecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.transferTo, tt.tsig, func(c *Config) {})
			for _, qt := range []uint16{dns.TypeAXFR, dns.TypeSOA} {
				if tt.wantRcode != dns.RcodeSuccess {
					if got := f.rcodeOf(qt, tt.signed, tt.secret); got != tt.wantRcode {
						t.Fatalf("%s: rcode %s, want %s", dns.TypeToString[qt], dns.RcodeToString[got], dns.RcodeToString[tt.wantRcode])
					}
					continue
				}
				var err error
				var rrs []dns.RR
				if qt == dns.TypeAXFR {
					// dns.Transfer verifies the TSIG of every message.
					rrs, err = f.xfr(qt, 0, tt.signed, tt.secret)
				} else {
					rrs, err = f.soa(tt.signed, tt.secret)
				}
				if err != nil || len(rrs) == 0 {
					t.Fatalf("%s: %v %v", dns.TypeToString[qt], rrs, err)
				}
			}
		})
	}
}

// soa queries the zone's SOA over TCP, as a secondary does before it
// transfers, and returns the answer or an error naming the rcode.
func (f *fixture) soa(signed bool, secret string) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeSOA)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	if signed {
		m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
		c.TsigSecret = map[string]string{keyName: secret}
	}
	resp, _, err := c.Exchange(m, f.srv.Addr())
	if resp != nil && resp.Rcode != dns.RcodeSuccess {
		return nil, &rcodeError{dns.RcodeToString[resp.Rcode]}
	}
	if err != nil {
		return nil, err
	}
	return resp.Answer, nil
}

type rcodeError struct{ s string }

func (e *rcodeError) Error() string { return e.s }

func TestMalformedRequestsGetAnAnswer(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false)
	q := func(edit func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetQuestion("example.test.", dns.TypeAXFR)
		edit(m)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		raw   []byte
		udp   bool
		rcode int
	}{
		{"garbage after the header", append(q(func(*dns.Msg) {})[:12:12], 0xff, 0xff, 0xff), false, dns.RcodeFormatError},
		{"two questions", q(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), false, dns.RcodeFormatError},
		{"IXFR without the client's SOA", q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeIXFR }), false, dns.RcodeFormatError},
		{"AXFR over UDP", q(func(*dns.Msg) {}), true, dns.RcodeFormatError},
		{"NOTIFY opcode", q(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify; m.Question[0].Qtype = dns.TypeSOA }), false, dns.RcodeNotImplemented},
		{"another type", q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeA }), false, dns.RcodeRefused},
		{"another class", q(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), false, dns.RcodeRefused},
		{"a zone not served", q(func(m *dns.Msg) { m.Question[0].Name = "other.test." }), false, dns.RcodeRefused},
		{"a zone not served over UDP", q(func(m *dns.Msg) { m.Question[0].Name = "other.test."; m.Question[0].Qtype = dns.TypeSOA }), true, dns.RcodeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawExchange(t, f.srv.Addr(), tt.raw, tt.udp)
			if len(resp) < 12 || resp[2]&0x80 == 0 || int(resp[3]&0x0f) != tt.rcode {
				t.Fatalf("answer %x, want rcode %s", resp, dns.RcodeToString[tt.rcode])
			}
		})
	}
}

// rawExchange sends raw bytes and returns the first reply's bytes.
func rawExchange(t *testing.T, addr string, raw []byte, udp bool) []byte {
	t.Helper()
	netw := "tcp"
	if udp {
		netw = "udp"
	}
	c, err := net.DialTimeout(netw, addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if udp {
		if _, err := c.Write(raw); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	dc := &dns.Conn{Conn: c}
	if _, err := dc.Write(raw); err != nil {
		t.Fatal(err)
	}
	b, err := dc.ReadMsgHeader(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIXFROverUDPAnswersTheSOA(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false)
	f.delta(101, map[string]string{"n": "n 300 IN A 198.51.100.9"})
	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeIXFR)
	m.Ns = []dns.RR{clientSOA(100)}
	resp, _, err := (&dns.Client{Net: "udp", Timeout: 2 * time.Second}).Exchange(m, f.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.SOA).Serial != 101 {
		t.Fatalf("UDP IXFR: want the current SOA alone (come back over TCP), got %v", resp)
	}
}

// A client that asks for a large zone and stops reading is dropped after
// the write timeout; the transfer slot it held is free again.
func TestStalledClientIsDropped(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false, func(c *Config) {
		c.WriteTimeout = 300 * time.Millisecond
		c.MaxTransfers = 1
	})
	bigZone(t, f, 30000)
	c, err := net.Dial("tcp", f.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeAXFR)
	b, _ := m.Pack()
	(&dns.Conn{Conn: c}).Write(b)
	// Never read. Meanwhile the single slot is taken: another transfer is
	// refused...
	time.Sleep(100 * time.Millisecond)
	if got := f.rcodeOf(dns.TypeAXFR, false, ""); got != dns.RcodeRefused {
		t.Fatalf("second transfer while the slot is held: %s", dns.RcodeToString[got])
	}
	// ...until the stalled one times out.
	deadline := time.Now().Add(5 * time.Second)
	for {
		rrs, err := f.xfr(dns.TypeAXFR, 0, false, "")
		if err == nil && len(rrs) > 30000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stalled transfer still holds the slot: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bigZone installs version 200 of example.test. with n more names.
func bigZone(t *testing.T, f *fixture, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString(zoneText)
	for i := range n {
		b.WriteString("host")
		b.WriteString(itoa(i))
		b.WriteString(" TXT \"" + strings.Repeat("x", 250) + "\"\n")
	}
	h := zonetest.Header("example.test.", 200)
	h.Transfer = f.cur.Header.GetTransfer()
	z, err := zonecache.Build(zonetest.Zone(t, h, b.String()))
	if err != nil {
		t.Fatal(err)
	}
	f.put(z)
	f.waitSerial(200)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestTooManyConnectionsFromOneSourceAreClosed(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false, func(c *Config) { c.MaxConnsPerSource = 2 })
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", f.srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		defer c.Close()
	}
	time.Sleep(50 * time.Millisecond)
	c, err := net.Dial("tcp", f.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a third connection from the same source was served")
	}
}

// Outgoing transfers turned off (a new version without outgoing) stop
// the zone's transfers; the history goes with it.
func TestDisablingOutgoingRefuses(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false)
	h := zonetest.Header("example.test.", 101)
	h.Transfer = &snapshot.Transfer{TransferTo: []string{"127.0.0.0/8"}}
	z, err := zonecache.Build(zonetest.Zone(t, h, zoneText))
	if err != nil {
		t.Fatal(err)
	}
	f.put(z)
	deadline := time.Now().Add(5 * time.Second)
	for f.srv.state("example.test.") != nil {
		if time.Now().After(deadline) {
			t.Fatal("state kept")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.rcodeOf(dns.TypeAXFR, false, ""); got != dns.RcodeRefused {
		t.Fatalf("AXFR of a zone with outgoing off: %s", dns.RcodeToString[got])
	}
}

// A delegation added by a delta: its glue goes out as stored (as the
// referral answers it), even a proxied address, in the IXFR and the AXFR.
func TestIXFRWithANewDelegation(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false)
	f.delta(101, map[string]string{
		"g1": "ns.deleg 300 IN A 198.51.100.66 ; proxied",
		"g2": "deleg 300 IN NS ns.deleg.example.test.",
	})
	rrs, err := f.xfr(dns.TypeIXFR, 100, false, "")
	if err != nil {
		t.Fatal(err)
	}
	dels, adds := splitIXFR(t, rrs, 100, 101)
	want := []string{"deleg.example.test. 300 IN NS ns.deleg.example.test.", "ns.deleg.example.test. 300 IN A 198.51.100.66"}
	if len(dels) != 0 || !slices.Equal(adds, want) {
		t.Fatalf("IXFR: dels %q adds %q, want adds %q", dels, adds, want)
	}
	axfr, err := f.xfr(dns.TypeAXFR, 0, false, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts(axfr), "\n"); !strings.Contains(got, "ns.deleg.example.test. 300 IN A 198.51.100.66") {
		t.Fatalf("AXFR without the glue as stored:\n%s", got)
	}
}

// A new version arriving as a full snapshot (no node shared with the one
// before) is compared name by name: the IXFR carries exactly what changed.
func TestIXFRAfterAFullSnapshot(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.0/8"}, false)
	h := zonetest.Header("example.test.", 101)
	h.Transfer = f.cur.Header.GetTransfer()
	text := strings.Replace(zoneText, "mail     A 198.51.100.25", "mail     A 198.51.100.26", 1) + "added A 198.51.100.99\n"
	z, err := zonecache.Build(zonetest.Zone(t, h, text))
	if err != nil {
		t.Fatal(err)
	}
	f.put(z)
	f.waitSerial(101)
	rrs, err := f.xfr(dns.TypeIXFR, 100, false, "")
	if err != nil {
		t.Fatal(err)
	}
	dels, adds := splitIXFR(t, rrs, 100, 101)
	if !slices.Equal(dels, []string{"mail.example.test. 300 IN A 198.51.100.25"}) ||
		!slices.Equal(adds, []string{"added.example.test. 300 IN A 198.51.100.99", "mail.example.test. 300 IN A 198.51.100.26"}) {
		t.Fatalf("IXFR after a full snapshot: dels %q adds %q", dels, adds)
	}
}
