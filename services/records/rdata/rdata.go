// Package rdata turns the RDATA of a user's record — presentation-format
// content or structured data — into the one canonical form zonegrid stores.
// Parsing is delegated to the zone-file parser of github.com/miekg/dns and the
// result is round-tripped through the wire format, so whatever is stored is
// exactly what the edge can serve; this package only adds the product's
// stricter rules on top.
package rdata

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// MaxTXTLength is the most text one TXT record may carry (source documents,
// "DNS record types": 2,048 characters per record).
const MaxTXTLength = 2048

// FieldError is a validation failure of one field of a record. Field is
// relative to the record ("content", "data.srv.port") so that callers can
// prefix it with where the record sits in their request.
type FieldError struct {
	Field       string
	Description string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Description }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Description: fmt.Sprintf(format, args...)}
}

// Supported record types, in the order the documents list them.
var supported = map[string]bool{
	"A": true, "AAAA": true, "CAA": true, "CERT": true, "CNAME": true,
	"DNSKEY": true, "DS": true, "HTTPS": true, "LOC": true, "MX": true,
	"NAPTR": true, "NS": true, "OPENPGPKEY": true, "PTR": true, "SMIMEA": true,
	"SRV": true, "SSHFP": true, "SVCB": true, "TLSA": true, "TXT": true, "URI": true,
}

// Supported reports whether typ (upper-case mnemonic) can be managed.
func Supported(typ string) bool { return supported[typ] }

// HasPriority reports whether records of typ carry their priority in the
// record's priority field rather than in content.
func HasPriority(typ string) bool { return typ == "MX" || typ == "URI" }

// Result is the canonical form of one record's RDATA.
type Result struct {
	// Content is the presentation RDATA (without the priority for MX/URI).
	Content string
	// Data is the structured form, nil for types without one.
	Data *dnsv1.RecordData
	// Priority is the MX/URI priority, 0 for other types.
	Priority uint32
	// TextLength is the number of text bytes of a TXT record (0 otherwise).
	TextLength int
	// RR is the parsed record, owner "." and TTL 0.
	RR dns.RR
}

// Parse validates the RDATA of a record of type typ given as content and/or
// data (when both are given they must describe the same RDATA) and returns
// its canonical form. typ must already be upper-case. Errors are *FieldError.
func Parse(typ, content string, data *dnsv1.RecordData, priority uint32) (*Result, error) {
	if !supported[typ] {
		return nil, fieldErr("type", "unsupported record type %q", typ)
	}
	if HasPriority(typ) {
		if priority > 0xffff {
			return nil, fieldErr("priority", "must be between 0 and 65535")
		}
	} else if priority != 0 {
		return nil, fieldErr("priority", "only MX and URI records have a priority field; %s keeps it in content or data", typ)
	}
	content = strings.TrimSpace(content)
	if content == "" && data == nil {
		return nil, fieldErr("content", "content or data is required")
	}
	var fromData, fromContent *Result
	if data != nil && data.GetData() != nil {
		text, err := presentData(typ, data, priority)
		if err != nil {
			return nil, err
		}
		if fromData, err = parseText(typ, "data", text); err != nil {
			return nil, err
		}
	} else if data != nil && content == "" {
		return nil, fieldErr("data", "data is empty")
	}
	if content != "" {
		text, err := presentContent(typ, content, priority)
		if err != nil {
			return nil, err
		}
		if fromContent, err = parseText(typ, "content", text); err != nil {
			return nil, err
		}
	}
	switch {
	case fromData == nil:
		return fromContent, nil
	case fromContent == nil:
		return fromData, nil
	case fromData.Content != fromContent.Content || fromData.Priority != fromContent.Priority:
		return nil, fieldErr("data", "content and data describe different RDATA (%q and %q); give only one", fromContent.Content, fromData.Content)
	}
	return fromData, nil
}

// TXTLength returns the text length of stored TXT content, for the limit on
// the sum of TXT records at one name.
func TXTLength(content string) int {
	r, err := Parse("TXT", content, nil, 0)
	if err != nil {
		return len(content)
	}
	return r.TextLength
}

// presentContent builds the RDATA text of content, applying the rules the
// generic parser is more lenient about.
func presentContent(typ, content string, priority uint32) (string, error) {
	if err := noControl("content", content); err != nil {
		return "", err
	}
	switch typ {
	case "A":
		a, err := netip.ParseAddr(content)
		if err != nil || !a.Is4() {
			return "", fieldErr("content", "%q is not an IPv4 address in dotted-quad form", content)
		}
		return a.String(), nil
	case "AAAA":
		a, err := netip.ParseAddr(content)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fieldErr("content", "%q is not an IPv6 address", content)
		}
		if a.Is4In6() {
			return "", fieldErr("content", "%q is an IPv4-mapped address; use an A record", content)
		}
		return a.String(), nil
	case "TXT":
		if strings.HasPrefix(content, `"`) {
			return content, nil
		}
		// Unquoted content is one string; the parser splits it into
		// 255-byte character-strings, escape-aware.
		return quote(content), nil
	case "CNAME", "NS", "PTR":
		if err := hostname("content", content, false); err != nil {
			return "", err
		}
		return content, nil
	case "MX":
		if err := hostname("content", content, true); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d %s", priority, content), nil
	case "URI":
		return fmt.Sprintf("%d %s", priority, content), nil
	}
	return content, nil
}

// parseText parses RDATA text with the zone-file parser, round-trips it
// through the wire format (which validates hex/base64 and lengths) and
// extracts the canonical content and data. field names the input the text
// came from.
func parseText(typ, field, text string) (*Result, error) {
	rr, err := dns.NewRR(". 0 IN " + typ + " " + text)
	if err != nil {
		return nil, fieldErr(field, "invalid %s RDATA: %s", typ, parseMessage(err))
	}
	if rr == nil {
		return nil, fieldErr(field, "invalid %s RDATA: empty", typ)
	}
	buf := make([]byte, dns.Len(rr)+64)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, fieldErr(field, "invalid %s RDATA: %v", typ, err)
	}
	wire, _, err := dns.UnpackRR(buf[:off], 0)
	if err != nil {
		return nil, fieldErr(field, "invalid %s RDATA: %v", typ, err)
	}
	if wire.Header().Rdlength == 0 {
		return nil, fieldErr(field, "invalid %s RDATA: empty", typ)
	}
	res := &Result{RR: wire}
	if err := canonicalize(res, field, int(wire.Header().Rdlength)); err != nil {
		return nil, err
	}
	if res.Content == "" {
		res.Content = strings.TrimPrefix(wire.String(), wire.Header().String())
	}
	if err := dataNoControl(field, res.Data); err != nil {
		return nil, err
	}
	// Whatever is stored must be accepted back as data input: the field
	// rules of the data path (non-empty keys and digests, ranges) apply to
	// content too.
	if res.Data != nil {
		if _, err := presentData(typ, res.Data, res.Priority); err != nil {
			fe := err.(*FieldError)
			return nil, fieldErr(field, "invalid %s RDATA: %s %s", typ, strings.TrimPrefix(fe.Field, "data."), fe.Description)
		}
	}
	return res, nil
}

// parseMessage strips the position suffix the zone parser adds: the line and
// column refer to text the user never saw.
func parseMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "dns: ")
	if i := strings.Index(msg, " at line: "); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// canonicalize lower-cases domain names, applies per-type rules and fills
// the structured data.
func canonicalize(res *Result, field string, rdlength int) error {
	switch rr := res.RR.(type) {
	case *dns.A, *dns.AAAA, *dns.OPENPGPKEY:
	case *dns.TXT:
		res.TextLength = rdlength - len(rr.Txt)
		if res.TextLength > MaxTXTLength {
			return fieldErr(field, "TXT content is %d characters, at most %d are allowed", res.TextLength, MaxTXTLength)
		}
	case *dns.CNAME:
		rr.Target = strings.ToLower(rr.Target)
		return hostname(field, rr.Target, false)
	case *dns.NS:
		rr.Ns = strings.ToLower(rr.Ns)
		return hostname(field, rr.Ns, false)
	case *dns.PTR:
		rr.Ptr = strings.ToLower(rr.Ptr)
		return hostname(field, rr.Ptr, false)
	case *dns.MX:
		rr.Mx = strings.ToLower(rr.Mx)
		res.Priority = uint32(rr.Preference)
		res.Content = rr.Mx
		return hostname(field, rr.Mx, true)
	case *dns.URI:
		res.Priority = uint32(rr.Priority)
		full := strings.TrimPrefix(rr.String(), rr.Header().String())
		res.Content = strings.TrimPrefix(full, fmt.Sprintf("%d ", rr.Priority))
		if rr.Target == "" {
			return fieldErr(field, "URI target is empty")
		}
		// A URI (RFC 3986) is printable ASCII without spaces, quotes or
		// backslashes; anything else would not survive the presentation
		// form (miekg/dns prints a lone backslash as "", found by FuzzParse).
		for i := 0; i < len(rr.Target); i++ {
			if c := rr.Target[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
				return fieldErr(field, "URI target must be a URI (RFC 3986): printable ASCII without spaces, quotes or backslashes")
			}
		}
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Uri{Uri: &dnsv1.URIData{Weight: uint32(rr.Weight), Target: rr.Target}}}
	case *dns.CAA:
		if !validCAATag(rr.Tag) {
			return fieldErr(field, "CAA tag %q must be 1 to 15 letters or digits", rr.Tag)
		}
		rr.Tag = strings.ToLower(rr.Tag)
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Caa{Caa: &dnsv1.CAAData{Flags: uint32(rr.Flag), Tag: rr.Tag, Value: rr.Value}}}
	case *dns.SRV:
		rr.Target = strings.ToLower(rr.Target)
		if err := hostname(field, rr.Target, true); err != nil {
			return err
		}
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{
			Priority: uint32(rr.Priority), Weight: uint32(rr.Weight), Port: uint32(rr.Port), Target: rr.Target}}}
	case *dns.TLSA:
		if err := digestLength(field, "TLSA certificate association data", rr.Certificate, tlsaDigestHex[rr.MatchingType]); err != nil {
			return err
		}
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Tlsa{Tlsa: &dnsv1.TLSAData{
			Usage: uint32(rr.Usage), Selector: uint32(rr.Selector), MatchingType: uint32(rr.MatchingType), Certificate: rr.Certificate}}}
	case *dns.SMIMEA:
		if err := digestLength(field, "SMIMEA certificate association data", rr.Certificate, tlsaDigestHex[rr.MatchingType]); err != nil {
			return err
		}
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Smimea{Smimea: &dnsv1.TLSAData{
			Usage: uint32(rr.Usage), Selector: uint32(rr.Selector), MatchingType: uint32(rr.MatchingType), Certificate: rr.Certificate}}}
	case *dns.SSHFP:
		if err := digestLength(field, "SSHFP fingerprint", rr.FingerPrint, sshfpDigestHex[rr.Type]); err != nil {
			return err
		}
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Sshfp{Sshfp: &dnsv1.SSHFPData{
			Algorithm: uint32(rr.Algorithm), Type: uint32(rr.Type), Fingerprint: strings.ToUpper(rr.FingerPrint)}}}
	case *dns.SVCB:
		return svcbData(res, field, &rr.Target, rr.Priority, rr.Value)
	case *dns.HTTPS:
		return svcbData(res, field, &rr.Target, rr.Priority, rr.Value)
	case *dns.NAPTR:
		rr.Replacement = strings.ToLower(rr.Replacement)
		if err := hostname(field, rr.Replacement, true); err != nil {
			return err
		}
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Naptr{Naptr: &dnsv1.NAPTRData{
			Order: uint32(rr.Order), Preference: uint32(rr.Preference), Flags: rr.Flags,
			Service: rr.Service, Regex: rr.Regexp, Replacement: rr.Replacement}}}
	case *dns.CERT:
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Cert{Cert: &dnsv1.CERTData{
			Type: uint32(rr.Type), KeyTag: uint32(rr.KeyTag), Algorithm: uint32(rr.Algorithm), Certificate: rr.Certificate}}}
	case *dns.DNSKEY:
		if rr.Protocol != 3 {
			return fieldErr(field, "DNSKEY protocol must be 3 (RFC 4034)")
		}
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Dnskey{Dnskey: &dnsv1.DNSKEYData{
			Flags: uint32(rr.Flags), Protocol: uint32(rr.Protocol), Algorithm: uint32(rr.Algorithm), PublicKey: rr.PublicKey}}}
	case *dns.DS:
		if err := digestLength(field, "DS digest", rr.Digest, dsDigestHex[rr.DigestType]); err != nil {
			return err
		}
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Ds{Ds: &dnsv1.DSData{
			KeyTag: uint32(rr.KeyTag), Algorithm: uint32(rr.Algorithm), DigestType: uint32(rr.DigestType), Digest: strings.ToUpper(rr.Digest)}}}
	case *dns.LOC:
		res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Loc{Loc: locData(rr)}}
	default:
		return fieldErr(field, "unsupported record type")
	}
	return nil
}

// Hex lengths of the digests whose type fixes their size: a digest of
// another length can never match, and BIND (named-checkzone) refuses the
// zone that holds it. Other types are not checked.
var (
	// DS digest types (RFC 4034, 4509, 6605): SHA-1, SHA-256, SHA-384.
	dsDigestHex = map[uint8]int{1: 40, 2: 64, 4: 96}
	// SSHFP fingerprint types (RFC 4255, 6594): SHA-1, SHA-256.
	sshfpDigestHex = map[uint8]int{1: 40, 2: 64}
	// TLSA/SMIMEA matching types (RFC 6698): SHA-256, SHA-512 (0, the
	// full data, has any length).
	tlsaDigestHex = map[uint8]int{1: 64, 2: 128}
)

func digestLength(field, what, hexDigest string, want int) error {
	if want != 0 && len(hexDigest) != want {
		return fieldErr(field, "%s is %d hex digits, its type needs %d", what, len(hexDigest), want)
	}
	return nil
}

func svcbData(res *Result, field string, target *string, priority uint16, params []dns.SVCBKeyValue) error {
	*target = strings.ToLower(*target)
	if err := hostname(field, *target, true); err != nil {
		return err
	}
	if priority == 0 && len(params) > 0 {
		return fieldErr(field, "an alias-mode record (priority 0) cannot have SvcParams (RFC 9460)")
	}
	// The SvcParams keep the parser's own escaping: the part of the
	// presentation after priority and target (neither holds spaces).
	value := ""
	if parts := strings.SplitN(strings.TrimPrefix(res.RR.String(), res.RR.Header().String()), " ", 3); len(parts) == 3 {
		value = parts[2]
	}
	res.Data = &dnsv1.RecordData{Data: &dnsv1.RecordData_Svcb{Svcb: &dnsv1.SVCBData{
		Priority: uint32(priority), Target: *target, Value: value}}}
	return nil
}

// hostname checks that a name in RDATA is a host name: the characters
// dnsname accepts, no wildcard, and "." only where the type gives it a
// meaning (null MX, "no service" SRV, SVCB/NAPTR "same name").
func hostname(field, name string, rootOK bool) error {
	if name == "." || name == "" {
		if rootOK && name == "." {
			return nil
		}
		return fieldErr(field, "%q is not a host name", name)
	}
	n, err := dnsname.Normalize(name)
	if err != nil || strings.Contains(n, "*") {
		return fieldErr(field, "%q is not a valid host name", name)
	}
	return nil
}

func validCAATag(tag string) bool {
	if tag == "" || len(tag) > 15 {
		return false
	}
	for _, c := range tag {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// noControl rejects control characters: they would let a value end the
// zone-file line and smuggle in a second record.
func noControl(field, s string) *FieldError {
	for _, c := range s {
		if unicode.IsControl(c) {
			return fieldErr(field, "contains a control character")
		}
	}
	return nil
}

// dataNoControl rejects parsed strings holding control characters: the
// zone-file lexer lets an unbalanced quote swallow a line end, and the
// structured form must be accepted back as input.
func dataNoControl(field string, d *dnsv1.RecordData) *FieldError {
	if d.GetData() == nil {
		return nil
	}
	var bad *FieldError
	d.ProtoReflect().Range(func(_ protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		v.Message().Range(func(fd protoreflect.FieldDescriptor, fv protoreflect.Value) bool {
			if fd.Kind() == protoreflect.StringKind {
				bad = noControl(field, fv.String())
			}
			return bad == nil
		})
		return false
	})
	return bad
}

// quote returns s as one zone-file character-string.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
