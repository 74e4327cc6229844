package zonefile

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseAttributes: parsing never panics, and whatever parses is
// written back (FormatAttributes) to text that parses to the same comment
// and tags.
func FuzzParseAttributes(f *testing.F) {
	for _, s := range []string{
		"cf_tags=awesome",
		`cf_tags=tag1,tag2:value2,tag3:"value,with,commas",tag4:"value with \"escaped\" quotation marks"`,
		"just a comment without tags",
		"this comment contains cf_tags= as text cf_tags=",
		"simple example cf_tags=important,ticket:THIS-12345",
		`x cf_tags=a:"b" cf_tags=`,
		`cf_tags=my-tag-name:""`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r") {
			return
		}
		c, tags, err := ParseAttributes(s)
		if err != nil {
			return
		}
		text := FormatAttributes(c, tags)
		c2, tags2, err := ParseAttributes(text)
		if err != nil || c2 != c || !reflect.DeepEqual(tags2, tags) {
			t.Fatalf("%q -> (%q %q) -> %q -> (%q %q) %v", s, c, tags, text, c2, tags2, err)
		}
	})
}

// FuzzRead: no zone file makes Read panic or report a line outside the
// file.
func FuzzRead(f *testing.F) {
	f.Add([]byte("$TTL 300\na IN A 192.0.2.1 ; c cf_tags=x:y\nb IN A bad\n  IN TXT \"x\"\n$GENERATE 1-2 g$ A 10.0.0.$\n"))
	f.Add([]byte("@ IN SOA a. b. ( 1 2\n 3 4 5 )\n$INCLUDE x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		res := Read(data, "example.com.")
		n := strings.Count(string(data), "\n") + 1
		for _, e := range res.Errors {
			if e.Line < 1 || e.Line > n {
				t.Fatalf("error line %d outside 1..%d: %v", e.Line, n, e)
			}
		}
		for _, e := range res.Entries {
			if e.Line < 1 || e.Line > n {
				t.Fatalf("entry line %d outside 1..%d", e.Line, n)
			}
		}
	})
}
