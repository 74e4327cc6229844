package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// A zone's DNSSEC (status, settings, keys with sealed private parts) lives
// under data/ because it changes what the edges answer: the builder
// republishes the zone when it changes. The DS checks' bookkeeping lives
// under lifecycle/, like the zone lifecycle's, so a check that changes
// nothing wakes no builder.

func (s *Store) dnssecKey(zoneID string) string { return s.dnssecPrefix() + zoneID }
func (s *Store) dnssecPrefix() string           { return s.prefix + "/data/dnssec/" }
func (s *Store) dnssecChecksKey(zoneID string) string {
	return s.prefix + "/lifecycle/dnssec/" + zoneID
}

// DnssecPrefix is where every zone's DNSSEC state lives (the builder
// watches it with the rest of data/).
func (s *Store) DnssecPrefix() string { return s.dnssecPrefix() }

// AuditDnssec is the resource type of DNSSEC changes in the audit log:
// before/after are dns.v1.DnssecState without the sealed private keys.
const AuditDnssec = "dnssec"

// GetDnssec returns the zone's DNSSEC state, nil when DNSSEC was never
// enabled or was deleted; ErrNotFound when the zone does not exist.
func (s *Store) GetDnssec(ctx context.Context, zoneID string) (*dnsv1.DnssecState, error) {
	return s.DnssecAt(ctx, zoneID, 0)
}

// DnssecAt is GetDnssec at an etcd revision (0 = latest).
func (s *Store) DnssecAt(ctx context.Context, zoneID string, rev int64) (*dnsv1.DnssecState, error) {
	_, readRev, err := s.getZoneRev(ctx, zoneID, rev)
	if err != nil {
		return nil, err
	}
	resp, err := s.getAt(ctx, s.dnssecKey(zoneID), readRev)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return unmarshal(resp.Kvs[0].Value, &dnsv1.DnssecState{}, "dnssec of zone "+zoneID)
}

// UpdateDnssec applies fn to the zone's DNSSEC state (nil when none) and
// stores its result, or deletes the state when fn returns nil, if neither
// the zone nor the state changed meanwhile (else fn runs again). op names
// the change in the audit log. ErrNotFound if the zone does not exist; an
// error from fn is returned as is. fn may be called several times and must
// not keep what it is given.
func (s *Store) UpdateDnssec(ctx context.Context, zoneID, op string, fn func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error)) (*dnsv1.DnssecState, error) {
	key := s.dnssecKey(zoneID)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		zr, readRev, err := s.getZoneRev(ctx, zoneID, 0)
		if err != nil {
			return nil, err
		}
		resp, err := s.getAt(ctx, key, readRev)
		if err != nil {
			return nil, err
		}
		var cur *dnsv1.DnssecState
		var modRev int64
		if len(resp.Kvs) > 0 {
			if cur, err = unmarshal(resp.Kvs[0].Value, &dnsv1.DnssecState{}, "dnssec of zone "+zoneID); err != nil {
				return nil, err
			}
			modRev = resp.Kvs[0].ModRevision
		}
		var in *dnsv1.DnssecState
		if cur != nil {
			in = protoClone(cur)
		}
		next, err := fn(zr.zone, in)
		if err != nil {
			return nil, err
		}
		if cur == nil && next == nil {
			// Nothing before, nothing after (disabling or deleting a
			// DNSSEC never enabled): no write, no audit entry; a retry
			// under the same request id runs again, as harmlessly.
			return nil, nil
		}
		var ops []clientv3.Op
		if next == nil {
			ops = append(ops, clientv3.OpDelete(key), clientv3.OpDelete(s.dnssecChecksKey(zoneID)))
		} else {
			v, err := marshal(next, "dnssec of zone "+zoneID)
			if err != nil {
				return nil, err
			}
			ops = append(ops, clientv3.OpPut(key, v))
		}
		audit, err := s.settingsAudit(ctx, auditInput{AccountID: zr.zone.GetAccountId(), ZoneID: zoneID, Op: op}, AuditDnssec, zoneID, publicDnssec(cur), publicDnssec(next))
		if err != nil {
			return nil, err
		}
		tr, err := s.commitWrite(ctx, []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(s.zoneKey(zoneID)), "=", zr.modRev),
			clientv3.Compare(clientv3.ModRevision(key), "=", modRev),
		}, append(ops, audit...))
		if err != nil {
			return nil, fmt.Errorf("update dnssec of zone %s: etcd txn: %w", zoneID, err)
		}
		if tr.Succeeded {
			return next, nil
		}
	}
	return nil, fmt.Errorf("update dnssec of zone %s: %w", zoneID, ErrConflict)
}

// publicDnssec is st without the sealed private keys, for the audit log,
// which users read: sealed keys are not plaintext, but they have no
// business there.
func publicDnssec(st *dnsv1.DnssecState) proto.Message {
	if st == nil {
		return nil
	}
	c := protoClone(st)
	for _, k := range c.GetKeys() {
		k.SealedPrivateKey = nil
	}
	return c
}

// DnssecZones returns the ids of the zones that have a DNSSEC state, for
// the scheduled work (rollovers, DS checks): a keys-only read.
func (s *Store) DnssecZones(ctx context.Context) ([]string, error) {
	resp, err := s.getAt(ctx, s.dnssecPrefix(), 0, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list dnssec zones: %w", err)
	}
	out := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key[len(s.dnssecPrefix()):]))
	}
	return out, nil
}

// GetDnssecChecks returns the state of the zone's DS checks (empty when
// none ran).
func (s *Store) GetDnssecChecks(ctx context.Context, zoneID string) (*dnsv1.DnssecChecks, error) {
	resp, err := s.getAt(ctx, s.dnssecChecksKey(zoneID), 0)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return &dnsv1.DnssecChecks{}, nil
	}
	return unmarshal(resp.Kvs[0].Value, &dnsv1.DnssecChecks{}, "dnssec checks of zone "+zoneID)
}

// PutDnssecChecks stores the state of the zone's DS checks, if the zone's
// DNSSEC state still exists.
func (s *Store) PutDnssecChecks(ctx context.Context, zoneID string, c *dnsv1.DnssecChecks) error {
	v, err := marshal(c, "dnssec checks of zone "+zoneID)
	if err != nil {
		return err
	}
	_, err = s.commitWrite(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.dnssecKey(zoneID)), ">", 0)},
		[]clientv3.Op{clientv3.OpPut(s.dnssecChecksKey(zoneID), v)})
	if err != nil {
		return fmt.Errorf("store dnssec checks of zone %s: %w", zoneID, err)
	}
	return nil
}
