package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/zonegrid/zonegrid/controlplane/plans"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// AuditZoneDefaults is the resource type of an account's DNS zone
// defaults in the audit log.
const AuditZoneDefaults = "account_zone_defaults"

func (s *Store) zoneDefaultsKey(acct string) string {
	return s.prefix + "/data/accounts/" + acct + "/zonedefaults"
}

// GetAccountZoneDefaults returns the DNS zone defaults of an account; an
// account that never stored any has the platform's (every field zero).
func (s *Store) GetAccountZoneDefaults(ctx context.Context, accountID string) (*dnsv1.AccountZoneDefaults, error) {
	if !validID(accountID) {
		return nil, fmt.Errorf("account %q: %w", accountID, ErrNotFound)
	}
	resp, err := s.getAt(ctx, s.zoneDefaultsKey(accountID), 0)
	if err != nil {
		return nil, fmt.Errorf("read zone defaults of account %s: %w", accountID, err)
	}
	if len(resp.Kvs) == 0 {
		return &dnsv1.AccountZoneDefaults{}, nil
	}
	return unmarshal(resp.Kvs[0].Value, &dnsv1.AccountZoneDefaults{}, "zone defaults "+accountID)
}

// ZoneDefaultsFor returns what a zone created now in the account starts
// with: the account's DNS zone defaults (platform defaults when it has
// none). CreateZone calls it once, before its transaction, and builds the
// new zone's settings with InitialZoneSettings; the nameserver method and
// set are for the nameserver assignment. Zones that exist already are
// never changed by the defaults ("applied to new zones only").
func (s *Store) ZoneDefaultsFor(ctx context.Context, accountID string) (*dnsv1.AccountZoneDefaults, error) {
	return s.GetAccountZoneDefaults(ctx, accountID)
}

// InitialZoneSettings returns the settings a new zone starts with under
// the account's defaults d: the fields that apply to its setup (full: NS
// TTL, SOA, multi-provider; full and partial: flatten all CNAMEs;
// secondary: secondary override, as "Configure DNS zone defaults" lists
// them), less what its plan does not offer (SOA fields below Enterprise,
// flatten-all on Free), so that a new zone never holds a setting its own
// settings API would refuse. d may be nil.
func InitialZoneSettings(d *dnsv1.AccountZoneDefaults, zoneType dnsv1.ZoneType, plan dnsv1.Plan) *dnsv1.ZoneSettings {
	zs := &dnsv1.ZoneSettings{}
	if d == nil {
		return zs
	}
	l := plans.For(plan)
	full := zoneType == dnsv1.ZoneType_ZONE_TYPE_FULL || zoneType == dnsv1.ZoneType_ZONE_TYPE_UNSPECIFIED
	if full {
		zs.NsTtl = d.GetNsTtl()
		zs.MultiProvider = d.GetMultiProvider()
		if l.SOAEdits {
			zs.SoaMname, zs.SoaRname, zs.SoaTtl = d.GetSoaMname(), d.GetSoaRname(), d.GetSoaTtl()
			zs.SoaRefresh, zs.SoaRetry, zs.SoaExpire, zs.SoaMinTtl = d.GetSoaRefresh(), d.GetSoaRetry(), d.GetSoaExpire(), d.GetSoaMinTtl()
		}
	}
	if zoneType != dnsv1.ZoneType_ZONE_TYPE_SECONDARY && l.FlattenAll {
		zs.FlattenAllCnames = d.GetFlattenAllCnames()
	}
	if zoneType == dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
		zs.SecondaryOverrides = d.GetSecondaryOverrides()
	}
	return zs
}

// UpdateAccountZoneDefaults applies fn to the account's current zone
// defaults and stores the result, with its audit entry, if they did not
// change meanwhile (else fn runs again). An error from fn is returned as
// is.
func (s *Store) UpdateAccountZoneDefaults(ctx context.Context, accountID string, fn func(cur *dnsv1.AccountZoneDefaults) (*dnsv1.AccountZoneDefaults, error)) (*dnsv1.AccountZoneDefaults, error) {
	if !validID(accountID) {
		return nil, fmt.Errorf("account %q: %w", accountID, ErrNotFound)
	}
	key := s.zoneDefaultsKey(accountID)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		resp, err := s.getAt(ctx, key, 0)
		if err != nil {
			return nil, fmt.Errorf("read zone defaults of account %s: %w", accountID, err)
		}
		cur := &dnsv1.AccountZoneDefaults{}
		var modRev int64
		if len(resp.Kvs) > 0 {
			if cur, err = unmarshal(resp.Kvs[0].Value, cur, "zone defaults "+accountID); err != nil {
				return nil, err
			}
			modRev = resp.Kvs[0].ModRevision
		}
		next, err := fn(protoClone(cur))
		if err != nil {
			return nil, err
		}
		v, err := marshal(next, "zone defaults "+accountID)
		if err != nil {
			return nil, err
		}
		audit, err := s.settingsAudit(ctx, auditInput{AccountID: accountID, Op: "UpdateAccountZoneDefaults"}, AuditZoneDefaults, accountID, cur, next)
		if err != nil {
			return nil, err
		}
		tr, err := s.commitWrite(ctx,
			[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", modRev)},
			append([]clientv3.Op{clientv3.OpPut(key, v)}, audit...))
		if err != nil {
			return nil, fmt.Errorf("update zone defaults of account %s: etcd txn: %w", accountID, err)
		}
		if tr.Succeeded {
			return next, nil
		}
	}
	return nil, fmt.Errorf("update zone defaults of account %s: %w", accountID, ErrConflict)
}
