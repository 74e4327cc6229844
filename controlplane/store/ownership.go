package store

import (
	"context"
	"errors"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Reads the zone builder needs to decide whether a zone may be served
// without shadowing another account's zone (controlplane/builder/README.md,
// "Served zone of a name"): the zones at a name's ancestors, a parent
// zone's NS records at a child's name, and every (name, account) pair.

// ZoneNameKey is one zonenames index entry: a zone name held by an
// account, and the id of that account's zone of the name.
type ZoneNameKey struct {
	Name      string
	AccountID string
	ZoneID    string
}

// ZoneNameKeysAt returns every zonenames entry at rev, with the zone id
// each holds (range reads of scanBatch keys; the values are zone ids, a
// few bytes each).
func (s *Store) ZoneNameKeysAt(ctx context.Context, rev int64) ([]ZoneNameKey, error) {
	var out []ZoneNameKey
	err := s.pagesAt(ctx, s.zoneNamesPrefix(), rev, func(kv *mvccpb.KeyValue) {
		if dk := s.ParseDataKey(string(kv.Key)); dk.Kind == KindZoneName {
			out = append(out, ZoneNameKey{Name: dk.Name, AccountID: dk.AccountID, ZoneID: string(kv.Value)})
		}
	})
	return out, err
}

// ZonesNamedManyAt returns, for each name, every zone of that name (all
// accounts) at rev, oldest first, as ZonesNamedAt does; names without a
// zone are absent. Two round trips whatever the number of names: one for
// the name index, one for the zones.
func (s *Store) ZonesNamedManyAt(ctx context.Context, names []string, rev int64) (map[string][]*dnsv1.Zone, error) {
	out := map[string][]*dnsv1.Zone{}
	if len(names) == 0 {
		return out, nil
	}
	// Serializable at rev, as getAt reads: the builder's first read of
	// every publication.
	at := []clientv3.OpOption{clientv3.WithRev(rev)}
	if rev > 0 {
		at = append(at, clientv3.WithSerializable())
	}
	read := func() ([][]*mvccpb.KeyValue, error) {
		ops := make([]clientv3.Op, len(names))
		for i, n := range names {
			ops[i] = clientv3.OpGet(s.zoneNamePrefix(n), append([]clientv3.OpOption{clientv3.WithPrefix()}, at...)...)
		}
		idx, err := s.readMany(ctx, ops, "zone names")
		if err != nil {
			return nil, err
		}
		var zops []clientv3.Op
		for _, kvs := range idx {
			for _, kv := range kvs {
				zops = append(zops, clientv3.OpGet(s.zoneKey(string(kv.Value)), at...))
			}
		}
		return s.readMany(ctx, zops, "zones by name")
	}
	zs, err := read()
	if errors.Is(err, rpctypes.ErrFutureRev) {
		at = at[:1] // this member has not applied rev yet: through the leader
		zs, err = read()
	}
	if err != nil {
		return nil, err
	}
	for _, kvs := range zs {
		for _, kv := range kvs { // absent: index ahead of data cannot happen in one txn
			z, err := unmarshal(kv.Value, &dnsv1.Zone{}, "zone "+string(kv.Key))
			if err != nil {
				return nil, err
			}
			out[z.GetName()] = append(out[z.GetName()], z)
		}
	}
	for _, group := range out {
		SortZonesOldestFirst(group)
	}
	return out, nil
}

// RecordsAtNameAt returns the records of a zone named exactly name at rev.
func (s *Store) RecordsAtNameAt(ctx context.Context, zoneID, name string, rev int64) ([]*dnsv1.Record, error) {
	return s.recordsUnder(ctx, zoneID, name, true, rev)
}
