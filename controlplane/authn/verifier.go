// Package authn authenticates API callers: it turns the bearer secret of a
// call into the caller it stands for (controlplane/caller), or refuses it.
// Tokens are verified from memory: the verifier loads every token once and
// follows etcd's watch, so a call costs a map lookup and a hash, not an
// etcd round trip, and a revocation takes effect as soon as the watch
// delivers it (milliseconds; at worst the resync interval).
package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// OperatorID is the token id of the operator's bootstrap credential.
const OperatorID = caller.OperatorID

// Errors Verify returns; the interceptor maps them to gRPC codes.
var (
	// ErrUnauthenticated: no valid credential (missing, unknown, wrong
	// secret, expired or revoked).
	ErrUnauthenticated = errors.New("invalid or missing API token")
	// ErrSourceNotAllowed: a valid token used from an address outside its
	// allowed ranges.
	ErrSourceNotAllowed = errors.New("API token not allowed from this address")
)

// entry is a token as verified: the parsed form of what the store holds.
type entry struct {
	token   *dnsv1.Token
	hash    [sha256.Size]byte
	expires time.Time // zero: never
	nets    []netip.Prefix
	caller  caller.Caller // template; RemoteAddr and Method set per call
}

// Verifier authenticates secrets against the stored tokens and the
// operator's bootstrap credentials.
type Verifier struct {
	st       *store.Store
	log      *zap.Logger
	now      func() time.Time
	operator [][sha256.Size]byte
	// misses bounds the etcd reads for ids not (yet) in memory: a token
	// created on another control plane a moment ago is found, a flood of
	// made-up ids costs etcd nothing beyond this rate.
	misses *rate.Limiter

	mu     sync.RWMutex
	tokens map[string]*entry
	// deleted remembers the ids the watch deleted since the last reload,
	// so a lookup that read a token just before its revocation cannot
	// put it back.
	deleted map[string]struct{}
	ready   chan struct{}
}

// Options configure a Verifier.
type Options struct {
	// OperatorSecrets are the bootstrap credentials; each grants every
	// permission on every account. Kept only as hashes.
	OperatorSecrets []string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// New returns a verifier; Run fills and follows its cache.
func New(st *store.Store, opts Options, log *zap.Logger) *Verifier {
	if log == nil {
		log = zap.NewNop()
	}
	v := &Verifier{
		st: st, log: log, now: opts.Now,
		misses:  rate.NewLimiter(rate.Limit(20), 50),
		tokens:  map[string]*entry{},
		deleted: map[string]struct{}{},
		ready:   make(chan struct{}),
	}
	if v.now == nil {
		v.now = time.Now
	}
	for _, s := range opts.OperatorSecrets {
		v.operator = append(v.operator, Hash(s))
	}
	return v
}

// resync is how often the cache is reloaded whole even while the watch is
// healthy: a safety net, not the revocation path.
const resync = 5 * time.Minute

// Run loads every token and follows the changes until ctx ends. Verify
// works before the first load completes (it falls back to etcd reads).
func (v *Verifier) Run(ctx context.Context) {
	first := true
	for ctx.Err() == nil {
		rev, err := v.load(ctx)
		if err != nil {
			v.log.Warn("load API tokens", zap.Error(err))
			sleep(ctx, time.Second)
			continue
		}
		if first {
			close(v.ready)
			first = false
		}
		v.follow(ctx, rev)
	}
}

// Ready is closed once the cache holds every token.
func (v *Verifier) Ready() <-chan struct{} { return v.ready }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (v *Verifier) load(ctx context.Context) (int64, error) {
	all, rev, err := v.st.AllTokens(ctx)
	if err != nil {
		return 0, err
	}
	m := make(map[string]*entry, len(all))
	for _, t := range all {
		if e, err := newEntry(t); err != nil {
			v.log.Error("stored token unusable", zap.String("token_id", t.Token.GetId()), zap.Error(err))
		} else {
			m[t.Token.GetId()] = e
		}
	}
	v.mu.Lock()
	v.tokens = m
	v.deleted = map[string]struct{}{}
	v.mu.Unlock()
	return rev, nil
}

// follow applies token changes from rev on; it returns when the watch
// fails (compaction, etcd away) or after the resync interval, and Run
// reloads.
func (v *Verifier) follow(ctx context.Context, rev int64) {
	wctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), resync)
	defer cancel()
	wch := v.st.Client().Watch(wctx, v.st.TokensPrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			v.log.Warn("API token watch failed; reloading", zap.Error(err))
			return
		}
		for _, ev := range resp.Events {
			id := v.st.TokenIDFromKey(ev.Kv)
			if ev.Type == clientv3.EventTypeDelete {
				v.mu.Lock()
				delete(v.tokens, id)
				v.deleted[id] = struct{}{}
				v.mu.Unlock()
				continue
			}
			t, err := store.DecodeToken(ev.Kv.Value)
			var e *entry
			if err == nil {
				e, err = newEntry(t)
			}
			if err != nil {
				v.log.Error("stored token unusable", zap.String("token_id", id), zap.Error(err))
				continue
			}
			v.mu.Lock()
			v.tokens[id] = e
			v.mu.Unlock()
		}
	}
}

func newEntry(t store.StoredToken) (*entry, error) {
	e := &entry{token: t.Token, hash: t.Hash}
	if ts := t.Token.GetExpiresOn(); ts != nil {
		e.expires = ts.AsTime()
	}
	for _, c := range t.Token.GetAllowedCidrs() {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("allowed cidr %q: %w", c, err)
		}
		e.nets = append(e.nets, p.Masked())
	}
	e.caller = caller.Caller{
		TokenID:     t.Token.GetId(),
		AccountID:   t.Token.GetAccountId(),
		Permissions: t.Token.GetPermissions(),
		ZoneIDs:     t.Token.GetZoneIds(),
		Expires:     e.expires,
		AllowedNets: e.nets,
	}
	return e, nil
}

// Verify returns the caller a secret stands for, calling from remote (the
// peer address; invalid when unknown). The returned Caller is the
// caller's own copy.
func (v *Verifier) Verify(ctx context.Context, secret string, remote netip.Addr) (*caller.Caller, error) {
	id, ok := parseSecret(secret)
	if !ok {
		return nil, ErrUnauthenticated
	}
	h := Hash(secret)
	if id == OperatorID {
		for _, op := range v.operator {
			if subtle.ConstantTimeCompare(h[:], op[:]) == 1 {
				return &caller.Caller{TokenID: OperatorID, Operator: true}, nil
			}
		}
		return nil, ErrUnauthenticated
	}
	v.mu.RLock()
	e := v.tokens[id]
	v.mu.RUnlock()
	if e == nil {
		var err error
		if e, err = v.lookup(ctx, id); err != nil || e == nil {
			return nil, ErrUnauthenticated
		}
	}
	if subtle.ConstantTimeCompare(h[:], e.hash[:]) != 1 {
		return nil, ErrUnauthenticated
	}
	if !e.expires.IsZero() && !v.now().Before(e.expires) {
		return nil, ErrUnauthenticated
	}
	if len(e.nets) > 0 && !allowed(e.nets, remote) {
		return nil, ErrSourceNotAllowed
	}
	c := e.caller
	return &c, nil
}

func allowed(nets []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// lookup reads a token missing from memory, rate-limited; a token found
// is cached (the watch keeps it current from then on).
func (v *Verifier) lookup(ctx context.Context, id string) (*entry, error) {
	if !v.misses.Allow() {
		return nil, nil
	}
	t, err := v.st.GetToken(ctx, id)
	if err != nil {
		return nil, err
	}
	e, err := newEntry(t)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, gone := v.deleted[id]; gone {
		return nil, nil // revoked while we read it
	}
	if cur := v.tokens[id]; cur != nil {
		return cur, nil // the watch was first; it is newer
	}
	v.tokens[id] = e
	return e, nil
}
