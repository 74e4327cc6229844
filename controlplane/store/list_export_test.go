package store

import (
	"context"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// UsePagedListing makes listings read with range requests, as against an
// etcd without RangeStream, until the returned function is called.
func UsePagedListing() (restore func()) {
	old := pagedListing.Swap(true)
	return func() { pagedListing.Store(old) }
}

// ReadRange exposes streamRange: every key of [start, end) at rev.
func (s *Store) ReadRange(ctx context.Context, start, end string, rev int64) ([]string, error) {
	var keys []string
	err := s.streamRange(ctx, start, end, rev, func(kv *mvccpb.KeyValue) (bool, error) {
		keys = append(keys, string(kv.Key))
		return true, nil
	})
	return keys, err
}

// ReadRangeFirst is ReadRange stopping after n keys, as a listing's page
// does.
func (s *Store) ReadRangeFirst(ctx context.Context, start, end string, rev int64, n int) ([]string, error) {
	var keys []string
	err := s.streamRange(ctx, start, end, rev, func(kv *mvccpb.KeyValue) (bool, error) {
		keys = append(keys, string(kv.Key))
		return len(keys) < n, nil
	})
	return keys, err
}

// LargeRange says whether streamRange remembers the range ending at end
// as large.
func (s *Store) LargeRange(end string) bool {
	_, ok := s.largeRanges.Load(end)
	return ok
}
