package nameservers

import (
	"slices"
	"strings"
	"testing"
)

func TestNewPoolRejectsBadPools(t *testing.T) {
	tests := []struct {
		name  string
		names []string
	}{
		{"empty", nil},
		{"one name", []string{"ns1.example."}},
		{"duplicates only", []string{"ns1.example.", "NS1.example"}},
		{"invalid name", []string{"ns1.example.", "bad name."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPool(tt.names); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestAssign(t *testing.T) {
	pool, err := NewPool([]string{"a.ns.", "b.ns.", "c.ns.", "d.ns."})
	if err != nil {
		t.Fatal(err)
	}
	fresh := pool.Assign(Request{AccountID: "acct1"})
	tests := []struct {
		name string
		req  Request
		want []string // nil: any pair that is not taken
		not  [][]string
	}{
		{"keeps the account's pair", Request{AccountID: "acct1", Preferred: []string{"b.ns.", "d.ns."}}, []string{"b.ns.", "d.ns."}, nil},
		{"same account gets the same fresh pair", Request{AccountID: "acct1"}, fresh, nil},
		{"avoids a pair another account uses for the name",
			Request{AccountID: "acct1", Preferred: []string{"a.ns.", "b.ns."}, Taken: [][]string{{"b.ns.", "a.ns."}}},
			nil, [][]string{{"a.ns.", "b.ns."}}},
		{"avoids every taken pair",
			Request{AccountID: "x", Taken: [][]string{{"a.ns.", "b.ns."}, {"a.ns.", "c.ns."}, {"a.ns.", "d.ns."}, {"b.ns.", "c.ns."}, {"b.ns.", "d.ns."}}},
			[]string{"c.ns.", "d.ns."}, nil},
		{"preferred outside the pool is ignored", Request{AccountID: "acct1", Preferred: []string{"x.ns.", "y.ns."}}, fresh, nil},
		{"falls back to preferred when all taken",
			Request{AccountID: "x", Preferred: []string{"a.ns.", "b.ns."}, Taken: [][]string{{"a.ns.", "b.ns."}, {"a.ns.", "c.ns."}, {"a.ns.", "d.ns."}, {"b.ns.", "c.ns."}, {"b.ns.", "d.ns."}, {"c.ns.", "d.ns."}}},
			[]string{"a.ns.", "b.ns."}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pool.Assign(tt.req)
			if len(got) != 2 || got[0] == got[1] {
				t.Fatalf("Assign = %v, want two distinct names", got)
			}
			if tt.want != nil && !slices.Equal(got, tt.want) {
				t.Fatalf("Assign = %v, want %v", got, tt.want)
			}
			for _, n := range tt.not {
				if samePair([2]string{got[0], got[1]}, n) {
					t.Fatalf("Assign = %v, a taken pair", got)
				}
			}
		})
	}
}

func TestRandomizedAssignmentAvoidsTakenPairs(t *testing.T) {
	p, err := NewPool([]string{"a.ns.", "b.ns.", "c.ns."})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 200 {
		got := p.AssignRandom(Request{AccountID: "acct", Taken: [][]string{{"a.ns.", "b.ns."}}})
		if samePair([2]string{"a.ns.", "b.ns."}, got) {
			t.Fatalf("assigned a taken pair %v", got)
		}
		seen[got[0]+got[1]] = true
	}
	if len(seen) != 2 {
		t.Fatalf("randomized method used %d pairs of the 2 free, want both", len(seen))
	}
}

func TestPairsWithinAPresetDelegation(t *testing.T) {
	p, err := NewPool([]string{"a.ns.", "b.ns.", "c.ns.", "d.ns."})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		preset []string
		want   int
	}{
		{nil, 0},
		{[]string{"A.ns", "b.ns."}, 1},
		{[]string{"a.ns.", "b.ns.", "c.ns.", "x.other."}, 3},
		{[]string{"a.ns.", "x.other."}, 0},
	}
	for _, tt := range tests {
		if got := p.PairsWithin(tt.preset); len(got) != tt.want {
			t.Fatalf("PairsWithin(%v) = %v, want %d pairs", tt.preset, got, tt.want)
		}
	}
}

func TestAdvancedSetsUseOneLabelUnderThreeDomainsAndAvoidRelatedZones(t *testing.T) {
	a, err := NewAdvanced(DefaultAdvancedDomains())
	if err != nil {
		t.Fatal(err)
	}
	first := a.Assign(Request{AccountID: "bank"})
	if len(first) != 3 {
		t.Fatalf("advanced set %v, want 3 names", first)
	}
	label := first[0][:strings.Index(first[0], ".")]
	for i, n := range first {
		if n != label+"."+DefaultAdvancedDomains()[i] {
			t.Fatalf("advanced set %v: want %s under each domain", first, label)
		}
	}
	if again := a.Assign(Request{AccountID: "bank"}); !slices.Equal(again, first) {
		t.Fatalf("same account got %v then %v", first, again)
	}
	child := a.Assign(Request{AccountID: "bank", Taken: [][]string{first}})
	if slices.Equal(child, first) {
		t.Fatalf("a child zone got its parent's set %v", child)
	}
	if _, err := NewAdvanced([]string{"a.test."}); err == nil {
		t.Fatal("NewAdvanced accepted one domain")
	}
}
