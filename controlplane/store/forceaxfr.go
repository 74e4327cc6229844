package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A "force AXFR" request is a key outside data/ (it changes no answer by
// itself) that the transfer worker takes at its next step: the request
// survives a leader change, and several requests before a step are one.

func (s *Store) forceAxfrPrefix() string           { return s.prefix + "/xfr/force/" }
func (s *Store) forceAxfrKey(zoneID string) string { return s.forceAxfrPrefix() + zoneID }

// RequestForceAxfr records that the zone's whole content must be
// transferred again at the transfer worker's next step. ErrNotFound when
// the zone does not exist.
func (s *Store) RequestForceAxfr(ctx context.Context, zoneID string, at time.Time) error {
	if !validID(zoneID) {
		return fmt.Errorf("force axfr of %q: %w", zoneID, ErrNotFound)
	}
	tr, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.zoneKey(zoneID)), ">", 0)).
		Then(clientv3.OpPut(s.forceAxfrKey(zoneID), strconv.FormatInt(at.UnixNano(), 10))).
		Commit()
	if err != nil {
		return fmt.Errorf("force axfr of %s: etcd txn: %w", zoneID, err)
	}
	if !tr.Succeeded {
		return fmt.Errorf("force axfr of %s: zone: %w", zoneID, ErrNotFound)
	}
	return nil
}

// ForceAxfrRequests returns the zones with a pending "force AXFR" request
// and each request's key revision (for ClearForceAxfr).
func (s *Store) ForceAxfrRequests(ctx context.Context) (map[string]int64, error) {
	resp, err := s.getAt(ctx, s.forceAxfrPrefix(), 0, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("force axfr requests: %w", err)
	}
	out := make(map[string]int64, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[string(kv.Key[len(s.forceAxfrPrefix()):])] = kv.ModRevision
	}
	return out, nil
}

// ClearForceAxfr removes a handled request, unless it was made again
// after rev (then the next step handles it too).
func (s *Store) ClearForceAxfr(ctx context.Context, zoneID string, rev int64) error {
	key := s.forceAxfrKey(zoneID)
	if _, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).
		Commit(); err != nil {
		return fmt.Errorf("clear force axfr of %s: etcd txn: %w", zoneID, err)
	}
	return nil
}
