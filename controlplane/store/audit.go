package store

// The audit log: one dns.v1.AuditLog per change request, put in the same
// etcd transaction as the change (so a change and its entry commit or fail
// together), listed per account by time, and deleted after
// Config.AuditRetention by SweepAudit.
//
// Keys (outside <p>/data/, so audit writes never wake the builder):
//
//	<p>/audit/log/<account_id>/<entry_id>/<zone_id>  dns.v1.AuditLog
//	<p>/audit/due/<bucket_end>/<account_id>          "" (the account has entries older than bucket_end)
//
// entry_id is 16 hex digits of the Unix time in nanoseconds followed by 16
// random hex digits: keys of one account sort by time, so a time range is
// one range read. zone_id is empty for account-wide changes; it is in the
// key so that listing one zone filters keys without reading the values of
// the other zones' entries. The due markers let SweepAudit find expired
// entries without walking every account.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Actor token ids recorded when the caller's own token is not.
const (
	// AuditInternal is the token id of a change without a caller in its
	// context (in-process callers such as background jobs, unit tests).
	AuditInternal = "internal"
	// AuditOtherAccount is the token id recorded in the log of an account
	// changed as a side effect of another account's call (activating a
	// zone moves another account's zone of the same name): that account
	// must not learn the other tenant's token, account or address.
	AuditOtherAccount = "other-account"
)

// Resource types of dns.v1.AuditChange.
const (
	AuditZone            = "zone"
	AuditRecord          = "record"
	AuditZoneSettings    = "zone_settings"
	AuditAccountSettings = "account_settings"
	// AuditCustomNameservers: before/after are dns.v1.AccountCustomNameservers.
	AuditCustomNameservers = "custom_nameservers"
	AuditToken             = "token"
	// AuditRecordsDeleted summarizes the records deleted with their zone:
	// before is a google.protobuf.Int64Value holding their count.
	AuditRecordsDeleted = "records"
)

// DefaultAuditRetention is how long audit entries are kept when
// Config.AuditRetention is zero. The source documents give no figure.
const DefaultAuditRetention = 90 * 24 * time.Hour

// auditInput is one change request for the audit log.
type auditInput struct {
	// AccountID owns the changed objects (required): the entry is listed
	// under it.
	AccountID string
	// ZoneID is set for changes of one zone, its records or settings.
	ZoneID string
	// Op names the store operation; it is the entry's action when the
	// caller has no gRPC method (in-process callers).
	Op      string
	Changes []*dnsv1.AuditChange
}

// auditEntry is an encoded entry, ready to be put.
type auditEntry struct {
	account    string
	key, value string
}

// size estimates what the entry's put costs in a transaction request.
func (e auditEntry) size() int { return len(e.key) + len(e.value) + 64 }

// auditChange builds one AuditChange. before or after may be nil (a
// creation, a deletion). Pass secret-bearing objects redacted: a token
// without its hash.
func auditChange(resourceType, resourceID string, before, after proto.Message) (*dnsv1.AuditChange, error) {
	c := &dnsv1.AuditChange{ResourceType: resourceType, ResourceId: resourceID}
	var err error
	if c.Before, err = anyOf(before); err != nil {
		return nil, fmt.Errorf("audit %s %s before: %w", resourceType, resourceID, err)
	}
	if c.After, err = anyOf(after); err != nil {
		return nil, fmt.Errorf("audit %s %s after: %w", resourceType, resourceID, err)
	}
	return c, nil
}

// anyOf wraps m in an Any; nil (or a typed nil) stays nil.
func anyOf(m proto.Message) (*anypb.Any, error) {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil, nil
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &anypb.Any{TypeUrl: "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName()), Value: b}, nil
}

func (s *Store) auditLogPrefix(acct string) string { return s.prefix + "/audit/log/" + acct + "/" }
func (s *Store) auditDuePrefix() string            { return s.prefix + "/audit/due/" }

// AuditPrefix is the prefix of every audit key (outside DataPrefix).
func (s *Store) AuditPrefix() string { return s.prefix + "/audit/" }

// timeHex encodes t as 16 hex digits that sort like the times (times
// before 1970 sort first, as 0).
func timeHex(t time.Time) string { return hex16(uint64(max(t.UnixNano(), 0))) }

// hex16 is v as 16 lower-case hex digits (cheaper than fmt on the write
// path).
func hex16(v uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// auditBucket is the width of the due buckets: an entry stays at most
// about one bucket past its retention.
func (s *Store) auditBucket() time.Duration {
	return min(max(s.cfg.AuditRetention/16, 10*time.Millisecond), time.Hour)
}

// dueKey is the marker of acct for the bucket holding now.
func (s *Store) dueKey(acct string, now time.Time) string {
	w := s.auditBucket()
	end := now.Truncate(w).Add(w)
	return s.auditDuePrefix() + timeHex(end) + "/" + acct
}

// buildAudit encodes the entry of one change request made by the caller in
// ctx at now. It does no I/O.
func (s *Store) buildAudit(ctx context.Context, now time.Time, in auditInput) (auditEntry, error) {
	if !validID(in.AccountID) {
		return auditEntry{}, fmt.Errorf("audit entry: account %q: invalid id", in.AccountID)
	}
	if in.ZoneID != "" && !validID(in.ZoneID) {
		return auditEntry{}, fmt.Errorf("audit entry: zone %q: invalid id", in.ZoneID)
	}
	id := timeHex(now) + hex16(rand.Uint64())
	e := &dnsv1.AuditLog{
		Id: id, Time: timestamppb.New(now), AccountId: in.AccountID, ZoneId: in.ZoneID,
		Changes: in.Changes,
	}
	switch c := caller.From(ctx); {
	case c == nil:
		e.Actor = &dnsv1.AuditActor{TokenId: AuditInternal}
	case !c.Operator && c.AccountID != in.AccountID:
		e.Actor = &dnsv1.AuditActor{TokenId: AuditOtherAccount}
		e.Action = c.Method
	default:
		e.Actor = &dnsv1.AuditActor{TokenId: c.TokenID, AccountId: c.AccountID, RemoteAddr: c.RemoteAddr}
		e.Action = c.Method
	}
	if e.Action == "" && in.Op != "" {
		e.Action = "internal/" + in.Op
	}
	v, err := marshal(e, "audit entry")
	if err != nil {
		return auditEntry{}, err
	}
	return auditEntry{account: in.AccountID, key: s.auditLogPrefix(in.AccountID) + id + "/" + in.ZoneID, value: v}, nil
}

// auditOps returns the puts of entries plus one due marker per account
// (etcd refuses a key twice in one transaction, so markers are deduplicated
// here; a transaction must get its audit ops from one auditOps call).
func (s *Store) auditOps(now time.Time, entries ...auditEntry) []clientv3.Op {
	ops := make([]clientv3.Op, 0, len(entries)+1)
	var seen []string // accounts; usually one
	for _, e := range entries {
		ops = append(ops, clientv3.OpPut(e.key, e.value))
		found := false
		for _, a := range seen {
			found = found || a == e.account
		}
		if !found {
			seen = append(seen, e.account)
		}
	}
	for _, a := range seen {
		ops = append(ops, clientv3.OpPut(s.dueKey(a, now), ""))
	}
	return ops
}

// auditPut returns the etcd ops that record one change request in the
// audit log: append them to the Then of the transaction making the change,
// so that both commit or fail together (no extra round trip). Call it once
// per transaction (its ops hold a per-account marker key, which etcd
// refuses twice in one transaction) and again on each retry. The actor and
// action come from caller.From(ctx).
//
// For tokens (tokens.go):
//
//	ch, err := auditChange(AuditToken, t.GetId(), nil, redacted) // redacted: the dns.v1.Token without its hash
//	ops, err := s.auditPut(ctx, auditInput{AccountID: t.GetAccountId(), Op: "CreateToken", Changes: []*dnsv1.AuditChange{ch}})
//	txn.Then(append(tokenOps, ops...)...)
func (s *Store) auditPut(ctx context.Context, in auditInput) ([]clientv3.Op, error) {
	now := time.Now()
	e, err := s.buildAudit(ctx, now, in)
	if err != nil {
		return nil, err
	}
	return s.auditOps(now, e), nil
}

// AuditFilter selects entries in ListAuditLogs. AccountID is required;
// zero times are unbounded. Since is inclusive, Until exclusive.
type AuditFilter struct {
	AccountID string
	ZoneID    string
	Since     time.Time
	Until     time.Time
}

// auditScanBudget bounds the keys one zone-filtered page reads: a zone with
// few entries in a busy account returns a short page (possibly empty) with
// a token to go on, rather than one call scanning the whole account.
const auditScanBudget = 10000

// ListAuditLogs lists the entries of f's account matching f, oldest first.
// Entries past the retention are not listed even before SweepAudit deleted
// them. A page may hold fewer than pageSize entries while more follow
// (zone-filtered listings scan at most auditScanBudget keys per page);
// the token returned is empty only at the end. ErrBadPageToken for a token
// that is not from a listing of this account.
func (s *Store) ListAuditLogs(ctx context.Context, f AuditFilter, pageSize int, pageToken string) ([]*dnsv1.AuditLog, string, error) {
	if !validID(f.AccountID) || (f.ZoneID != "" && !validID(f.ZoneID)) {
		return nil, "", nil
	}
	if pageSize <= 0 {
		pageSize = 100
	}
	prefix := s.auditLogPrefix(f.AccountID)
	since := f.Since
	if s.cfg.AuditRetention > 0 {
		if oldest := time.Now().Add(-s.cfg.AuditRetention); since.Before(oldest) {
			since = oldest
		}
	}
	start := prefix
	if !since.IsZero() {
		start = prefix + timeHex(since)
	}
	if pageToken != "" {
		after, err := pageStart(prefix, pageToken)
		if err != nil {
			return nil, "", err
		}
		start = max(start, after)
	}
	end := prefixEnd(prefix)
	if !f.Until.IsZero() {
		end = prefix + timeHex(f.Until)
	}
	if start >= end {
		return nil, "", nil
	}
	if f.ZoneID == "" {
		resp, err := s.kv.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(int64(pageSize)+1))
		if err != nil {
			return nil, "", fmt.Errorf("etcd list audit of account %s: %w", f.AccountID, err)
		}
		kvs := resp.Kvs
		next := ""
		if len(kvs) > pageSize {
			kvs = kvs[:pageSize]
			next = encodeToken(string(kvs[len(kvs)-1].Key))
		}
		out := make([]*dnsv1.AuditLog, 0, len(kvs))
		for _, kv := range kvs {
			e, err := unmarshal(kv.Value, &dnsv1.AuditLog{}, "audit entry "+string(kv.Key))
			if err != nil {
				return nil, "", err
			}
			out = append(out, e)
		}
		return out, next, nil
	}
	return s.listZoneAudit(ctx, f, start, end, pageSize)
}

// listZoneAudit pages through one zone's entries of an account: it scans
// keys only (the zone id ends each key) and reads the values of the
// matching keys, at the scan's revision.
func (s *Store) listZoneAudit(ctx context.Context, f AuditFilter, start, end string, pageSize int) ([]*dnsv1.AuditLog, string, error) {
	suffix := "/" + f.ZoneID
	var matched []string
	var rev int64
	lastScanned := ""
	more := false
	for scanned := 0; scanned < auditScanBudget; {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(scanBatch)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.kv.Get(ctx, start, opts...)
		if err != nil {
			return nil, "", fmt.Errorf("etcd list audit of zone %s: %w", f.ZoneID, err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			if strings.HasSuffix(k, suffix) {
				if len(matched) == pageSize {
					more = true // one more match: the page is not the last
					break
				}
				matched = append(matched, k)
			}
			lastScanned = k
			scanned++
		}
		if more || !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = lastScanned + "\x00"
		if scanned >= auditScanBudget {
			more = true // budget spent with keys left: go on from here next page
		}
	}
	ops := make([]clientv3.Op, len(matched))
	for i, k := range matched {
		ops[i] = clientv3.OpGet(k, clientv3.WithRev(rev))
	}
	res, err := s.readMany(ctx, ops, "audit entries of zone "+f.ZoneID)
	if err != nil {
		return nil, "", err
	}
	out := make([]*dnsv1.AuditLog, 0, len(res))
	for _, kvs := range res {
		if len(kvs) == 0 {
			continue
		}
		e, err := unmarshal(kvs[0].Value, &dnsv1.AuditLog{}, "audit entry "+string(kvs[0].Key))
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	if !more {
		return out, "", nil
	}
	if len(matched) == pageSize {
		return out, encodeToken(matched[len(matched)-1]), nil
	}
	return out, encodeToken(lastScanned), nil
}

// sweepBatch is how many keys one sweep request reads or deletes; deletes
// stay bounded so a sweep never stalls etcd with one huge request.
const sweepBatch = 1000

// SweepAudit deletes the audit entries older than Config.AuditRetention
// (as of now) in every account and returns how many it deleted. It reads
// only the due markers of expired buckets and the expired entries, so its
// cost follows what expired, not the number of accounts. Entries live
// between the retention and the retention plus one bucket (a sixteenth of
// the retention, at most an hour). Several control planes may sweep at
// once: deletes are idempotent. With a negative retention nothing expires.
func (s *Store) SweepAudit(ctx context.Context, now time.Time) (int, error) {
	if s.cfg.AuditRetention < 0 {
		return 0, nil
	}
	cutoff := now.Add(-s.cfg.AuditRetention)
	duePrefix := s.auditDuePrefix()
	// Buckets whose end is at or before the cutoff hold only expired entries.
	dueEnd := duePrefix + timeHex(cutoff.Add(time.Nanosecond))
	deleted := 0
	for {
		resp, err := s.kv.Get(ctx, duePrefix, clientv3.WithRange(dueEnd), clientv3.WithKeysOnly(), clientv3.WithLimit(sweepBatch))
		if err != nil {
			return deleted, fmt.Errorf("etcd read audit due markers: %w", err)
		}
		if len(resp.Kvs) == 0 {
			return deleted, nil
		}
		upTo := map[string]string{} // account → latest expired bucket end (hex)
		var order []string
		for _, kv := range resp.Kvs {
			rest := strings.TrimPrefix(string(kv.Key), duePrefix)
			endHex, acct, ok := strings.Cut(rest, "/")
			if !ok || !validID(acct) {
				continue // not ours; deleted with the markers below
			}
			if _, seen := upTo[acct]; !seen {
				order = append(order, acct)
			}
			upTo[acct] = max(upTo[acct], endHex)
		}
		for _, acct := range order {
			n, err := s.deleteAuditBefore(ctx, acct, upTo[acct])
			deleted += n
			if err != nil {
				return deleted, err
			}
		}
		// The markers go only after their entries, so a sweep that fails
		// half way is finished by the next one.
		last := string(resp.Kvs[len(resp.Kvs)-1].Key)
		if _, err := s.kv.Delete(ctx, duePrefix, clientv3.WithRange(last+"\x00")); err != nil {
			return deleted, fmt.Errorf("etcd delete audit due markers: %w", err)
		}
		if !resp.More {
			return deleted, nil
		}
	}
}

// deleteAuditBefore deletes acct's entries with a time before endHex, in
// requests of at most sweepBatch keys.
func (s *Store) deleteAuditBefore(ctx context.Context, acct, endHex string) (int, error) {
	prefix := s.auditLogPrefix(acct)
	end := prefix + endHex
	deleted := 0
	for {
		resp, err := s.kv.Get(ctx, prefix, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(sweepBatch))
		if err != nil {
			return deleted, fmt.Errorf("etcd read expired audit entries of account %s: %w", acct, err)
		}
		if len(resp.Kvs) == 0 {
			return deleted, nil
		}
		last := string(resp.Kvs[len(resp.Kvs)-1].Key)
		dr, err := s.kv.Delete(ctx, prefix, clientv3.WithRange(last+"\x00"))
		if err != nil {
			return deleted, fmt.Errorf("etcd delete expired audit entries of account %s: %w", acct, err)
		}
		deleted += int(dr.Deleted)
		if !resp.More {
			return deleted, nil
		}
	}
}

// AuditRetention is how long audit entries are kept (negative: forever).
func (s *Store) AuditRetention() time.Duration { return s.cfg.AuditRetention }
