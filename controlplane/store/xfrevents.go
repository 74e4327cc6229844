package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Transfer events (the alerts of "Alerts for Secondary DNS", recorded by
// the transfer worker, docs/ZONE_TRANSFERS.md) are kept per zone under the
// zone's transfer status, outside data/ (an event changes no answer: it
// wakes no builder), so that the zone's purge, which deletes the status
// prefix, removes them too:
//
//	<p>/xfr/status/<zone_id>/events/<id>   dns.v1.TransferEvent
//
// The id is the event's time in unix nanoseconds, 20 digits, forced above
// the zone's last id: ids grow even if a new leader's clock is behind.

// MaxTransferEvents is how many events a zone keeps: older ones are
// deleted as new ones come.
const MaxTransferEvents = 100

func (s *Store) xfrEventsPrefix(zoneID string) string { return s.xfrStatusPrefix(zoneID) + "events/" }

// AppendTransferEvent records ev for the zone (setting its id, zone id
// and, when unset, its time to at) and deletes the oldest events beyond
// MaxTransferEvents, in one transaction. ErrNotFound when the zone does
// not exist.
func (s *Store) AppendTransferEvent(ctx context.Context, zoneID string, ev *dnsv1.TransferEvent, at time.Time) error {
	if !validID(zoneID) {
		return fmt.Errorf("transfer event of %q: %w", zoneID, ErrNotFound)
	}
	prefix := s.xfrEventsPrefix(zoneID)
	for attempt := 0; ; attempt++ {
		resp, err := s.kv.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		if err != nil {
			return fmt.Errorf("transfer events of %s: etcd get: %w", zoneID, err)
		}
		id := at.UnixNano()
		if n := len(resp.Kvs); n > 0 {
			last, err := strconv.ParseInt(strings.TrimPrefix(string(resp.Kvs[n-1].Key), prefix), 10, 64)
			if err == nil && last >= id {
				id = last + 1
			}
		}
		ev.Id, ev.ZoneId = fmt.Sprintf("%020d", id), zoneID
		if ev.GetTime() == nil {
			ev.Time = timestamppb.New(at)
		}
		v, err := marshal(ev, "transfer event of "+zoneID)
		if err != nil {
			return err
		}
		key := prefix + ev.GetId()
		ops := []clientv3.Op{clientv3.OpPut(key, v)}
		for i := 0; i < len(resp.Kvs)+1-MaxTransferEvents; i++ {
			ops = append(ops, clientv3.OpDelete(string(resp.Kvs[i].Key)))
		}
		tr, err := s.kv.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(s.zoneKey(zoneID)), ">", 0),
				clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(ops...).
			Else(clientv3.OpGet(s.zoneKey(zoneID), clientv3.WithKeysOnly())).
			Commit()
		if err != nil {
			return fmt.Errorf("transfer event of %s: etcd txn: %w", zoneID, err)
		}
		if tr.Succeeded {
			return nil
		}
		if len(tr.Responses) == 0 || len(tr.Responses[0].GetResponseRange().GetKvs()) == 0 {
			return fmt.Errorf("transfer event of %s: zone: %w", zoneID, ErrNotFound)
		}
		if attempt >= 3 {
			return fmt.Errorf("transfer event of %s: id %s taken again and again", zoneID, ev.GetId())
		}
		// Another writer took the id (a deposed leader finishing a
		// step): read again and go after it.
	}
}

// TransferEvents returns the zone's events with an id greater than
// afterID (all when empty), at most limit of them (the newest), newest
// first.
func (s *Store) TransferEvents(ctx context.Context, zoneID, afterID string, limit int) ([]*dnsv1.TransferEvent, error) {
	if !validID(zoneID) {
		return nil, nil
	}
	prefix := s.xfrEventsPrefix(zoneID)
	from := prefix
	if afterID != "" {
		from = prefix + afterID + "\x00"
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix)),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	resp, err := s.kv.Get(ctx, from, opts...)
	if err != nil {
		return nil, fmt.Errorf("transfer events of %s: etcd get: %w", zoneID, err)
	}
	out := make([]*dnsv1.TransferEvent, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		ev, err := unmarshal(kv.Value, &dnsv1.TransferEvent{}, "transfer event "+string(kv.Key))
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}
