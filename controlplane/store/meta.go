package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
)

// BuilderRevision returns the last etcd revision the zone builder
// published, 0 if none was stored.
func (s *Store) BuilderRevision(ctx context.Context) (int64, error) {
	resp, err := s.getAt(ctx, s.builderRevisionKey(), 0)
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	rev, err := strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("decode builder revision %q: %w", resp.Kvs[0].Value, err)
	}
	return rev, nil
}

// SetBuilderRevision stores the last revision the builder published. It is
// outside the data prefix so that storing it does not wake the builder.
func (s *Store) SetBuilderRevision(ctx context.Context, rev int64) error {
	if _, err := s.kv.Put(ctx, s.builderRevisionKey(), strconv.FormatInt(rev, 10)); err != nil {
		return fmt.Errorf("store builder revision %d: %w", rev, err)
	}
	return nil
}

// CurrentRevision returns etcd's current revision.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.kv.Get(ctx, s.builderRevisionKey(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("etcd current revision: %w", err)
	}
	return resp.Header.Revision, nil
}

// keysAt returns every key under prefix at rev, without values.
func (s *Store) keysAt(ctx context.Context, prefix string, rev int64) ([]string, error) {
	var out []string
	err := s.pagesAt(ctx, prefix, rev, func(kv *mvccpb.KeyValue) { out = append(out, string(kv.Key)) }, clientv3.WithKeysOnly())
	return out, err
}

// pagesAt calls fn for every key under prefix at rev, read with range
// requests of scanBatch keys (for small ranges such as the zone names;
// whole zones go through streamRange).
func (s *Store) pagesAt(ctx context.Context, prefix string, rev int64, fn func(*mvccpb.KeyValue), opts ...clientv3.OpOption) error {
	start, end := prefix, prefixEnd(prefix)
	opts = append(opts, clientv3.WithRange(end), clientv3.WithLimit(scanBatch))
	for {
		resp, err := s.getAt(ctx, start, rev, opts...)
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			fn(kv)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// ZoneNamesAt returns every distinct zone name at rev, sorted.
func (s *Store) ZoneNamesAt(ctx context.Context, rev int64) ([]string, error) {
	keys, err := s.keysAt(ctx, s.zoneNamesPrefix(), rev)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		rest := strings.TrimPrefix(k, s.zoneNamesPrefix())
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			continue
		}
		if n := rest[:i]; len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return out, nil
}

// AccountsWithSettingsAt returns the ids of accounts that stored settings.
func (s *Store) AccountsWithSettingsAt(ctx context.Context, rev int64) ([]string, error) {
	keys, err := s.keysAt(ctx, s.prefix+"/data/accounts/", rev)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		if dk := s.ParseDataKey(k); dk.Kind == KindAccountSettings {
			out = append(out, dk.AccountID)
		}
	}
	return out, nil
}

// KeyKind is what a data key stores.
type KeyKind int

// Kinds of data keys.
const (
	KindUnknown KeyKind = iota
	KindAccountSettings
	KindAccountNameservers
	KindZone
	KindZoneSettings
	KindZoneName
	KindZoneIndex // zonetree and accountzones: mirror KindZoneName
	KindRecord
	KindRecordID
	KindZoneMark
	KindDnssec // a zone's DNSSEC state (dnssec.go)
	// KindTransferZone is a zone's incoming or outgoing transfer
	// configuration (transfer.go): its header's Transfer changes.
	KindTransferZone
	// KindTransferAccount is an account's TSIG key, peer or ACL: the
	// Transfer of every zone of the account with a transfer configuration
	// may change (ACLs apply account-wide; peers and keys are shared).
	KindTransferAccount
)

// DataKey is a parsed data key. Fields the kind does not carry are empty.
type DataKey struct {
	Kind      KeyKind
	AccountID string
	ZoneID    string
	Name      string // zone name for KindZoneName, owner name for KindRecord
}

// ParseDataKey tells what a key under DataPrefix stores, for the builder
// to map watch events to zones and accounts.
func (s *Store) ParseDataKey(key string) DataKey {
	rest, ok := strings.CutPrefix(key, s.DataPrefix())
	if !ok {
		return DataKey{}
	}
	parts := strings.Split(rest, "/")
	switch parts[0] {
	case "accounts":
		if len(parts) == 3 && parts[2] == "settings" {
			return DataKey{Kind: KindAccountSettings, AccountID: parts[1]}
		}
		if len(parts) == 3 && parts[2] == "nameservers" {
			return DataKey{Kind: KindAccountNameservers, AccountID: parts[1]}
		}
	case "zones":
		if len(parts) == 2 {
			return DataKey{Kind: KindZone, ZoneID: parts[1]}
		}
	case "zonesettings":
		if len(parts) == 2 {
			return DataKey{Kind: KindZoneSettings, ZoneID: parts[1]}
		}
	case "zonenames":
		if len(parts) == 3 {
			return DataKey{Kind: KindZoneName, Name: parts[1], AccountID: parts[2]}
		}
	case "zonetree", "accountzones":
		return DataKey{Kind: KindZoneIndex}
	case "records":
		if len(parts) == 4 {
			return DataKey{Kind: KindRecord, ZoneID: parts[1], Name: dnsname.Unreverse(parts[2])}
		}
	case "recordids":
		if len(parts) == 3 {
			return DataKey{Kind: KindRecordID, ZoneID: parts[1]}
		}
	case "zonemark":
		if len(parts) == 2 {
			return DataKey{Kind: KindZoneMark, ZoneID: parts[1]}
		}
	case "dnssec":
		if len(parts) == 2 {
			return DataKey{Kind: KindDnssec, ZoneID: parts[1]}
		}
	case "transfer":
		// transfer/zones/<zone>/<dir> and transfer/accounts/<acct>/<kind>/<id>.
		// The peerlinks index changes only with a zone configuration (same
		// transaction), whose own event is enough: KindUnknown.
		if len(parts) == 4 && parts[1] == "zones" {
			return DataKey{Kind: KindTransferZone, ZoneID: parts[2]}
		}
		if len(parts) == 5 && parts[1] == "accounts" {
			switch parts[3] {
			case "tsigs", "peers", "acls":
				return DataKey{Kind: KindTransferAccount, AccountID: parts[2]}
			}
		}
	}
	return DataKey{}
}
