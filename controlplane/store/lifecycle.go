package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// The zone lifecycle's bookkeeping (scheduled checks and their results)
// lives outside data/: a check that changes nothing must not wake the
// builder. Statuses live in the zone itself, because they decide what is
// served.
func (s *Store) zoneChecksKey(id string) string { return s.zoneChecksPrefix() + id }
func (s *Store) zoneChecksPrefix() string       { return s.prefix + "/lifecycle/zones/" }
func (s *Store) zoneChecksID(key []byte) string { return string(key[len(s.zoneChecksPrefix()):]) }

// LifecycleElectionKey is where control planes elect the one that runs
// the zone lifecycle's timers and checks.
func (s *Store) LifecycleElectionKey() string { return s.prefix + "/meta/lifecycle/election" }

func zoneStatusIn(z *dnsv1.Zone, from []dnsv1.ZoneStatus) bool {
	return len(from) == 0 || slices.Contains(from, z.GetStatus())
}

// restoreZone commits a restored zone (CreateZone of a name the account
// holds DELETED): the zone key only, records and settings stay. ok is
// false when something it read changed (the caller reads again).
func (s *Store) restoreZone(ctx context.Context, z *dnsv1.Zone, old zoneRev, rev, nsModRev int64, same []zoneRev) (bool, error) {
	zv, err := marshalZone(z)
	if err != nil {
		return false, err
	}
	cmps := []clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(s.zoneKey(z.GetId())), "=", old.modRev),
		clientv3.Compare(clientv3.ModRevision(s.zoneNamePrefix(z.GetName())), "<", rev+1).WithPrefix(),
		clientv3.Compare(clientv3.ModRevision(s.accountNSKey(z.GetAccountId())), "=", nsModRev),
	}
	for _, zr := range same {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.zoneKey(zr.zone.GetId())), "=", zr.modRev))
	}
	audit, err := s.zonesAudit(ctx, "RestoreZone", []*dnsv1.Zone{old.zone}, []*dnsv1.Zone{z})
	if err != nil {
		return false, err
	}
	// The checks of the zone's previous life do not count for the new one.
	ops := append([]clientv3.Op{clientv3.OpPut(s.zoneKey(z.GetId()), zv), clientv3.OpDelete(s.zoneChecksKey(z.GetId()))}, audit...)
	tr, err := s.commitWrite(ctx, cmps, ops)
	if err != nil {
		return false, fmt.Errorf("restore zone %s: etcd txn: %w", z.GetId(), err)
	}
	return tr.Succeeded, nil
}

// SetZoneStatus moves the zone to status to when its status is one of
// from (any, when empty), stamping status_changed_on (and activated_on for
// ACTIVE) with now; op names the change in the audit log. changed is false
// (and the zone returned as it is) when its status was not in from.
// Activating goes through ActivateZone, which moves a competing zone.
func (s *Store) SetZoneStatus(ctx context.Context, op, zoneID string, from []dnsv1.ZoneStatus, to dnsv1.ZoneStatus, now time.Time) (z *dnsv1.Zone, changed bool, err error) {
	z, err = s.UpdateZoneGroup(ctx, op, zoneID, func(target *dnsv1.Zone, _ []*dnsv1.Zone) ([]*dnsv1.Zone, error) {
		changed = false
		if !zoneStatusIn(target, from) || target.GetStatus() == to {
			return nil, nil
		}
		changed = true
		ts := timestamppb.New(now)
		t := cloneZone(target)
		t.Status, t.StatusChangedOn, t.ModifiedOn = to, ts, ts
		return []*dnsv1.Zone{t}, nil
	})
	return z, changed, err
}

// UpdateZone changes one zone (not its status: SetZoneStatus and
// ActivateZone do) through fn, which gets a copy and returns it changed, or
// nil for no change; op names the change in the audit log.
func (s *Store) UpdateZone(ctx context.Context, op, zoneID string, fn func(z *dnsv1.Zone) (*dnsv1.Zone, error)) (*dnsv1.Zone, error) {
	return s.UpdateZoneGuarded(ctx, op, zoneID, nil, fn)
}

// UpdateZoneGuarded is UpdateZone whose write also requires the guard
// compares (e.g. ZoneUsage's: no record changed since the zone's usage
// was measured); ErrConflict when they fail.
func (s *Store) UpdateZoneGuarded(ctx context.Context, op, zoneID string, guard []clientv3.Cmp, fn func(z *dnsv1.Zone) (*dnsv1.Zone, error)) (*dnsv1.Zone, error) {
	return s.updateZoneGroup(ctx, op, zoneID, guard, func(target *dnsv1.Zone, _ []*dnsv1.Zone) ([]*dnsv1.Zone, error) {
		t, err := fn(cloneZone(target))
		if err != nil || t == nil {
			return nil, err
		}
		if t.GetStatus() != target.GetStatus() {
			return nil, fmt.Errorf("update zone %s: status changes go through SetZoneStatus", zoneID)
		}
		return []*dnsv1.Zone{t}, nil
	})
}

// ZoneChecks returns the lifecycle check state of a zone (empty when it
// has none yet).
func (s *Store) ZoneChecks(ctx context.Context, zoneID string) (*dnsv1.ActivationChecks, error) {
	if !validID(zoneID) {
		return nil, fmt.Errorf("zone %q: %w", zoneID, ErrNotFound)
	}
	resp, err := s.getAt(ctx, s.zoneChecksKey(zoneID), 0)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return &dnsv1.ActivationChecks{}, nil
	}
	return unmarshal(resp.Kvs[0].Value, &dnsv1.ActivationChecks{}, "zone checks "+zoneID)
}

// PutZoneChecks stores the lifecycle check state of a zone, if the zone
// still exists.
func (s *Store) PutZoneChecks(ctx context.Context, zoneID string, c *dnsv1.ActivationChecks) error {
	if !validID(zoneID) {
		return fmt.Errorf("zone %q: %w", zoneID, ErrNotFound)
	}
	v, err := marshal(c, "zone checks "+zoneID)
	if err != nil {
		return err
	}
	tr, err := s.kv.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(s.zoneKey(zoneID)), ">", 0)).
		Then(clientv3.OpPut(s.zoneChecksKey(zoneID), v)).Commit()
	if err != nil {
		return fmt.Errorf("put zone checks %s: etcd txn: %w", zoneID, err)
	}
	if !tr.Succeeded {
		return fmt.Errorf("zone %s: %w", zoneID, ErrNotFound)
	}
	return nil
}

// AllZoneChecks returns the check state of every zone that has one, by
// zone id, read in pages.
func (s *Store) AllZoneChecks(ctx context.Context) (map[string]*dnsv1.ActivationChecks, error) {
	out := map[string]*dnsv1.ActivationChecks{}
	token := ""
	for {
		_, kvs, next, err := s.page(ctx, s.zoneChecksPrefix(), 1000, token)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			c, err := unmarshal(kv.Value, &dnsv1.ActivationChecks{}, "zone checks "+string(kv.Key))
			if err != nil {
				return nil, err
			}
			out[s.zoneChecksID(kv.Key)] = c
		}
		if next == "" {
			return out, nil
		}
		token = next
	}
}

// EachZone calls fn with every zone, in pages of pageSize; fn's error ends
// the walk.
func (s *Store) EachZone(ctx context.Context, pageSize int, fn func(*dnsv1.Zone) error) error {
	token := ""
	for {
		zs, next, err := s.ListZones(ctx, ZoneFilter{}, pageSize, token)
		if err != nil {
			return err
		}
		for _, z := range zs {
			if err := fn(z); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// ZonesRelatedTo returns the zones (any account) at ancestors and
// descendants of name, now.
func (s *Store) ZonesRelatedTo(ctx context.Context, name string) ([]*dnsv1.Zone, error) {
	return s.relatedZones(ctx, name, 0)
}

// marshalZone encodes a zone for etcd without the fields the zone service
// derives for responses (next timer, check state): stored, they would be
// stale at the next read.
func marshalZone(z *dnsv1.Zone) (string, error) {
	if z.GetNextStatusOn() != nil || z.GetNextStatus() != 0 || z.GetActivationChecks() != nil {
		z = cloneZone(z)
		z.NextStatus, z.NextStatusOn, z.ActivationChecks = 0, nil, nil
	}
	return marshal(z, "zone "+z.GetId())
}
