package xfrout

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
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

// wireZoneText holds a name of every kind a transfer renders: the apex
// (served NS, a flattened CNAME, the user's DNSKEY for multi-signer),
// proxied names (A, AAAA, CNAME, with other types beside, under a product
// exempt from enforce DNS-only, a proxied wildcard), CNAMEs kept, asking
// to be flattened (in-zone, onto a proxied name, external with no
// resolver: left out), a delegation with DS and glue (a proxied and a
// flatten record below the cut go out as stored), wildcards, sets whose
// records come apart (regrouped by type), duplicates, an
// upper-case owner, an escaped target, and the other common types
// (owners needing escapes are refused at load).
const wireZoneText = `
@            CNAME origin.example.test.
@            MX 10 mail.example.test.
@            TXT "v=spf1 -all"
@            DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
@            CAA 0 issue "ca.example.net"
origin       A 198.51.100.1
origin       AAAA 2001:db8:1::1
www          A 198.51.100.7 ; proxied
www          TXT "hello"
www          AAAA 2001:db8::7 ; proxied
six          AAAA 2001:db8::6 ; proxied
pc           CNAME target.example.net. ; proxied
r2           A 198.51.100.9 ; proxied managed=r2
alias        CNAME www.example.test.
flat         CNAME origin.example.test. ; flatten
flatpx       CNAME www.example.test. ; flatten
flatext      CNAME elsewhere.example.net. ; flatten
sub          NS ns.sub.example.test.
sub          NS ns2.sub.example.test.
sub          DS 12345 13 2 3F7B2A2B6E9C0D1E2F3A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90
ns.sub       A 198.51.100.53
ns2.sub      AAAA 2001:db8::53
px.sub       A 198.51.100.54 ; proxied
fl.sub       CNAME origin.example.test. ; flatten
*.wild       A 198.51.100.80
*.wild       TXT "wild"
*.pwild      A 198.51.100.81 ; proxied
mixed        A 198.51.100.2
mixed        TXT "one"
mixed        A 198.51.100.3
mixed        TXT "two"
mixed        AAAA 2001:db8::2
dup          A 198.51.100.4
dup          A 198.51.100.4
dupname      MX 10 Mail.example.test.
dupname      MX 10 mail.example.test.
Upper.Case   A 198.51.100.5
esc          CNAME we\.ird.example.test.
mail         A 198.51.100.25
_sip._tcp    SRV 10 60 5060 sip.example.test.
5.100        PTR host.example.test.
svc          HTTPS 1 . alpn=h2 ipv4hint=198.51.100.6
sshfp        SSHFP 4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF123456789AB
long         TXT "` + "%s" + `" "second string"
deep.empty.nonterminal A 198.51.100.10
ttl          A 198.51.100.11
ttl          A 198.51.100.12
`

// presignedText is a zone holding RRSIGs (a pre-signed secondary's data),
// which the listener sends the general way.
const presignedText = `
www   A 198.51.100.7
www   RRSIG A 13 3 300 20301231000000 20200101000000 12345 example.test. dGVzdA==
`

type wireCase struct {
	name    string
	text    string
	edit    func(h *snapshot.ZoneHeader)
	enforce bool // the account enforces DNS-only
	names   int  // generated names added (several messages, batches)
}

// TestAXFRWireMatchesRules checks that an AXFR sends, record for record
// and in the same order, what the answer rules render for every name
// (eachRendered, the general way), for zones exercising every rule a
// transfer applies, whichever way each name is sent (stored records, the
// rules, the flattened names' held records); each reply's messages are
// TSIG-verified by miekg/dns's transfer client.
func TestAXFRWireMatchesRules(t *testing.T) {
	long := strings.Repeat("x", 250)
	full := fmt.Sprintf(wireZoneText, long)
	cases := []wireCase{
		{name: "every kind of name", text: full},
		{name: "flatten all CNAMEs", text: full, edit: func(h *snapshot.ZoneHeader) { h.FlattenAllCnames = true }},
		{name: "enforce DNS-only", text: full, enforce: true},
		{name: "zone pending (no proxying)", text: full, edit: func(h *snapshot.ZoneHeader) { h.Status = snapshot.ZoneStatus_ZONE_STATUS_PENDING }},
		{name: "partial zone (served below a suffix)", text: full, edit: func(h *snapshot.ZoneHeader) { h.ServedName = "example.test.partial.zonegrid.test." }},
		{name: "many names over many messages", text: full, names: 5000},
		{name: "pre-signed data", text: presignedText},
		{name: "apex only", text: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, st, addr := wireServer(t, tc)
			got := axfrSigned(t, addr, st.zone.Name)
			want := []dns.RR{st.soa}
			if err := srv.eachRendered(context.Background(), st, func(rrs []dns.RR) error {
				want = append(want, rrs...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want = append(want, st.soa)
			if len(got) != len(want) {
				t.Fatalf("AXFR sent %d records, the rules render %d", len(got), len(want))
			}
			for i := range got {
				if g, w := got[i].String(), want[i].String(); g != w || rrKey(got[i]) != rrKey(want[i]) {
					t.Fatalf("record %d:\n got %s\nwant %s", i, g, w)
				}
			}
			if tc.names == 0 && len(st.zone.Header.GetServedName()) == 0 && tc.text == full {
				// Every way of sending a name was taken.
				ways := map[how]int{}
				recs := []zonecache.WireRecord(nil)
				st.zone.EachNode(func(n *zonecache.Node) bool {
					if !n.Empty() {
						recs = n.AppendWire(recs[:0])
						_, h := st.render(n, recs)
						ways[h]++
					}
					return true
				})
				if ways[renderWire] == 0 || ways[renderRules] == 0 || ways[renderDyn] == 0 {
					t.Fatalf("names sent as stored/by the rules/held: %v, want each", ways)
				}
			}
		})
	}
}

// wireServer serves one zone built from tc and returns the listener, the
// zone's served state and the address.
func wireServer(t testing.TB, tc wireCase) (*Server, *served, string) {
	t.Helper()
	k, err := keyseal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyseal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	zones := zonecache.NewSet()
	accounts := zonecache.NewAccounts()
	accounts.Put(&snapshot.Account{AccountId: "acct-1", Version: 1, EnforceDnsOnly: tc.enforce})
	engine := answer.New(answer.Config{Zones: zones, Accounts: accounts, AnycastIPv4: anycast4, AnycastIPv6: anycast6})
	srv, err := New(Config{Addr: "127.0.0.1:0", Engine: engine, Zones: zones})
	if err != nil {
		t.Fatal(err)
	}
	zones.SetInstalled(srv.Installed)
	raw, _ := base64.StdEncoding.DecodeString(keySecret)
	sealed, err := ring.Seal(raw, keyseal.TSIGContext("acct-1", "tsig-1"))
	if err != nil {
		t.Fatal(err)
	}
	h := zonetest.Header("example.test.", 100)
	h.Transfer = &snapshot.Transfer{Outgoing: true, TransferTo: []string{"127.0.0.0/8"},
		Tsig: &snapshot.TransferTsig{Id: "tsig-1", AccountId: "acct-1", Name: keyName, Algorithm: dns.HmacSHA256, SealedSecret: sealed}}
	if tc.edit != nil {
		tc.edit(h)
	}
	text := tc.text
	var b strings.Builder
	for i := range tc.names {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "n%d A 10.0.%d.%d\n", i, i/250%250, i%250)
		case 1:
			fmt.Fprintf(&b, "n%d AAAA 2001:db8::%x\nn%d TXT \"t%d\"\n", i, i, i, i)
		case 2:
			fmt.Fprintf(&b, "n%d CNAME n%d.example.test.\n", i, i-2)
		case 3:
			fmt.Fprintf(&b, "n%d A 10.1.%d.%d ; proxied\nn%d MX 5 mail.example.test.\n", i, i/250%250, i%250, i)
		}
	}
	z, err := zonecache.Build(zonetest.Zone(t, h, text+b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if tc.text == presignedText && z.Presigned == nil {
		t.Fatal("the pre-signed zone has no pre-signed index")
	}
	if z.Transfer, err = xfrauth.Prepare(z.Header.GetTransfer(), ring); err != nil {
		t.Fatal(err)
	}
	zones.Put(z)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for srv.state(z.Name) == nil {
		if time.Now().After(deadline) {
			t.Fatal("zone never served")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return srv, srv.state(z.Name), srv.Addr()
}

// axfrSigned runs a TSIG-signed AXFR of zone and returns the records,
// every message checked to carry a TSIG that miekg/dns verifies (the
// first over the request's MAC, each next one over the previous MAC with
// the timers only, RFC 8945 5.3.1).
func axfrSigned(t *testing.T, addr, zone string) []dns.RR {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeAXFR)
	m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
	req, mac, err := dns.TsigGenerate(m, keySecret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(req))), req...)); err != nil {
		t.Fatal(err)
	}
	var out []dns.RR
	for msgs := 0; len(out) < 2 || out[len(out)-1].Header().Rrtype != dns.TypeSOA; msgs++ {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			t.Fatalf("message %d: %v", msgs, err)
		}
		raw := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, raw); err != nil {
			t.Fatalf("message %d: %v", msgs, err)
		}
		in := new(dns.Msg)
		if err := in.Unpack(raw); err != nil {
			t.Fatalf("message %d: %v", msgs, err)
		}
		ts := in.IsTsig()
		if ts == nil {
			t.Fatalf("message %d is not signed", msgs)
		}
		if err := dns.TsigVerify(raw, keySecret, mac, msgs > 0); err != nil {
			t.Fatalf("message %d: TSIG: %v", msgs, err)
		}
		if in.Rcode != dns.RcodeSuccess || in.Id != m.Id || len(in.Question) != 1 || !in.Authoritative {
			t.Fatalf("message %d: %s", msgs, in.MsgHdr.String())
		}
		mac = ts.MAC
		out = append(out, in.Answer...)
	}
	return out
}

// BenchmarkAXFR times the listener's side of a TSIG-signed AXFR of a zone
// of 200,000 generated names (A, AAAA with TXT, CNAME, MX with A; no
// proxied or flattened name, like the reference zone) into a writer that
// drops the messages: what the walk, the packing and the signing cost,
// without a socket or a client. e2e's BenchmarkOutgoingAXFR times it over
// TCP against NSD and Knot.
//
//	cd edge && go test -run '^$' -bench AXFR -benchtime 10x -cpuprofile cpu.out ./xfrout
func BenchmarkAXFR(b *testing.B) {
	var text strings.Builder
	for i := range 200_000 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&text, "n%d A 10.0.%d.%d\n", i, i/250%250, i%250)
		case 1:
			fmt.Fprintf(&text, "n%d AAAA 2001:db8::%x:%x\nn%d TXT \"t%d\"\n", i, i>>16, i&0xffff, i, i)
		case 2:
			fmt.Fprintf(&text, "n%d CNAME n%d.example.test.\n", i, i-2)
		case 3:
			fmt.Fprintf(&text, "n%d A 10.1.%d.%d\nn%d MX 5 mail.example.test.\n", i, i/250%250, i%250, i)
		}
	}
	srv, st, _ := wireServer(b, wireCase{text: text.String()})
	m := new(dns.Msg)
	m.SetQuestion(st.zone.Name, dns.TypeAXFR)
	src := netip.MustParseAddr("127.0.0.1")
	b.ResetTimer()
	records := 0
	for range b.N {
		m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix()) // TsigGenerate took the last one out
		req, _, err := dns.TsigGenerate(m, keySecret, "", false)
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.handle(context.Background(), req, src, true, func(p []byte) error {
			records += int(binary.BigEndian.Uint16(p[6:]))
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records)/float64(b.N), "records/op")
}
