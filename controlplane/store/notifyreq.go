package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A NOTIFY request (docs/ZONE_TRANSFERS.md, "NOTIFY") is a key outside
// data/, like a "force AXFR" request: the control plane that takes the
// edge's notice off NATS records it, and the elected transfer worker
// (which may run on another control plane) refreshes the zone and clears
// it. The key survives a leader change, and any number of notices before
// the refresh are one request.
//
//	<p>/xfr/notify/<zone_id>     unix nanoseconds of the latest notice

func (s *Store) notifyReqPrefix() string           { return s.prefix + "/xfr/notify/" }
func (s *Store) notifyReqKey(zoneID string) string { return s.notifyReqPrefix() + zoneID }

// NotifyRequestPrefix is where NOTIFY requests live, for the watch that
// wakes the transfer worker.
func (s *Store) NotifyRequestPrefix() string { return s.notifyReqPrefix() }

// RequestNotifyRefresh records that the zone's primaries said it changed.
// ErrNotFound when the zone does not exist (a stale edge, a purged zone).
func (s *Store) RequestNotifyRefresh(ctx context.Context, zoneID string, at time.Time) error {
	if !validID(zoneID) {
		return fmt.Errorf("notify request of %q: %w", zoneID, ErrNotFound)
	}
	tr, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.zoneKey(zoneID)), ">", 0)).
		Then(clientv3.OpPut(s.notifyReqKey(zoneID), strconv.FormatInt(at.UnixNano(), 10))).
		Commit()
	if err != nil {
		return fmt.Errorf("notify request of %s: etcd txn: %w", zoneID, err)
	}
	if !tr.Succeeded {
		return fmt.Errorf("notify request of %s: zone: %w", zoneID, ErrNotFound)
	}
	return nil
}

// NotifyRequests returns the zones with a pending NOTIFY request and each
// request's key revision (for ClearNotifyRequest).
func (s *Store) NotifyRequests(ctx context.Context) (map[string]int64, error) {
	resp, err := s.getAt(ctx, s.notifyReqPrefix(), 0, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("notify requests: %w", err)
	}
	out := make(map[string]int64, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[string(kv.Key[len(s.notifyReqPrefix()):])] = kv.ModRevision
	}
	return out, nil
}

// ClearNotifyRequest removes a handled request, unless a newer notice
// recorded it again after rev: then the primary may have changed again
// after the refresh read its serial, and the next pickup refreshes again.
func (s *Store) ClearNotifyRequest(ctx context.Context, zoneID string, rev int64) error {
	key := s.notifyReqKey(zoneID)
	if _, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).
		Commit(); err != nil {
		return fmt.Errorf("clear notify request of %s: etcd txn: %w", zoneID, err)
	}
	return nil
}
