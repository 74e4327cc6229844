package records_test

import (
	"strings"
	"testing"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// listNames pages through a listing (pages of 2) and returns
// "relative-name/TYPE" of each record in the order listed.
func (e *env) listNames(t *testing.T, req *dnsv1.ListRecordsRequest) []string {
	t.Helper()
	req.ZoneId, req.PageSize = e.zone.GetId(), 2
	var out []string
	for range 100 {
		resp, err := e.client.ListRecords(ctx(t), req)
		if err != nil {
			t.Fatalf("list %v: %v", req, err)
		}
		for _, r := range resp.GetRecords() {
			n := strings.TrimSuffix(strings.TrimSuffix(r.GetName(), "example.com."), ".")
			if n == "" {
				n = "@"
			}
			out = append(out, n+"/"+r.GetType())
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return out
		}
	}
	t.Fatal("listing does not end")
	return nil
}

func TestListRecordsFiltersAsRequested(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_PRO)
	for _, r := range []*dnsv1.Record{
		{Name: "@", Type: "A", Content: "192.0.2.1", Ttl: 300, Proxied: true, Comment: "apex web", Tags: []string{"Team:web"}},
		{Name: "@", Type: "TXT", Content: "\"v=spf1 -all\"", Ttl: 3600},
		{Name: "api", Type: "A", Content: "192.0.2.7", Ttl: 60, Tags: []string{"team:api", "env:prod"}},
		{Name: "v1.api", Type: "AAAA", Content: "2001:db8::1", Ttl: 120, Comment: "old API", Tags: []string{"team:api"}},
		{Name: "xapi", Type: "TXT", Content: "\"Hello World\"", Ttl: 120},
		{Name: "mail", Type: "MX", Content: "mx.example.net", Priority: 10, Ttl: 300, Comment: "mail"},
	} {
		e.create(t, r)
	}
	yes := true
	tests := []struct {
		name string
		req  *dnsv1.ListRecordsRequest
		want string
	}{
		{"default order is the zone tree", &dnsv1.ListRecordsRequest{}, "@/* @/* api/A v1.api/AAAA mail/MX xapi/TXT"},
		{"exact name, any case, relative", &dnsv1.ListRecordsRequest{NameFilter: &dnsv1.TextFilter{Exact: "API"}}, "api/A"},
		{"name and name_filter.exact agree", &dnsv1.ListRecordsRequest{Name: "api", NameFilter: &dnsv1.TextFilter{Exact: "api.example.com."}}, "api/A"},
		{"ends_with a relative name is its subtree", &dnsv1.ListRecordsRequest{NameFilter: &dnsv1.TextFilter{EndsWith: "api"}}, "api/A v1.api/AAAA"},
		{"ends_with with a leading dot is below only", &dnsv1.ListRecordsRequest{NameFilter: &dnsv1.TextFilter{EndsWith: ".api"}}, "v1.api/AAAA"},
		{"ends_with @ is the zone", &dnsv1.ListRecordsRequest{NameFilter: &dnsv1.TextFilter{EndsWith: "@"}}, "@/* @/* api/A v1.api/AAAA mail/MX xapi/TXT"},
		{"name contains folds case", &dnsv1.ListRecordsRequest{NameFilter: &dnsv1.TextFilter{Contains: "API"}}, "api/A v1.api/AAAA xapi/TXT"},
		{"name starts_with", &dnsv1.ListRecordsRequest{NameFilter: &dnsv1.TextFilter{StartsWith: "X"}}, "xapi/TXT"},
		{"content contains folds case", &dnsv1.ListRecordsRequest{ContentFilter: &dnsv1.TextFilter{Contains: "hello"}}, "xapi/TXT"},
		{"content exact is canonicalized with a type", &dnsv1.ListRecordsRequest{Type: "AAAA", ContentFilter: &dnsv1.TextFilter{Exact: "2001:DB8:0::1"}}, "v1.api/AAAA"},
		{"comment present", &dnsv1.ListRecordsRequest{Comment: &dnsv1.TextFilter{Present: true}}, "@/A v1.api/AAAA mail/MX"},
		{"comment absent", &dnsv1.ListRecordsRequest{Comment: &dnsv1.TextFilter{Absent: true}}, "@/TXT api/A xapi/TXT"},
		{"comment contains is case-sensitive", &dnsv1.ListRecordsRequest{Comment: &dnsv1.TextFilter{Contains: "API"}}, "v1.api/AAAA"},
		{"tag name is case-insensitive", &dnsv1.ListRecordsRequest{Tags: []*dnsv1.TagFilter{{Exact: "TEAM:web"}}}, "@/A"},
		{"tag value is case-sensitive", &dnsv1.ListRecordsRequest{Tags: []*dnsv1.TagFilter{{Exact: "team:WEB"}}}, ""},
		{"tag present and absent", &dnsv1.ListRecordsRequest{Tags: []*dnsv1.TagFilter{{Present: "team"}, {Absent: "env"}}}, "@/A v1.api/AAAA"},
		{"tag contains", &dnsv1.ListRecordsRequest{Tags: []*dnsv1.TagFilter{{Contains: "team:p"}}}, "api/A v1.api/AAAA"},
		{"tag_match any", &dnsv1.ListRecordsRequest{TagMatch: dnsv1.Match_MATCH_ANY,
			Tags: []*dnsv1.TagFilter{{Exact: "team:web"}, {Exact: "env:prod"}}}, "@/A api/A"},
		{"match any: type or the tags as one", &dnsv1.ListRecordsRequest{Match: dnsv1.Match_MATCH_ANY, Type: "MX",
			Tags: []*dnsv1.TagFilter{{Exact: "team:api"}, {Exact: "env:prod"}}}, "api/A mail/MX"},
		{"match all (default)", &dnsv1.ListRecordsRequest{Type: "A", Proxied: &yes}, "@/A"},
		{"match any: proxied or a subtree", &dnsv1.ListRecordsRequest{Match: dnsv1.Match_MATCH_ANY, Proxied: &yes,
			NameFilter: &dnsv1.TextFilter{EndsWith: ".api"}}, "@/A v1.api/AAAA"},
		{"order by ttl, descending", &dnsv1.ListRecordsRequest{Order: dnsv1.RecordOrder_RECORD_ORDER_TTL, Descending: true},
			"@/TXT mail/MX xapi/TXT v1.api/AAAA api/A @/A"},
		{"order by type", &dnsv1.ListRecordsRequest{Order: dnsv1.RecordOrder_RECORD_ORDER_TYPE},
			"@/A api/A v1.api/AAAA mail/MX @/TXT xapi/TXT"},
		{"order by content", &dnsv1.ListRecordsRequest{Order: dnsv1.RecordOrder_RECORD_ORDER_CONTENT},
			"xapi/TXT @/TXT @/A api/A v1.api/AAAA mail/MX"},
		{"order by proxied, descending", &dnsv1.ListRecordsRequest{Order: dnsv1.RecordOrder_RECORD_ORDER_PROXIED, Descending: true},
			"@/A xapi/TXT mail/MX v1.api/AAAA api/A @/TXT"},
		{"order by name, descending", &dnsv1.ListRecordsRequest{Order: dnsv1.RecordOrder_RECORD_ORDER_NAME, Descending: true},
			"xapi/TXT mail/MX v1.api/AAAA api/A @/* @/*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.listNames(t, tt.req)
			for i, n := range got {
				// The apex's two records sort by their random ids.
				if strings.HasPrefix(n, "@/") && strings.Contains(tt.want, "@/*") {
					got[i] = "@/*"
				}
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Fatalf("listed %q\nwant   %q", s, tt.want)
			}
		})
	}
}

func TestListRecordsRefusesBadRequestsNamingTheField(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_PRO)
	e.create(t, &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1"})
	e.create(t, &dnsv1.Record{Name: "ftp", Type: "A", Content: "192.0.2.2"})
	first, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: e.zone.GetId(), PageSize: 1, Type: "A"})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v %v", first, err)
	}
	tok := first.GetNextPageToken()
	tests := []struct {
		name  string
		req   *dnsv1.ListRecordsRequest
		field string
	}{
		{"tag filter with no test", &dnsv1.ListRecordsRequest{Tags: []*dnsv1.TagFilter{{}}}, "tags[0]"},
		{"tag filter with two tests", &dnsv1.ListRecordsRequest{Tags: []*dnsv1.TagFilter{{Present: "a"}, {Present: "b", Exact: "b:c"}}}, "tags[1]"},
		{"tag exact without a colon", &dnsv1.ListRecordsRequest{Tags: []*dnsv1.TagFilter{{Exact: "team"}}}, "tags[0].exact"},
		{"tag contains without a colon", &dnsv1.ListRecordsRequest{Tags: []*dnsv1.TagFilter{{Contains: "team"}}}, "tags[0].contains"},
		{"tag name with a bad character", &dnsv1.ListRecordsRequest{Tags: []*dnsv1.TagFilter{{Present: "te am"}}}, "tags[0].present"},
		{"comment present and absent", &dnsv1.ListRecordsRequest{Comment: &dnsv1.TextFilter{Present: true, Absent: true}}, "comment"},
		{"comment absent with a text test", &dnsv1.ListRecordsRequest{Comment: &dnsv1.TextFilter{Absent: true, Contains: "x"}}, "comment.absent"},
		{"name present", &dnsv1.ListRecordsRequest{NameFilter: &dnsv1.TextFilter{Present: true}}, "name_filter"},
		{"content absent", &dnsv1.ListRecordsRequest{ContentFilter: &dnsv1.TextFilter{Absent: true}}, "content_filter"},
		{"name outside the zone", &dnsv1.ListRecordsRequest{NameFilter: &dnsv1.TextFilter{Exact: "www.example.org."}}, "name_filter.exact"},
		{"ends_with outside the zone", &dnsv1.ListRecordsRequest{NameFilter: &dnsv1.TextFilter{EndsWith: "example.org."}}, "name_filter.ends_with"},
		{"name and name_filter.exact differ", &dnsv1.ListRecordsRequest{Name: "www", NameFilter: &dnsv1.TextFilter{Exact: "ftp"}}, "name_filter.exact"},
		{"unknown match", &dnsv1.ListRecordsRequest{Match: 7}, "match"},
		{"unknown tag_match", &dnsv1.ListRecordsRequest{TagMatch: 7}, "tag_match"},
		{"unknown order", &dnsv1.ListRecordsRequest{Order: 9}, "order"},
		{"token of another filter", &dnsv1.ListRecordsRequest{Type: "AAAA", PageToken: tok}, "page_token"},
		{"token of another order", &dnsv1.ListRecordsRequest{Type: "A", Order: dnsv1.RecordOrder_RECORD_ORDER_TTL, PageToken: tok}, "page_token"},
		{"token of another direction", &dnsv1.ListRecordsRequest{Type: "A", Descending: true, PageToken: tok}, "page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.ZoneId = e.zone.GetId()
			_, err := e.client.ListRecords(ctx(t), tt.req)
			wantInvalid(t, err, tt.field)
			if tt.field == "page_token" && !strings.Contains(err.Error(), "is not a token of this listing") {
				t.Fatalf("error %v does not say why", err)
			}
		})
	}
	t.Run("the same listing takes its token", func(t *testing.T) {
		resp, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: e.zone.GetId(), PageSize: 1, Type: "a", PageToken: tok})
		if err != nil || len(resp.GetRecords()) != 1 || resp.GetRecords()[0].GetId() == first.GetRecords()[0].GetId() {
			t.Fatalf("second page: %v %v", resp, err)
		}
	})
}
