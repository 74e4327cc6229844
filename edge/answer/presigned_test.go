package answer

import (
	"context"
	"crypto"
	"crypto/sha1"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/dnssectest"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// presignedData is the primary's zone, before signing (origin
// presigned.test.). The SOA and the apex NS set are the header's
// (zonetest.Header), as the control plane publishes a secondary zone.
const presignedData = `
@         IN A     192.0.2.1
@         IN MX    10 mail
mail      IN A     192.0.2.25
www       IN A     192.0.2.2
www       IN A     192.0.2.3
www       IN TXT   "web"
alias     IN CNAME www
walias    IN CNAME host.wild
*.wild    IN A     192.0.2.99
*.wild    IN TXT   "wild"
a.b.ent   IN A     192.0.2.4
child     IN NS    ns1.child
child     IN DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns1.child IN A     192.0.2.53
nods      IN NS    ns.outside.net.
`

const presignedApex = "presigned.test."

// The NSEC3 parameters of the test chain: extra iterations and a salt, so
// that the edge's hashing is checked against miekg/dns's.
const (
	testIterations = 2
	testSalt       = "ABCD"
)

type presignedEnv struct {
	e    *Engine
	key  *dns.DNSKEY
	zone *zonecache.Zone
}

// signZone signs presignedData as a primary does, with miekg/dns's own
// DNSSEC: an RRSIG over every authoritative RRset (the header's SOA and
// apex NS included, not the delegations' NS, not glue), and an NSEC chain
// or an NSEC3 chain (with NSEC3PARAM). edit may change the records before
// they are written (broken zones).
func signZone(t testing.TB, h *snapshot.ZoneHeader, nsec3 bool, expire time.Time) (string, *dns.DNSKEY) {
	t.Helper()
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: presignedApex, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 300},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := key.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	zp := dns.NewZoneParser(strings.NewReader("$TTL 300\n"+presignedData), presignedApex, "")
	sets := map[string]map[uint16][]dns.RR{}
	add := func(rr dns.RR) {
		n := rr.Header().Name
		if sets[n] == nil {
			sets[n] = map[uint16][]dns.RR{}
		}
		sets[n][rr.Header().Rrtype] = append(sets[n][rr.Header().Rrtype], rr)
	}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		add(rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	add(key)
	soa := h.GetSoa()
	add(&dns.SOA{Hdr: dns.RR_Header{Name: presignedApex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soa.GetTtl()},
		Ns: soa.GetMname(), Mbox: soa.GetRname(), Serial: soa.GetSerial(), Refresh: soa.GetRefresh(),
		Retry: soa.GetRetry(), Expire: soa.GetExpire(), Minttl: soa.GetMinimum()})
	for _, ns := range h.GetNameServers() {
		add(&dns.NS{Hdr: dns.RR_Header{Name: presignedApex, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: h.GetNsTtl()}, Ns: ns})
	}
	negTTL := min(soa.GetTtl(), soa.GetMinimum())

	cut := func(name string) bool { return name != presignedApex && sets[name][dns.TypeNS] != nil }
	belowCut := func(name string) bool {
		for p := dnsname.Parent(name); p != presignedApex && p != "."; p = dnsname.Parent(p) {
			if cut(p) {
				return true
			}
		}
		return false
	}
	// The authoritative names (cuts included, glue not), and for NSEC3
	// the empty non-terminals above them.
	var names []string
	ents := map[string]bool{}
	for n := range sets {
		if belowCut(n) {
			continue
		}
		names = append(names, n)
	}
	for _, n := range names {
		for p := dnsname.Parent(n); p != presignedApex && dnsname.IsSubdomain(p, presignedApex); p = dnsname.Parent(p) {
			if sets[p] == nil {
				ents[p] = true
			}
		}
	}
	typesAt := func(n string) []uint16 {
		var ts []uint16
		for t := range sets[n] {
			ts = append(ts, t)
		}
		return ts
	}
	if nsec3 {
		param := &dns.NSEC3PARAM{Hdr: dns.RR_Header{Name: presignedApex, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET, Ttl: 0},
			Hash: dns.SHA1, Iterations: testIterations, SaltLength: uint8(len(testSalt) / 2), Salt: testSalt}
		add(param)
		type entry struct {
			hash string
			name string
		}
		var chain []entry
		all := slices.Clone(names)
		for e := range ents {
			all = append(all, e)
		}
		for _, n := range all {
			chain = append(chain, entry{dns.HashName(n, dns.SHA1, testIterations, testSalt), n})
		}
		slices.SortFunc(chain, func(a, b entry) int { return strings.Compare(a.hash, b.hash) })
		for i, c := range chain {
			ts := typesAt(c.name)
			if len(ts) > 0 && !(cut(c.name) && sets[c.name][dns.TypeDS] == nil) {
				ts = append(ts, dns.TypeRRSIG)
			}
			slices.Sort(ts)
			add(&dns.NSEC3{Hdr: dns.RR_Header{Name: strings.ToLower(c.hash) + "." + presignedApex, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: negTTL},
				Hash: dns.SHA1, Iterations: testIterations, SaltLength: uint8(len(testSalt) / 2), Salt: testSalt,
				HashLength: sha1.Size, NextDomain: chain[(i+1)%len(chain)].hash, TypeBitMap: ts})
		}
	} else {
		slices.SortFunc(names, func(a, b string) int {
			if canonicalLess(a, b) {
				return -1
			}
			return 1
		})
		for i, n := range names {
			ts := append(typesAt(n), dns.TypeRRSIG, dns.TypeNSEC)
			slices.Sort(ts)
			add(&dns.NSEC{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: negTTL},
				NextDomain: names[(i+1)%len(names)], TypeBitMap: ts})
		}
	}
	// Written in a fixed order (names sorted, types ascending), so that a
	// name's first RRset is known.
	var b strings.Builder
	owners := make([]string, 0, len(sets))
	for n := range sets {
		owners = append(owners, n)
	}
	slices.Sort(owners)
	for _, n := range owners {
		byType := sets[n]
		types := make([]uint16, 0, len(byType))
		for typ := range byType {
			types = append(types, typ)
		}
		slices.Sort(types)
		for _, typ := range types {
			set := byType[typ]
			if typ != dns.TypeSOA && !(typ == dns.TypeNS && n == presignedApex) {
				for _, rr := range set {
					b.WriteString(rr.String() + "\n")
				}
			}
			if belowCut(n) || (typ == dns.TypeNS && cut(n)) {
				continue // glue and the child's NS: not signed
			}
			sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: set[0].Header().Ttl},
				KeyTag: key.KeyTag(), SignerName: presignedApex, Algorithm: dns.ECDSAP256SHA256,
				Inception: uint32(signNow.Add(-time.Hour).Unix()), Expiration: uint32(expire.Unix())}
			if err := sig.Sign(priv.(crypto.Signer), set); err != nil {
				t.Fatalf("sign %s %s: %v", n, dns.TypeToString[typ], err)
			}
			b.WriteString(sig.String() + "\n")
		}
	}
	return b.String(), key
}

// presignedEngine serves presigned.test., signed by signZone, with the
// header edited by edit, through a zone set with the node's kind of
// preparer (which would attach a live signer).
func presignedEngine(t testing.TB, nsec3 bool, edit func(*snapshot.ZoneHeader)) presignedEnv {
	t.Helper()
	return presignedEngineWith(t, nsec3, edit, preparer(t, dnssectest.Ring(t)))
}

func presignedEngineWith(t testing.TB, nsec3 bool, edit func(*snapshot.ZoneHeader), prepare func(*zonecache.Zone)) presignedEnv {
	t.Helper()
	h := zonetest.Header(presignedApex, 1)
	text, key := signZone(t, h, nsec3, signNow.Add(10*24*time.Hour))
	if edit != nil {
		edit(h)
	}
	z, err := zonecache.Build(zonetest.Zone(t, h, text))
	if err != nil {
		t.Fatal(err)
	}
	if z.Presigned == nil {
		t.Fatal("a zone holding RRSIGs is not indexed as pre-signed")
	}
	if p := z.Presigned.Problem(); p != "" {
		t.Fatalf("the test zone has problems: %s", p)
	}
	set := zonecache.NewSet()
	set.SetPrepare(prepare)
	set.Put(z)
	e := New(Config{Zones: set, Now: func() time.Time { return signNow }})
	return presignedEnv{e: e, key: key, zone: z}
}

// checkPresigned verifies that every RRset of the answer and authority
// sections (a referral's NS aside) is followed by the primary's RRSIG
// that verifies it, owned like it, with a TTL no higher than its own.
func (env presignedEnv) checkPresigned(t *testing.T, resp *dns.Msg) {
	t.Helper()
	for _, sec := range [][]dns.RR{resp.Answer, resp.Ns} {
		for i := 0; i < len(sec); {
			h := sec[i].Header()
			j := i + 1
			for j < len(sec) && sec[j].Header().Name == h.Name && sec[j].Header().Rrtype == h.Rrtype {
				j++
			}
			set := sec[i:j]
			if h.Rrtype == dns.TypeRRSIG {
				i = j
				continue
			}
			if h.Rrtype == dns.TypeNS && h.Name != presignedApex {
				if j < len(sec) && sec[j].Header().Rrtype == dns.TypeRRSIG && sec[j].(*dns.RRSIG).TypeCovered == dns.TypeNS {
					t.Errorf("the cut's NS set is signed: %v", sec[j])
				}
				i = j
				continue
			}
			n := 0
			for k := j; k < len(sec); k++ {
				sig, ok := sec[k].(*dns.RRSIG)
				if !ok {
					break
				}
				n++
				if sig.TypeCovered != h.Rrtype || sig.Hdr.Name != h.Name {
					t.Errorf("after %s %s: RRSIG %v", h.Name, dns.TypeToString[h.Rrtype], sig)
					continue
				}
				if err := sig.Verify(env.key, set); err != nil {
					t.Errorf("RRSIG %v over %v: %v", sig, set, err)
				}
				if sig.Hdr.Ttl > h.Ttl {
					t.Errorf("RRSIG TTL %d above its set's %d", sig.Hdr.Ttl, h.Ttl)
				}
				j = k + 1
			}
			if n == 0 {
				t.Errorf("RRset %s %s not followed by its RRSIG", h.Name, dns.TypeToString[h.Rrtype])
			}
			i = j
		}
	}
}

func nsec3Of(rrs []dns.RR) []*dns.NSEC3 {
	var out []*dns.NSEC3
	for _, r := range rrs {
		if n, ok := r.(*dns.NSEC3); ok {
			out = append(out, n)
		}
	}
	return out
}

func nsecsOf(rrs []dns.RR) []*dns.NSEC {
	var out []*dns.NSEC
	for _, r := range rrs {
		if n, ok := r.(*dns.NSEC); ok {
			out = append(out, n)
		}
	}
	return out
}

// denial checks the denial records of an answer: with NSEC, for each name
// of match an NSEC owned by it and for each name of cover an NSEC covering
// it; with NSEC3 the same by hash (Match and Cover of miekg/dns). No other
// denial record may be there.
type denial struct {
	match, cover []string
}

func (p denial) check(t *testing.T, nsec3 bool, ns []dns.RR) {
	t.Helper()
	want := len(p.match) + len(p.cover)
	if nsec3 {
		got := nsec3Of(ns)
		used := map[*dns.NSEC3]bool{}
		for _, name := range p.match {
			found := false
			for _, n := range got {
				if n.Match(name) {
					found, used[n] = true, true
				}
			}
			if !found {
				t.Errorf("no NSEC3 matches %s in %v", name, got)
			}
		}
		for _, name := range p.cover {
			found := false
			for _, n := range got {
				if n.Cover(name) {
					found, used[n] = true, true
				}
			}
			if !found {
				t.Errorf("no NSEC3 covers %s in %v", name, got)
			}
		}
		if len(used) != len(got) || len(got) > want {
			t.Errorf("NSEC3 records %v, want exactly the proof of match %v cover %v", got, p.match, p.cover)
		}
		if len(nsecsOf(ns)) > 0 {
			t.Errorf("NSEC in an NSEC3 zone: %v", ns)
		}
		return
	}
	got := nsecsOf(ns)
	used := map[*dns.NSEC]bool{}
	for _, name := range p.match {
		found := false
		for _, n := range got {
			if n.Hdr.Name == name {
				found, used[n] = true, true
			}
		}
		if !found {
			t.Errorf("no NSEC owned by %s in %v", name, got)
		}
	}
	for _, name := range p.cover {
		found := false
		for _, n := range got {
			if covers(n, name) || (n.NextDomain == presignedApex && canonicalLess(n.Hdr.Name, name)) {
				found, used[n] = true, true
			}
		}
		if !found {
			t.Errorf("no NSEC covers %s in %v", name, got)
		}
	}
	if len(used) != len(got) || len(got) > want {
		t.Errorf("NSEC records %v, want exactly the proof of match %v cover %v", got, p.match, p.cover)
	}
	if len(nsec3Of(ns)) > 0 {
		t.Errorf("NSEC3 in an NSEC zone: %v", ns)
	}
}

func TestPresignedZoneAnswersWithThePrimarysSignatures(t *testing.T) {
	type tc struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string // types of the answer's RRsets, in order
		// nsecProof and nsec3Proof are the denial records expected with
		// each chain.
		nsecProof, nsec3Proof denial
		check                 func(t *testing.T, resp *dns.Msg)
	}
	cases := []tc{
		{name: "a plain A with its RRSIG", qname: "www.presigned.test.", qtype: dns.TypeA, answer: []string{"A"}},
		{name: "MX at the apex", qname: "presigned.test.", qtype: dns.TypeMX, answer: []string{"MX"}},
		{name: "the SOA", qname: "presigned.test.", qtype: dns.TypeSOA, answer: []string{"SOA"}},
		{name: "the apex NS, the header's set, verifies with the primary's signature", qname: "presigned.test.", qtype: dns.TypeNS, answer: []string{"NS"}},
		{name: "DNSKEY from the stored records", qname: "presigned.test.", qtype: dns.TypeDNSKEY, answer: []string{"DNSKEY"}},
		{name: "a CNAME and its target, each signed", qname: "alias.presigned.test.", qtype: dns.TypeA, answer: []string{"CNAME", "A"}},
		{name: "a wildcard expansion: the wildcard's RRSIG under the query name and the proof that the name does not exist",
			qname: "host.wild.presigned.test.", qtype: dns.TypeA, answer: []string{"A"},
			nsecProof:  denial{cover: []string{"host.wild.presigned.test."}},
			nsec3Proof: denial{cover: []string{"host.wild.presigned.test."}},
			check: func(t *testing.T, resp *dns.Msg) {
				sig := resp.Answer[1].(*dns.RRSIG)
				if sig.Labels != 3 || sig.Hdr.Name != "host.wild.presigned.test." {
					t.Errorf("RRSIG labels %d owner %s, want 3 and the query name", sig.Labels, sig.Hdr.Name)
				}
			}},
		{name: "a wildcard two labels below its closest encloser: the next closer name is denied",
			qname: "a.b.wild.presigned.test.", qtype: dns.TypeTXT, answer: []string{"TXT"},
			nsecProof:  denial{cover: []string{"a.b.wild.presigned.test."}},
			nsec3Proof: denial{cover: []string{"b.wild.presigned.test."}}},
		{name: "a CNAME into a wildcard", qname: "walias.presigned.test.", qtype: dns.TypeA, answer: []string{"CNAME", "A"},
			nsecProof:  denial{cover: []string{"host.wild.presigned.test."}},
			nsec3Proof: denial{cover: []string{"host.wild.presigned.test."}}},
		{name: "NXDOMAIN: the name and the wildcard at the closest encloser denied, SOA signed",
			qname: "nope.presigned.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
			nsecProof:  denial{cover: []string{"nope.presigned.test.", "*.presigned.test."}},
			nsec3Proof: denial{match: []string{"presigned.test."}, cover: []string{"nope.presigned.test.", "*.presigned.test."}}},
		{name: "NXDOMAIN below an existing name: the closest encloser proof",
			qname: "x.y.www.presigned.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
			nsecProof:  denial{cover: []string{"x.y.www.presigned.test.", "*.www.presigned.test."}},
			nsec3Proof: denial{match: []string{"www.presigned.test."}, cover: []string{"y.www.presigned.test.", "*.www.presigned.test."}}},
		{name: "NODATA: the name's own NSEC", qname: "www.presigned.test.", qtype: dns.TypeAAAA,
			nsecProof:  denial{match: []string{"www.presigned.test."}},
			nsec3Proof: denial{match: []string{"www.presigned.test."}}},
		{name: "NODATA at an empty non-terminal", qname: "b.ent.presigned.test.", qtype: dns.TypeA,
			nsecProof:  denial{cover: []string{"b.ent.presigned.test."}},
			nsec3Proof: denial{match: []string{"b.ent.presigned.test."}}},
		{name: "NODATA at a name a wildcard covers", qname: "host.wild.presigned.test.", qtype: dns.TypeMX,
			nsecProof:  denial{cover: []string{"host.wild.presigned.test."}, match: []string{"*.wild.presigned.test."}},
			nsec3Proof: denial{match: []string{"wild.presigned.test.", "*.wild.presigned.test."}, cover: []string{"host.wild.presigned.test."}}},
		{name: "a referral with the DS set and its RRSIG", qname: "host.child.presigned.test.", qtype: dns.TypeA,
			check: func(t *testing.T, resp *dns.Msg) {
				if resp.Authoritative || !hasType(resp.Ns, dns.TypeDS) || len(resp.Extra) == 0 {
					t.Fatalf("want a referral with DS and glue, got %v / %v", resp.Ns, resp.Extra)
				}
			}},
		{name: "a referral without DS: the proof that the cut has none", qname: "www.nods.presigned.test.", qtype: dns.TypeA,
			nsecProof:  denial{match: []string{"nods.presigned.test."}},
			nsec3Proof: denial{match: []string{"nods.presigned.test."}},
			check: func(t *testing.T, resp *dns.Msg) {
				if resp.Authoritative || hasType(resp.Ns, dns.TypeDS) {
					t.Fatalf("want a referral without DS, got %v", resp.Ns)
				}
			}},
		{name: "DS at the cut, answered by the parent side", qname: "child.presigned.test.", qtype: dns.TypeDS, answer: []string{"DS"}},
		{name: "no DS at an unsigned cut: NODATA with the cut's proof", qname: "nods.presigned.test.", qtype: dns.TypeDS,
			nsecProof:  denial{match: []string{"nods.presigned.test."}},
			nsec3Proof: denial{match: []string{"nods.presigned.test."}}},
		{name: "ANY: one of the name's RRsets, signed", qname: "www.presigned.test.", qtype: dns.TypeANY, answer: []string{"A"}},
		{name: "RRSIG: the stored signatures, unsigned themselves", qname: "www.presigned.test.", qtype: dns.TypeRRSIG, answer: []string{"RRSIG"}},
	}
	hashOwner := strings.ToLower(dns.HashName("www.presigned.test.", dns.SHA1, testIterations, testSalt)) + ".presigned.test."
	for _, nsec3 := range []bool{false, true} {
		env := presignedEngine(t, nsec3, nil)
		if nsec3 {
			if resp, _ := askDO(env.e, hashOwner, dns.TypeNSEC3, false); resp.Rcode != dns.RcodeNameError || len(resp.Answer) != 0 {
				t.Errorf("an NSEC3 owner name without DO: %s %v, want NXDOMAIN", dns.RcodeToString[resp.Rcode], resp.Answer)
			}
		}
		chain := "NSEC"
		if nsec3 {
			chain = "NSEC3"
		}
		more := []tc{{name: "the chain's own record at a name", qname: "www.presigned.test.", qtype: dns.TypeNSEC, answer: []string{"NSEC"}}}
		if nsec3 {
			more = []tc{
				{name: "NSEC3PARAM at the apex", qname: "presigned.test.", qtype: dns.TypeNSEC3PARAM, answer: []string{"NSEC3PARAM"}},
				{name: "NSEC asked in an NSEC3 zone: NODATA", qname: "www.presigned.test.", qtype: dns.TypeNSEC,
					nsec3Proof: denial{match: []string{"www.presigned.test."}}},
				// RFC 5155 7.2.8: NSEC3 owner names are not names of the zone.
				{name: "an NSEC3 owner name is NXDOMAIN", qname: hashOwner, qtype: dns.TypeNSEC3, rcode: dns.RcodeNameError,
					nsec3Proof: denial{match: []string{"presigned.test."}, cover: []string{hashOwner, "*.presigned.test."}}},
				{name: "a name below an NSEC3 owner is NXDOMAIN", qname: "x." + hashOwner, qtype: dns.TypeA, rcode: dns.RcodeNameError,
					nsec3Proof: denial{match: []string{"presigned.test."}, cover: []string{hashOwner, "*.presigned.test."}}},
			}
		}
		for _, c := range append(slices.Clone(cases), more...) {
			t.Run(chain+"/"+c.name, func(t *testing.T) {
				resp, info := askDO(env.e, c.qname, c.qtype, true)
				if resp.Rcode != c.rcode {
					t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[c.rcode])
				}
				env.checkPresigned(t, resp)
				var types []string
				for i, rr := range resp.Answer {
					if rr.Header().Rrtype == dns.TypeRRSIG && c.qtype != dns.TypeRRSIG {
						continue
					}
					if i > 0 && resp.Answer[i-1].Header().Rrtype == rr.Header().Rrtype {
						continue
					}
					types = append(types, dns.TypeToString[rr.Header().Rrtype])
				}
				if !slices.Equal(types, c.answer) {
					t.Errorf("answer sets %v, want %v: %v", types, c.answer, resp.Answer)
				}
				if (len(resp.Answer) == 0 || c.rcode != 0) && resp.Authoritative && !hasType(resp.Ns, dns.TypeSOA) {
					t.Errorf("negative answer without SOA: %v", resp.Ns)
				}
				proof := c.nsecProof
				if nsec3 {
					proof = c.nsec3Proof
				}
				proof.check(t, nsec3, resp.Ns)
				if c.qtype != dns.TypeRRSIG && info.SigExpire != uint32(signNow.Add(10*24*time.Hour).Unix()) {
					t.Errorf("SigExpire %d", info.SigExpire)
				}
				if c.check != nil {
					c.check(t, resp)
				}
			})
		}
	}
}

// Without DO a pre-signed zone answers as any zone: no RRSIG, NSEC or
// NSEC3 is added (a query for one of those types still gets them: it asked).
func TestPresignedZoneWithoutDOAddsNothing(t *testing.T) {
	env := presignedEngine(t, false, nil)
	for _, q := range []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"www.presigned.test.", dns.TypeA, dns.RcodeSuccess},
		{"host.wild.presigned.test.", dns.TypeA, dns.RcodeSuccess},
		{"nope.presigned.test.", dns.TypeA, dns.RcodeNameError},
		{"www.presigned.test.", dns.TypeAAAA, dns.RcodeSuccess},
		{"host.child.presigned.test.", dns.TypeA, dns.RcodeSuccess},
		{"presigned.test.", dns.TypeDNSKEY, dns.RcodeSuccess},
	} {
		resp, info := askDO(env.e, q.name, q.qtype, false)
		if resp.Rcode != q.rcode || len(resp.Answer)+len(resp.Ns) == 0 {
			t.Errorf("%s %s: rcode %d, %v %v", q.name, dns.TypeToString[q.qtype], resp.Rcode, resp.Answer, resp.Ns)
		}
		for _, rr := range append(slices.Clone(resp.Answer), resp.Ns...) {
			switch rr.Header().Rrtype {
			case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
				t.Errorf("%s %s without DO: %v", q.name, dns.TypeToString[q.qtype], rr)
			}
		}
		if info.SigExpire != 0 {
			t.Errorf("SigExpire %d without DO", info.SigExpire)
		}
	}
	if resp, _ := askDO(env.e, "www.presigned.test.", dns.TypeANY, false); len(resp.Answer) != 1 || resp.Answer[0].Header().Rrtype != dns.TypeHINFO {
		t.Errorf("ANY without DO: %v, want the RFC 8482 HINFO as everywhere", resp.Answer)
	}
	if resp, _ := askDO(env.e, "www.presigned.test.", dns.TypeNSEC, false); len(resp.Answer) != 1 {
		t.Errorf("NSEC asked without DO: %v", resp.Answer)
	}
}

// A pre-signed zone is served as signed: a flattened CNAME would carry
// addresses the primary never signed, so CNAMEs are served unflattened
// (with and without DO), and a live signer (DNSSEC keys of ours in the
// header) never signs it.
func TestPresignedZoneIsNeverChangedAtAnswerTime(t *testing.T) {
	ring := dnssectest.Ring(t)
	prepare := preparer(t, ring)
	attached := false
	env := presignedEngineWith(t, false, func(h *snapshot.ZoneHeader) {
		h.FlattenAllCnames = true
		d, _ := dnssectest.Dnssec(t, ring, h.GetZoneId(), presignedApex)
		h.Dnssec = d
	}, func(z *zonecache.Zone) {
		prepare(z)
		attached = z.Signer != nil
	})
	if !attached {
		t.Fatal("the test preparer attached no signer: the test proves nothing")
	}
	if env.zone.Signer != nil {
		t.Fatal("a pre-signed zone kept a live signer")
	}
	for _, do := range []bool{false, true} {
		resp, _ := askDO(env.e, "alias.presigned.test.", dns.TypeA, do)
		if len(resp.Answer) == 0 || resp.Answer[0].Header().Rrtype != dns.TypeCNAME {
			t.Errorf("DO %v: %v, want the CNAME unflattened", do, resp.Answer)
		}
	}
	resp, _ := askDO(env.e, "presigned.test.", dns.TypeDNSKEY, true)
	env.checkPresigned(t, resp)
	if len(resp.Answer) != 2 || resp.Answer[0].(*dns.DNSKEY).KeyTag() != env.key.KeyTag() {
		t.Errorf("DNSKEY %v, want the primary's", resp.Answer)
	}
	resp, _ = askDO(env.e, "nope.presigned.test.", dns.TypeA, true)
	if resp.Rcode != dns.RcodeNameError || nsecOf(resp.Ns, "nope.presigned.test.") != nil {
		t.Errorf("NXDOMAIN %s %v: no compact denial in a pre-signed zone", dns.RcodeToString[resp.Rcode], resp.Ns)
	}
}

// A pre-signed zone whose records are broken (signatures or the chain
// missing) is served with what it has, without a panic; the zone's
// Problem says what is wrong (the node logs it once per version).
func TestBrokenPresignedZoneIsServedWithWhatItHas(t *testing.T) {
	h := zonetest.Header(presignedApex, 1)
	for _, tc := range []struct {
		name string
		drop func(rr dns.RR) bool
		want string
	}{
		{"no denial chain", func(rr dns.RR) bool {
			t := rr.Header().Rrtype
			return t == dns.TypeNSEC || (t == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == dns.TypeNSEC)
		}, "no NSEC or NSEC3 chain"},
		{"a set without its signature", func(rr dns.RR) bool {
			s, ok := rr.(*dns.RRSIG)
			return ok && s.TypeCovered == dns.TypeMX
		}, "have no RRSIG"},
		{"no SOA signature", func(rr dns.RR) bool {
			s, ok := rr.(*dns.RRSIG)
			return ok && s.TypeCovered == dns.TypeSOA
		}, "no RRSIG covers the SOA"},
		{"NSEC3PARAM without its chain", func(rr dns.RR) bool {
			t := rr.Header().Rrtype
			return t == dns.TypeNSEC3 || (t == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == dns.TypeNSEC3)
		}, "NSEC3PARAM but no NSEC3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, _ := signZone(t, h, strings.HasPrefix(tc.name, "NSEC3"), signNow.Add(time.Hour))
			var kept strings.Builder
			for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
				rr, err := dns.NewRR(line)
				if err != nil {
					t.Fatal(err)
				}
				if !tc.drop(rr) {
					kept.WriteString(line + "\n")
				}
			}
			z, err := zonecache.Build(zonetest.Zone(t, h, kept.String()))
			if err != nil {
				t.Fatal(err)
			}
			if z.Presigned == nil || !strings.Contains(z.Presigned.Problem(), tc.want) {
				t.Fatalf("problem %q, want it to say %q", z.Presigned.Problem(), tc.want)
			}
			set := zonecache.NewSet()
			set.Put(z)
			e := New(Config{Zones: set, Now: func() time.Time { return signNow }})
			for _, q := range []string{"www", "nope", "host.wild", "b.ent", "x.nods", "host.child", "@", "x.y.z.www"} {
				name := q + "." + presignedApex
				if q == "@" {
					name = presignedApex
				}
				for _, qt := range []uint16{dns.TypeA, dns.TypeMX, dns.TypeDS, dns.TypeANY, dns.TypeNSEC3PARAM, dns.TypeSOA} {
					resp, _ := askDO(e, name, qt, true)
					if resp.Rcode == dns.RcodeServerFailure {
						t.Errorf("%s %s: SERVFAIL", name, dns.TypeToString[qt])
					}
				}
			}
		})
	}
}

// RRSIG TTLs follow RFC 4034 3 (the TTL of the set covered: the negative
// SOA's in a denial) and never outlast the signature.
func TestPresignedSignatureTTLs(t *testing.T) {
	h := zonetest.Header(presignedApex, 1)
	text, key := signZone(t, h, false, signNow.Add(100*time.Second))
	z, err := zonecache.Build(zonetest.Zone(t, h, text))
	if err != nil {
		t.Fatal(err)
	}
	set := zonecache.NewSet()
	set.Put(z)
	env := presignedEnv{e: New(Config{Zones: set, Now: func() time.Time { return signNow }}), key: key, zone: z}
	resp, _ := askDO(env.e, "www.presigned.test.", dns.TypeA, true)
	env.checkPresigned(t, resp)
	if sig := resp.Answer[2].(*dns.RRSIG); sig.Hdr.Ttl != 100 {
		t.Errorf("RRSIG TTL %d, want 100 (the signature expires in 100 s)", sig.Hdr.Ttl)
	}
	h2 := zonetest.Header(presignedApex, 2)
	text, key = signZone(t, h2, false, signNow.Add(48*time.Hour))
	z, err = zonecache.Build(zonetest.Zone(t, h2, text))
	if err != nil {
		t.Fatal(err)
	}
	set.Put(z)
	env.key = key
	resp, _ = askDO(env.e, "nope.presigned.test.", dns.TypeA, true)
	env.checkPresigned(t, resp)
	for _, rr := range resp.Ns {
		if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == dns.TypeSOA && sig.Hdr.Ttl != z.NegSOA.Hdr.Ttl {
			t.Errorf("SOA RRSIG TTL %d in a denial, want the negative SOA's %d", sig.Hdr.Ttl, z.NegSOA.Hdr.Ttl)
		}
	}
}

// The answer path of a pre-signed zone adds stored records without
// allocating once the message has room: a positive answer, and an NSEC3
// NXDOMAIN (hashes computed on the stack).
func TestPresignedAnswersDoNotAllocate(t *testing.T) {
	for _, nsec3 := range []bool{false, true} {
		env := presignedEngine(t, nsec3, nil)
		for _, q := range []struct {
			name  string
			qtype uint16
		}{{"www.presigned.test.", dns.TypeA}, {"nope.presigned.test.", dns.TypeA}, {"www.presigned.test.", dns.TypeAAAA}} {
			req := new(dns.Msg)
			req.SetQuestion(q.name, q.qtype)
			resp := new(dns.Msg)
			resp.Answer = make([]dns.RR, 0, 16)
			resp.Ns = make([]dns.RR, 0, 16)
			allocs := testing.AllocsPerRun(100, func() {
				resp.Answer, resp.Ns, resp.Rcode = resp.Answer[:0], resp.Ns[:0], 0
				env.e.AnswerQueryDO(context.Background(), req.Question[0], resp, true, true)
			})
			if allocs != 0 {
				t.Errorf("NSEC3 %v %s %s: %.0f allocations per answer", nsec3, q.name, dns.TypeToString[q.qtype], allocs)
			}
		}
	}
}

// The apex NS set is the header's (our name servers, plus the primary's):
// when the primary signed another set the NS answers cannot validate, and
// the zone's Problem says so when the version is loaded.
func TestPresignedApexNSOtherThanOursIsReported(t *testing.T) {
	h := zonetest.Header(presignedApex, 1)
	text, _ := signZone(t, h, false, signNow.Add(time.Hour))
	h.NameServers = append(h.NameServers, "ns.other-provider.test.")
	z, err := zonecache.Build(zonetest.Zone(t, h, text))
	if err != nil {
		t.Fatal(err)
	}
	if p := z.Presigned.Problem(); !strings.Contains(p, "apex NS set does not verify") || strings.Contains(p, "apex SOA") {
		t.Errorf("problem %q, want the apex NS set named (and not the SOA)", p)
	}
}

// BenchmarkAnswerPresigned is the cost of a pre-signed answer made from
// scratch (a miss of the packed-answer cache): the engine plus the stored
// records, no signature made; NSEC3 denials hash with the zone's salt and
// two extra iterations.
func BenchmarkAnswerPresigned(b *testing.B) {
	for _, nsec3 := range []bool{false, true} {
		env := presignedEngine(b, nsec3, nil)
		chain := "NSEC"
		if nsec3 {
			chain = "NSEC3"
		}
		for _, bc := range []struct {
			name  string
			qname string
			qtype uint16
		}{
			{"Exact", "www.presigned.test.", dns.TypeA},
			{"NXDOMAIN", "nope.presigned.test.", dns.TypeA},
			{"NODATA", "www.presigned.test.", dns.TypeAAAA},
			{"Wildcard", "host.wild.presigned.test.", dns.TypeA},
		} {
			b.Run(chain+"/"+bc.name, func(b *testing.B) {
				req := new(dns.Msg)
				req.SetQuestion(bc.qname, bc.qtype)
				resp := new(dns.Msg)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					resp.Answer, resp.Ns, resp.Extra = resp.Answer[:0], resp.Ns[:0], resp.Extra[:0]
					resp.Rcode = 0
					env.e.AnswerQueryDO(ctx, req.Question[0], resp, true, true)
				}
			})
		}
	}
}

// FuzzPresignedAnswer asks pre-signed zones (NSEC, NSEC3) any name and
// type with DO: no panic, and never SERVFAIL (nothing in them needs an
// upstream).
func FuzzPresignedAnswer(f *testing.F) {
	envs := []presignedEnv{presignedEngine(f, false, nil), presignedEngine(f, true, nil)}
	for _, s := range []string{"www", "nope", "x.y.www", "host.wild", "a.b.wild", "b.ent", "www.nods", "child", `a\.b`, `\000`, "*", "*.wild", "@"} {
		f.Add(s, uint16(dns.TypeA))
		f.Add(s, uint16(dns.TypeDS))
		f.Add(s, uint16(dns.TypeANY))
	}
	f.Fuzz(func(t *testing.T, label string, qtype uint16) {
		name := label + "." + presignedApex
		if label == "@" {
			name = presignedApex
		}
		if _, ok := dns.IsDomainName(name); !ok {
			return
		}
		for _, env := range envs {
			resp, _ := askDO(env.e, name, qtype, true)
			if resp.Rcode == dns.RcodeServerFailure {
				t.Errorf("%q %d: SERVFAIL", name, qtype)
			}
		}
	})
}

// A pre-signed zone's sets are shared by every answer (RRset.Shared): a
// wildcard answer renames copies, never the stored records, so the next
// answer from the same wildcard carries its own owner and the wildcard
// itself keeps "*".
func TestPresignedWildcardAnswersDoNotRenameTheStoredRecords(t *testing.T) {
	env := presignedEngine(t, false, nil)
	for _, q := range []string{"one.wild.presigned.test.", "two.wild.presigned.test."} {
		resp, _ := askDO(env.e, q, dns.TypeA, false)
		if len(resp.Answer) == 0 {
			t.Fatalf("%s: no answer", q)
		}
		for _, rr := range resp.Answer {
			if rr.Header().Name != q {
				t.Fatalf("%s: answer owned by %s", q, rr.Header().Name)
			}
		}
	}
	n := env.zone.Node("*.wild.presigned.test.")
	if n == nil {
		t.Fatal("no wildcard in the test zone")
	}
	set := env.zone.RRset(n, dns.TypeA)
	if set == nil || !set.Shared {
		t.Fatalf("the wildcard's A set %v is not the zone's shared one", set)
	}
	for _, rr := range set.RRs {
		if rr.Header().Name != "*.wild.presigned.test." {
			t.Fatalf("the stored wildcard record was renamed to %s", rr.Header().Name)
		}
	}
}
