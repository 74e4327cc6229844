package store_test

import (
	"context"
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
)

// putKeys writes n keys under prefix in transactions of 1,000 and returns
// the revision after the last.
func putKeys(t *testing.T, prefix string, n int) int64 {
	t.Helper()
	var rev int64
	for i := 0; i < n; i += 1000 {
		var ops []clientv3.Op
		for j := i; j < min(i+1000, n); j++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%08d", prefix, j), "v"))
		}
		resp, err := etcdCli.Txn(context.Background()).Then(ops...).Commit()
		if err != nil {
			t.Fatal(err)
		}
		rev = resp.Header.Revision
	}
	return rev
}

// A range is read whole, in order, at one revision, whether it fits in
// range requests, needs the stream for its rest, or is remembered as large.
func TestRangeReadsAreWholeOrderedAndAtOneRevision(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	tests := []struct {
		name  string
		n     int
		large bool
	}{
		{"empty", 0, false},
		{"one page", 10, false},
		{"exactly one page", 4096, false},
		{"pages", 12000, false},
		{"pages then stream", 25000, false},
		{"large", 70000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := etcdtest.Prefix(t) + "/r/"
			end := clientv3.GetPrefixRangeEnd(prefix)
			rev := putKeys(t, prefix, tt.n)
			if tt.n == 0 {
				resp, err := etcdCli.Get(ctx, prefix)
				if err != nil {
					t.Fatal(err)
				}
				rev = resp.Header.Revision
			}
			// Written after rev: a read at rev must not see them.
			putKeys(t, prefix+"~", 5)
			// A read stopped after a few keys (a listing's first page)
			// learns the range's size all the same.
			first, err := s.ReadRangeFirst(ctx, prefix, end, rev, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != min(100, tt.n) {
				t.Fatalf("first keys: %d, want %d", len(first), min(100, tt.n))
			}
			if got := s.LargeRange(end); got != tt.large {
				t.Fatalf("after a read of 100 keys: remembered as large = %v, want %v", got, tt.large)
			}
			for pass := 0; pass < 2; pass++ {
				keys, err := s.ReadRange(ctx, prefix, end, rev)
				if err != nil {
					t.Fatal(err)
				}
				if len(keys) != tt.n {
					t.Fatalf("pass %d: %d keys, want %d", pass, len(keys), tt.n)
				}
				for i, k := range keys {
					if want := fmt.Sprintf("%s%08d", prefix, i); k != want {
						t.Fatalf("pass %d: key %d = %s, want %s", pass, i, k, want)
					}
				}
				if got := s.LargeRange(end); got != tt.large {
					t.Fatalf("pass %d: remembered as large = %v, want %v", pass, got, tt.large)
				}
			}
			// rev 0 reads the latest revision, the later keys included.
			keys, err := s.ReadRange(ctx, prefix, end, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != tt.n+5 {
				t.Fatalf("latest: %d keys, want %d", len(keys), tt.n+5)
			}
		})
	}
}
