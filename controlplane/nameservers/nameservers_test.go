package nameservers

import (
	"slices"
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
