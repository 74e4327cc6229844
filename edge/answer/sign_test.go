package answer

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/internal/dnssectest"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

const signedZone = `
@        IN CNAME inzone ; flatten
@        IN MX    10 mail
@        IN TXT   "apex"
mail     IN A     192.0.2.25
www      IN A     192.0.2.1
www      IN AAAA  2001:db8::1
web      IN A     198.51.100.1 ; proxied
pc       IN CNAME origin.external.net. ; proxied
inzone   IN A     192.0.2.60
ext      IN CNAME origin.external.net. ; flatten
alias    IN CNAME www
*.wild   IN A     192.0.2.99
*.wild   IN TXT   "wild"
*.pwild  IN A     198.51.100.8 ; proxied
a.b.ent  IN A     192.0.2.3
child    IN NS    ns1.child
child    IN DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns1.child IN A    192.0.2.53
nods     IN NS    ns.outside.net.
`

var signNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type signEnv struct {
	e    *Engine
	keys []*dns.DNSKEY // KSK, ZSK
}

// signedEngine serves signed.test. signed (with d's settings applied by
// edit) and unsigned.test. unsigned.
func signedEngine(t testing.TB, edit func(*snapshot.Dnssec)) signEnv {
	t.Helper()
	ring := dnssectest.Ring(t)
	h := zonetest.Header("signed.test.", 1)
	d, keys := dnssectest.Dnssec(t, ring, h.GetZoneId(), "signed.test.")
	if edit != nil {
		edit(d)
	}
	h.Dnssec = d
	set := zonecache.NewSet()
	set.SetPrepare(preparer(t, ring))
	for _, s := range []*snapshot.Zone{zonetest.Zone(t, h, signedZone), zonetest.Zone(t, zonetest.Header("unsigned.test.", 1), "www IN A 192.0.2.1\n")} {
		z, err := zonecache.Build(s)
		if err != nil {
			t.Fatal(err)
		}
		set.Put(z)
	}
	e := New(Config{
		Zones:       set,
		AnycastIPv4: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")},
		AnycastIPv6: []netip.Addr{netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::11")},
		Resolver: fakeResolver{
			"origin.external.net.A": {rr("origin.external.net. 200 IN CNAME lb.external.net."), rr("lb.external.net. 50 IN A 203.0.113.1")},
		},
		Now: func() time.Time { return signNow },
	})
	return signEnv{e: e, keys: keys}
}

func preparer(t testing.TB, ring *keyseal.Ring) func(*zonecache.Zone) {
	o := dnssec.NewOpener(ring)
	return func(z *zonecache.Zone) {
		d := z.Header.GetDnssec()
		if d == nil {
			return
		}
		var apex []dns.RR
		if s := z.Apex.Set(dns.TypeDNSKEY); s != nil {
			apex = s.RRs
		}
		s, err := o.Prepare(z.Header.GetZoneId(), z.Name, d, apex, signNow)
		if err != nil {
			t.Logf("zone %s served unsigned: %v", z.Name, err)
			return
		}
		z.Signer = s
	}
}

func askDO(e *Engine, name string, qtype uint16, do bool) (*dns.Msg, Info) {
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	resp := new(dns.Msg)
	resp.SetReply(req)
	info := e.AnswerQueryDO(context.Background(), req.Question[0], resp, true, do)
	return resp, info
}

// checkSigned verifies that every RRset of the answer and authority
// sections (referral NS sets aside) has an RRSIG that verifies with the
// zone's keys, and that every RRSIG verifies.
func (env signEnv) checkSigned(t *testing.T, resp *dns.Msg) {
	t.Helper()
	for _, sec := range [][]dns.RR{resp.Answer, resp.Ns} {
		sets := map[[2]string][]dns.RR{}
		var sigs []*dns.RRSIG
		for _, r := range sec {
			if s, ok := r.(*dns.RRSIG); ok {
				sigs = append(sigs, s)
				continue
			}
			k := [2]string{r.Header().Name, dns.TypeToString[r.Header().Rrtype]}
			sets[k] = append(sets[k], r)
		}
		for k, set := range sets {
			if k[1] == "NS" && !resp.Authoritative {
				continue
			}
			ok := false
			for _, s := range sigs {
				if s.Hdr.Name != k[0] || dns.TypeToString[s.TypeCovered] != k[1] {
					continue
				}
				if err := s.Verify(env.keyOf(s.KeyTag, t), set); err != nil {
					t.Errorf("RRSIG %v over %v: %v", s, set, err)
				}
				if !s.ValidityPeriod(signNow) {
					t.Errorf("RRSIG %v not valid now", s)
				}
				ok = true
			}
			if !ok {
				t.Errorf("RRset %v %s unsigned", k, dns.TypeToString[resp.Question[0].Qtype])
			}
		}
	}
}

func (env signEnv) keyOf(tag uint16, t *testing.T) *dns.DNSKEY {
	for _, k := range env.keys {
		if k.KeyTag() == tag {
			return k
		}
	}
	t.Fatalf("no key with tag %d", tag)
	return nil
}

func nsecOf(rrs []dns.RR, owner string) *dns.NSEC {
	for _, r := range rrs {
		if n, ok := r.(*dns.NSEC); ok && (owner == "" || n.Hdr.Name == owner) {
			return n
		}
	}
	return nil
}

func bitmap(n *dns.NSEC) string {
	out := ""
	for _, t := range n.TypeBitMap {
		out += dns.TypeToString[t] + " "
	}
	return out
}

func TestSignedAnswers(t *testing.T) {
	env := signedEngine(t, nil)
	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		// check looks at what is particular to the case.
		check func(t *testing.T, resp *dns.Msg)
	}{
		{"positive A", "www.signed.test.", dns.TypeA, nil},
		{"MX at the apex", "signed.test.", dns.TypeMX, nil},
		{"proxied A from the anycast pool", "web.signed.test.", dns.TypeA, nil},
		{"proxied AAAA at a proxied CNAME", "pc.signed.test.", dns.TypeAAAA, nil},
		{"synthesized HTTPS", "web.signed.test.", dns.TypeHTTPS, func(t *testing.T, resp *dns.Msg) {
			if len(resp.Answer) == 0 || resp.Answer[0].Header().Rrtype != dns.TypeHTTPS {
				t.Fatalf("answer %v", resp.Answer)
			}
		}},
		{"flattened apex, internal target", "signed.test.", dns.TypeA, nil},
		{"flattened CNAME, external target", "ext.signed.test.", dns.TypeA, func(t *testing.T, resp *dns.Msg) {
			if len(resp.Answer) != 2 || resp.Answer[0].(*dns.A).A.String() != "203.0.113.1" {
				t.Fatalf("answer %v", resp.Answer)
			}
		}},
		{"CNAME chain in the zone", "alias.signed.test.", dns.TypeA, nil},
		{"wildcard expansion", "host.wild.signed.test.", dns.TypeA, func(t *testing.T, resp *dns.Msg) {
			sig := resp.Answer[1].(*dns.RRSIG)
			if sig.Labels != 3 || sig.Hdr.Name != "host.wild.signed.test." {
				t.Errorf("RRSIG labels %d owner %s, want 3 (wild.signed.test.) and the query name", sig.Labels, sig.Hdr.Name)
			}
			n := nsecOf(resp.Ns, "")
			if n == nil || !covers(n, "host.wild.signed.test.") {
				t.Fatalf("no NSEC covering the query name: %v", resp.Ns)
			}
			if dnsname.Parent(n.Hdr.Name) != "wild.signed.test." || dnsname.Parent(n.NextDomain) != "wild.signed.test." {
				t.Errorf("NSEC %v: closest encloser must be wild.signed.test.", n)
			}
		}},
		{"wildcard under a deeper missing name", "a.b.wild.signed.test.", dns.TypeTXT, func(t *testing.T, resp *dns.Msg) {
			if n := nsecOf(resp.Ns, ""); n == nil || !covers(n, "a.b.wild.signed.test.") || !covers(n, "b.wild.signed.test.") {
				t.Fatalf("NSEC does not cover the closer name: %v", resp.Ns)
			}
		}},
		{"proxied wildcard", "x.pwild.signed.test.", dns.TypeA, func(t *testing.T, resp *dns.Msg) {
			if sig := resp.Answer[len(resp.Answer)-1].(*dns.RRSIG); sig.Labels != 3 {
				t.Errorf("labels %d", sig.Labels)
			}
		}},
		{"delegation with DS", "host.child.signed.test.", dns.TypeA, func(t *testing.T, resp *dns.Msg) {
			if resp.Authoritative || !hasType(resp.Ns, dns.TypeDS) || nsecOf(resp.Ns, "") != nil {
				t.Fatalf("want a referral with DS, got %v", resp.Ns)
			}
		}},
		{"delegation without DS", "nods.signed.test.", dns.TypeA, func(t *testing.T, resp *dns.Msg) {
			n := nsecOf(resp.Ns, "nods.signed.test.")
			if resp.Authoritative || n == nil || bitmap(n) != "NS RRSIG NSEC " {
				t.Fatalf("want an NSEC at the cut with NS RRSIG NSEC, got %v", resp.Ns)
			}
		}},
		{"DS query at the cut", "child.signed.test.", dns.TypeDS, nil},
		{"NXDOMAIN becomes a compact answer", "nope.signed.test.", dns.TypeA, func(t *testing.T, resp *dns.Msg) {
			n := nsecOf(resp.Ns, "nope.signed.test.")
			if resp.Rcode != dns.RcodeSuccess || n == nil || n.NextDomain != `\000.nope.signed.test.` || bitmap(n) != "RRSIG NSEC NXNAME " {
				t.Fatalf("rcode %d NSEC %v", resp.Rcode, n)
			}
			if !hasType(resp.Ns, dns.TypeSOA) {
				t.Error("no SOA")
			}
		}},
		{"NODATA", "www.signed.test.", dns.TypeTXT, func(t *testing.T, resp *dns.Msg) {
			n := nsecOf(resp.Ns, "www.signed.test.")
			if n == nil || bitmap(n) != "A AAAA RRSIG NSEC " || n.Hdr.Ttl != 1800 {
				t.Fatalf("NSEC %v", n)
			}
		}},
		{"NODATA at a proxied name lists what it synthesizes", "web.signed.test.", dns.TypeTXT, func(t *testing.T, resp *dns.Msg) {
			if n := nsecOf(resp.Ns, "web.signed.test."); n == nil || bitmap(n) != "A AAAA RRSIG NSEC HTTPS " {
				t.Fatalf("NSEC %v", n)
			}
		}},
		{"NODATA at the flattened apex", "signed.test.", dns.TypeSRV, func(t *testing.T, resp *dns.Msg) {
			n := nsecOf(resp.Ns, "signed.test.")
			if n == nil || bitmap(n) != "A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY CDS CDNSKEY " {
				t.Fatalf("NSEC %v", n)
			}
		}},
		{"NODATA at an empty non-terminal", "b.ent.signed.test.", dns.TypeA, func(t *testing.T, resp *dns.Msg) {
			if n := nsecOf(resp.Ns, "b.ent.signed.test."); n == nil || bitmap(n) != "RRSIG NSEC " {
				t.Fatalf("NSEC %v", n)
			}
		}},
		{"ANY", "www.signed.test.", dns.TypeANY, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, info := askDO(env.e, tc.qname, tc.qtype, true)
			if len(resp.Answer)+len(resp.Ns) == 0 {
				t.Fatal("empty answer")
			}
			env.checkSigned(t, resp)
			if info.SigExpire != uint32(signNow.Add(dnssec.Validity).Unix()) {
				t.Errorf("SigExpire %d", info.SigExpire)
			}
			if tc.check != nil {
				tc.check(t, resp)
			}
		})
	}
}

// covers reports owner < name < next in canonical order (RFC 4034 6.1).
func covers(n *dns.NSEC, name string) bool {
	return canonicalLess(n.Hdr.Name, name) && canonicalLess(name, n.NextDomain)
}

func canonicalLess(a, b string) bool {
	la, lb := wireLabels(a), wireLabels(b)
	for i := 0; i < len(la) && i < len(lb); i++ {
		x, y := la[len(la)-1-i], lb[len(lb)-1-i]
		if x != y {
			return x < y
		}
	}
	return len(la) < len(lb)
}

func wireLabels(name string) []string {
	buf := make([]byte, 256)
	off, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		panic(err)
	}
	var out []string
	for i := 0; i < off && buf[i] != 0; i += int(buf[i]) + 1 {
		out = append(out, strings.ToLower(string(buf[i+1:i+1+int(buf[i])])))
	}
	return out
}

func TestApexKeySets(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cdsDelete bool
		cds       string
		cdnskey   string
	}{
		{"pending or active: the KSK", false, "", ""},
		{"pending-disabled or disabled: RFC 8078 delete", true, "0 0 0 00", "0 3 0 AA=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := signedEngine(t, func(d *snapshot.Dnssec) { d.CdsDelete = tc.cdsDelete })
			for _, qt := range []uint16{dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY} {
				resp, _ := askDO(env.e, "signed.test.", qt, true)
				if !resp.Authoritative || len(resp.Answer) < 2 {
					t.Fatalf("%s: %v", dns.TypeToString[qt], resp)
				}
				env.checkSigned(t, resp)
				if sig := resp.Answer[len(resp.Answer)-1].(*dns.RRSIG); sig.KeyTag != env.keys[0].KeyTag() {
					t.Errorf("%s signed by %d, want the KSK", dns.TypeToString[qt], sig.KeyTag)
				}
				rdata := strings.TrimPrefix(resp.Answer[0].String(), resp.Answer[0].Header().String())
				switch {
				case qt == dns.TypeCDS && tc.cds != "" && rdata != tc.cds,
					qt == dns.TypeCDNSKEY && tc.cdnskey != "" && rdata != tc.cdnskey:
					t.Errorf("%s = %q", dns.TypeToString[qt], rdata)
				case qt == dns.TypeCDS && tc.cds == "" && resp.Answer[0].(*dns.CDS).KeyTag != env.keys[0].KeyTag():
					t.Errorf("CDS %v is not the KSK's", resp.Answer[0])
				}
			}
			resp, _ := askDO(env.e, "signed.test.", dns.TypeDNSKEY, false)
			if len(resp.Answer) != 2 || hasType(resp.Answer, dns.TypeRRSIG) {
				t.Errorf("DNSKEY without DO: %v", resp.Answer)
			}
		})
	}
}

func TestNoDNSSECRecordsWithoutDO(t *testing.T) {
	env := signedEngine(t, nil)
	for _, q := range []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"www.signed.test.", dns.TypeA, dns.RcodeSuccess},
		{"nope.signed.test.", dns.TypeA, dns.RcodeNameError},
		{"www.signed.test.", dns.TypeTXT, dns.RcodeSuccess},
		{"x.wild.signed.test.", dns.TypeA, dns.RcodeSuccess},
		{"host.child.signed.test.", dns.TypeA, dns.RcodeSuccess},
	} {
		resp, info := askDO(env.e, q.name, q.qtype, false)
		for _, sec := range [][]dns.RR{resp.Answer, resp.Ns, resp.Extra} {
			if hasType(sec, dns.TypeRRSIG) || hasType(sec, dns.TypeNSEC) || hasType(sec, dns.TypeDS) {
				t.Errorf("%s %s without DO: %v", q.name, dns.TypeToString[q.qtype], resp)
			}
		}
		if resp.Rcode != q.rcode || info.SigExpire != 0 {
			t.Errorf("%s: rcode %d SigExpire %d", q.name, resp.Rcode, info.SigExpire)
		}
	}
}

func TestNoDNSSECForUnsignedZones(t *testing.T) {
	env := signedEngine(t, nil)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"www.unsigned.test.", dns.TypeA},
		{"nope.unsigned.test.", dns.TypeA},
		{"unsigned.test.", dns.TypeDNSKEY},
		{"unsigned.test.", dns.TypeCDS},
	} {
		resp, _ := askDO(env.e, q.name, q.qtype, true)
		for _, sec := range [][]dns.RR{resp.Answer, resp.Ns} {
			for _, r := range sec {
				switch r.Header().Rrtype {
				case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
					t.Errorf("%s %s: %v", q.name, dns.TypeToString[q.qtype], r)
				}
			}
		}
	}
}

func TestZoneWithKeysThatDoNotOpenIsServedUnsigned(t *testing.T) {
	h := zonetest.Header("signed.test.", 1)
	d, _ := dnssectest.Dnssec(t, dnssectest.Ring(t), h.GetZoneId(), "signed.test.")
	h.Dnssec = d
	set := zonecache.NewSet()
	set.SetPrepare(preparer(t, dnssectest.Ring(t))) // another KEK
	z, err := zonecache.Build(zonetest.Zone(t, h, signedZone))
	if err != nil {
		t.Fatal(err)
	}
	set.Put(z)
	e := New(Config{Zones: set})
	resp, _ := askDO(e, "www.signed.test.", dns.TypeA, true)
	if len(resp.Answer) != 1 || hasType(resp.Answer, dns.TypeRRSIG) {
		t.Fatalf("answer %v", resp.Answer)
	}
}

func nsec3s(rrs []dns.RR) []*dns.NSEC3 {
	var out []*dns.NSEC3
	for _, r := range rrs {
		if n, ok := r.(*dns.NSEC3); ok {
			out = append(out, n)
		}
	}
	return out
}

// proves reports whether one of ns matches (match) or covers name.
func proves(ns []*dns.NSEC3, name string, match bool) *dns.NSEC3 {
	for _, n := range ns {
		if (match && n.Match(name)) || (!match && n.Cover(name)) {
			return n
		}
	}
	return nil
}

func TestSignedAnswersWithNSEC3(t *testing.T) {
	env := signedEngine(t, func(d *snapshot.Dnssec) { d.UseNsec3 = true })
	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		rcode int
		check func(t *testing.T, ns []*dns.NSEC3)
	}{
		{"NXDOMAIN: closest encloser proof", "a.nope.signed.test.", dns.TypeA, dns.RcodeNameError, func(t *testing.T, ns []*dns.NSEC3) {
			ce := proves(ns, "signed.test.", true)
			if len(ns) != 3 || ce == nil || proves(ns, "nope.signed.test.", false) == nil || proves(ns, "*.signed.test.", false) == nil {
				t.Fatalf("want NSEC3 matching signed.test., covering nope.signed.test. and *.signed.test.: %v", ns)
			}
			if !bitmapHas(ce.TypeBitMap, dns.TypeSOA) {
				t.Errorf("closest encloser bitmap %v", ce.TypeBitMap)
			}
		}},
		{"NODATA: NSEC3 matching the name", "www.signed.test.", dns.TypeTXT, dns.RcodeSuccess, func(t *testing.T, ns []*dns.NSEC3) {
			n := proves(ns, "www.signed.test.", true)
			if n == nil || bitmapHas(n.TypeBitMap, dns.TypeTXT) || !bitmapHas(n.TypeBitMap, dns.TypeA) {
				t.Fatalf("NSEC3 %v", ns)
			}
		}},
		{"NODATA at an empty non-terminal", "b.ent.signed.test.", dns.TypeA, dns.RcodeSuccess, func(t *testing.T, ns []*dns.NSEC3) {
			if n := proves(ns, "b.ent.signed.test.", true); n == nil || len(n.TypeBitMap) != 0 {
				t.Fatalf("NSEC3 %v", ns)
			}
		}},
		{"wildcard: next closer name covered", "x.y.wild.signed.test.", dns.TypeA, dns.RcodeSuccess, func(t *testing.T, ns []*dns.NSEC3) {
			if len(ns) != 1 || proves(ns, "y.wild.signed.test.", false) == nil {
				t.Fatalf("want an NSEC3 covering y.wild.signed.test.: %v", ns)
			}
		}},
		{"delegation without DS", "host.nods.signed.test.", dns.TypeA, dns.RcodeSuccess, func(t *testing.T, ns []*dns.NSEC3) {
			n := proves(ns, "nods.signed.test.", true)
			if n == nil || !bitmapHas(n.TypeBitMap, dns.TypeNS) || bitmapHas(n.TypeBitMap, dns.TypeDS) {
				t.Fatalf("NSEC3 %v", ns)
			}
		}},
		{"DS query at a cut without DS", "nods.signed.test.", dns.TypeDS, dns.RcodeSuccess, func(t *testing.T, ns []*dns.NSEC3) {
			if n := proves(ns, "nods.signed.test.", true); n == nil || bitmapHas(n.TypeBitMap, dns.TypeDS) {
				t.Fatalf("NSEC3 %v", ns)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := askDO(env.e, tc.qname, tc.qtype, true)
			if resp.Rcode != tc.rcode {
				t.Fatalf("rcode %d, want %d", resp.Rcode, tc.rcode)
			}
			if nsecOf(resp.Ns, "") != nil {
				t.Errorf("NSEC in an NSEC3 zone: %v", resp.Ns)
			}
			env.checkSigned(t, resp)
			ns := nsec3s(resp.Ns)
			for _, n := range ns {
				if n.Iterations != 0 || n.Salt != "" || n.Flags != 0 || n.Hdr.Ttl != 1800 {
					t.Errorf("NSEC3 parameters %v, want 1 0 0 - and the negative TTL", n)
				}
			}
			tc.check(t, ns)
		})
	}
}

func bitmapHas(b []uint16, t uint16) bool {
	for _, x := range b {
		if x == t {
			return true
		}
	}
	return false
}

// Queries for DNSSEC's own types (docs/DNSSEC.md): NSEC gets the name's
// compact NSEC as the answer, RRSIG gets NOTIMP, NSEC3PARAM exists at the
// apex of NSEC3 zones only; no answer denies a type its own NSEC lists.
func TestQueriesForDNSSECTypes(t *testing.T) {
	nsecEnv := signedEngine(t, nil)
	n3Env := signedEngine(t, func(d *snapshot.Dnssec) { d.UseNsec3 = true })
	answerNSEC := func(owner, want string) func(*testing.T, *dns.Msg) {
		return func(t *testing.T, resp *dns.Msg) {
			n := nsecOf(resp.Answer, owner)
			if n == nil || n.NextDomain != `\000.`+owner || bitmap(n) != want {
				t.Fatalf("answer NSEC %v, want %s with %q", resp.Answer, owner, want)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		env   signEnv
		qname string
		qtype uint16
		do    bool
		rcode int
		// sigs is how many RRSIGs the answer section holds.
		sigs  int
		check func(*testing.T, *dns.Msg)
	}{
		{"NSEC of a name: its compact NSEC, signed", nsecEnv, "www.signed.test.", dns.TypeNSEC, true, dns.RcodeSuccess, 1,
			answerNSEC("www.signed.test.", "A AAAA RRSIG NSEC ")},
		{"NSEC without DO: the record, no signature", nsecEnv, "www.signed.test.", dns.TypeNSEC, false, dns.RcodeSuccess, 0,
			answerNSEC("www.signed.test.", "A AAAA RRSIG NSEC ")},
		{"NSEC of the apex lists the key sets", nsecEnv, "signed.test.", dns.TypeNSEC, true, dns.RcodeSuccess, 1,
			answerNSEC("signed.test.", "A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY CDS CDNSKEY ")},
		{"NSEC of a name a wildcard answers", nsecEnv, "x.wild.signed.test.", dns.TypeNSEC, true, dns.RcodeSuccess, 1,
			answerNSEC("x.wild.signed.test.", "A TXT RRSIG NSEC ")},
		{"NSEC of an empty non-terminal", nsecEnv, "b.ent.signed.test.", dns.TypeNSEC, true, dns.RcodeSuccess, 1,
			answerNSEC("b.ent.signed.test.", "RRSIG NSEC ")},
		{"NSEC of a missing name: compact NXDOMAIN", nsecEnv, "nope.signed.test.", dns.TypeNSEC, true, dns.RcodeSuccess, 0,
			func(t *testing.T, resp *dns.Msg) {
				if n := nsecOf(resp.Ns, "nope.signed.test."); len(resp.Answer) != 0 || n == nil || !bitmapHas(n.TypeBitMap, dnssec.TypeNXNAME) {
					t.Fatalf("want the compact NXDOMAIN: %v", resp)
				}
			}},
		{"NSEC below a cut: referral", nsecEnv, "x.child.signed.test.", dns.TypeNSEC, true, dns.RcodeSuccess, 0,
			func(t *testing.T, resp *dns.Msg) {
				if resp.Authoritative || len(resp.Answer) != 0 || !hasType(resp.Ns, dns.TypeNS) {
					t.Fatalf("want a referral: %v", resp)
				}
			}},
		{"RRSIG: NOTIMP", nsecEnv, "www.signed.test.", dns.TypeRRSIG, true, dns.RcodeNotImplemented, 0, nil},
		{"RRSIG without DO: NOTIMP", nsecEnv, "www.signed.test.", dns.TypeRRSIG, false, dns.RcodeNotImplemented, 0, nil},
		{"RRSIG in an unsigned zone: NODATA as before", nsecEnv, "www.unsigned.test.", dns.TypeRRSIG, true, dns.RcodeSuccess, 0,
			func(t *testing.T, resp *dns.Msg) {
				if len(resp.Answer) != 0 || !hasType(resp.Ns, dns.TypeSOA) {
					t.Fatalf("want NODATA: %v", resp)
				}
			}},
		{"NSEC3PARAM in an NSEC zone: NODATA, not listed", nsecEnv, "signed.test.", dns.TypeNSEC3PARAM, true, dns.RcodeSuccess, 0,
			func(t *testing.T, resp *dns.Msg) {
				if n := nsecOf(resp.Ns, "signed.test."); len(resp.Answer) != 0 || n == nil || bitmapHas(n.TypeBitMap, dns.TypeNSEC3PARAM) {
					t.Fatalf("want NODATA without NSEC3PARAM in the bitmap: %v", resp)
				}
			}},
		{"NSEC3PARAM at an NSEC3 apex: 1 0 0 -, signed", n3Env, "signed.test.", dns.TypeNSEC3PARAM, true, dns.RcodeSuccess, 1,
			func(t *testing.T, resp *dns.Msg) {
				if len(resp.Answer) != 2 || strings.TrimPrefix(resp.Answer[0].String(), resp.Answer[0].Header().String()) != "1 0 0 -" {
					t.Fatalf("answer %v", resp.Answer)
				}
			}},
		{"NSEC3PARAM below the apex: NODATA", n3Env, "www.signed.test.", dns.TypeNSEC3PARAM, true, dns.RcodeSuccess, 0, nil},
		{"NSEC3 zone: the apex NSEC3 lists NSEC3PARAM", n3Env, "signed.test.", dns.TypeSRV, true, dns.RcodeSuccess, 0,
			func(t *testing.T, resp *dns.Msg) {
				var ns []*dns.NSEC3
				for _, r := range resp.Ns {
					if n, ok := r.(*dns.NSEC3); ok {
						ns = append(ns, n)
					}
				}
				if n := proves(ns, "signed.test.", true); n == nil || !bitmapHas(n.TypeBitMap, dns.TypeNSEC3PARAM) {
					t.Fatalf("apex NSEC3 %v", ns)
				}
			}},
		{"NSEC3 zone: NSEC query is NODATA with an NSEC3 not listing NSEC", n3Env, "www.signed.test.", dns.TypeNSEC, true, dns.RcodeSuccess, 0,
			func(t *testing.T, resp *dns.Msg) {
				var ns []*dns.NSEC3
				for _, r := range resp.Ns {
					if n, ok := r.(*dns.NSEC3); ok {
						ns = append(ns, n)
					}
				}
				if n := proves(ns, "www.signed.test.", true); n == nil || bitmapHas(n.TypeBitMap, dns.TypeNSEC) || len(resp.Answer) != 0 {
					t.Fatalf("NODATA proof %v", resp)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, info := askDO(tc.env.e, tc.qname, tc.qtype, tc.do)
			if resp.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s: %v", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode], resp)
			}
			sigs := 0
			for _, r := range resp.Answer {
				if r.Header().Rrtype == dns.TypeRRSIG {
					sigs++
				}
			}
			if sigs != tc.sigs {
				t.Errorf("%d RRSIGs in the answer, want %d: %v", sigs, tc.sigs, resp.Answer)
			}
			if tc.do && !strings.HasSuffix(tc.qname, ".unsigned.test.") {
				tc.env.checkSigned(t, resp)
			}
			if !tc.do && len(resp.Ns)+len(resp.Answer) > 0 && hasType(append(resp.Answer, resp.Ns...), dns.TypeRRSIG) {
				t.Errorf("signatures without DO: %v", resp)
			}
			if sigs > 0 && info.SigExpire == 0 {
				t.Error("signed answer without SigExpire: the cache would keep it forever")
			}
			if tc.check != nil {
				tc.check(t, resp)
			}
		})
	}
}

// The zone's own sets keep their signature between answers (no new ECDSA
// signature when an answer is made again); sets made per answer (proxied
// addresses) are signed each time. Every signature verifies.
func TestStoredSetsReuseTheirSignature(t *testing.T) {
	env := signedEngine(t, nil)
	sigOf := func(qname string, qtype uint16) string {
		resp, _ := askDO(env.e, qname, qtype, true)
		env.checkSigned(t, resp)
		for _, r := range resp.Answer {
			if s, ok := r.(*dns.RRSIG); ok && s.TypeCovered == qtype {
				return s.Signature
			}
		}
		t.Fatalf("no RRSIG over %s %s: %v", qname, dns.TypeToString[qtype], resp)
		return ""
	}
	for _, tc := range []struct {
		name         string
		qname        string
		qtype        uint16
		wantSameSigs bool
	}{
		{"plain A", "www.signed.test.", dns.TypeA, true},
		{"MX at the apex", "signed.test.", dns.TypeMX, true},
		{"DS at a cut", "child.signed.test.", dns.TypeDS, true},
		{"proxied A (made per answer)", "web.signed.test.", dns.TypeA, false},
		{"wildcard expansion (copies)", "x.wild.signed.test.", dns.TypeA, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := sigOf(tc.qname, tc.qtype), sigOf(tc.qname, tc.qtype)
			if (a == b) != tc.wantSameSigs {
				t.Fatalf("same signature twice: %v, want %v", a == b, tc.wantSameSigs)
			}
		})
	}
}
