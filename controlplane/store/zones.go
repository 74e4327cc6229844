package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// ZoneCreation is what CreateZone read (at one revision) for the caller to
// decide the new zone's status and nameservers.
type ZoneCreation struct {
	// PreferredNameservers is the account's nameserver pair, nil if the
	// account has none yet.
	PreferredNameservers []string
	// SameName are the zones with the same name in other accounts.
	SameName []*dnsv1.Zone
	// Related are zones (any account) at an ancestor or descendant name.
	Related []*dnsv1.Zone
	// Restoring is the account's DELETED zone of this name, when there is
	// one: adding the name again restores it (same id, records and
	// settings kept), and the built zone must carry its id.
	Restoring *dnsv1.Zone
}

// ZoneFilter selects zones in ListZones; empty fields match all.
type ZoneFilter struct {
	AccountID string
	Name      string // normalized
}

type zoneRev struct {
	zone   *dnsv1.Zone
	modRev int64
}

func (s *Store) getAt(ctx context.Context, key string, rev int64, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
		// The data of a revision never changes, so the member may answer
		// by itself (serializable); one that has not applied rev yet says
		// ErrFutureRev, and the read goes through the leader. A
		// linearizable read waits for etcd's raft loop, busy with the
		// commit and fsync of the change just made: about a millisecond of
		// every zone publication (docs/BENCHMARKS.md, "Propagation").
		resp, err := s.kv.Get(ctx, key, append(opts, clientv3.WithSerializable())...)
		if err == nil {
			return resp, nil
		}
		if !errors.Is(err, rpctypes.ErrFutureRev) {
			return nil, fmt.Errorf("etcd get %s: %w", key, err)
		}
	}
	resp, err := s.kv.Get(ctx, key, opts...)
	if err != nil {
		return nil, fmt.Errorf("etcd get %s: %w", key, err)
	}
	return resp, nil
}

// getZoneRev reads a zone at rev (0 = latest) and returns the revision the
// read happened at.
func (s *Store) getZoneRev(ctx context.Context, zoneID string, rev int64) (zoneRev, int64, error) {
	if !validID(zoneID) {
		return zoneRev{}, 0, fmt.Errorf("zone %q: %w", zoneID, ErrNotFound)
	}
	resp, err := s.getAt(ctx, s.zoneKey(zoneID), rev)
	if err != nil {
		return zoneRev{}, 0, err
	}
	if len(resp.Kvs) == 0 {
		return zoneRev{}, readAt(resp, rev), fmt.Errorf("zone %s: %w", zoneID, ErrNotFound)
	}
	z, err := unmarshal(resp.Kvs[0].Value, &dnsv1.Zone{}, "zone "+zoneID)
	if err != nil {
		return zoneRev{}, 0, err
	}
	return zoneRev{zone: z, modRev: resp.Kvs[0].ModRevision}, readAt(resp, rev), nil
}

// readAt is the revision a read at rev (0 = latest) happened at. etcd's
// header carries the store's current revision even for a read at an older
// one: the reads that follow with it (settings, DNSSEC state of a zone
// read at rev) must use rev, or they mix two states of the store.
func readAt(resp *clientv3.GetResponse, rev int64) int64 {
	if rev > 0 {
		return rev
	}
	return resp.Header.Revision
}

// GetZone returns the zone with this id, or ErrNotFound.
func (s *Store) GetZone(ctx context.Context, zoneID string) (*dnsv1.Zone, error) {
	zr, _, err := s.getZoneRev(ctx, zoneID, 0)
	return zr.zone, err
}

// GetZoneAt is GetZone at an etcd revision.
func (s *Store) GetZoneAt(ctx context.Context, zoneID string, rev int64) (*dnsv1.Zone, error) {
	zr, _, err := s.getZoneRev(ctx, zoneID, rev)
	return zr.zone, err
}

// zonesNamed reads every zone with this name, in every account, at rev.
func (s *Store) zonesNamed(ctx context.Context, name string, rev int64) ([]zoneRev, error) {
	resp, err := s.getAt(ctx, s.zoneNamePrefix(name), rev, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := make([]zoneRev, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		zr, _, err := s.getZoneRev(ctx, string(kv.Value), resp.Header.Revision)
		if errors.Is(err, ErrNotFound) {
			continue // index ahead of data cannot happen in one txn; tolerate anyway
		}
		if err != nil {
			return nil, err
		}
		out = append(out, zr)
	}
	return out, nil
}

// ZonesNamedAt returns every zone (all accounts) with this name at rev
// (0 = latest), oldest first.
func (s *Store) ZonesNamedAt(ctx context.Context, name string, rev int64) ([]*dnsv1.Zone, error) {
	zrs, err := s.zonesNamed(ctx, name, rev)
	if err != nil {
		return nil, err
	}
	out := make([]*dnsv1.Zone, len(zrs))
	for i, zr := range zrs {
		out[i] = zr.zone
	}
	SortZonesOldestFirst(out)
	return out, nil
}

// SortZonesOldestFirst orders zones of one name oldest first (ties by id),
// the order in which the store returns them; the builder's zone cache
// orders its copies the same, so a compile decides alike from either.
func SortZonesOldestFirst(zs []*dnsv1.Zone) {
	slices.SortStableFunc(zs, func(a, b *dnsv1.Zone) int {
		if c := a.GetCreatedOn().AsTime().Compare(b.GetCreatedOn().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(a.GetId(), b.GetId())
	})
}

// relatedZones reads zones at ancestors and descendants of name at rev.
func (s *Store) relatedZones(ctx context.Context, name string, rev int64) ([]*dnsv1.Zone, error) {
	var out []*dnsv1.Zone
	for a := dnsname.Parent(name); a != "."; a = dnsname.Parent(a) {
		zrs, err := s.zonesNamed(ctx, a, rev)
		if err != nil {
			return nil, err
		}
		for _, zr := range zrs {
			out = append(out, zr.zone)
		}
	}
	resp, err := s.getAt(ctx, s.zoneTreePrefix(dnsname.Reverse(name)), rev, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	self := s.zoneTreePrefix(dnsname.Reverse(name)) + "/"
	for _, kv := range resp.Kvs {
		if strings.HasPrefix(string(kv.Key), self) {
			continue
		}
		zr, _, err := s.getZoneRev(ctx, string(kv.Value), resp.Header.Revision)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, zr.zone)
	}
	return out, nil
}

// CreateZone creates a zone of accountID named name (normalized). build
// gets what the decision needs, read at one revision, and returns the zone
// (id, account id and name must match, id unused); the write commits only
// if nothing build relied on changed, else build is called again. Fails
// with ErrAlreadyExists when the account already has a zone of that name.
// The account's preferred nameservers are set to the zone's when it has
// none. An error from build is returned as is.
func (s *Store) CreateZone(ctx context.Context, accountID, name string, build func(c ZoneCreation) (*dnsv1.Zone, error)) (*dnsv1.Zone, error) {
	return s.CreateZoneWith(ctx, accountID, name, nil, build)
}

// CreateZoneWith is CreateZone with the settings a new zone starts with
// (nil: none set); a restored zone keeps its own.
func (s *Store) CreateZoneWith(ctx context.Context, accountID, name string, settings *dnsv1.ZoneSettings, build func(c ZoneCreation) (*dnsv1.Zone, error)) (*dnsv1.Zone, error) {
	if settings == nil {
		settings = &dnsv1.ZoneSettings{}
	}
	if !validID(accountID) {
		return nil, fmt.Errorf("account %q: invalid id", accountID)
	}
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		nameKey := s.zoneNameKey(name, accountID)
		resp, err := s.getAt(ctx, nameKey, 0)
		if err != nil {
			return nil, err
		}
		rev := resp.Header.Revision
		var restoring *zoneRev
		if len(resp.Kvs) > 0 {
			zr, _, err := s.getZoneRev(ctx, string(resp.Kvs[0].Value), rev)
			if err != nil {
				return nil, err
			}
			if zr.zone.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_DELETED {
				return nil, fmt.Errorf("zone %s in account %s: %w", name, accountID, ErrAlreadyExists)
			}
			restoring = &zr
		}
		nsResp, err := s.getAt(ctx, s.accountNSKey(accountID), rev)
		if err != nil {
			return nil, err
		}
		var c ZoneCreation
		var nsModRev int64
		if len(nsResp.Kvs) > 0 {
			c.PreferredNameservers = decodeNS(nsResp.Kvs[0].Value)
			nsModRev = nsResp.Kvs[0].ModRevision
		}
		same, err := s.zonesNamed(ctx, name, rev)
		if err != nil {
			return nil, err
		}
		for _, zr := range same {
			if zr.zone.GetAccountId() != accountID {
				c.SameName = append(c.SameName, zr.zone)
			}
		}
		if c.Related, err = s.relatedZones(ctx, name, rev); err != nil {
			return nil, err
		}
		if restoring != nil {
			c.Restoring = cloneZone(restoring.zone)
		}
		z, err := build(c)
		if err != nil {
			return nil, err
		}
		if z.GetId() == "" || !validID(z.GetId()) || z.GetAccountId() != accountID || z.GetName() != name ||
			(restoring != nil && z.GetId() != restoring.zone.GetId()) {
			return nil, fmt.Errorf("create zone %s: built zone does not match the request", name)
		}
		if restoring != nil {
			ok, err := s.restoreZone(ctx, z, *restoring, rev, nsModRev, same)
			if err != nil {
				return nil, err
			}
			if ok {
				return z, nil
			}
			continue
		}
		zv, err := marshalZone(z)
		if err != nil {
			return nil, err
		}
		sv, err := marshal(settings, "zone settings")
		if err != nil {
			return nil, err
		}
		cmps := []clientv3.Cmp{
			clientv3.Compare(clientv3.CreateRevision(nameKey), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(s.zoneKey(z.GetId())), "=", 0),
			// A zone of the same name created in another account since the
			// read could change the status decision.
			clientv3.Compare(clientv3.ModRevision(s.zoneNamePrefix(name)), "<", rev+1).WithPrefix(),
			clientv3.Compare(clientv3.ModRevision(s.accountNSKey(accountID)), "=", nsModRev),
		}
		for _, zr := range same {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.zoneKey(zr.zone.GetId())), "=", zr.modRev))
		}
		ops := []clientv3.Op{
			clientv3.OpPut(s.zoneKey(z.GetId()), zv),
			clientv3.OpPut(s.zoneSettingsKey(z.GetId()), sv),
			clientv3.OpPut(nameKey, z.GetId()),
			clientv3.OpPut(s.zoneTreeKey(dnsname.Reverse(name), accountID), z.GetId()),
			clientv3.OpPut(s.accountZonesPrefix(accountID)+name, z.GetId()),
		}
		if c.PreferredNameservers == nil && len(z.GetNameServers()) > 0 {
			ops = append(ops, clientv3.OpPut(s.accountNSKey(accountID), encodeNS(z.GetNameServers())))
		}
		audit, err := s.zonesAudit(ctx, "CreateZone", nil, []*dnsv1.Zone{z})
		if err != nil {
			return nil, err
		}
		ops = append(ops, audit...)
		tr, err := s.commitWrite(ctx, cmps, ops)
		if err != nil {
			return nil, fmt.Errorf("create zone %s: etcd txn: %w", name, err)
		}
		if tr.Succeeded {
			return z, nil
		}
		s.log.Debug("create zone conflict, retrying")
	}
	return nil, fmt.Errorf("create zone %s: %w", name, ErrConflict)
}

func encodeNS(ns []string) string { return strings.Join(ns, ",") }
func decodeNS(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), ",")
}

// AccountNameservers returns the account's preferred nameserver pair, nil
// if it has none yet.
func (s *Store) AccountNameservers(ctx context.Context, accountID string) ([]string, error) {
	if !validID(accountID) {
		return nil, nil
	}
	resp, err := s.getAt(ctx, s.accountNSKey(accountID), 0)
	if err != nil || len(resp.Kvs) == 0 {
		return nil, err
	}
	return decodeNS(resp.Kvs[0].Value), nil
}

// PurgeZone removes a zone for good with its settings, records, index
// entries and lifecycle state in one transaction and returns the zone as
// it was. The audit log records it as status PURGED.
func (s *Store) PurgeZone(ctx context.Context, zoneID string) (*dnsv1.Zone, error) {
	return s.purgeZone(ctx, zoneID, nil)
}

// PurgeDeletedZone purges the zone only if it is DELETED since at or
// before deletedBy (a timer's decision must not purge a zone restored or
// deleted again since it was made); otherwise it returns ErrConflict.
func (s *Store) PurgeDeletedZone(ctx context.Context, zoneID string, deletedBy time.Time) (*dnsv1.Zone, error) {
	return s.purgeZone(ctx, zoneID, func(z *dnsv1.Zone) bool {
		return z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_DELETED && !z.GetStatusChangedOn().AsTime().After(deletedBy)
	})
}

func (s *Store) purgeZone(ctx context.Context, zoneID string, onlyIf func(*dnsv1.Zone) bool) (*dnsv1.Zone, error) {
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		zr, markRev, nRecords, err := s.readZoneForDelete(ctx, zoneID)
		if err != nil {
			return nil, err
		}
		z := zr.zone
		if onlyIf != nil && !onlyIf(z) {
			return nil, fmt.Errorf("purge zone %s: no longer due: %w", zoneID, ErrConflict)
		}
		audit, err := s.deleteZoneAudit(ctx, z, nRecords)
		if err != nil {
			return nil, err
		}
		// Zone transfer configurations, their peer links and status go too
		// (transfer.go).
		xfrCmps, xfrOps, err := s.transferPurge(ctx, zoneID, z.GetAccountId(), 0)
		if err != nil {
			return nil, err
		}
		audit = append(xfrOps, audit...)
		tr, err := s.commitWrite(ctx, append([]clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(s.zoneKey(zoneID)), "=", zr.modRev),
			// The audit entry counts the records deleted: none may have
			// been written since the count.
			clientv3.Compare(clientv3.ModRevision(s.zoneMarkKey(zoneID)), "=", markRev),
		}, xfrCmps...), append([]clientv3.Op{
			clientv3.OpDelete(s.zoneKey(zoneID)),
			clientv3.OpDelete(s.zoneSettingsKey(zoneID)),
			clientv3.OpDelete(s.zoneNameKey(z.GetName(), z.GetAccountId())),
			clientv3.OpDelete(s.zoneTreeKey(dnsname.Reverse(z.GetName()), z.GetAccountId())),
			clientv3.OpDelete(s.accountZonesPrefix(z.GetAccountId()) + z.GetName()),
			clientv3.OpDelete(s.recordsPrefix(zoneID), clientv3.WithPrefix()),
			clientv3.OpDelete(s.recordIDsPrefix(zoneID), clientv3.WithPrefix()),
			clientv3.OpDelete(s.zoneMarkKey(zoneID)),
			clientv3.OpDelete(s.zoneChecksKey(zoneID)),
			// "Purge removes records, settings and keys for good."
			clientv3.OpDelete(s.dnssecKey(zoneID)),
			clientv3.OpDelete(s.dnssecChecksKey(zoneID)),
		}, audit...))
		if err != nil {
			return nil, fmt.Errorf("purge zone %s: etcd txn: %w", zoneID, err)
		}
		if tr.Succeeded {
			return z, nil
		}
	}
	return nil, fmt.Errorf("purge zone %s: %w", zoneID, ErrConflict)
}

// UpdateZoneGroup reads the zone zoneID and every other zone with the same
// name (all accounts) at one revision, lets fn change any of them, and
// commits the changed zones in one transaction that fails if any of them
// changed or a zone of that name appeared meanwhile (then fn runs again).
// fn may change status, plan, timestamps and nameservers, not id, account
// or name. Returns the target zone as committed. An error from fn is
// returned as is. op names the change in the audit log.
func (s *Store) UpdateZoneGroup(ctx context.Context, op, zoneID string, fn func(target *dnsv1.Zone, others []*dnsv1.Zone) ([]*dnsv1.Zone, error)) (*dnsv1.Zone, error) {
	return s.updateZoneGroup(ctx, op, zoneID, nil, fn)
}

func (s *Store) updateZoneGroup(ctx context.Context, op, zoneID string, extra []clientv3.Cmp, fn func(target *dnsv1.Zone, others []*dnsv1.Zone) ([]*dnsv1.Zone, error)) (*dnsv1.Zone, error) {
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		zr, rev, err := s.getZoneRev(ctx, zoneID, 0)
		if err != nil {
			return nil, err
		}
		group, err := s.zonesNamed(ctx, zr.zone.GetName(), rev)
		if err != nil {
			return nil, err
		}
		byID := map[string]zoneRev{zoneID: zr}
		var others []*dnsv1.Zone
		for _, g := range group {
			if g.zone.GetId() != zoneID {
				byID[g.zone.GetId()] = g
				others = append(others, g.zone)
			}
		}
		// fn may change the zones it gets in place; the audit entry needs
		// them as read.
		pristine := map[string]*dnsv1.Zone{}
		for id, g := range byID {
			pristine[id] = cloneZone(g.zone)
		}
		changed, err := fn(zr.zone, others)
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return zr.zone, nil
		}
		cmps := append([]clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(s.zoneNamePrefix(zr.zone.GetName())), "<", rev+1).WithPrefix(),
		}, extra...)
		var ops []clientv3.Op
		target := zr.zone
		seen := map[string]bool{}
		var befores []*dnsv1.Zone
		for _, c := range changed {
			orig, ok := byID[c.GetId()]
			if !ok || seen[c.GetId()] || c.GetAccountId() != orig.zone.GetAccountId() || c.GetName() != orig.zone.GetName() {
				return nil, fmt.Errorf("update zones named %s: zone %s may not be changed this way", zr.zone.GetName(), c.GetId())
			}
			seen[c.GetId()] = true
			befores = append(befores, pristine[c.GetId()])
			v, err := marshalZone(c)
			if err != nil {
				return nil, err
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.zoneKey(c.GetId())), "=", orig.modRev))
			ops = append(ops, clientv3.OpPut(s.zoneKey(c.GetId()), v))
			if c.GetId() == zoneID {
				target = c
			}
		}
		audit, err := s.zonesAudit(ctx, op, befores, changed)
		if err != nil {
			return nil, err
		}
		ops = append(ops, audit...)
		tr, err := s.commitWrite(ctx, cmps, ops)
		if err != nil {
			return nil, fmt.Errorf("update zones named %s: etcd txn: %w", zr.zone.GetName(), err)
		}
		if tr.Succeeded {
			return target, nil
		}
	}
	return nil, fmt.Errorf("update zone %s: %w", zoneID, ErrConflict)
}

// ActivateZone makes the zone ACTIVE and moves any other account's ACTIVE
// zone of the same name to MOVED, atomically: at most one zone per name is
// active. A zone already active is returned unchanged.
func (s *Store) ActivateZone(ctx context.Context, zoneID string, now time.Time) (*dnsv1.Zone, error) {
	return s.UpdateZoneGroup(ctx, "ActivateZone", zoneID, func(target *dnsv1.Zone, others []*dnsv1.Zone) ([]*dnsv1.Zone, error) {
		if target.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
			return nil, nil
		}
		ts := timestamppb.New(now)
		t := cloneZone(target)
		t.Status = dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE
		t.ActivatedOn = ts
		t.ModifiedOn = ts
		t.StatusChangedOn = ts
		changed := []*dnsv1.Zone{t}
		for _, o := range others {
			if o.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
				m := cloneZone(o)
				m.Status = dnsv1.ZoneStatus_ZONE_STATUS_MOVED
				m.ModifiedOn = ts
				m.StatusChangedOn = ts
				changed = append(changed, m)
			}
		}
		return changed, nil
	})
}

// ListZones lists zones matching f, ordered by name within an account, by
// account within a name, by id otherwise.
func (s *Store) ListZones(ctx context.Context, f ZoneFilter, pageSize int, pageToken string) ([]*dnsv1.Zone, string, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	switch {
	case f.AccountID != "" && f.Name != "":
		if !validID(f.AccountID) {
			return nil, "", nil
		}
		resp, err := s.getAt(ctx, s.zoneNameKey(f.Name, f.AccountID), 0)
		if err != nil || len(resp.Kvs) == 0 {
			return nil, "", err
		}
		z, err := s.GetZoneAt(ctx, string(resp.Kvs[0].Value), resp.Header.Revision)
		if errors.Is(err, ErrNotFound) {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		return []*dnsv1.Zone{z}, "", nil
	case f.Name != "":
		return s.listIndex(ctx, s.zoneNamePrefix(f.Name), pageSize, pageToken, true)
	case f.AccountID != "":
		if !validID(f.AccountID) {
			return nil, "", nil
		}
		return s.listIndex(ctx, s.accountZonesPrefix(f.AccountID), pageSize, pageToken, true)
	default:
		return s.listIndex(ctx, s.zonesPrefix(), pageSize, pageToken, false)
	}
}

// listIndex pages through a range whose values are zone ids (indirect) or
// zones.
func (s *Store) listIndex(ctx context.Context, prefix string, pageSize int, pageToken string, indirect bool) ([]*dnsv1.Zone, string, error) {
	resp, kvs, next, err := s.page(ctx, prefix, pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	out := make([]*dnsv1.Zone, 0, len(kvs))
	for _, kv := range kvs {
		if !indirect {
			z, err := unmarshal(kv.Value, &dnsv1.Zone{}, "zone "+string(kv.Key))
			if err != nil {
				return nil, "", err
			}
			out = append(out, z)
			continue
		}
		z, err := s.GetZoneAt(ctx, string(kv.Value), resp.Header.Revision)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, z)
	}
	return out, next, nil
}

func cloneZone(z *dnsv1.Zone) *dnsv1.Zone {
	return protoClone(z)
}

// readZoneForDelete reads the zone, its zonemark revision and its record
// count in one round trip.
func (s *Store) readZoneForDelete(ctx context.Context, zoneID string) (zr zoneRev, markRev, records int64, err error) {
	if !validID(zoneID) {
		return zoneRev{}, 0, 0, fmt.Errorf("zone %q: %w", zoneID, ErrNotFound)
	}
	tr, err := s.kv.Txn(ctx).Then(
		clientv3.OpGet(s.zoneKey(zoneID)),
		clientv3.OpGet(s.zoneMarkKey(zoneID)),
		clientv3.OpGet(s.recordIDsPrefix(zoneID), clientv3.WithPrefix(), clientv3.WithCountOnly()),
	).Commit()
	if err != nil {
		return zoneRev{}, 0, 0, fmt.Errorf("read zone %s for delete: etcd txn: %w", zoneID, err)
	}
	kvs := tr.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return zoneRev{}, 0, 0, fmt.Errorf("zone %s: %w", zoneID, ErrNotFound)
	}
	z, err := unmarshal(kvs[0].Value, &dnsv1.Zone{}, "zone "+zoneID)
	if err != nil {
		return zoneRev{}, 0, 0, err
	}
	if m := tr.Responses[1].GetResponseRange().Kvs; len(m) > 0 {
		markRev = m[0].ModRevision
	}
	return zoneRev{zone: z, modRev: kvs[0].ModRevision}, markRev, tr.Responses[2].GetResponseRange().Count, nil
}

// deleteZoneAudit returns the audit ops of deleting z with its records:
// the zone, and the records summarized as their count.
func (s *Store) deleteZoneAudit(ctx context.Context, z *dnsv1.Zone, records int64) ([]clientv3.Op, error) {
	purged := cloneZone(z)
	purged.Status = dnsv1.ZoneStatus_ZONE_STATUS_PURGED
	zc, err := auditChange(AuditZone, z.GetId(), z, purged)
	if err != nil {
		return nil, err
	}
	rc, err := auditChange(AuditRecordsDeleted, z.GetId(), wrapperspb.Int64(records), nil)
	if err != nil {
		return nil, err
	}
	return s.auditPut(ctx, auditInput{AccountID: z.GetAccountId(), ZoneID: z.GetId(), Op: "PurgeZone", Changes: []*dnsv1.AuditChange{zc, rc}})
}

// zonesAudit returns the audit ops of zones changed from befores[i] (nil:
// created) to afters[i]: one entry per account whose zones changed, so that
// activating a zone shows in the log of the account whose zone it moved.
func (s *Store) zonesAudit(ctx context.Context, op string, befores, afters []*dnsv1.Zone) ([]clientv3.Op, error) {
	now := time.Now()
	var entries []auditEntry
	var accounts []string
	byAccount := map[string]*auditInput{}
	for i, z := range afters {
		var before *dnsv1.Zone
		if i < len(befores) {
			before = befores[i]
		}
		ch, err := auditChange(AuditZone, z.GetId(), before, z)
		if err != nil {
			return nil, err
		}
		in := byAccount[z.GetAccountId()]
		if in == nil {
			in = &auditInput{AccountID: z.GetAccountId(), Op: op}
			byAccount[z.GetAccountId()] = in
			accounts = append(accounts, z.GetAccountId())
		}
		in.Changes = append(in.Changes, ch)
	}
	for _, a := range accounts {
		in := byAccount[a]
		if len(in.Changes) == 1 {
			in.ZoneID = in.Changes[0].GetResourceId()
		}
		e, err := s.buildAudit(ctx, now, *in)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return s.auditOps(now, entries...), nil
}
