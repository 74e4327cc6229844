package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// An account's custom nameservers are one value: the rules across sets (a
// name in one set only, at most five sets) are checked on the whole list.
// The builder ignores the key: what the edges answer for the names lives in
// the zones that contain them (Zone.hosted_nameservers), written in the
// same transaction.
func (s *Store) customNSKey(acct string) string {
	return s.prefix + "/data/accounts/" + acct + "/customns"
}

// CustomNameservers returns the account's custom nameservers (empty when
// none).
func (s *Store) CustomNameservers(ctx context.Context, accountID string) (*dnsv1.AccountCustomNameservers, error) {
	if !validID(accountID) {
		return &dnsv1.AccountCustomNameservers{}, nil
	}
	return s.nameserverList(ctx, s.customNSKey(accountID), "custom nameservers of "+accountID)
}

// nameserverList reads a list of custom nameservers (empty when the key is
// absent).
func (s *Store) nameserverList(ctx context.Context, key, what string) (*dnsv1.AccountCustomNameservers, error) {
	resp, err := s.getAt(ctx, key, 0)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return &dnsv1.AccountCustomNameservers{}, nil
	}
	return unmarshal(resp.Kvs[0].Value, &dnsv1.AccountCustomNameservers{}, what)
}

// UpdateCustomNameservers applies fn to the account's custom nameservers
// and its zones (read at one revision) and commits the new list with the
// zones fn changed (their hosted_nameservers) in one transaction that
// fails, and runs fn again, if any of them changed meanwhile. An error from
// fn is returned as is; op names the change in the audit log.
func (s *Store) UpdateCustomNameservers(ctx context.Context, op, accountID string, fn func(cur *dnsv1.AccountCustomNameservers, zones []*dnsv1.Zone) (*dnsv1.AccountCustomNameservers, []*dnsv1.Zone, error)) (*dnsv1.AccountCustomNameservers, error) {
	if !validID(accountID) {
		return nil, fmt.Errorf("account %q: invalid id", accountID)
	}
	key := s.customNSKey(accountID)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		resp, err := s.getAt(ctx, key, 0)
		if err != nil {
			return nil, err
		}
		rev := resp.Header.Revision
		cur := &dnsv1.AccountCustomNameservers{}
		var modRev int64
		if len(resp.Kvs) > 0 {
			modRev = resp.Kvs[0].ModRevision
			if cur, err = unmarshal(resp.Kvs[0].Value, &dnsv1.AccountCustomNameservers{}, "custom nameservers of "+accountID); err != nil {
				return nil, err
			}
		}
		idx, err := s.getAt(ctx, s.accountZonesPrefix(accountID), rev, clientv3.WithPrefix())
		if err != nil {
			return nil, err
		}
		var zones []*dnsv1.Zone
		modRevs := map[string]int64{}
		for _, kv := range idx.Kvs {
			zr, _, err := s.getZoneRev(ctx, string(kv.Value), rev)
			if err != nil {
				continue // gone meanwhile: not the account's any more
			}
			zones = append(zones, zr.zone)
			modRevs[zr.zone.GetId()] = zr.modRev
		}
		before := proto.Clone(cur).(*dnsv1.AccountCustomNameservers)
		pristine := map[string]*dnsv1.Zone{}
		for _, z := range zones {
			pristine[z.GetId()] = cloneZone(z)
		}
		next, changed, err := fn(cur, zones)
		if err != nil {
			return nil, err
		}
		v, err := marshal(next, "custom nameservers of "+accountID)
		if err != nil {
			return nil, err
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", modRev)}
		ops := []clientv3.Op{clientv3.OpPut(key, v)}
		var befores []*dnsv1.Zone
		for _, z := range changed {
			mr, ok := modRevs[z.GetId()]
			if !ok || z.GetAccountId() != accountID {
				return nil, fmt.Errorf("custom nameservers of %s: zone %s is not the account's", accountID, z.GetId())
			}
			zv, err := marshalZone(z)
			if err != nil {
				return nil, err
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.zoneKey(z.GetId())), "=", mr))
			ops = append(ops, clientv3.OpPut(s.zoneKey(z.GetId()), zv))
			befores = append(befores, pristine[z.GetId()])
		}
		bc, err := auditChange(AuditCustomNameservers, accountID, before, next)
		if err != nil {
			return nil, err
		}
		// One entry: the list and the zones whose glue it changed.
		changes := []*dnsv1.AuditChange{bc}
		for i, z := range changed {
			zc, err := auditChange(AuditZone, z.GetId(), befores[i], z)
			if err != nil {
				return nil, err
			}
			changes = append(changes, zc)
		}
		audit, err := s.auditPut(ctx, auditInput{AccountID: accountID, Op: op, Changes: changes})
		if err != nil {
			return nil, err
		}
		ops = append(ops, audit...)
		tr, err := s.commitWrite(ctx, cmps, ops)
		if err != nil {
			return nil, fmt.Errorf("custom nameservers of %s: etcd txn: %w", accountID, err)
		}
		if tr.Succeeded {
			return next, nil
		}
	}
	return nil, fmt.Errorf("custom nameservers of %s: %w", accountID, ErrConflict)
}
