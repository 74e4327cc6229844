package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// listFixture is a zone with names at several depths, mixed case content,
// comments and tags.
func listFixture(t *testing.T, s *store.Store) (string, []*dnsv1.Record) {
	t.Helper()
	z := createZone(t, s, "acct1", "example.com.")
	r := func(id, name, typ, content string, ttl uint32, proxied bool, comment string, tags ...string) *dnsv1.Record {
		return &dnsv1.Record{Id: id, Name: name, Type: typ, Content: content, Ttl: ttl, Proxied: proxied, Comment: comment, Tags: tags}
	}
	recs := []*dnsv1.Record{
		r("a1", "example.com.", "A", "192.0.2.1", 300, true, "apex web", "team:web", "env:prod"),
		r("a2", "example.com.", "TXT", "\"v=spf1 -all\"", 3600, false, ""),
		r("a3", "www.example.com.", "CNAME", "example.com.", 1, true, "Web front", "team:web"),
		r("a4", "api.example.com.", "A", "192.0.2.7", 60, false, "", "team:api", "env:staging"),
		r("a5", "v1.api.example.com.", "AAAA", "2001:db8::1", 120, false, "old API", "team:api", "env:prod"),
		r("a6", "v2.api.example.com.", "TXT", "\"Hello World\"", 120, false, ""),
		r("a7", "xapi.example.com.", "A", "192.0.2.9", 300, false, "not below api"),
		r("a8", "*.api.example.com.", "A", "192.0.2.8", 300, false, ""),
		r("a9", "mail.example.com.", "MX", "mx.example.net.", 300, false, "", "owner:Ops"),
	}
	if err := s.UpdateRecords(ctxT(t), z.GetId(), put(recs...)); err != nil {
		t.Fatalf("put fixture: %v", err)
	}
	return z.GetId(), recs
}

// listAll pages through a listing with pages of size and returns the ids
// in the order listed.
func listAll(t *testing.T, s *store.Store, zid string, f store.RecordFilter, size int) []string {
	t.Helper()
	var ids []string
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("listing does not end")
		}
		rs, next, err := s.ListRecords(ctxT(t), zid, f, size, tok)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		for _, r := range rs {
			ids = append(ids, r.GetId())
		}
		if next == "" {
			return ids
		}
		if len(rs) != size {
			t.Fatalf("non-final page has %d records, want %d", len(rs), size)
		}
		tok = next
	}
}

func TestListRecordsFiltersMatchTheDocumentedTests(t *testing.T) {
	s := newStore(t)
	zid, _ := listFixture(t, s)
	yes, no := true, false
	tests := []struct {
		name   string
		filter store.RecordFilter
		want   string // ids, sorted
	}{
		{"no filter lists everything", store.RecordFilter{}, "a1,a2,a3,a4,a5,a6,a7,a8,a9"},
		{"exact name (legacy field)", store.RecordFilter{Name: "example.com."}, "a1,a2"},
		{"name exact", store.RecordFilter{NameMatch: store.TextMatch{Exact: "api.example.com."}}, "a4"},
		{"name ends_with is the subtree, by labels", store.RecordFilter{NameMatch: store.TextMatch{EndsWith: "api.example.com."}}, "a4,a5,a6,a8"},
		{"name ends_with with a leading dot leaves the name out", store.RecordFilter{NameMatch: store.TextMatch{EndsWith: ".api.example.com."}}, "a5,a6,a8"},
		{"name ends_with the apex is the zone", store.RecordFilter{NameMatch: store.TextMatch{EndsWith: "example.com."}}, "a1,a2,a3,a4,a5,a6,a7,a8,a9"},
		{"name contains", store.RecordFilter{NameMatch: store.TextMatch{Contains: "api"}}, "a4,a5,a6,a7,a8"},
		{"name starts_with", store.RecordFilter{NameMatch: store.TextMatch{StartsWith: "v"}}, "a5,a6"},
		{"name parts all hold", store.RecordFilter{NameMatch: store.TextMatch{StartsWith: "v", Contains: "2"}}, "a6"},
		{"name contains does not see the final dot", store.RecordFilter{NameMatch: store.TextMatch{Contains: "com."}}, ""},
		{"type is case-insensitive", store.RecordFilter{Type: "txt"}, "a2,a6"},
		{"content exact", store.RecordFilter{ContentMatch: store.TextMatch{Exact: "192.0.2.7"}}, "a4"},
		{"content contains folds case", store.RecordFilter{ContentMatch: store.TextMatch{Contains: "hello"}}, "a6"},
		{"content starts_with", store.RecordFilter{ContentMatch: store.TextMatch{StartsWith: "192.0.2."}}, "a1,a4,a7,a8"},
		{"content ends_with", store.RecordFilter{ContentMatch: store.TextMatch{EndsWith: ".net."}}, "a9"},
		{"proxied", store.RecordFilter{Proxied: &yes}, "a1,a3"},
		{"not proxied and A", store.RecordFilter{Proxied: &no, Type: "A"}, "a4,a7,a8"},
		{"comment present", store.RecordFilter{Comment: store.TextMatch{Present: true}}, "a1,a3,a5,a7"},
		{"comment absent", store.RecordFilter{Comment: store.TextMatch{Absent: true}}, "a2,a4,a6,a8,a9"},
		{"comment contains is case-sensitive", store.RecordFilter{Comment: store.TextMatch{Contains: "web"}}, "a1"},
		{"comment exact", store.RecordFilter{Comment: store.TextMatch{Exact: "Web front"}}, "a3"},
		{"tag present", store.RecordFilter{Tags: []store.TagMatch{{Kind: store.TagPresent, Name: "env"}}}, "a1,a4,a5"},
		{"tag absent", store.RecordFilter{Tags: []store.TagMatch{{Kind: store.TagAbsent, Name: "team"}}}, "a2,a6,a7,a8,a9"},
		{"tag exact", store.RecordFilter{Tags: []store.TagMatch{{Kind: store.TagExact, Name: "env", Value: "prod"}}}, "a1,a5"},
		{"tag value is case-sensitive", store.RecordFilter{Tags: []store.TagMatch{{Kind: store.TagExact, Name: "owner", Value: "ops"}}}, ""},
		{"tag contains", store.RecordFilter{Tags: []store.TagMatch{{Kind: store.TagContains, Name: "env", Value: "ag"}}}, "a4"},
		{"tag starts_with", store.RecordFilter{Tags: []store.TagMatch{{Kind: store.TagStartsWith, Name: "team", Value: "a"}}}, "a4,a5"},
		{"tag ends_with", store.RecordFilter{Tags: []store.TagMatch{{Kind: store.TagEndsWith, Name: "owner", Value: "Ops"}}}, "a9"},
		{"tags all (default)", store.RecordFilter{Tags: []store.TagMatch{
			{Kind: store.TagExact, Name: "team", Value: "api"}, {Kind: store.TagExact, Name: "env", Value: "prod"}}}, "a5"},
		{"tags any", store.RecordFilter{TagsAny: true, Tags: []store.TagMatch{
			{Kind: store.TagExact, Name: "team", Value: "api"}, {Kind: store.TagExact, Name: "env", Value: "prod"}}}, "a1,a4,a5"},
		{"match any of name and type", store.RecordFilter{Any: true, Name: "mail.example.com.", Type: "AAAA"}, "a5,a9"},
		{"match any: a subtree or a comment", store.RecordFilter{Any: true,
			NameMatch: store.TextMatch{EndsWith: ".api.example.com."}, Comment: store.TextMatch{Contains: "web"}}, "a1,a5,a6,a8"},
		{"match any: the tag filters count as one", store.RecordFilter{Any: true, Type: "MX", Tags: []store.TagMatch{
			{Kind: store.TagExact, Name: "team", Value: "api"}, {Kind: store.TagExact, Name: "env", Value: "prod"}}}, "a5,a9"},
		{"match all with a subtree", store.RecordFilter{NameMatch: store.TextMatch{EndsWith: "api.example.com."}, Type: "A"}, "a4,a8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1, 2, 100} {
				ids := listAll(t, s, zid, tt.filter, size)
				sort.Strings(ids)
				if got := strings.Join(ids, ","); got != tt.want {
					t.Fatalf("page size %d: ids = %q, want %q", size, got, tt.want)
				}
			}
		})
	}
	// Against an etcd without RangeStream the listing reads with range
	// requests: the same records.
	defer store.UsePagedListing()()
	for _, tt := range tests {
		t.Run("paged reads/"+tt.name, func(t *testing.T) {
			for _, size := range []int{1, 100} {
				ids := listAll(t, s, zid, tt.filter, size)
				sort.Strings(ids)
				if got := strings.Join(ids, ","); got != tt.want {
					t.Fatalf("page size %d: ids = %q, want %q", size, got, tt.want)
				}
			}
		})
	}
}

func TestListRecordsOrdersBothWays(t *testing.T) {
	s := newStore(t)
	zid, _ := listFixture(t, s)
	// Names sort by their labels from the root (the zone tree), ties by id;
	// other orders sort by their value, then the same.
	byName := "a1,a2,a8,a4,a5,a6,a9,a3,a7" // "*" sorts before the "/" ending a name in the key
	tests := []struct {
		name  string
		order store.RecordOrder
		want  string
	}{
		{"name", store.OrderName, byName},
		{"type", store.OrderType, "a1,a8,a4,a7,a5,a3,a9,a2,a6"},
		{"content", store.OrderContent, "a6,a2,a1,a4,a8,a7,a5,a3,a9"},
		{"ttl", store.OrderTTL, "a3,a4,a5,a6,a1,a8,a9,a7,a2"},
		{"proxied", store.OrderProxied, "a2,a8,a4,a5,a6,a9,a7,a1,a3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1, 4, 100} {
				asc := listAll(t, s, zid, store.RecordFilter{Order: tt.order}, size)
				if got := strings.Join(asc, ","); got != tt.want {
					t.Fatalf("ascending, page size %d: %s, want %s", size, got, tt.want)
				}
				desc := listAll(t, s, zid, store.RecordFilter{Order: tt.order, Descending: true}, size)
				for i, j := 0, len(desc)-1; i < j; i, j = i+1, j-1 {
					desc[i], desc[j] = desc[j], desc[i]
				}
				if got := strings.Join(desc, ","); got != tt.want {
					t.Fatalf("descending reversed, page size %d: %s, want %s", size, got, tt.want)
				}
			}
		})
	}
	t.Run("order within a subtree", func(t *testing.T) {
		f := store.RecordFilter{NameMatch: store.TextMatch{EndsWith: "api.example.com."}, Order: store.OrderTTL, Descending: true}
		if got := strings.Join(listAll(t, s, zid, f, 1), ","); got != "a8,a6,a5,a4" {
			t.Fatalf("ids = %s", got)
		}
	})
}

// TestListRecordsCursorNeitherSkipsNorRepeatsWhileRecordsChange pages
// through listings while records are added and deleted between pages:
// every record present from the first page to the last is listed exactly
// once, none twice, and a record added after the cursor is listed.
func TestListRecordsCursorNeitherSkipsNorRepeatsWhileRecordsChange(t *testing.T) {
	orders := []struct {
		name  string
		order store.RecordOrder
		desc  bool
		paged bool // range requests instead of RangeStream
	}{
		{"name", store.OrderName, false, false},
		{"name descending", store.OrderName, true, false},
		{"content", store.OrderContent, false, false},
		{"ttl descending", store.OrderTTL, true, false},
		{"type", store.OrderType, false, false},
		{"name, paged reads", store.OrderName, false, true},
		{"content, paged reads", store.OrderContent, false, true},
	}
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			if o.paged {
				defer store.UsePagedListing()()
			}
			s := newStore(t)
			ctx := ctxT(t)
			zid := createZone(t, s, "acct1", "example.com.").GetId()
			mk := func(id string, i int) *dnsv1.Record {
				return &dnsv1.Record{Id: id, Name: fmt.Sprintf("h%03d.example.com.", i), Type: []string{"A", "TXT", "MX"}[i%3],
					Content: fmt.Sprintf("c%03d", i), Ttl: uint32(60 + i%7*60)}
			}
			var initial []*dnsv1.Record
			for i := 0; i < 60; i++ {
				initial = append(initial, mk(fmt.Sprintf("r%03d", i), i*2)) // even slots; odd ones are for additions
			}
			if err := s.UpdateRecords(ctx, zid, put(initial...)); err != nil {
				t.Fatal(err)
			}
			f := store.RecordFilter{Order: o.order, Descending: o.desc}
			seen := map[string]int{}
			deleted := map[string]bool{}
			var added []string
			tok := ""
			for page := 0; ; page++ {
				rs, next, err := s.ListRecords(ctx, zid, f, 7, tok)
				if err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				for _, r := range rs {
					seen[r.GetId()]++
					if deleted[r.GetId()] {
						t.Fatalf("page %d lists %s, deleted before it", page, r.GetId())
					}
				}
				if next == "" {
					break
				}
				// Between pages: delete one record already listed and one not
				// yet listed, add one near each end of the name and content
				// orders (odd slots: initial records use the even ones).
				var del []string
				for _, r := range initial {
					id := r.GetId()
					if deleted[id] {
						continue
					}
					if (seen[id] > 0) == (len(del) == 0) {
						del = append(del, id)
						deleted[id] = true
					}
					if len(del) == 2 {
						break
					}
				}
				early, late := 1+2*page, 119-2*page
				added = append(added, fmt.Sprintf("n%03d", early), fmt.Sprintf("n%03d", late))
				err = s.UpdateRecords(ctx, zid, func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
					ops := []store.RecordOp{{Put: mk(fmt.Sprintf("n%03d", early), early)}, {Put: mk(fmt.Sprintf("n%03d", late), late)}}
					for _, d := range del {
						ops = append(ops, store.RecordOp{DeleteID: d})
					}
					return ops, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				tok = next
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("%s listed %d times", id, n)
				}
			}
			for _, r := range initial {
				if !deleted[r.GetId()] && seen[r.GetId()] != 1 {
					t.Errorf("%s, present throughout, listed %d times", r.GetId(), seen[r.GetId()])
				}
			}
			addedSeen := 0
			for _, id := range added {
				addedSeen += seen[id]
			}
			if len(deleted) < 8 || addedSeen == 0 {
				t.Fatalf("the test changed too little: %d deleted, %d of %d added records listed", len(deleted), addedSeen, len(added))
			}
		})
	}
}

func TestListRecordsRefusesATokenOfAnotherListing(t *testing.T) {
	s := newStore(t)
	zid, _ := listFixture(t, s)
	other := createZone(t, s, "acct1", "example.org.").GetId()
	ctx := ctxT(t)
	base := store.RecordFilter{Type: "A"}
	_, tok, err := s.ListRecords(ctx, zid, base, 1, "")
	if err != nil || tok == "" {
		t.Fatalf("first page: token %q, %v", tok, err)
	}
	if _, _, err := s.ListRecords(ctx, zid, base, 5, tok); err != nil {
		t.Fatalf("same listing, other page size: %v", err)
	}
	tests := []struct {
		name string
		zone string
		f    store.RecordFilter
		tok  string
	}{
		{"other filter", zid, store.RecordFilter{Type: "AAAA"}, tok},
		{"other order", zid, store.RecordFilter{Type: "A", Order: store.OrderTTL}, tok},
		{"other direction", zid, store.RecordFilter{Type: "A", Descending: true}, tok},
		{"other zone", other, base, tok},
		{"not base64", zid, base, "garbage!"},
		{"truncated", zid, base, tok[:8]},
		{"a bare key (the old token format)", zid, base, "L3pvbmVncmlkL2RhdGEvcmVjb3Jkcy8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := s.ListRecords(ctx, tt.zone, tt.f, 1, tt.tok); !errors.Is(err, store.ErrBadPageToken) {
				t.Fatalf("err = %v, want ErrBadPageToken", err)
			}
		})
	}
}

// TestListRecordsNameOrderFollowsTheKeys checks the name order on names
// whose labels sort differently from their keys' bytes ("*" sorts before
// the key's "/" separator): the listing is the key order, and the cursor too.
func TestListRecordsNameOrderFollowsTheKeys(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	zid := createZone(t, s, "acct1", "example.com.").GetId()
	names := []string{"a.example.com.", "*.a.example.com.", "-.a.example.com.", "b.a.example.com.", "a-b.example.com."}
	var recs []*dnsv1.Record
	for i, n := range names {
		recs = append(recs, rec(fmt.Sprintf("k%d", i), n, "A", "192.0.2.1"))
	}
	if err := s.UpdateRecords(ctx, zid, put(recs...)); err != nil {
		t.Fatal(err)
	}
	want := append([]string(nil), names...)
	sort.Slice(want, func(i, j int) bool { return dnsname.Reverse(want[i])+"/" < dnsname.Reverse(want[j])+"/" })
	for _, size := range []int{1, 2, 10} {
		var got []string
		for _, id := range listAll(t, s, zid, store.RecordFilter{}, size) {
			got = append(got, names[id[1]-'0'])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("page size %d: %v, want %v", size, got, want)
		}
	}
}
