package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/zonegrid/zonegrid/controlplane/plans"
)

// ZoneUsage measures what a zone uses of its plan's limits
// (plans.Measure over the zone, its settings and every record, all read at
// one etcd revision), for plans.CheckDowngrade before a plan change. It
// also returns a compare that holds only while no record of the zone has
// been written since the measure: the plan change's transaction should
// include it (and retry the measure when it fails), so that a record
// created meanwhile under the old plan cannot slip past the new plan's
// limits. Fields the store cannot tell (Subdomain, NSEC3, custom and
// advanced nameservers) are left for the caller.
func (s *Store) ZoneUsage(ctx context.Context, zoneID string) (plans.Usage, clientv3.Cmp, error) {
	zr, zs, sr, err := s.zoneAndSettings(ctx, zoneID, 0)
	if err != nil {
		return plans.Usage{}, clientv3.Cmp{}, err
	}
	mark, err := s.getAt(ctx, s.zoneMarkKey(zoneID), sr.rev)
	if err != nil {
		return plans.Usage{}, clientv3.Cmp{}, fmt.Errorf("measure zone %s: %w", zoneID, err)
	}
	var markRev int64
	if len(mark.Kvs) > 0 {
		markRev = mark.Kvs[0].ModRevision
	}
	recs, err := s.ZoneRecords(ctx, zoneID, sr.rev)
	if err != nil {
		return plans.Usage{}, clientv3.Cmp{}, fmt.Errorf("measure zone %s: %w", zoneID, err)
	}
	cmp := clientv3.Compare(clientv3.ModRevision(s.zoneMarkKey(zoneID)), "=", markRev)
	return plans.Measure(zr.zone, zs, recs), cmp, nil
}
