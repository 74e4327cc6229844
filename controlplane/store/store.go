// Package store keeps zonegrid's control-plane state in etcd: accounts,
// zones, zone settings and records, with the indexes the services and the
// zone builder need. Every write is one etcd transaction guarded by
// optimistic concurrency, so a failed or conflicting write changes nothing.
// The key schema is documented in README.md.
package store

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// DefaultPrefix is the etcd key prefix used when none is configured.
const DefaultPrefix = "/zonegrid"

// maxAttempts bounds optimistic-concurrency retries before ErrConflict.
const maxAttempts = 16

// Store is the etcd-backed state of the control plane. It is safe for
// concurrent use.
type Store struct {
	cli    *clientv3.Client
	prefix string
	log    *zap.Logger
}

// New returns a Store keeping its keys under prefix ("" means DefaultPrefix).
func New(cli *clientv3.Client, prefix string, log *zap.Logger) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{cli: cli, prefix: prefix, log: log}
}

// Client is the etcd client the store uses (the builder watches with it).
func (s *Store) Client() *clientv3.Client { return s.cli }

// Prefix is the configured key prefix, without a trailing slash.
func (s *Store) Prefix() string { return s.prefix }

// Key constructors; see README.md for the schema.

// DataPrefix is the prefix of every key the builder reacts to.
func (s *Store) DataPrefix() string { return s.prefix + "/data/" }

func (s *Store) accountSettingsKey(acct string) string {
	return s.prefix + "/data/accounts/" + acct + "/settings"
}
func (s *Store) accountNSKey(acct string) string {
	return s.prefix + "/data/accounts/" + acct + "/nameservers"
}
func (s *Store) zoneKey(id string) string         { return s.prefix + "/data/zones/" + id }
func (s *Store) zonesPrefix() string              { return s.prefix + "/data/zones/" }
func (s *Store) zoneSettingsKey(id string) string { return s.prefix + "/data/zonesettings/" + id }
func (s *Store) zoneNamePrefix(name string) string {
	return s.prefix + "/data/zonenames/" + name + "/"
}
func (s *Store) zoneNamesPrefix() string { return s.prefix + "/data/zonenames/" }
func (s *Store) zoneNameKey(name, acct string) string {
	return s.zoneNamePrefix(name) + acct
}
func (s *Store) zoneTreePrefix(rname string) string { return s.prefix + "/data/zonetree/" + rname }
func (s *Store) zoneTreeKey(rname, acct string) string {
	return s.prefix + "/data/zonetree/" + rname + "/" + acct
}
func (s *Store) accountZonesPrefix(acct string) string {
	return s.prefix + "/data/accountzones/" + acct + "/"
}
func (s *Store) recordsPrefix(zoneID string) string {
	return s.prefix + "/data/records/" + zoneID + "/"
}
func (s *Store) recordKey(zoneID, rname, id string) string {
	return s.recordsPrefix(zoneID) + rname + "/" + id
}
func (s *Store) recordIDsPrefix(zoneID string) string {
	return s.prefix + "/data/recordids/" + zoneID + "/"
}
func (s *Store) recordIDKey(zoneID, id string) string { return s.recordIDsPrefix(zoneID) + id }
func (s *Store) zoneMarkKey(zoneID string) string     { return s.prefix + "/data/zonemark/" + zoneID }
func (s *Store) builderRevisionKey() string           { return s.prefix + "/meta/builder/revision" }

// validID rejects ids that would escape their place in the key schema.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ErrCorrupt is wrapped by errors for stored values that do not decode;
// retrying cannot fix them, so the builder skips such a zone instead of
// stalling on it.
var ErrCorrupt = errors.New("corrupt stored value")

func unmarshal[T proto.Message](b []byte, m T, what string) (T, error) {
	if err := proto.Unmarshal(b, m); err != nil {
		return m, fmt.Errorf("decode %s: %w: %w", what, ErrCorrupt, err)
	}
	return m, nil
}

func marshal(m proto.Message, what string) (string, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", what, err)
	}
	return string(b), nil
}

// encodeToken / decodeToken make page tokens opaque: a token is the last key
// returned, scoped to the range it came from so it cannot be replayed
// against another listing.
func encodeToken(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastKey))
}

// ErrBadPageToken is returned for a page token this store did not issue
// for the same listing.
var ErrBadPageToken = errors.New("invalid page token")

func decodeToken(tok, rangePrefix string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), rangePrefix) {
		return "", ErrBadPageToken
	}
	return string(b), nil
}

// prefixEnd returns the end of the range of keys with this prefix.
func prefixEnd(p string) string { return clientv3.GetPrefixRangeEnd(p) }

func protoClone[T proto.Message](m T) T {
	return proto.Clone(m).(T)
}
