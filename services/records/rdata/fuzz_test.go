package rdata

import (
	"testing"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// FuzzParse: no input crashes the parser, and whatever it accepts is stored
// in a form it accepts again unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []struct{ typ, content string }{
		{"A", "192.0.2.1"}, {"AAAA", "::1"}, {"TXT", `"a" "b"`}, {"TXT", `x\"y`}, {"MX", "mx.example.com"},
		{"SRV", "1 2 3 a.example.com"}, {"CAA", `0 issue "ca"`}, {"HTTPS", `1 . alpn=h2`},
		{"LOC", "52 22 23 N 4 53 32 E 2m"}, {"NAPTR", `1 1 "S" "x" "" .`}, {"URI", `1 "x"`},
		{"SVCB", `1 . mandatory=alpn alpn=h2`}, {"CERT", "1 1 1 AA=="}, {"TLSA", "3 1 1 ab"},
	} {
		f.Add(s.typ, s.content, uint32(0))
	}
	f.Fuzz(func(t *testing.T, typ, content string, prio uint32) {
		res, err := Parse(typ, content, nil, prio)
		if err != nil {
			return
		}
		again, err := Parse(typ, res.Content, nil, res.Priority)
		if err != nil {
			t.Fatalf("stored form %q of %q rejected: %v", res.Content, content, err)
		}
		if again.Content != res.Content {
			t.Fatalf("not idempotent: %q -> %q -> %q", content, res.Content, again.Content)
		}
		if res.Data != nil {
			if _, err := Parse(typ, "", res.Data, res.Priority); err != nil {
				t.Fatalf("stored data %v of %q rejected: %v", res.Data, content, err)
			}
		}
		_ = dnsv1.RecordData{}
	})
}
