// Package zonefile reads and writes BIND zone files in the form the
// source product's import and export use ("Import and export records"):
// one record per entry, its comment and tags in the zone-file comment that
// follows it in the cf_tags= grammar, and the reserved tags cf-proxied and
// cf-flatten-cname for the record's proxy status and CNAME flattening.
//
// Parsing is github.com/miekg/dns's ZoneParser ($ORIGIN, $TTL and
// $GENERATE; $INCLUDE refused); this package converts its records to the
// record model, keeps the line each came from, and goes on after a bad
// line so that every bad line of a file is reported at once.
package zonefile

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// MaxSize is the largest zone file one import takes ("Import and export
// records", Limits: 256 KiB).
const MaxSize = 256 << 10

// Reserved tags ("Reserved cf- tags").
const (
	TagProxied      = "cf-proxied"
	TagFlattenCNAME = "cf-flatten-cname"
)

// IncludeNotAllowed is the documented answer to a $INCLUDE directive.
const IncludeNotAllowed = "$INCLUDE directive not allowed"

// Entry is one record of a zone file.
type Entry struct {
	// Line is the line of the file the record starts on (1-based); the
	// records of a $GENERATE share its line.
	Line int
	// Record holds name (fully qualified, as written), type, content (MX
	// and URI without the priority), priority, ttl, comment, the user's
	// tags as "name:value" and settings.flatten_cname (cf-flatten-cname).
	Record *dnsv1.Record
	// Proxied is the cf-proxied tag: nil when the record has none.
	Proxied *bool
	// ApexNS marks an NS record at the zone apex: the importer keeps it
	// only where the zone serves its own apex NS records (multi-provider
	// DNS) and it is not one of the platform's nameservers.
	ApexNS bool
}

// Skipped is a record of the file that an import leaves out, and why.
type Skipped struct {
	Line   int
	Reason string
}

// LineError is a bad line.
type LineError struct {
	Line    int
	Message string
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// Result is what Read found in a file.
type Result struct {
	Entries []Entry
	Skipped []Skipped
	Errors  []LineError
	// Parsed counts every record read, skipped ones included.
	Parsed int
}

// skippedTypes are the records an import leaves out rather than refuses:
// the SOA (the platform generates it from the zone settings, "DNS record
// types": "Cloudflare creates this record automatically") and the records
// a DNSSEC signer adds (the platform signs zones itself). NS records at
// the apex are entries marked ApexNS: whether they are kept depends on the
// zone (see Entry.ApexNS).
var skippedTypes = map[uint16]string{
	dns.TypeSOA:        "SOA record: the zone's SOA is generated from its settings",
	dns.TypeRRSIG:      "RRSIG record: signatures are made by the platform when DNSSEC is on",
	dns.TypeNSEC:       "NSEC record: made by the platform when DNSSEC is on",
	dns.TypeNSEC3:      "NSEC3 record: made by the platform when DNSSEC is on",
	dns.TypeNSEC3PARAM: "NSEC3PARAM record: made by the platform when DNSSEC is on",
}

// ApexNSReason is why an NS record at the zone apex is skipped by an
// import: without multi-provider DNS the zone's nameservers are the ones
// the platform assigns ("Cloudflare will no longer ignore NS records
// created on the zone apex" only with it), and the platform's own are
// served whatever the file says.
const ApexNSReason = "NS record at the zone apex: the zone's nameservers are the ones the platform assigns (apex NS records are kept only with multi-provider DNS, and never for the platform's own nameservers)"

// Read parses a zone file for the zone apex (fully qualified; also the
// initial $ORIGIN). It never stops at a bad line: parsing resumes on the
// next line with the $ORIGIN, $TTL and owner name in force there, so
// every bad line is in Errors (a bad line inside a parenthesised record
// may be followed by reports of its continuation lines).
func Read(data []byte, apex string) *Result {
	apex = dns.CanonicalName(apex)
	res := &Result{}
	lines := splitLines(data)
	st := state{origin: apex}
	for start := 0; start < len(lines); {
		next, err := st.parse(lines, start, apex, res)
		if err == nil {
			break
		}
		res.Errors = append(res.Errors, *err)
		start = next
	}
	return res
}

// state is the parser context carried over a bad line.
type state struct {
	origin    string
	ttl       string // the $TTL argument in force, "" if none
	lastOwner string // owner of the last record, for lines that omit it
	lastTTL   uint32
}

// lineCounter hands the parser bytes (it uses ReadByte when available)
// and counts the newlines consumed, so that each record gets its line.
type lineCounter struct {
	r     *bytes.Reader
	lines int
}

func (c *lineCounter) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *lineCounter) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil && b == '\n' {
		c.lines++
	}
	return b, err
}

var errLine = regexp.MustCompile(` at line: (\d+):\d+$`)

// parse reads lines[start:] until the end or a bad line; it returns the
// index to resume at and the error, or nil at the end.
func (st *state) parse(lines [][]byte, start int, apex string, res *Result) (int, *LineError) {
	// The context in force at start, as directives and one dummy record
	// that sets the previous owner and TTL, then the lines themselves.
	var pre bytes.Buffer
	fmt.Fprintf(&pre, "$ORIGIN %s\n", st.origin)
	if st.ttl != "" {
		fmt.Fprintf(&pre, "$TTL %s\n", st.ttl)
	}
	dummy := st.lastOwner != ""
	if dummy {
		fmt.Fprintf(&pre, "%s %d IN TXT \"\"\n", st.lastOwner, st.lastTTL)
	}
	preLines := bytes.Count(pre.Bytes(), []byte{'\n'})
	for _, l := range lines[start:] {
		pre.Write(l)
	}
	lc := &lineCounter{r: bytes.NewReader(pre.Bytes())}
	zp := dns.NewZoneParser(lc, st.origin, "")
	zp.SetIncludeAllowed(false)
	prevConsumed, line := preLines, 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if dummy {
			dummy = false
			prevConsumed = lc.lines
			continue
		}
		if lc.lines != prevConsumed || line == 0 {
			// A record ends with its line's newline, so it starts on the
			// first record line after the previous record; the records
			// of a $GENERATE consume no newline after the first.
			from := start + prevConsumed - preLines
			idx := firstRecordLine(lines, from, start+lc.lines-preLines+1)
			st.track(lines, from, idx)
			line, prevConsumed = idx+1, lc.lines
		}
		h := rr.Header()
		st.lastOwner, st.lastTTL = h.Name, h.Ttl
		if generateNoTTL(lines[line-1]) && st.ttl != "" && h.Ttl == 3600 {
			// miekg/dns gives $GENERATE records without a TTL its own
			// default (3600) rather than the $TTL in force, as BIND does.
			if t, ok := ttlValue(st.ttl); ok {
				h.Ttl = t
			}
		}
		res.Parsed++
		if reason, ok := skippedTypes[h.Rrtype]; ok {
			res.Skipped = append(res.Skipped, Skipped{Line: line, Reason: reason})
			continue
		}
		apexNS := h.Rrtype == dns.TypeNS && dns.CanonicalName(h.Name) == apex
		comment := zp.Comment()
		if last := start + lc.lines - preLines - 1; last >= 0 && last < len(lines) {
			comment = rawComment(lines[last], comment)
		}
		e, err := entryOf(rr, comment)
		if err != nil {
			res.Errors = append(res.Errors, LineError{Line: line, Message: err.Error()})
			continue
		}
		e.Line, e.ApexNS = line, apexNS
		res.Entries = append(res.Entries, e)
	}
	err := zp.Err()
	if err == nil {
		return len(lines), nil
	}
	msg := strings.TrimPrefix(err.Error(), "dns: ")
	bad := start // the first line of the chunk when the parser names none
	if m := errLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if l := start + n - 1 - preLines; l >= start && l < len(lines) {
			bad = l
		}
		msg = msg[:len(msg)-len(m[0])]
	}
	if strings.HasPrefix(msg, IncludeNotAllowed) {
		msg = IncludeNotAllowed
	}
	st.track(lines, start+prevConsumed-preLines, bad)
	st.ownerOf(lines[bad])
	return bad + 1, &LineError{Line: bad + 1, Message: msg}
}

// track follows the $ORIGIN and $TTL directives of lines[from:to], so
// that a parse resumed after a bad line keeps them.
func (st *state) track(lines [][]byte, from, to int) {
	for i := max(from, 0); i < to && i < len(lines); i++ {
		f := strings.Fields(string(lines[i]))
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "$ORIGIN":
			o := f[1]
			if !dns.IsFqdn(o) {
				o = dns.Fqdn(o) + strings.TrimPrefix(st.origin, ".")
				if st.origin == "." {
					o = dns.Fqdn(f[1])
				}
			}
			st.origin = dns.CanonicalName(o)
		case "$TTL":
			if _, ok := ttlValue(f[1]); ok {
				st.ttl = f[1]
			}
		}
	}
}

// ownerOf takes the owner name of a bad line, when it starts with one,
// as the owner of the lines after it that omit theirs.
func (st *state) ownerOf(line []byte) {
	if len(line) == 0 || line[0] == ' ' || line[0] == '\t' || line[0] == '$' || line[0] == ';' {
		return
	}
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return
	}
	name := f[0]
	switch {
	case name == "@":
		name = st.origin
	case !dns.IsFqdn(name):
		name = dns.Fqdn(name) + strings.TrimPrefix(st.origin, ".")
	}
	if _, ok := dns.IsDomainName(name); ok && !strings.ContainsAny(name, "\"();") {
		st.lastOwner = name
	}
}

// rawComment returns the comment as written at the end of the record's
// last line: the lexer puts a blank before every ';' inside a comment
// (it joins the comments of a multi-line record that way), which would
// change a comment holding ';'. lexed is returned when the line does not
// end with it (multi-line records).
func rawComment(line []byte, lexed string) string {
	if lexed == "" {
		return ""
	}
	text := strings.TrimRight(string(line), "\r\n")
	n := len(lexed) - (strings.Count(lexed, ";") - 1)
	if n <= 0 || n > len(text) {
		return lexed
	}
	raw := text[len(text)-n:]
	if raw[0] != ';' || ";"+strings.ReplaceAll(raw[1:], ";", " ;") != lexed {
		return lexed
	}
	return raw
}

// firstRecordLine returns the index of the first line in lines[from:to]
// that starts a record: not blank, not only a comment, not $ORIGIN or
// $TTL. It returns to-1 when there is none.
func firstRecordLine(lines [][]byte, from, to int) int {
	for i := max(from, 0); i < to && i < len(lines); i++ {
		t := strings.TrimSpace(string(lines[i]))
		if t == "" || t[0] == ';' {
			continue
		}
		u := strings.ToUpper(t)
		if strings.HasPrefix(u, "$ORIGIN") || strings.HasPrefix(u, "$TTL") {
			continue
		}
		return i
	}
	return min(to, len(lines)) - 1
}

// generateNoTTL reports whether line is a $GENERATE directive without an
// explicit TTL ("$GENERATE range lhs [ttl] [class] type rhs").
func generateNoTTL(line []byte) bool {
	f := strings.Fields(string(line))
	if len(f) < 4 || !strings.EqualFold(f[0], "$GENERATE") {
		return false
	}
	_, explicit := ttlValue(f[3])
	return !explicit
}

// ttlValue parses a TTL as a zone file writes it ("300", "1h30m") with the
// zone parser itself.
func ttlValue(s string) (uint32, bool) {
	rr, err := dns.NewRR(". " + s + " IN A 192.0.2.1")
	if err != nil || rr == nil {
		return 0, false
	}
	return rr.Header().Ttl, true
}

// splitLines splits data into lines, each with its newline (one is added
// to a last line without: every record then ends with a newline, which
// is how Read tells records apart).
func splitLines(data []byte) [][]byte {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(append([]byte(nil), data...), '\n')
	}
	var out [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, data)
			break
		}
		out = append(out, data[:i+1])
		data = data[i+1:]
	}
	return out
}

// entryOf converts a parsed record and the comment that follows it.
func entryOf(rr dns.RR, comment string) (Entry, error) {
	h := rr.Header()
	if h.Class != dns.ClassINET {
		return Entry{}, fmt.Errorf("class %s: only IN records can be imported", dns.ClassToString[h.Class])
	}
	rec, err := FromRR(rr)
	if err != nil {
		return Entry{}, err
	}
	text := strings.TrimPrefix(strings.TrimSpace(comment), ";")
	c, tags, err := ParseAttributes(text)
	if err != nil {
		return Entry{}, fmt.Errorf("cf_tags: %w", err)
	}
	e := Entry{Record: rec}
	rec.Comment = c
	for _, t := range tags {
		name, value, _ := strings.Cut(t, ":")
		switch strings.ToLower(name) {
		case TagProxied:
			switch strings.ToLower(value) {
			case "true":
				e.Proxied = ptr(true)
			case "false":
				e.Proxied = ptr(false)
			default:
				return Entry{}, fmt.Errorf("tag %s: value must be true or false, not %q", TagProxied, value)
			}
		case TagFlattenCNAME:
			if value != "" && !strings.EqualFold(value, "true") {
				return Entry{}, fmt.Errorf("tag %s takes no value", TagFlattenCNAME)
			}
			rec.Settings = &dnsv1.RecordSettings{FlattenCname: true}
		default:
			if strings.HasPrefix(strings.ToLower(name), "cf-") {
				return Entry{}, fmt.Errorf("tag %s: tags starting with cf- are reserved (%s, %s)", name, TagProxied, TagFlattenCNAME)
			}
			rec.Tags = append(rec.Tags, t)
		}
	}
	return e, nil
}

func ptr[T any](v T) *T { return &v }

// FromRR converts a parsed resource record to the record model: name and
// TTL from the header, content the presentation RDATA (the record
// service's validation canonicalises it), MX and URI priority apart.
func FromRR(rr dns.RR) (*dnsv1.Record, error) {
	h := rr.Header()
	typ, ok := dns.TypeToString[h.Rrtype]
	if !ok {
		return nil, fmt.Errorf("unknown record type %d", h.Rrtype)
	}
	rec := &dnsv1.Record{Name: h.Name, Type: typ, Ttl: h.Ttl,
		Content: strings.TrimPrefix(rr.String(), h.String())}
	switch v := rr.(type) {
	case *dns.MX:
		rec.Priority, rec.Content = uint32(v.Preference), v.Mx
	case *dns.URI:
		rec.Priority = uint32(v.Priority)
		rec.Content = strings.TrimPrefix(rec.Content, strconv.Itoa(int(v.Priority))+" ")
	}
	return rec, nil
}

// Header is what a written zone file starts with.
type Header struct {
	// Origin is written as $ORIGIN; names are written relative to it
	// when inside it.
	Origin string
	// SOA and NS, when set, are written first (an export writes the
	// zone's, as the edges serve them; a part of an import none).
	SOA *dns.SOA
	NS  []*dns.NS
}

// Write writes a zone file: $ORIGIN, the header records, then one line per
// entry with its comment, tags, cf-proxied (when Proxied is set) and
// cf-flatten-cname in the cf_tags= grammar.
func Write(w io.Writer, h Header, entries []Entry) error {
	origin := dns.CanonicalName(h.Origin)
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "$ORIGIN %s\n", origin)
	if h.SOA != nil {
		fmt.Fprintf(bw, "%s\n", h.SOA.String())
	}
	for _, ns := range h.NS {
		fmt.Fprintf(bw, "%s\n", ns.String())
	}
	for _, e := range entries {
		bw.write(Line(e))
		bw.write("\n")
	}
	return bw.err
}

// Line renders one entry as a zone-file line (without the newline).
func Line(e Entry) string {
	r := e.Record
	var b strings.Builder
	b.WriteString(r.GetName())
	b.WriteByte('\t')
	b.WriteString(strconv.FormatUint(uint64(r.GetTtl()), 10))
	b.WriteString("\tIN\t")
	b.WriteString(strings.ToUpper(r.GetType()))
	b.WriteByte('\t')
	if t := strings.ToUpper(r.GetType()); t == "MX" || t == "URI" {
		b.WriteString(strconv.FormatUint(uint64(r.GetPriority()), 10))
		b.WriteByte(' ')
	}
	b.WriteString(r.GetContent())
	tags := append([]string(nil), r.GetTags()...)
	if e.Proxied != nil {
		tags = append(tags, TagProxied+":"+strconv.FormatBool(*e.Proxied))
	}
	if r.GetSettings().GetFlattenCname() {
		tags = append(tags, TagFlattenCNAME+":")
	}
	if a := FormatAttributes(r.GetComment(), tags); a != "" {
		b.WriteString(" ; ")
		b.WriteString(a)
	}
	return b.String()
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) write(s string) { _, _ = io.WriteString(e, s) }
