package zonecache

import (
	"bytes"
	"encoding/base32"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// The canonical order of RFC 4034 6.1, its own example list.
func TestCanonicalKeyFollowsRFC4034Order(t *testing.T) {
	ordered := []string{
		"example.",
		"a.example.",
		"yljkjljk.a.example.",
		"Z.a.example.",
		`zABC.a.EXAMPLE.`,
		"z.example.",
		`\001.z.example.`,
		"*.z.example.",
		`\200.z.example.`,
	}
	for i := 1; i < len(ordered); i++ {
		a, b := canonicalKey(nil, ordered[i-1]), canonicalKey(nil, ordered[i])
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("%s sorts before %s, keys %q %q", ordered[i-1], ordered[i], a, b)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"WWW.Example.", "www.example."},
		{`\065.example.`, "a.example."},
		{`a\.b.example.`, `A\.B.example.`},
	} {
		if !bytes.Equal(canonicalKey(nil, tc.a), canonicalKey(nil, tc.b)) {
			t.Errorf("%s and %s differ", tc.a, tc.b)
		}
	}
	// An escaped dot is part of a label, not a separator.
	if bytes.Equal(canonicalKey(nil, `a\.b.example.`), canonicalKey(nil, "a.b.example.")) {
		t.Error(`a\.b and a.b have one key`)
	}
	// \000 and \001 sort below every other octet and are told apart.
	if k0, k1, k2 := canonicalKey(nil, `\000.example.`), canonicalKey(nil, `\001.example.`), canonicalKey(nil, `\002.example.`); bytes.Compare(k0, k1) >= 0 || bytes.Compare(k1, k2) >= 0 {
		t.Errorf("keys %q %q %q out of order", k0, k1, k2)
	}
}

// The NSEC3 hash is miekg/dns's (RFC 5155 5), for names and for the
// wildcard below a name, with and without salt and iterations.
func TestPresignedHashIsRFC5155s(t *testing.T) {
	for _, tc := range []struct {
		salt       string
		iterations uint16
	}{{"", 0}, {"ABCD", 2}, {"0123456789abcdef", 10}} {
		p := &Presigned{iterations: tc.iterations}
		if tc.salt != "" {
			p.salt, _ = base16(tc.salt)
		}
		for _, name := range []string{"example.", "www.example.", "WWW.Example.", `a\.b.example.`, `\000.x.example.`, "."} {
			h, ok := p.hash(name, false)
			want := dns.HashName(name, dns.SHA1, tc.iterations, tc.salt)
			if !ok || base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:]) != want {
				t.Errorf("hash(%s, salt %q, %d) = %x, want %s", name, tc.salt, tc.iterations, h, want)
			}
			if name == "." {
				continue
			}
			w, _ := p.hash(name, true)
			if want := dns.HashName("*."+name, dns.SHA1, tc.iterations, tc.salt); base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(w[:]) != want {
				t.Errorf("hash(*.%s) = %x, want %s", name, w, want)
			}
		}
	}
}

func base16(s string) ([]byte, error) {
	var out []byte
	for i := 0; i+1 < len(s); i += 2 {
		var b byte
		for _, c := range strings.ToLower(s[i : i+2]) {
			b <<= 4
			if c >= 'a' {
				b |= byte(c-'a') + 10
			} else {
				b |= byte(c - '0')
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// Only a zone holding RRSIGs is indexed as pre-signed; the NSEC index
// finds the matching or covering record of any name, the chain wrapping
// around at its end.
func TestPresignedIndexIsBuiltForZonesWithSignatures(t *testing.T) {
	plain := build(t, "example.com.", 1, "www IN A 192.0.2.1\n")
	if plain.Presigned != nil {
		t.Fatal("a zone without RRSIG is indexed as pre-signed")
	}
	z := build(t, "example.com.", 1, `
@    IN NSEC a.example.com. A NS SOA RRSIG NSEC
@    IN RRSIG NSEC 13 2 1800 20261207120000 20261127110000 1 example.com. AAAA
@    3600 IN RRSIG SOA 13 2 3600 20261207120000 20261127110000 1 example.com. AAAA
a    IN A 192.0.2.1
a    IN NSEC www.example.com. A RRSIG NSEC
a    IN RRSIG A 13 3 300 20261207120000 20261127110000 1 example.com. AAAA
a    IN RRSIG NSEC 13 3 1800 20261207120000 20261127110000 1 example.com. AAAA
www  IN A 192.0.2.2
www  IN NSEC example.com. A RRSIG NSEC
www  IN RRSIG A 13 3 300 20261207120000 20261127110000 1 example.com. AAAA
www  IN RRSIG NSEC 13 3 1800 20261207120000 20261127110000 1 example.com. AAAA
`)
	p := z.Presigned
	if p == nil {
		t.Fatal("not indexed")
	}
	if p.UsesNSEC3() || p.Problem() != "" || len(p.NegSOASigs()) != 1 || p.NegSOASigs()[0].Header().Ttl != z.NegSOA.Hdr.Ttl {
		t.Errorf("NSEC3 %v, problem %q, negative SOA sigs %v", p.UsesNSEC3(), p.Problem(), p.NegSOASigs())
	}
	for _, tc := range []struct {
		name     string
		wildcard bool
		owner    string
		match    bool
	}{
		{"example.com.", false, "example.com.", true},
		{"a.example.com.", false, "a.example.com.", true},
		{"b.example.com.", false, "a.example.com.", false},
		{"x.a.example.com.", false, "a.example.com.", false},
		{"example.com.", true, "example.com.", false}, // *.example.com. sorts before a
		{"zzz.example.com.", false, "www.example.com.", false},
		{"a.www.example.com.", false, "www.example.com.", false},
	} {
		rr, n, match := p.NSEC(tc.name, tc.wildcard)
		if rr == nil || n == nil || rr.Hdr.Name != tc.owner || n.Name != tc.owner || match != tc.match {
			t.Errorf("NSEC(%s, %v) = %v match %v, want %s match %v", tc.name, tc.wildcard, rr, match, tc.owner, tc.match)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { p.NSEC("b.example.com.", false) }); allocs != 0 {
		t.Errorf("NSEC lookup: %.0f allocations", allocs)
	}
}

// NSEC3 records are indexed by owner hash with the NSEC3PARAM's
// parameters; those with other parameters, and owners that are no hash,
// are left out and reported.
func TestPresignedNSEC3Index(t *testing.T) {
	hash := func(n string) string { return strings.ToLower(dns.HashName(n, dns.SHA1, 1, "AB")) }
	names := []string{"example.com.", "www.example.com.", "a.example.com."}
	text := "@ IN NSEC3PARAM 1 0 1 AB\n@ IN RRSIG NSEC3PARAM 13 2 0 20261207120000 20261127110000 1 example.com. AAAA\n"
	var hashes []string
	for _, n := range names {
		hashes = append(hashes, hash(n))
	}
	slices.Sort(hashes)
	for i, h := range hashes {
		text += h + " IN NSEC3 1 0 1 AB " + strings.ToUpper(hashes[(i+1)%len(hashes)]) + " A RRSIG\n"
	}
	text += "www IN A 192.0.2.1\na IN A 192.0.2.2\n"
	text += hash("zzz.example.com.") + " IN NSEC3 1 0 5 - " + strings.ToUpper(hashes[0]) + " A\n" // other parameters
	text += "nothash IN NSEC3 1 0 1 AB " + strings.ToUpper(hashes[0]) + " A\n"
	z := build(t, "example.com.", 1, text)
	p := z.Presigned
	if p == nil || !p.UsesNSEC3() {
		t.Fatal("no NSEC3 index")
	}
	if !strings.Contains(p.Problem(), "other parameters") || !strings.Contains(p.Problem(), "not a base32hex") {
		t.Errorf("problem %q", p.Problem())
	}
	for _, n := range names {
		rr, _, match := p.NSEC3(n, false)
		if rr == nil || !match || !rr.Match(n) {
			t.Errorf("NSEC3(%s) = %v match %v", n, rr, match)
		}
	}
	for _, n := range []string{"b.example.com.", "x.www.example.com.", "*.example.com."} {
		rr, _, match := p.NSEC3(n, false)
		if rr == nil || match || !rr.Cover(n) {
			t.Errorf("NSEC3(%s) = %v match %v, want a covering one", n, rr, match)
		}
	}
	if rr, _, _ := p.NSEC3("example.com.", true); rr == nil || !rr.Cover("*.example.com.") {
		t.Errorf("NSEC3 of the wildcard: %v", rr)
	}
	if allocs := testing.AllocsPerRun(100, func() { p.NSEC3("b.example.com.", true) }); allocs != 0 {
		t.Errorf("NSEC3 lookup: %.0f allocations", allocs)
	}
}

// A delta that brings the first RRSIG makes the zone pre-signed; the
// index follows every version.
func TestPresignedIndexFollowsDeltas(t *testing.T) {
	z := build(t, "example.com.", 1, "www IN A 192.0.2.1\n")
	nz, err := ApplyDelta(z, &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 1, ToVersion: 2, Upserts: []*snapshot.Record{
		{Id: "sig", Rr: packRR(t, "www.example.com. 300 IN RRSIG A 13 3 300 20261207120000 20261127110000 1 example.com. AAAA")},
		{Id: "nsec", Rr: packRR(t, "www.example.com. 300 IN NSEC example.com. A RRSIG NSEC")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if nz.Presigned == nil {
		t.Fatal("a delta adding RRSIGs left the zone unindexed")
	}
	if rr, _, match := nz.Presigned.NSEC("www.example.com.", false); rr == nil || !match {
		t.Errorf("NSEC after the delta: %v", rr)
	}
	back, err := ApplyDelta(nz, &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 2, ToVersion: 3, Deletes: []string{"sig", "nsec"}})
	if err != nil {
		t.Fatal(err)
	}
	if back.Presigned != nil {
		t.Error("a zone whose last RRSIG a delta removed is still indexed as pre-signed")
	}
}
