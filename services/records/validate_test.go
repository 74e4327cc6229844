package records

import (
	"errors"
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
		{"no colon", []string{"team"}, dnsv1.Plan_PLAN_PRO, "tags[0]", ""},
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
