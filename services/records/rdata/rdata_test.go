package rdata

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestParseAcceptsAndCanonicalizes(t *testing.T) {
	tests := []struct {
		name        string
		typ         string
		content     string
		data        *dnsv1.RecordData
		priority    uint32
		wantContent string
		wantData    *dnsv1.RecordData
		wantPrio    uint32
	}{
		{name: "A dotted quad", typ: "A", content: "192.0.2.1", wantContent: "192.0.2.1"},
		{name: "A surrounding spaces trimmed", typ: "A", content: " 192.0.2.1 ", wantContent: "192.0.2.1"},
		{name: "AAAA stored per RFC 5952", typ: "AAAA", content: "fe80::0:0:1", wantContent: "fe80::1"},
		{name: "AAAA upper case lowered", typ: "AAAA", content: "2001:DB8:0:0:0:0:0:1", wantContent: "2001:db8::1"},
		{name: "CNAME made absolute and lower case", typ: "CNAME", content: "WWW.Example.NET", wantContent: "www.example.net."},
		{name: "NS", typ: "NS", content: "ns1.example.net.", wantContent: "ns1.example.net."},
		{name: "PTR", typ: "PTR", content: "host.example.com", wantContent: "host.example.com."},
		{name: "MX priority kept apart", typ: "MX", content: "Mail.example.com", priority: 10, wantContent: "mail.example.com.", wantPrio: 10},
		{name: "MX null MX", typ: "MX", content: ".", wantContent: "."},
		{name: "TXT unquoted becomes one quoted string", typ: "TXT", content: `v=spf1 include:_spf.example.com ~all`, wantContent: `"v=spf1 include:_spf.example.com ~all"`},
		{name: "TXT unquoted quotes escaped", typ: "TXT", content: `say "hi"`, wantContent: `"say \"hi\""`},
		{name: "TXT quoted strings kept", typ: "TXT", content: `"a" "b"`, wantContent: `"a" "b"`},
		{name: "TXT unquoted long split at 255", typ: "TXT", content: strings.Repeat("x", 300), wantContent: `"` + strings.Repeat("x", 255) + `" "` + strings.Repeat("x", 45) + `"`},
		{name: "TXT exactly 2048", typ: "TXT", content: strings.Repeat("y", 2048), wantContent: txtChunks(strings.Repeat("y", 2048))},
		{name: "CAA from content", typ: "CAA", content: `0 issue "letsencrypt.org"`, wantContent: `0 issue "letsencrypt.org"`,
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Caa{Caa: &dnsv1.CAAData{Flags: 0, Tag: "issue", Value: "letsencrypt.org"}}}},
		{name: "CAA from data", typ: "CAA", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Caa{Caa: &dnsv1.CAAData{Flags: 128, Tag: "iodef", Value: "mailto:a@example.com"}}},
			wantContent: `128 iodef "mailto:a@example.com"`,
			wantData:    &dnsv1.RecordData{Data: &dnsv1.RecordData_Caa{Caa: &dnsv1.CAAData{Flags: 128, Tag: "iodef", Value: "mailto:a@example.com"}}}},
		{name: "SRV from data", typ: "SRV", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Priority: 10, Weight: 5, Port: 5223, Target: "Server.example.com"}}},
			wantContent: "10 5 5223 server.example.com.",
			wantData:    &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Priority: 10, Weight: 5, Port: 5223, Target: "server.example.com."}}}},
		{name: "SRV content and data agree", typ: "SRV", content: "10 5 5223 server.example.com", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Priority: 10, Weight: 5, Port: 5223, Target: "server.example.com."}}},
			wantContent: "10 5 5223 server.example.com.",
			wantData:    &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Priority: 10, Weight: 5, Port: 5223, Target: "server.example.com."}}}},
		{name: "TLSA hex lower-cased", typ: "TLSA", content: "3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", wantContent: "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Tlsa{Tlsa: &dnsv1.TLSAData{Usage: 3, Selector: 1, MatchingType: 1, Certificate: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}}},
		{name: "SMIMEA from data", typ: "SMIMEA", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Smimea{Smimea: &dnsv1.TLSAData{Usage: 3, Selector: 0, MatchingType: 0, Certificate: "abcd"}}},
			wantContent: "3 0 0 abcd",
			wantData:    &dnsv1.RecordData{Data: &dnsv1.RecordData_Smimea{Smimea: &dnsv1.TLSAData{Usage: 3, Selector: 0, MatchingType: 0, Certificate: "abcd"}}}},
		{name: "SSHFP hex upper-cased", typ: "SSHFP", content: "4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", wantContent: "4 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Sshfp{Sshfp: &dnsv1.SSHFPData{Algorithm: 4, Type: 2, Fingerprint: "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}}}},
		{name: "HTTPS params", typ: "HTTPS", content: `1 . alpn=h3,h2 ipv4hint=192.0.2.1`, wantContent: `1 . alpn="h3,h2" ipv4hint="192.0.2.1"`,
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Svcb{Svcb: &dnsv1.SVCBData{Priority: 1, Target: ".", Value: `alpn="h3,h2" ipv4hint="192.0.2.1"`}}}},
		{name: "SVCB from data", typ: "SVCB", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Svcb{Svcb: &dnsv1.SVCBData{Priority: 1, Target: "svc.example.com", Value: "port=8443"}}},
			wantContent: `1 svc.example.com. port="8443"`,
			wantData:    &dnsv1.RecordData{Data: &dnsv1.RecordData_Svcb{Svcb: &dnsv1.SVCBData{Priority: 1, Target: "svc.example.com.", Value: `port="8443"`}}}},
		{name: "HTTPS alias mode", typ: "HTTPS", content: `0 other.example.net`, wantContent: `0 other.example.net.`,
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Svcb{Svcb: &dnsv1.SVCBData{Priority: 0, Target: "other.example.net."}}}},
		{name: "URI from content", typ: "URI", content: `1 "https://example.com/"`, priority: 10, wantContent: `1 "https://example.com/"`, wantPrio: 10,
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Uri{Uri: &dnsv1.URIData{Weight: 1, Target: "https://example.com/"}}}},
		{name: "URI from data", typ: "URI", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Uri{Uri: &dnsv1.URIData{Weight: 5, Target: "ftp://example.com/x"}}}, priority: 3,
			wantContent: `5 "ftp://example.com/x"`, wantPrio: 3,
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Uri{Uri: &dnsv1.URIData{Weight: 5, Target: "ftp://example.com/x"}}}},
		{name: "NAPTR from data", typ: "NAPTR", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Naptr{Naptr: &dnsv1.NAPTRData{Order: 100, Preference: 10, Flags: "S", Service: "SIP+D2U", Replacement: "_sip._udp.example.com"}}},
			wantContent: `100 10 "S" "SIP+D2U" "" _sip._udp.example.com.`,
			wantData:    &dnsv1.RecordData{Data: &dnsv1.RecordData_Naptr{Naptr: &dnsv1.NAPTRData{Order: 100, Preference: 10, Flags: "S", Service: "SIP+D2U", Replacement: "_sip._udp.example.com."}}}},
		{name: "CERT mnemonic", typ: "CERT", content: "PKIX 2 RSASHA256 AwEAAQ==", wantContent: "PKIX 2 RSASHA256 AwEAAQ==",
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Cert{Cert: &dnsv1.CERTData{Type: 1, KeyTag: 2, Algorithm: 8, Certificate: "AwEAAQ=="}}}},
		{name: "DNSKEY", typ: "DNSKEY", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Dnskey{Dnskey: &dnsv1.DNSKEYData{Flags: 257, Protocol: 3, Algorithm: 13, PublicKey: "AwEAAQ=="}}},
			wantContent: "257 3 13 AwEAAQ==",
			wantData:    &dnsv1.RecordData{Data: &dnsv1.RecordData_Dnskey{Dnskey: &dnsv1.DNSKEYData{Flags: 257, Protocol: 3, Algorithm: 13, PublicKey: "AwEAAQ=="}}}},
		{name: "DS digest upper-cased", typ: "DS", content: "2371 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", wantContent: "2371 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Ds{Ds: &dnsv1.DSData{KeyTag: 2371, Algorithm: 13, DigestType: 2, Digest: "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}}}},
		{name: "OPENPGPKEY", typ: "OPENPGPKEY", content: "AwEAAQ==", wantContent: "AwEAAQ=="},
		{name: "LOC from data", typ: "LOC", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Loc{Loc: &dnsv1.LOCData{
			LatDegrees: 52, LatMinutes: 22, LatSeconds: 23, LatDirection: "N", LongDegrees: 4, LongMinutes: 53, LongSeconds: 32, LongDirection: "E",
			Altitude: -2, Size: 1, PrecisionHorz: 10000, PrecisionVert: 10}}},
			wantContent: "52 22 23.000 N 04 53 32.000 E -2m 1m 10000m 10m",
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Loc{Loc: &dnsv1.LOCData{
				LatDegrees: 52, LatMinutes: 22, LatSeconds: 23, LatDirection: "N", LongDegrees: 4, LongMinutes: 53, LongSeconds: 32, LongDirection: "E",
				Altitude: -2, Size: 1, PrecisionHorz: 10000, PrecisionVert: 10}}}},
		{name: "LOC south west from content", typ: "LOC", content: "33 51 36.5 S 151 12 40 W 10m", wantContent: "33 51 36.500 S 151 12 40.000 W 10m 1m 10000m 10m",
			wantData: &dnsv1.RecordData{Data: &dnsv1.RecordData_Loc{Loc: &dnsv1.LOCData{
				LatDegrees: 33, LatMinutes: 51, LatSeconds: 36.5, LatDirection: "S", LongDegrees: 151, LongMinutes: 12, LongSeconds: 40, LongDirection: "W",
				Altitude: 10, Size: 1, PrecisionHorz: 10000, PrecisionVert: 10}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.typ, tt.content, tt.data, tt.priority)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.Content != tt.wantContent {
				t.Errorf("content = %q, want %q", got.Content, tt.wantContent)
			}
			if got.Priority != tt.wantPrio {
				t.Errorf("priority = %d, want %d", got.Priority, tt.wantPrio)
			}
			if !proto.Equal(got.Data, tt.wantData) {
				t.Errorf("data = %v, want %v", got.Data, tt.wantData)
			}
			// The stored content must parse back to the same thing.
			again, err := Parse(tt.typ, got.Content, got.Data, got.Priority)
			if err != nil {
				t.Fatalf("re-parse of stored form: %v", err)
			}
			if again.Content != got.Content {
				t.Errorf("not idempotent: %q -> %q", got.Content, again.Content)
			}
		})
	}
}

func txtChunks(s string) string {
	var parts []string
	for len(s) > 255 {
		parts = append(parts, `"`+s[:255]+`"`)
		s = s[255:]
	}
	return strings.Join(append(parts, `"`+s+`"`), " ")
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name      string
		typ       string
		content   string
		data      *dnsv1.RecordData
		priority  uint32
		wantField string
	}{
		{name: "unknown type", typ: "SPF", content: "x", wantField: "type"},
		{name: "nothing given", typ: "A", wantField: "content"},
		{name: "A short form", typ: "A", content: "1.2.3", wantField: "content"},
		{name: "A hex", typ: "A", content: "0x7f.1", wantField: "content"},
		{name: "A leading zeros", typ: "A", content: "01.2.3.4", wantField: "content"},
		{name: "A IPv6", typ: "A", content: "::1", wantField: "content"},
		{name: "A two addresses", typ: "A", content: "1.2.3.4 5.6.7.8", wantField: "content"},
		{name: "A newline injection", typ: "A", content: "1.2.3.4\nevil 300 IN A 6.6.6.6", wantField: "content"},
		{name: "AAAA IPv4", typ: "AAAA", content: "192.0.2.1", wantField: "content"},
		{name: "AAAA IPv4-mapped", typ: "AAAA", content: "::ffff:192.0.2.1", wantField: "content"},
		{name: "AAAA with zone", typ: "AAAA", content: "fe80::1%eth0", wantField: "content"},
		{name: "CNAME not a host name", typ: "CNAME", content: "not a host", wantField: "content"},
		{name: "CNAME to root", typ: "CNAME", content: ".", wantField: "content"},
		{name: "CNAME wildcard target", typ: "CNAME", content: "*.example.com", wantField: "content"},
		{name: "CNAME label too long", typ: "CNAME", content: strings.Repeat("a", 64) + ".com", wantField: "content"},
		{name: "MX with priority in content", typ: "MX", content: "10 mail.example.com", wantField: "content"},
		{name: "MX priority too large", typ: "MX", content: "mail.example.com", priority: 65536, wantField: "priority"},
		{name: "priority on A", typ: "A", content: "192.0.2.1", priority: 5, wantField: "priority"},
		{name: "TXT over 2048", typ: "TXT", content: strings.Repeat("z", 2049), wantField: "content"},
		{name: "TXT unbalanced quotes", typ: "TXT", content: `"this`, wantField: "content"},
		{name: "SRV port out of range in data", typ: "SRV", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Port: 70000, Target: "a.example.com"}}}, wantField: "data.srv.port"},
		{name: "SRV port out of range in content", typ: "SRV", content: "1 1 70000 a.example.com", wantField: "content"},
		{name: "SRV target missing", typ: "SRV", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Port: 5}}}, wantField: "data.srv.target"},
		{name: "SRV target with space", typ: "SRV", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Port: 5, Target: "a.com 1"}}}, wantField: "data.srv.target"},
		{name: "data of another type", typ: "TLSA", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Target: "a.com"}}}, wantField: "data.srv"},
		{name: "empty data", typ: "SRV", data: &dnsv1.RecordData{}, wantField: "data"},
		{name: "content and data disagree", typ: "SRV", content: "1 1 80 a.example.com", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Port: 81, Target: "a.example.com"}}}, wantField: "data"},
		{name: "CAA flags too large", typ: "CAA", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Caa{Caa: &dnsv1.CAAData{Flags: 256, Tag: "issue", Value: "ca"}}}, wantField: "data.caa.flags"},
		{name: "CAA bad tag", typ: "CAA", content: `0 iss-ue "ca"`, wantField: "content"},
		{name: "TLSA bad hex", typ: "TLSA", content: "3 1 1 zz", wantField: "content"},
		{name: "TLSA SHA-256 of the wrong length", typ: "TLSA", content: "3 1 1 abcdef", wantField: "content"},
		{name: "SMIMEA SHA-512 of the wrong length", typ: "SMIMEA", content: "3 1 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", wantField: "content"},
		{name: "SSHFP SHA-1 of the wrong length", typ: "SSHFP", content: "1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", wantField: "content"},
		{name: "DS SHA-256 of the wrong length", typ: "DS", content: "2371 13 2 abcd", wantField: "content"},
		{name: "DS SHA-384 of the wrong length", typ: "DS", content: "2371 13 4 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", wantField: "content"},
		{name: "TLSA usage too large", typ: "TLSA", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Tlsa{Tlsa: &dnsv1.TLSAData{Usage: 256, Certificate: "ab"}}}, wantField: "data.tlsa.usage"},
		{name: "SSHFP bad hex", typ: "SSHFP", content: "1 1 XYZ", wantField: "content"},
		{name: "DNSKEY bad base64", typ: "DNSKEY", content: "257 3 8 !!!", wantField: "content"},
		{name: "DNSKEY protocol not 3", typ: "DNSKEY", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Dnskey{Dnskey: &dnsv1.DNSKEYData{Flags: 257, Protocol: 4, Algorithm: 8, PublicKey: "AwEAAQ=="}}}, wantField: "data.dnskey.protocol"},
		{name: "DS digest missing", typ: "DS", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Ds{Ds: &dnsv1.DSData{KeyTag: 1, Algorithm: 8, DigestType: 2}}}, wantField: "data.ds.digest"},
		{name: "OPENPGPKEY bad base64", typ: "OPENPGPKEY", content: "!!", wantField: "content"},
		{name: "HTTPS alias with params", typ: "HTTPS", content: "0 foo.example.com alpn=h2", wantField: "content"},
		{name: "SVCB bad param", typ: "SVCB", content: "1 . nonsense=1", wantField: "content"},
		{name: "URI empty target", typ: "URI", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Uri{Uri: &dnsv1.URIData{Weight: 1}}}, wantField: "data.uri.target"},
		{name: "LOC latitude too large", typ: "LOC", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Loc{Loc: &dnsv1.LOCData{LatDegrees: 91, LatDirection: "N", LongDirection: "E"}}}, wantField: "data.loc.lat_degrees"},
		{name: "LOC bad direction", typ: "LOC", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Loc{Loc: &dnsv1.LOCData{LatDirection: "X", LongDirection: "E"}}}, wantField: "data.loc.lat_direction"},
		{name: "LOC seconds 60", typ: "LOC", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Loc{Loc: &dnsv1.LOCData{LatSeconds: 60, LatDirection: "N", LongDirection: "E"}}}, wantField: "data.loc.lat_seconds"},
		{name: "NAPTR order too large", typ: "NAPTR", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Naptr{Naptr: &dnsv1.NAPTRData{Order: 70000}}}, wantField: "data.naptr.order"},
		{name: "CERT data quoted newline", typ: "CERT", data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Cert{Cert: &dnsv1.CERTData{Certificate: "AA==\nx"}}}, wantField: "data.cert.certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.typ, tt.content, tt.data, tt.priority)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse error = %v, want a FieldError on %s", err, tt.wantField)
			}
			if fe.Field != tt.wantField {
				t.Errorf("field = %q (%s), want %q", fe.Field, fe.Description, tt.wantField)
			}
		})
	}
}

func TestTXTLengthCountsTextNotQuotes(t *testing.T) {
	tests := []struct {
		content string
		want    int
	}{
		{`"abc" "de"`, 5},
		{`abc de`, 6},
		{`"say \"hi\""`, 8},
		{strings.Repeat("x", 600), 600},
	}
	for _, tt := range tests {
		if got := TXTLength(tt.content); got != tt.want {
			t.Errorf("TXTLength(%.20q) = %d, want %d", tt.content, got, tt.want)
		}
	}
}
