package zonefile

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// The examples of "Import and export records" (DNS record attributes and
// Reserved cf- tags), line by line.
func TestDocumentExamplesParse(t *testing.T) {
	tests := []struct {
		line    string
		comment string
		tags    []string
		proxied *bool
		flatten bool
		// canonical is true when the writer writes the line back as the
		// documents show it (modulo blanks between fields).
		canonical bool
	}{
		{line: `a.example.com.  60  IN  A   1.1.1.1 ;   cf_tags=awesome`, tags: []string{"awesome:"}, canonical: true},
		{line: `b.example.com.  60  IN  A   1.1.1.1 ;   cf_tags=tag1,tag2:value2,tag3:"value,with,commas",tag4:"value with \"escaped\" quotation marks"`,
			tags: []string{"tag1:", "tag2:value2", "tag3:value,with,commas", `tag4:value with "escaped" quotation marks`}, canonical: true},
		{line: `c.example.com.  60  IN  A   1.1.1.1 ; just a comment without tags`, comment: "just a comment without tags", canonical: true},
		{line: `d.example.com.  60  IN  A   1.1.1.1 ; this comment contains cf_tags= as text cf_tags=`, comment: "this comment contains cf_tags= as text", canonical: true},
		{line: `e.example.com.  60  IN  A   1.1.1.1 ; simple example cf_tags=important,ticket:THIS-12345`,
			comment: "simple example", tags: []string{"important:", "ticket:THIS-12345"}, canonical: true},
		{line: `f.example.com.  60  IN  A   1.1.1.1 ; this is the comment cf_tags=tag1:value1,tag2:value2,tag-without-value,another-tag-without-value,tag-with-quoted-value:"because of the comma, quotes are needed"`,
			comment: "this is the comment", tags: []string{"tag1:value1", "tag2:value2", "tag-without-value:", "another-tag-without-value:", "tag-with-quoted-value:because of the comma, quotes are needed"}, canonical: true},
		{line: `g.example.com.  60  IN  A   1.1.1.1`, canonical: true},
		{line: `a.cloudflaredocs.com.  1  IN  CNAME  example.com. ; cf_tags=test:1,cf-flatten-cname`, tags: []string{"test:1"}, flatten: true, canonical: true},
		{line: `b.cloudflaredocs.com.  1  IN  CNAME  example.com. ; cf_tags=cf-proxied:false`, proxied: ptr(false), canonical: true},
		{line: `c.cloudflaredocs.com.  1  IN  CNAME  example.com. ; cf_tags=tag-without-value,cf-proxied:true`, tags: []string{"tag-without-value:"}, proxied: ptr(true), canonical: true},
		// The three spellings of an empty value.
		{line: `h.example.com. 60 IN A 1.1.1.1 ; cf_tags=my-tag-name:""`, tags: []string{"my-tag-name:"}},
		{line: `h.example.com. 60 IN A 1.1.1.1 ; cf_tags=my-tag-name:`, tags: []string{"my-tag-name:"}},
		{line: `h.example.com. 60 IN A 1.1.1.1 ; cf_tags=my-tag-name`, tags: []string{"my-tag-name:"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			res := Read([]byte(tt.line+"\n"), "example.com.")
			if len(res.Errors) > 0 || len(res.Entries) != 1 {
				t.Fatalf("Read: %d entries, errors %v", len(res.Entries), res.Errors)
			}
			e := res.Entries[0]
			r := e.Record
			if r.GetComment() != tt.comment || !reflect.DeepEqual(r.GetTags(), tt.tags) ||
				!reflect.DeepEqual(e.Proxied, tt.proxied) || r.GetSettings().GetFlattenCname() != tt.flatten {
				t.Fatalf("got comment %q tags %q proxied %v flatten %v", r.GetComment(), r.GetTags(), e.Proxied, r.GetSettings().GetFlattenCname())
			}
			if !tt.canonical {
				return
			}
			if got, want := strings.Join(strings.Fields(Line(e)), " "), strings.Join(strings.Fields(tt.line), " "); got != want {
				t.Fatalf("written back as\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestDirectives(t *testing.T) {
	src := `$ORIGIN example.com.
$TTL 300
@ 60 IN A 192.0.2.1
www IN A 192.0.2.2 ; web
$ORIGIN sub
host IN AAAA 2001:db8::1
$GENERATE 1-3 gen$ IN A 10.0.0.$
$GENERATE 4-5 gen$ 120 IN A 10.0.0.$
`
	res := Read([]byte(src), "example.com.")
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	var got []string
	for _, e := range res.Entries {
		got = append(got, fmt.Sprintf("%d %s %d %s %s", e.Line, e.Record.GetName(), e.Record.GetTtl(), e.Record.GetType(), e.Record.GetContent()))
	}
	want := []string{
		"3 example.com. 60 A 192.0.2.1",
		"4 www.example.com. 300 A 192.0.2.2",
		"6 host.sub.example.com. 300 AAAA 2001:db8::1",
		"7 gen1.sub.example.com. 300 A 10.0.0.1",
		"7 gen2.sub.example.com. 300 A 10.0.0.2",
		"7 gen3.sub.example.com. 300 A 10.0.0.3",
		"8 gen4.sub.example.com. 120 A 10.0.0.4",
		"8 gen5.sub.example.com. 120 A 10.0.0.5",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIncludeIsRefusedWithTheDocumentedMessage(t *testing.T) {
	res := Read([]byte("a IN A 192.0.2.1\n$INCLUDE /etc/passwd\nb IN A 192.0.2.2\n"), "example.com.")
	if len(res.Errors) != 1 || res.Errors[0].Line != 2 || res.Errors[0].Message != IncludeNotAllowed {
		t.Fatalf("errors = %v, want line 2: %s", res.Errors, IncludeNotAllowed)
	}
	if len(res.Entries) != 2 {
		t.Fatalf("entries = %d, want the 2 good lines read", len(res.Entries))
	}
}

func TestEveryBadLineIsReported(t *testing.T) {
	src := `$TTL 600
a IN A 192.0.2.1
b IN A not-an-address
c IN BOGUS 1
  IN TXT "same owner as c"
d 60 IN MX 10 mx.example.net. ; cf_tags=tag:"unclosed
e IN A 192.0.2.5 ; cf_tags=cf-unknown:1
f IN CNAME target.example.net. ; cf_tags=cf-proxied:maybe
g IN TXT "ok" ; a comment
`
	res := Read([]byte(src), "example.com.")
	var lines []int
	for _, e := range res.Errors {
		lines = append(lines, e.Line)
	}
	if want := []int{3, 4, 6, 7, 8}; !reflect.DeepEqual(lines, want) {
		t.Fatalf("bad lines %v (%v), want %v", lines, res.Errors, want)
	}
	var good []string
	for _, e := range res.Entries {
		good = append(good, fmt.Sprintf("%d:%s:%d", e.Line, e.Record.GetName(), e.Record.GetTtl()))
	}
	// The line after a bad one keeps the owner and $TTL in force.
	if want := []string{"2:a.example.com.:600", "5:c.example.com.:600", "9:g.example.com.:600"}; !reflect.DeepEqual(good, want) {
		t.Fatalf("entries %v, want %v", good, want)
	}
}

// The SOA is skipped; apex NS records are entries marked for the importer
// to decide (multi-provider zones keep the other providers').
func TestSOAIsSkippedAndApexNSMarked(t *testing.T) {
	src := `$ORIGIN example.com.
@ 3600 IN SOA ns1.example.net. hostmaster.example.com. ( 1 7200
      3600 1209600 300 )
@ 86400 IN NS ns1.example.net.
sub 300 IN NS ns1.other.net.
`
	res := Read([]byte(src), "example.com.")
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Line != 2 {
		t.Fatalf("skipped = %v", res.Skipped)
	}
	if len(res.Entries) != 2 || res.Parsed != 3 || res.Entries[0].Line != 4 || !res.Entries[0].ApexNS ||
		res.Entries[1].Line != 5 || res.Entries[1].ApexNS {
		t.Fatalf("entries = %v parsed %d", res.Entries, res.Parsed)
	}
}

func TestMXAndURIPriorityAreApart(t *testing.T) {
	res := Read([]byte("@ 300 IN MX 10 mx.example.net.\n_s._tcp 300 IN URI 5 1 \"https://example.com/\"\n"), "example.com.")
	if len(res.Errors) > 0 || len(res.Entries) != 2 {
		t.Fatal(res.Errors)
	}
	mx, uri := res.Entries[0].Record, res.Entries[1].Record
	if mx.GetPriority() != 10 || mx.GetContent() != "mx.example.net." || uri.GetPriority() != 5 || uri.GetContent() != `1 "https://example.com/"` {
		t.Fatalf("mx %v uri %v", mx, uri)
	}
}

func TestAttributesRoundTrip(t *testing.T) {
	tests := []struct {
		comment string
		tags    []string
	}{
		{"", nil},
		{"plain", nil},
		{"holds cf_tags= inside", nil},
		{"cf_tags=x", []string{"a:b"}},
		{"", []string{"k:v=1", `q:say "hi"`, `b:back\slash`, "c:a,b", "e:", "s: padded "}},
		{"x cf_tags=a:b", []string{"cf_tags:"}},
		{"ünïcode ;semi", []string{"t:välue"}},
	}
	for _, tt := range tests {
		text := FormatAttributes(tt.comment, tt.tags)
		c, tags, err := ParseAttributes(text)
		if err != nil || c != tt.comment || !reflect.DeepEqual(tags, tt.tags) {
			t.Errorf("%q %q -> %q -> %q %q %v", tt.comment, tt.tags, text, c, tags, err)
		}
	}
}

func TestWriteStartsWithOriginAndReadsBack(t *testing.T) {
	res := Read([]byte("www 300 IN A 192.0.2.1 ; c cf_tags=a:b,cf-proxied:true\n"), "example.com.")
	var buf bytes.Buffer
	if err := Write(&buf, Header{Origin: "example.com."}, res.Entries); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "$ORIGIN example.com.\n") {
		t.Fatalf("written:\n%s", buf.String())
	}
	again := Read(buf.Bytes(), "example.com.")
	if len(again.Errors) > 0 || !reflect.DeepEqual(again.Entries[0].Record.GetTags(), []string{"a:b"}) || !*again.Entries[0].Proxied {
		t.Fatalf("read back %v %v", again.Entries, again.Errors)
	}
}

func TestACommentHoldingSemicolonsIsKeptAsWritten(t *testing.T) {
	res := Read([]byte("a 60 IN A 192.0.2.1 ; one; two;three cf_tags=x:y\n"), "example.com.")
	if len(res.Errors) > 0 || res.Entries[0].Record.GetComment() != "one; two;three" {
		t.Fatalf("comment %q, errors %v", res.Entries[0].Record.GetComment(), res.Errors)
	}
}

func TestCRLFLinesRead(t *testing.T) {
	res := Read([]byte("$TTL 300\r\na IN A 192.0.2.1 ; note cf_tags=k:v\r\nb IN TXT \"x\"\r\n"), "example.com.")
	if len(res.Errors) > 0 || len(res.Entries) != 2 {
		t.Fatalf("entries %v errors %v", res.Entries, res.Errors)
	}
	if e := res.Entries[0]; e.Line != 2 || e.Record.GetComment() != "note" || !reflect.DeepEqual(e.Record.GetTags(), []string{"k:v"}) {
		t.Fatalf("first entry %+v", e.Record)
	}
	if res.Entries[1].Line != 3 {
		t.Fatalf("second entry on line %d", res.Entries[1].Line)
	}
}
