package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// GetAccountSettings returns the account's settings; an account that never
// stored any has the defaults (accounts exist implicitly).
func (s *Store) GetAccountSettings(ctx context.Context, accountID string) (*dnsv1.AccountSettings, error) {
	return s.AccountSettingsAt(ctx, accountID, 0)
}

// AccountSettingsAt is GetAccountSettings at an etcd revision (0 = latest).
func (s *Store) AccountSettingsAt(ctx context.Context, accountID string, rev int64) (*dnsv1.AccountSettings, error) {
	if !validID(accountID) {
		return nil, fmt.Errorf("account %q: %w", accountID, ErrNotFound)
	}
	resp, err := s.getAt(ctx, s.accountSettingsKey(accountID), rev)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return &dnsv1.AccountSettings{}, nil
	}
	return unmarshal(resp.Kvs[0].Value, &dnsv1.AccountSettings{}, "account settings "+accountID)
}

// UpdateAccountSettings applies fn to the current settings and stores the
// result if they did not change meanwhile (else fn runs again). An error
// from fn is returned as is.
func (s *Store) UpdateAccountSettings(ctx context.Context, accountID string, fn func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error)) (*dnsv1.AccountSettings, error) {
	if !validID(accountID) {
		return nil, fmt.Errorf("account %q: %w", accountID, ErrNotFound)
	}
	key := s.accountSettingsKey(accountID)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		resp, err := s.getAt(ctx, key, 0)
		if err != nil {
			return nil, err
		}
		cur := &dnsv1.AccountSettings{}
		var modRev int64
		if len(resp.Kvs) > 0 {
			if cur, err = unmarshal(resp.Kvs[0].Value, cur, "account settings "+accountID); err != nil {
				return nil, err
			}
			modRev = resp.Kvs[0].ModRevision
		}
		next, err := fn(protoClone(cur))
		if err != nil {
			return nil, err
		}
		v, err := marshal(next, "account settings "+accountID)
		if err != nil {
			return nil, err
		}
		audit, err := s.settingsAudit(ctx, auditInput{AccountID: accountID, Op: "UpdateAccountSettings"}, AuditAccountSettings, accountID, cur, next)
		if err != nil {
			return nil, err
		}
		tr, err := s.commitWrite(ctx,
			[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", modRev)},
			append([]clientv3.Op{clientv3.OpPut(key, v)}, audit...))
		if err != nil {
			return nil, fmt.Errorf("update account settings %s: etcd txn: %w", accountID, err)
		}
		if tr.Succeeded {
			return next, nil
		}
	}
	return nil, fmt.Errorf("update account settings %s: %w", accountID, ErrConflict)
}

// GetZoneSettings returns the settings of a zone, ErrNotFound if the zone
// does not exist.
func (s *Store) GetZoneSettings(ctx context.Context, zoneID string) (*dnsv1.ZoneSettings, error) {
	_, zs, _, err := s.zoneAndSettings(ctx, zoneID, 0)
	return zs, err
}

// ZoneSettingsAt is GetZoneSettings at an etcd revision.
func (s *Store) ZoneSettingsAt(ctx context.Context, zoneID string, rev int64) (*dnsv1.ZoneSettings, error) {
	_, zs, _, err := s.zoneAndSettings(ctx, zoneID, rev)
	return zs, err
}

type settingsRead struct {
	zoneModRev, settingsModRev, rev int64
}

func (s *Store) zoneAndSettings(ctx context.Context, zoneID string, rev int64) (zoneRev, *dnsv1.ZoneSettings, settingsRead, error) {
	zr, readRev, err := s.getZoneRev(ctx, zoneID, rev)
	if err != nil {
		return zoneRev{}, nil, settingsRead{}, err
	}
	resp, err := s.getAt(ctx, s.zoneSettingsKey(zoneID), readRev)
	if err != nil {
		return zoneRev{}, nil, settingsRead{}, err
	}
	sr := settingsRead{zoneModRev: zr.modRev, rev: readRev}
	zs := &dnsv1.ZoneSettings{}
	if len(resp.Kvs) > 0 {
		if zs, err = unmarshal(resp.Kvs[0].Value, zs, "zone settings "+zoneID); err != nil {
			return zoneRev{}, nil, settingsRead{}, err
		}
		sr.settingsModRev = resp.Kvs[0].ModRevision
	}
	return zr, zs, sr, nil
}

// UpdateZoneSettings applies fn to the zone's current settings (fn also
// sees the zone, e.g. for its plan) and stores the result if neither
// changed meanwhile (else fn runs again). ErrNotFound if the zone does not
// exist; an error from fn is returned as is.
func (s *Store) UpdateZoneSettings(ctx context.Context, zoneID string, fn func(z *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error)) (*dnsv1.ZoneSettings, error) {
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		zr, cur, sr, err := s.zoneAndSettings(ctx, zoneID, 0)
		if err != nil {
			return nil, err
		}
		next, err := fn(zr.zone, protoClone(cur))
		if err != nil {
			return nil, err
		}
		v, err := marshal(next, "zone settings "+zoneID)
		if err != nil {
			return nil, err
		}
		audit, err := s.settingsAudit(ctx, auditInput{AccountID: zr.zone.GetAccountId(), ZoneID: zoneID, Op: "UpdateZoneSettings"}, AuditZoneSettings, zoneID, cur, next)
		if err != nil {
			return nil, err
		}
		tr, err := s.commitWrite(ctx, []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(s.zoneKey(zoneID)), "=", sr.zoneModRev),
			clientv3.Compare(clientv3.ModRevision(s.zoneSettingsKey(zoneID)), "=", sr.settingsModRev),
		}, append([]clientv3.Op{clientv3.OpPut(s.zoneSettingsKey(zoneID), v)}, audit...))
		if err != nil {
			return nil, fmt.Errorf("update zone settings %s: etcd txn: %w", zoneID, err)
		}
		if tr.Succeeded {
			return next, nil
		}
	}
	return nil, fmt.Errorf("update zone settings %s: %w", zoneID, ErrConflict)
}

// settingsAudit returns the audit ops of a settings change from before to
// after.
func (s *Store) settingsAudit(ctx context.Context, in auditInput, resourceType, resourceID string, before, after proto.Message) ([]clientv3.Op, error) {
	ch, err := auditChange(resourceType, resourceID, before, after)
	if err != nil {
		return nil, err
	}
	in.Changes = []*dnsv1.AuditChange{ch}
	return s.auditPut(ctx, in)
}
