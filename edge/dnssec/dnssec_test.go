package dnssec_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/internal/dnssectest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

const zoneName = "example.com."

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func verify(t *testing.T, sig *dns.RRSIG, key *dns.DNSKEY, set []dns.RR) {
	t.Helper()
	if sig == nil {
		t.Fatal("no signature")
	}
	if err := sig.Verify(key, set); err != nil {
		t.Fatalf("RRSIG %v does not verify: %v", sig, err)
	}
	if !sig.ValidityPeriod(now) {
		t.Fatalf("RRSIG %v not valid at %v", sig, now)
	}
}

func TestPrepareSignsWithZSKAndApexSetsWithKSK(t *testing.T) {
	ring := dnssectest.Ring(t)
	d, keys := dnssectest.Dnssec(t, ring, "z1", zoneName)
	z, err := dnssec.NewOpener(ring).Prepare("z1", zoneName, d, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	set := []dns.RR{rr(t, "www.example.com. 300 IN A 192.0.2.1"), rr(t, "www.example.com. 300 IN A 192.0.2.2")}
	sig, err := z.Sign(set, now)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, sig, keys[1], set)
	if sig.Inception != uint32(now.Add(-time.Hour).Unix()) || sig.Expiration != uint32(now.Add(96*time.Hour).Unix()) {
		t.Errorf("validity %d-%d", sig.Inception, sig.Expiration)
	}
	for _, qt := range []uint16{dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY} {
		set, sig, ok := z.Apex(qt, now)
		if !ok {
			t.Fatalf("no %s set", dns.TypeToString[qt])
		}
		verifyOnly(t, sig, keys[0], set)
	}
	dnskey, _, _ := z.Apex(dns.TypeDNSKEY, now)
	if len(dnskey) != 2 {
		t.Errorf("DNSKEY set %v, want KSK and ZSK", dnskey)
	}
	cds, _, _ := z.Apex(dns.TypeCDS, now)
	if ds := keys[0].ToDS(dns.SHA256); cds[0].(*dns.CDS).Digest != ds.Digest || cds[0].(*dns.CDS).KeyTag != ds.KeyTag {
		t.Errorf("CDS %v, want the KSK's DS %v", cds[0], ds)
	}
}

func TestCDSDeleteValues(t *testing.T) {
	ring := dnssectest.Ring(t)
	d, keys := dnssectest.Dnssec(t, ring, "z1", zoneName)
	d.CdsDelete = true
	z, err := dnssec.NewOpener(ring).Prepare("z1", zoneName, d, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		qtype uint16
		want  string
	}{
		{dns.TypeCDS, "example.com.\t3600\tIN\tCDS\t0 0 0 00"},
		{dns.TypeCDNSKEY, "example.com.\t3600\tIN\tCDNSKEY\t0 3 0 AA=="},
	} {
		set, sig, _ := z.Apex(tc.qtype, now)
		if len(set) != 1 || set[0].String() != tc.want {
			t.Errorf("%s = %v, want %q", dns.TypeToString[tc.qtype], set, tc.want)
		}
		verifyOnly(t, sig, keys[0], set)
	}
}

func TestActiveZSKChosenByTime(t *testing.T) {
	ring := dnssectest.Ring(t)
	d, _ := dnssectest.Dnssec(t, ring, "z1", zoneName)
	old := d.Keys[1]
	next, _ := dnssectest.Key(t, ring, "z1", zoneName, 256)
	old.RetireUnix = now.Add(time.Hour).Unix()
	next.ActivateUnix = now.Add(time.Hour).Unix()
	d.Keys = append(d.Keys, next)
	z, err := dnssec.NewOpener(ring).Prepare("z1", zoneName, d, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		want uint32
	}{
		{"before the rollover the old ZSK", now, old.KeyTag},
		{"after it the new one", now.Add(2 * time.Hour), next.KeyTag},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := z.ZSKTag(tc.at); uint32(got) != tc.want {
				t.Errorf("ZSK %d, want %d", got, tc.want)
			}
		})
	}
	dnskey, _, _ := z.Apex(dns.TypeDNSKEY, now)
	if len(dnskey) != 3 {
		t.Errorf("DNSKEY set has %d keys, want the pre-published one too", len(dnskey))
	}
}

func TestMultiSignerAddsApexKeys(t *testing.T) {
	ring := dnssectest.Ring(t)
	d, keys := dnssectest.Dnssec(t, ring, "z1", zoneName)
	other := rr(t, "example.com. 300 IN DNSKEY 256 3 13 kXk4WuPI8ScVyMRO7nRLzDJqRdWc7vaL4n8HVefQsHK0+o8dIeLXIHDKHPBTNcaGlXNLHnRn9RHI4ovxPQXz6Q==")
	for _, tc := range []struct {
		multi bool
		want  int
	}{{false, 2}, {true, 3}} {
		d.MultiSigner = tc.multi
		z, err := dnssec.NewOpener(ring).Prepare("z1", zoneName, d, []dns.RR{other}, now)
		if err != nil {
			t.Fatal(err)
		}
		set, sig, _ := z.Apex(dns.TypeDNSKEY, now)
		if len(set) != tc.want {
			t.Errorf("multi_signer %v: %d keys, want %d", tc.multi, len(set), tc.want)
		}
		verifyOnly(t, sig, keys[0], set)
	}
}

func TestKeysThatDoNotOpenAreRefused(t *testing.T) {
	ring := dnssectest.Ring(t)
	d, _ := dnssectest.Dnssec(t, ring, "z1", zoneName)
	for _, tc := range []struct {
		name   string
		zoneID string
		ring   func() *dnssec.Opener
	}{
		{"another KEK", "z1", func() *dnssec.Opener { return dnssec.NewOpener(dnssectest.Ring(t)) }},
		{"sealed for another zone", "z2", func() *dnssec.Opener { return dnssec.NewOpener(ring) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.ring().Prepare(tc.zoneID, zoneName, d, nil, now)
			if !errors.Is(err, dnssec.ErrKey) {
				t.Fatalf("err = %v, want ErrKey", err)
			}
		})
	}
	swapped := &snapshot.Dnssec{Keys: []*snapshot.DnssecKey{d.Keys[0], d.Keys[1]}}
	swapped.Keys[1] = &snapshot.DnssecKey{Flags: 256, Algorithm: 13, PublicKey: d.Keys[0].PublicKey,
		KeyTag: d.Keys[1].KeyTag, SealedPrivateKey: d.Keys[1].SealedPrivateKey}
	if _, err := dnssec.NewOpener(ring).Prepare("z1", zoneName, swapped, nil, now); !errors.Is(err, dnssec.ErrKey) {
		t.Errorf("a key with another's public part: err = %v, want ErrKey", err)
	}
}

func TestCompactDenial(t *testing.T) {
	for _, tc := range []struct {
		name string
		nsec *dns.NSEC
		want string
	}{
		{"NXDOMAIN", dnssec.CompactNXDOMAIN("nope.example.com.", 1800),
			`nope.example.com.	1800	IN	NSEC	\000.nope.example.com. RRSIG NSEC NXNAME`},
		{"NODATA", dnssec.CompactNODATA("www.example.com.", 1800, []uint16{dns.TypeMX, dns.TypeA, dns.TypeA}),
			`www.example.com.	1800	IN	NSEC	\000.www.example.com. A MX RRSIG NSEC`},
		{"empty non-terminal", dnssec.CompactNODATA("ent.example.com.", 300, nil),
			`ent.example.com.	300	IN	NSEC	\000.ent.example.com. RRSIG NSEC`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.nsec.String(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if _, err := dns.NewRR(tc.nsec.String()); err != nil {
				t.Errorf("does not parse back: %v", err)
			}
		})
	}
}

func TestCoverNSECCoversOnlyTheQueryNamesSubtree(t *testing.T) {
	for _, tc := range []struct {
		qname, ce string
		covered   []string
		notCover  []string
	}{
		{"a.example.com.", "example.com.",
			[]string{"a.example.com.", "x.a.example.com."},
			[]string{"example.com.", "b.example.com.", "`.example.com.", "a0.example.com.", "aa.example.com."}},
		{"x.y.example.com.", "example.com.",
			[]string{"x.y.example.com.", "y.example.com."},
			[]string{"x.example.com.", "z.example.com.", "ya.example.com."}},
		{"host.sub.example.com.", "sub.example.com.",
			[]string{"host.sub.example.com."},
			[]string{"sub.example.com.", "hosu.sub.example.com.", "hos.sub.example.com."}},
		{"[.example.com.", "example.com.",
			[]string{"[.example.com."},
			[]string{"z.example.com.", "a.example.com."}},
	} {
		t.Run(tc.qname, func(t *testing.T) {
			n := dnssec.CoverNSEC(tc.qname, tc.ce, 300)
			if _, err := dns.NewRR(n.String()); err != nil {
				t.Fatalf("%v does not parse back: %v", n, err)
			}
			for _, name := range tc.covered {
				if !covers(n, name) {
					t.Errorf("%v does not cover %s", n, name)
				}
			}
			for _, name := range tc.notCover {
				if covers(n, name) {
					t.Errorf("%v covers %s", n, name)
				}
			}
			if !dns.IsSubDomain(tc.ce, n.Hdr.Name) || !dns.IsSubDomain(tc.ce, n.NextDomain) ||
				dns.CountLabel(n.Hdr.Name) != dns.CountLabel(tc.ce)+1 || dns.CountLabel(n.NextDomain) != dns.CountLabel(tc.ce)+1 {
				t.Errorf("%v: owner and next must be children of %s", n, tc.ce)
			}
		})
	}
}

// covers reports owner < name < next in canonical order (RFC 4034 6.1).
func covers(n *dns.NSEC, name string) bool {
	return canonicalLess(n.Hdr.Name, name) && canonicalLess(name, n.NextDomain)
}

func canonicalLess(a, b string) bool {
	la, lb := labels(a), labels(b)
	for i := 0; i < len(la) && i < len(lb); i++ {
		x, y := la[len(la)-1-i], lb[len(lb)-1-i]
		if x != y {
			return x < y
		}
	}
	return len(la) < len(lb)
}

// labels returns the lower-cased octets of each label.
func labels(name string) []string {
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

func TestBitmapSortedWithoutDuplicates(t *testing.T) {
	got := dnssec.Bitmap([]uint16{dns.TypeTXT, dns.TypeA, dns.TypeNSEC, dns.TypeA, dns.TypeHTTPS})
	want := []uint16{dns.TypeA, dns.TypeTXT, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeHTTPS}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestNegativeSOASignatureReusedForADay(t *testing.T) {
	ring := dnssectest.Ring(t)
	d, keys := dnssectest.Dnssec(t, ring, "z1", zoneName)
	z, err := dnssec.NewOpener(ring).Prepare("z1", zoneName, d, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	soa := rr(t, "example.com. 1800 IN SOA ns1.example.net. dns.example.net. 1 10000 2400 604800 1800").(*dns.SOA)
	first, err := z.SignSOA(soa, now)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, first, keys[1], []dns.RR{soa})
	for _, tc := range []struct {
		name  string
		at    time.Time
		reuse bool
	}{
		{"an hour later: reused", now.Add(time.Hour), true},
		{"a day later: signed again", now.Add(dnssec.Reuse), false},
		{"clock gone back: signed again", now.Add(-time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z, _ := dnssec.NewOpener(ring).Prepare("z1", zoneName, d, nil, now)
			first, _ := z.SignSOA(soa, now)
			got, err := z.SignSOA(soa, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if (got == first) != tc.reuse {
				t.Errorf("reused = %v, want %v", got == first, tc.reuse)
			}
		})
	}
}

func TestNSEC3NarrowRanges(t *testing.T) {
	for _, tc := range []struct {
		name, qname, ce, nextCloser string
	}{
		{"one label below", "a.example.com.", "example.com.", "a.example.com."},
		{"deeper", "x.y.z.example.com.", "example.com.", "z.example.com."},
		{"below a deeper encloser", "x.y.z.example.com.", "z.example.com.", "y.z.example.com."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := dnssec.NextCloser(tc.qname, tc.ce)
			if nc != tc.nextCloser {
				t.Fatalf("next closer %s, want %s", nc, tc.nextCloser)
			}
			cover := dnssec.NSEC3Cover(nc, zoneName, 300)
			if !cover.Cover(nc) || cover.Match(nc) || cover.Cover(tc.ce) {
				t.Errorf("%v must cover %s only", cover, nc)
			}
			match := dnssec.NSEC3Match(tc.ce, zoneName, 300, []uint16{dns.TypeA})
			if !match.Match(tc.ce) || match.Cover(nc) {
				t.Errorf("%v must match %s only", match, tc.ce)
			}
			if _, err := dns.NewRR(match.String()); err != nil {
				t.Errorf("%v does not parse back: %v", match, err)
			}
		})
	}
}
