package records

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/zonegrid/zonegrid/controlplane/plans"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestDefaultNonProxiableMatchesTheDocuments(t *testing.T) {
	np := DefaultNonProxiable()
	tests := []struct {
		target string
		want   bool
	}{
		{"dkim2.mcsv.net.", true},
		{"DKIM3.mcsv.net", true},
		{"x.dkim2.mcsv.net.", false}, // exact match only
		{"zmverify.zoho.com.", true},
		{"dkim.infusionmail.com.", true},
		{"dkim.amazonses.com.", true}, // exact or subdomain
		{"abc.dkim.amazonses.com.", true},
		{"amazonses.com.", false},
		{"onmicrosoft.com.", false}, // subdomain only
		{"selector1-x._domainkey.contoso.onmicrosoft.com.", true},
		{"dkim.intercom.io.", false},
		{"a.dkim.intercom.io.", true},
		{"_x.acm-validations.aws.", true},
		{"notonmicrosoft.com.", false},
		{"www.example.net.", false},
	}
	for _, tt := range tests {
		if got := np.Blocks(tt.target); got != tt.want {
			t.Errorf("Blocks(%q) = %v, want %v", tt.target, got, tt.want)
		}
	}
}

func TestParseNonProxiable(t *testing.T) {
	np, err := ParseNonProxiable(strings.NewReader("# comment\nexact a.example.\n\nexact-or-subdomain B.example\nsubdomain c.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]bool{"a.example.": true, "x.a.example.": false, "b.example.": true, "x.b.example.": true, "c.example.": false, "x.c.example.": true} {
		if np.Blocks(target) != want {
			t.Errorf("Blocks(%q) != %v", target, want)
		}
	}
	for _, bad := range []string{"exact", "weird a.example", "exact a b", "exact bad..name"} {
		if _, err := ParseNonProxiable(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseNonProxiable(%q) accepted", bad)
		}
	}
}

func TestTTLRules(t *testing.T) {
	tests := []struct {
		name    string
		ttl     uint32
		proxied bool
		plan    dnsv1.Plan
		want    uint32
		wantErr bool
	}{
		{"zero means automatic", 0, false, dnsv1.Plan_PLAN_FREE, 1, false},
		{"automatic", 1, false, dnsv1.Plan_PLAN_FREE, 1, false},
		{"minimum on free", 60, false, dnsv1.Plan_PLAN_FREE, 60, false},
		{"below minimum on free", 59, false, dnsv1.Plan_PLAN_FREE, 0, true},
		{"two is not automatic", 2, false, dnsv1.Plan_PLAN_FREE, 0, true},
		{"30 on enterprise", 30, false, dnsv1.Plan_PLAN_ENTERPRISE, 30, false},
		{"30 on business", 30, false, dnsv1.Plan_PLAN_BUSINESS, 0, true},
		{"one day", 86400, false, dnsv1.Plan_PLAN_PRO, 86400, false},
		{"over one day", 86401, false, dnsv1.Plan_PLAN_PRO, 0, true},
		{"proxied forces automatic", 3600, true, dnsv1.Plan_PLAN_FREE, 1, false},
		{"proxied ignores invalid", 5, true, dnsv1.Plan_PLAN_FREE, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ttl(tt.ttl, tt.proxied, tt.plan)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ttl(%d) = %d, %v; want %d, err %v", tt.ttl, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func twenty() []string {
	out := make([]string, 20)
	for i := range out {
		out[i] = fmt.Sprintf("t%d:v", i)
	}
	return out
}

func TestTagsAreStoredWithLowerCaseNamesAndValuesAsGiven(t *testing.T) {
	got, err := tags([]string{"Env:Prod", "Tag-Without-Value"}, dnsv1.Plan_PLAN_PRO)
	if err != nil || !slices.Equal(got, []string{"env:Prod", "tag-without-value"}) {
		t.Fatalf("tags = %q, %v; want [env:Prod tag-without-value]", got, err)
	}
}

func TestTagNamesAreStoredLowerCase(t *testing.T) {
	got, err := tags([]string{"Team-A_1:Web"}, dnsv1.Plan_PLAN_PRO)
	if err != nil || len(got) != 1 || got[0] != "team-a_1:Web" {
		t.Fatalf("tags = %q, %v; want [team-a_1:Web]", got, err)
	}
}

func TestTagRules(t *testing.T) {
	tests := []struct {
		name      string
		tags      []string
		plan      dnsv1.Plan
		wantField string
		wantLimit string // plans limit named by the error, "" for a format error
	}{
		{"valid", []string{"team:web", "env:"}, dnsv1.Plan_PLAN_PRO, "", ""},
		{"no tags on free is fine", nil, dnsv1.Plan_PLAN_FREE, "", ""},
		{"tags refused on free", []string{"team:web"}, dnsv1.Plan_PLAN_FREE, "tags", plans.LimitTags},
		// A bare name is a tag without a value (the import page's
		// "tag-without-value"); it was refused before.
		{"a bare name is a tag without a value", []string{"team"}, dnsv1.Plan_PLAN_PRO, "", ""},
		{"reserved cf-proxied", []string{"cf-proxied:true"}, dnsv1.Plan_PLAN_PRO, "tags[0]", ""},
		{"reserved cf-flatten-cname", []string{"team:web", "cf-flatten-cname"}, dnsv1.Plan_PLAN_PRO, "tags[1]", ""},
		{"reserved prefix in another case", []string{"CF-anything:x"}, dnsv1.Plan_PLAN_PRO, "tags[0]", ""},
		{"cf without the hyphen is an ordinary name", []string{"cfg:x"}, dnsv1.Plan_PLAN_PRO, "", ""},
		{"name of 32 characters", []string{strings.Repeat("n", 32) + ":v"}, dnsv1.Plan_PLAN_PRO, "", ""},
		{"value of 100 characters", []string{"n:" + strings.Repeat("v", 100)}, dnsv1.Plan_PLAN_PRO, "", ""},
		{"value with a newline", []string{"n:a\nb"}, dnsv1.Plan_PLAN_PRO, "tags[0]", ""},
		{"value with a carriage return", []string{"n:a\rb"}, dnsv1.Plan_PLAN_PRO, "tags[0]", ""},
		{"value may hold unicode", []string{"owner:Zoë 🚀"}, dnsv1.Plan_PLAN_PRO, "", ""},
		{"twenty tags", twenty(), dnsv1.Plan_PLAN_BUSINESS, "", ""},
		{"empty name", []string{":v"}, dnsv1.Plan_PLAN_PRO, "tags[0]", ""},
		{"name too long", []string{strings.Repeat("n", 33) + ":v"}, dnsv1.Plan_PLAN_BUSINESS, "tags[0]", plans.LimitTagNameLength},
		{"value too long", []string{"n:" + strings.Repeat("v", 101)}, dnsv1.Plan_PLAN_ENTERPRISE, "tags[0]", plans.LimitTagValueLength},
		{"duplicate", []string{"a:b", "a:b"}, dnsv1.Plan_PLAN_PRO, "tags[1]", ""},
		{"duplicate in another case", []string{"Team:web", "team:web"}, dnsv1.Plan_PLAN_PRO, "tags[1]", ""},
		{"name with a space", []string{"my team:web"}, dnsv1.Plan_PLAN_PRO, "tags[0]", ""},
		{"name with a dot", []string{"team.a:web"}, dnsv1.Plan_PLAN_PRO, "tags[0]", ""},
		{"value may hold a colon and spaces", []string{"url:http://x y"}, dnsv1.Plan_PLAN_PRO, "", ""},
		{"too many", make([]string, 21), dnsv1.Plan_PLAN_PRO, "tags", plans.LimitTagsPerRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tags(tt.tags, tt.plan)
			if tt.wantField == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var le *plans.LimitError
			if errors.As(err, &le) {
				if le.Field != tt.wantField || le.Limit != tt.wantLimit {
					t.Fatalf("tags(%q) = %v (limit %s), want field %s limit %s", tt.tags, err, le.Limit, tt.wantField, tt.wantLimit)
				}
				return
			}
			fe, ok := err.(*fieldError)
			if !ok || fe.Field != tt.wantField || tt.wantLimit != "" {
				t.Fatalf("tags(%q) error %v, want field %s limit %q", tt.tags, err, tt.wantField, tt.wantLimit)
			}
		})
	}
}

func TestCommentRules(t *testing.T) {
	tests := []struct {
		name      string
		comment   string
		plan      dnsv1.Plan
		wantField bool
		wantLimit string
	}{
		{"100 characters on free", strings.Repeat("c", 100), dnsv1.Plan_PLAN_FREE, false, ""},
		{"101 characters on free", strings.Repeat("c", 101), dnsv1.Plan_PLAN_FREE, true, plans.LimitCommentLength},
		{"500 characters on pro", strings.Repeat("c", 500), dnsv1.Plan_PLAN_PRO, false, ""},
		{"501 characters on enterprise", strings.Repeat("c", 501), dnsv1.Plan_PLAN_ENTERPRISE, true, plans.LimitCommentLength},
		{"characters, not bytes, count", strings.Repeat("é", 100), dnsv1.Plan_PLAN_FREE, false, ""},
		{"newline refused", "a\nb", dnsv1.Plan_PLAN_PRO, true, ""},
		{"carriage return refused", "a\rb", dnsv1.Plan_PLAN_PRO, true, ""},
		{"case and punctuation kept", "Owned by Team-A: see https://x/y?z=1", dnsv1.Plan_PLAN_FREE, false, ""},
		{"invalid UTF-8 refused", "\xff", dnsv1.Plan_PLAN_PRO, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := comment(tt.comment, tt.plan)
			if !tt.wantField {
				if err != nil || got != tt.comment {
					t.Fatalf("comment = %q, %v; want it kept", got, err)
				}
				return
			}
			var le *plans.LimitError
			if errors.As(err, &le) {
				if le.Field != "comment" || le.Limit != tt.wantLimit {
					t.Fatalf("error %v (limit %s), want field comment limit %q", err, le.Limit, tt.wantLimit)
				}
				return
			}
			fe, ok := err.(*fieldError)
			if !ok || fe.Field != "comment" || tt.wantLimit != "" {
				t.Fatalf("error %v, want a field error on comment (limit %q)", err, tt.wantLimit)
			}
		})
	}
}

func TestNameRules(t *testing.T) {
	const apex = "example.com."
	tests := []struct {
		name    string
		typ     string
		in      string
		want    string // "" when refused
		wantMsg string // part of the error, when refused
	}{
		{"at sign is the apex", "A", "@", "example.com.", ""},
		{"relative name", "A", "www", "www.example.com.", ""},
		{"name ending in the zone", "A", "WWW.Example.com", "www.example.com.", ""},
		{"absolute name in the zone", "A", "www.example.com.", "www.example.com.", ""},
		{"absolute name outside the zone", "A", "www.example.net.", "", "not inside the zone"},
		{"relative name that looks foreign stays inside", "A", "www.example.net", "www.example.net.example.com.", ""},
		{"label of 63 characters", "A", strings.Repeat("a", 63), strings.Repeat("a", 63) + ".example.com.", ""},
		{"label of 64 characters", "A", strings.Repeat("a", 64), "", "63"},
		{"name over 253 characters", "TXT", strings.Repeat(strings.Repeat("a", 60)+".", 4) + "x", "", "253"},
		{"empty label", "A", "a..b", "", "empty label"},
		{"space refused", "A", "my host", "", "invalid character"},
		{"wildcard as the first label", "A", "*.www", "*.www.example.com.", ""},
		{"asterisk as a later label is a literal", "A", "sub.*", "sub.*.example.com.", ""},
		{"asterisk inside a label of an address record", "A", "a*b", "", "asterisk"},
		{"underscore allowed", "CNAME", "_acme-challenge", "_acme-challenge.example.com.", ""},
		{"label may start with a digit", "A", "3d", "3d.example.com.", ""},
		{"label starting with a hyphen", "A", "-www", "", "hyphen"},
		{"label ending with a hyphen", "AAAA", "www-", "", "end with a letter or digit"},
		{"label ending with an underscore", "CNAME", "www_", "", "end with a letter or digit"},
		{"host rules only for address records and CNAME", "TXT", "www-", "www-.example.com.", ""},
		{"srv owner with underscores", "SRV", "_sip._tcp", "_sip._tcp.example.com.", ""},
		{"unicode stored as punycode", "A", "Bücher", "xn--bcher-kva.example.com.", ""},
		{"unicode beside an underscore label", "TXT", "_x.bücher", "_x.xn--bcher-kva.example.com.", ""},
		{"invalid unicode label", "A", "a\u200Eb", "", "internationalized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := qualifyName(tt.in, apex)
			if err == nil {
				err = hostLabels(tt.typ, got)
			}
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("name %q = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			fe, ok := err.(*fieldError)
			if !ok || fe.Field != "name" || !strings.Contains(fe.Description, tt.wantMsg) {
				t.Fatalf("name %q: error %v, want a field error on name containing %q", tt.in, err, tt.wantMsg)
			}
		})
	}
}

func TestProxiedAddressRules(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		content string
		refused bool
	}{
		{"public v4", "A", "203.0.113.7", false},
		{"public v6", "AAAA", "2606:4700::1", false},
		{"documentation placeholder 192.0.2.0 (originless setups)", "A", "192.0.2.0", false},
		{"discard placeholder 100:: (originless setups)", "AAAA", "100::", false},
		{"rfc 1918 10/8", "A", "10.1.2.3", true},
		{"rfc 1918 172.16/12", "A", "172.20.0.1", true},
		{"rfc 1918 192.168/16", "A", "192.168.1.1", true},
		{"loopback v4", "A", "127.0.0.1", true},
		{"loopback v6", "AAAA", "::1", true},
		{"unspecified", "A", "0.0.0.0", true},
		{"this network", "A", "0.1.2.3", true},
		{"shared address space", "A", "100.64.1.1", true},
		{"link-local v4", "A", "169.254.1.1", true},
		{"link-local v6", "AAAA", "fe80::1", true},
		{"unique local v6", "AAAA", "fd00::1", true},
		{"multicast", "A", "224.0.0.1", true},
		{"reserved 240/4", "A", "250.1.1.1", true},
		{"broadcast", "A", "255.255.255.255", true},
		{"v4-mapped private", "AAAA", "::ffff:10.0.0.1", true},
		{"not an address type", "CNAME", "10.example.net.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := proxiableAddress(tt.typ, tt.content)
			if !tt.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if fe, ok := err.(*fieldError); !ok || fe.Field != "proxied" {
				t.Fatalf("error %v, want a field error on proxied", err)
			}
		})
	}
}

func TestPrivateAddressesAreAllowedDNSOnly(t *testing.T) {
	zone := &dnsv1.Zone{Name: "example.com.", Plan: dnsv1.Plan_PLAN_FREE, Type: dnsv1.ZoneType_ZONE_TYPE_FULL}
	for _, c := range []string{"10.0.0.1", "127.0.0.1", "192.168.0.1"} {
		if _, err := normalize(&dnsv1.Record{Name: "internal", Type: "A", Content: c}, zone, nil, DefaultNonProxiable()); err != nil {
			t.Errorf("DNS-only %s refused: %v", c, err)
		}
		_, err := normalize(&dnsv1.Record{Name: "internal", Type: "A", Content: c, Proxied: true}, zone, nil, DefaultNonProxiable())
		if fe, ok := err.(*fieldError); !ok || fe.Field != "proxied" {
			t.Errorf("proxied %s: error %v, want a field error on proxied", c, err)
		}
	}
}

func TestAnycastAddressesAreRefused(t *testing.T) {
	pool := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("2001:db8::10")}
	tests := []struct {
		name    string
		typ     string
		content string
		pool    []netip.Addr
		refused bool
	}{
		{"v4 pool address", "A", "192.0.2.10", pool, true},
		{"v6 pool address", "AAAA", "2001:db8::10", pool, true},
		{"v4 pool address written as mapped v6", "AAAA", "::ffff:192.0.2.11", pool, true},
		{"neighbour of a pool address", "A", "192.0.2.12", pool, false},
		{"origin address", "A", "203.0.113.1", pool, false},
		{"no pools configured", "A", "192.0.2.10", nil, false},
		{"other types are not addresses", "TXT", "192.0.2.10", pool, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := anycastAddress(tt.typ, tt.content, tt.pool)
			if !tt.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if fe, ok := err.(*fieldError); !ok || fe.Field != "content" || !strings.Contains(fe.Description, "anycast") {
				t.Fatalf("error %v, want a field error on content naming the anycast addresses", err)
			}
		})
	}
}

func TestNoDelegationInPartialZones(t *testing.T) {
	full := &dnsv1.Zone{Name: "example.com.", Plan: dnsv1.Plan_PLAN_PRO, Type: dnsv1.ZoneType_ZONE_TYPE_FULL}
	partial := &dnsv1.Zone{Name: "example.com.", Plan: dnsv1.Plan_PLAN_PRO, Type: dnsv1.ZoneType_ZONE_TYPE_PARTIAL}
	tests := []struct {
		name    string
		zone    *dnsv1.Zone
		rname   string
		refused bool
	}{
		{"delegation in a full zone", full, "internal", false},
		{"delegation in a partial zone", partial, "internal", true},
		{"apex NS in a partial zone is not a delegation", partial, "@", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := normalize(&dnsv1.Record{Name: tt.rname, Type: "NS", Content: "ns1.other.net"}, tt.zone, nil, DefaultNonProxiable())
			if !tt.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if fe, ok := err.(*fieldError); !ok || fe.Field != "type" {
				t.Fatalf("error %v, want a field error on type", err)
			}
		})
	}
}
