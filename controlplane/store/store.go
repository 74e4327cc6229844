// Package store keeps zonegrid's control-plane state in etcd: accounts,
// zones, zone settings and records, with the indexes the services and the
// zone builder need. Every write is one etcd transaction guarded by
// optimistic concurrency, so a failed or conflicting write changes nothing;
// record writes to one zone are group-committed (see group.go). The key
// schema is documented in README.md.
package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// DefaultPrefix is the etcd key prefix used when none is configured.
const DefaultPrefix = "/zonegrid"

// maxAttempts bounds optimistic-concurrency retries before ErrConflict.
const maxAttempts = 16

// Config configures a Store. Zero fields take the defaults below.
type Config struct {
	// Prefix is the etcd key prefix ("" means DefaultPrefix).
	Prefix string
	// MaxGroupWrites bounds how many queued record writes of one zone are
	// committed together in one etcd transaction (default 500).
	MaxGroupWrites int
	// MaxTxnOps and MaxTxnBytes bound the etcd operations and the bytes
	// (keys plus values) of one group transaction (defaults 65,536 and
	// 30 MiB: a 256 KiB zone-file import, up to 20,000 records, is one
	// write of about 40,000 operations and 12 MiB). The etcd server must
	// accept them: the embedded etcd runs with --max-txn-ops 65536 and
	// --max-request-bytes 32 MiB; a production etcd needs the same flags
	// raised at least this far (its defaults, 128 ops and 1.5 MiB, would
	// refuse large groups, batches and imports). A single write above the
	// bounds is still sent alone, and etcd decides.
	MaxTxnOps   int
	MaxTxnBytes int
	// MaxPreloadRecords is the largest zone (in records) whose records a
	// committer reads whole, in one range scan, into its in-memory
	// validation index (default 50,000). Larger zones get an index that
	// reads etcd on demand and keeps what it read.
	MaxPreloadRecords int
	// MaxIndexedRecords caps the records a committer keeps in memory
	// between groups (default 200,000); above it the index is dropped and
	// rebuilt on demand.
	MaxIndexedRecords int
	// CommitterIdle is how long a zone's committer (and its index) stays
	// after its last write (default one minute).
	CommitterIdle time.Duration
	// CallTimeout bounds every etcd call of the store, server-side,
	// whatever the caller's deadline (default DefaultCallTimeout, 5 s): a
	// call etcd does not answer in time fails with an *UnavailableError
	// instead of hanging the RPC that made it.
	CallTimeout time.Duration
	// TxnTimeout bounds one group commit as a whole: its reads, its commit
	// and its conflict retries, each of them also bounded by CallTimeout
	// (default six call timeouts, 30 s; never less than CallTimeout).
	TxnTimeout time.Duration
	// Registerer receives the store's metrics (nil: not exported).
	Registerer prometheus.Registerer
	// AuditRetention is how long audit entries are kept (default
	// DefaultAuditRetention, 90 days; negative: forever). Listings hide
	// older entries at once; SweepAudit deletes them.
	AuditRetention time.Duration
	// IdempotencyRetention is how long a request id is remembered at least
	// (default DefaultIdempotencyRetention, 24 h; negative: forever);
	// SweepIdempotency forgets older ones.
	IdempotencyRetention time.Duration
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	c.Prefix = strings.TrimSuffix(c.Prefix, "/")
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxGroupWrites, 500)
	def(&c.MaxTxnOps, 65536)
	def(&c.MaxTxnBytes, 30<<20)
	def(&c.MaxPreloadRecords, 50000)
	def(&c.MaxIndexedRecords, 200000)
	if c.CommitterIdle <= 0 {
		c.CommitterIdle = time.Minute
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.TxnTimeout <= 0 {
		c.TxnTimeout = txnTimeoutCalls * c.CallTimeout
	}
	c.TxnTimeout = max(c.TxnTimeout, c.CallTimeout)
	if c.AuditRetention == 0 {
		c.AuditRetention = DefaultAuditRetention
	}
	if c.IdempotencyRetention == 0 {
		c.IdempotencyRetention = DefaultIdempotencyRetention
	}
	return c
}

// Store is the etcd-backed state of the control plane. It is safe for
// concurrent use.
type Store struct {
	cli *clientv3.Client
	// kv is cli's KV with a server-side deadline on every call; every read
	// and write of the store goes through it.
	kv      etcdKV
	prefix  string
	cfg     Config
	log     *zap.Logger
	metrics *metrics

	mu         sync.Mutex
	committers map[string]*committer // zone id → its record-write committer

	// largeRanges remembers the ends of ranges found large (streamRange):
	// they are read through RangeStream at once, without the range request
	// that would count their keys. Only ranges above largeRangeKeys get an
	// entry, so it stays as small as the set of huge zones.
	largeRanges sync.Map // range end → struct{}
}

// New returns a Store keeping its keys under prefix ("" means DefaultPrefix),
// with the default Config otherwise.
func New(cli *clientv3.Client, prefix string, log *zap.Logger) *Store {
	return NewWithConfig(cli, Config{Prefix: prefix}, log)
}

// NewWithConfig returns a Store configured by cfg.
func NewWithConfig(cli *clientv3.Client, cfg Config, log *zap.Logger) *Store {
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{
		cli: cli, kv: boundedKV{kv: cli.KV, timeout: cfg.CallTimeout},
		prefix: cfg.Prefix, cfg: cfg, log: log,
		metrics:    newMetrics(cfg.Registerer),
		committers: map[string]*committer{},
	}
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

// ValidID reports whether id can name an object (zone, record, token,
// account) in the key schema.
func ValidID(id string) bool { return validID(id) }

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

// pageStart is the first key of the page pageToken asks for in the range
// of prefix: the range's start for the first page, else just after the
// last key the previous page returned.
func pageStart(prefix, pageToken string) (string, error) {
	if pageToken == "" {
		return prefix, nil
	}
	last, err := decodeToken(pageToken, prefix)
	if err != nil {
		return "", err
	}
	return last + "\x00", nil
}

// page reads one page of at most pageSize keys of prefix's range (opts
// narrow what is read, e.g. keys only) and the token of the next page
// ("" on the last one).
func (s *Store) page(ctx context.Context, prefix string, pageSize int, pageToken string, opts ...clientv3.OpOption) (*clientv3.GetResponse, []*mvccpb.KeyValue, string, error) {
	start, err := pageStart(prefix, pageToken)
	if err != nil {
		return nil, nil, "", err
	}
	opts = append(opts, clientv3.WithRange(prefixEnd(prefix)), clientv3.WithLimit(int64(pageSize)+1))
	resp, err := s.kv.Get(ctx, start, opts...)
	if err != nil {
		return nil, nil, "", fmt.Errorf("etcd list %s: %w", prefix, err)
	}
	kvs, next := resp.Kvs, ""
	if len(kvs) > pageSize {
		kvs = kvs[:pageSize]
		next = encodeToken(string(kvs[len(kvs)-1].Key))
	}
	return resp, kvs, next, nil
}

// prefixEnd returns the end of the range of keys with this prefix.
func prefixEnd(p string) string { return clientv3.GetPrefixRangeEnd(p) }

func protoClone[T proto.Message](m T) T {
	return proto.Clone(m).(T)
}
