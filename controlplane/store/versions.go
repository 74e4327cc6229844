package store

import (
	"context"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Versions is what the builder's reconcile compares the published
// snapshots against: which zones hold each name, and the last revision at
// which anything a zone's snapshot is compiled from changed.
type Versions struct {
	// Names maps every zone name to the ids of the zones holding it.
	Names map[string][]string
	// Changed maps a zone id to the highest mod revision of its zone,
	// settings and zone mark keys (the mark moves with every record write).
	Changed map[string]int64
	// Accounts maps an account with stored settings to their mod revision.
	Accounts map[string]int64
}

// VersionsAt reads Versions at rev in a few range reads (keys only, except
// the zone-name index whose values are zone ids), so comparing 10,000
// zones costs no per-zone etcd read.
func (s *Store) VersionsAt(ctx context.Context, rev int64) (*Versions, error) {
	v := &Versions{Names: map[string][]string{}, Changed: map[string]int64{}, Accounts: map[string]int64{}}
	err := s.rangeAt(ctx, s.zoneNamesPrefix(), rev, false, func(key string, value []byte, _ int64) {
		rest := strings.TrimPrefix(key, s.zoneNamesPrefix())
		if i := strings.LastIndexByte(rest, '/'); i > 0 {
			v.Names[rest[:i]] = append(v.Names[rest[:i]], string(value))
		}
	})
	if err != nil {
		return nil, err
	}
	for _, p := range []string{s.zonesPrefix(), s.prefix + "/data/zonesettings/", s.prefix + "/data/zonemark/"} {
		if err := s.rangeAt(ctx, p, rev, true, func(key string, _ []byte, mod int64) {
			id := strings.TrimPrefix(key, p)
			v.Changed[id] = max(v.Changed[id], mod)
		}); err != nil {
			return nil, err
		}
	}
	if err := s.rangeAt(ctx, s.prefix+"/data/accounts/", rev, true, func(key string, _ []byte, mod int64) {
		if dk := s.ParseDataKey(key); dk.Kind == KindAccountSettings {
			v.Accounts[dk.AccountID] = mod
		}
	}); err != nil {
		return nil, err
	}
	return v, nil
}

// rangeAt calls fn for every key under prefix at rev, scanBatch at a time.
func (s *Store) rangeAt(ctx context.Context, prefix string, rev int64, keysOnly bool, fn func(key string, value []byte, modRev int64)) error {
	start, end := prefix, prefixEnd(prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(scanBatch)}
		if keysOnly {
			opts = append(opts, clientv3.WithKeysOnly())
		}
		resp, err := s.getAt(ctx, start, rev, opts...)
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			fn(string(kv.Key), kv.Value, kv.ModRevision)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
