// Package authz authorizes every RPC of the control plane from one
// permission table (table.go): a gRPC interceptor authenticates the
// caller's bearer token (controlplane/authn), checks the method's rule
// against the request's zone, account or token, and hands the handler a
// context carrying the caller (controlplane/caller). Handlers contain no
// authorization code of their own, except listing calls, which narrow what
// they list to what the caller may see.
package authz

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/controlplane/authn"
	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/status"
)

// Authorizer is the interceptor pair and what it consults.
type Authorizer struct {
	rules    map[string]Rule
	verifier *authn.Verifier
	st       *store.Store
	log      *zap.Logger

	// owners caches zone id → account id. A zone never changes account
	// (moving a name is a new zone in the other account), so entries never
	// go stale; a deleted zone's entry only means its calls reach the
	// handler, which answers NotFound. Bounded by a reset when full.
	mu     sync.RWMutex
	owners map[string]string
}

// maxOwners bounds the zone owner cache.
const maxOwners = 1 << 20

// New returns an Authorizer enforcing Rules().
func New(v *authn.Verifier, st *store.Store, log *zap.Logger) *Authorizer {
	if log == nil {
		log = zap.NewNop()
	}
	return &Authorizer{rules: Rules(), verifier: v, st: st, log: log, owners: map[string]string{}}
}

// Unary authorizes unary calls.
func (a *Authorizer) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := a.authorize(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	resp, err := handler(ctx, req)
	// A response naming a zone (CreateZone above all) tells its owner:
	// the calls that follow a creation need no etcd read to authorize.
	if zr, ok := resp.(interface{ GetZone() *dnsv1.Zone }); ok && err == nil {
		if z := zr.GetZone(); z != nil {
			a.remember(z.GetId(), z.GetAccountId())
		}
	}
	return resp, err
}

// Stream authorizes streaming calls. Only public methods (health watch,
// reflection) stream today; anything else needs a credential and must be
// in the table like every unary method.
func (a *Authorizer) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := a.authorize(ss.Context(), info.FullMethod, nil)
	if err != nil {
		return err
	}
	return handler(srv, &callerStream{ServerStream: ss, ctx: ctx})
}

type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *callerStream) Context() context.Context { return s.ctx }

func (a *Authorizer) authorize(ctx context.Context, method string, req any) (context.Context, error) {
	r, ok := a.rules[method]
	if !ok {
		a.log.Error("method missing from the permission table; refused", zap.String("method", method))
		return nil, grpcstatus.Error(codes.PermissionDenied, "method not allowed")
	}
	if r.Scope == Public {
		return ctx, nil
	}
	c, err := a.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	c.Method = method
	if req == nil && r.Scope != Self {
		// A stream has no request here to scope the check by; only public
		// methods stream today.
		return nil, grpcstatus.Error(codes.PermissionDenied, "method not allowed")
	}
	if err := a.check(ctx, c, r, req); err != nil {
		if !a.replay(ctx, c, method, req, err) {
			return nil, err
		}
		// Only the remembered outcome may answer: if it is gone (swept) or
		// is another request's, the caller gets this error, never a write
		// on an object it could not see.
		c.ReplayOnly = err
	}
	return caller.With(ctx, c), nil
}

// authenticate reads "authorization: Bearer <secret>" and verifies it.
func (a *Authorizer) authenticate(ctx context.Context) (*caller.Caller, error) {
	var remote netip.Addr
	remoteStr := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		remoteStr = p.Addr.String()
		if ap, err := netip.ParseAddrPort(remoteStr); err == nil {
			remote = ap.Addr()
		}
	}
	secret := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, v := range md.Get("authorization") {
			if s, ok := cutBearer(v); ok {
				secret = s
				break
			}
		}
	}
	if secret == "" {
		return nil, grpcstatus.Error(codes.Unauthenticated, "missing API token: send \"authorization: Bearer <token>\"")
	}
	c, err := a.verifier.Verify(ctx, secret, remote)
	switch {
	case errors.Is(err, authn.ErrSourceNotAllowed):
		return nil, grpcstatus.Error(codes.PermissionDenied, "API token not allowed from "+remote.String())
	case err != nil:
		return nil, grpcstatus.Error(codes.Unauthenticated, "invalid API token (unknown, expired or revoked)")
	}
	c.RemoteAddr = remoteStr
	return c, nil
}

func cutBearer(v string) (string, bool) {
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:]), true
	}
	return "", false
}

// check applies rule r to the request. Visibility is checked before
// permissions, so that a caller learns nothing about objects it cannot
// see: another account's zone answers NotFound whatever the token holds.
func (a *Authorizer) check(ctx context.Context, c *caller.Caller, r Rule, req any) error {
	switch r.Scope {
	case Self:
		return nil
	case Platform:
		if !c.Operator {
			return grpcstatus.Error(codes.PermissionDenied, "only the platform's operator may call this method")
		}
		return nil
	case Zone:
		id := field(req, "zone_id")
		if store.ValidID(id) {
			acct, err := a.zoneAccount(ctx, id)
			if err != nil {
				return status.FromStore(err)
			}
			if !c.SeesZone(acct, id) {
				return status.FromStore(fmt.Errorf("zone %s: %w", id, store.ErrNotFound))
			}
		}
		// A malformed zone_id names no zone: the handler answers
		// InvalidArgument once the permission check passes.
	case Account:
		acct := field(req, "account_id")
		if acct == "" {
			// No account, nothing to authorize against.
			return status.InvalidArgument("account_id", "is required")
		}
		if !c.AccountWide(acct) {
			return grpcstatus.Errorf(codes.PermissionDenied, "the API token is not valid for the whole of account %s", acct)
		}
	case AccountList:
		if acct := field(req, "account_id"); acct != "" && !c.SeesAccount(acct) {
			return grpcstatus.Errorf(codes.PermissionDenied, "the API token is not valid for account %s", acct)
		}
	case Token:
		id := field(req, "token_id")
		if store.ValidID(id) {
			t, err := a.st.GetToken(ctx, id)
			if err != nil {
				return status.FromStore(err)
			}
			if !c.AccountWide(t.Token.GetAccountId()) {
				return status.FromStore(fmt.Errorf("token %s: %w", id, store.ErrNotFound))
			}
		}
	}
	if len(r.AnyOf) == 0 {
		return nil
	}
	for _, p := range r.AnyOf {
		if c.Has(p) {
			return nil
		}
	}
	return grpcstatus.Errorf(codes.PermissionDenied, "the API token lacks the permission this call needs (one of: %s)", PermissionNames(r.AnyOf))
}

// replay reports whether a call refused with NotFound by check is a retry
// of a write that committed: the object it named is gone because of that
// very write (DeleteZone, RevokeToken), so the scope cannot be resolved any
// more. It is let through when the caller's account (the scope request ids
// are remembered in) holds an outcome of this method under the request's
// request_id: the first call was authorized, and the handler answers from
// the outcome or, for another request, InvalidArgument.
func (a *Authorizer) replay(ctx context.Context, c *caller.Caller, method string, req any, err error) bool {
	id := field(req, "request_id")
	if grpcstatus.Code(err) != codes.NotFound || !store.ValidRequestID(id) {
		return false
	}
	o, rerr := a.st.Remembered(ctx, store.IdempotencyScope(caller.With(ctx, c)), id)
	return rerr == nil && o != nil && o.Method == method
}

// zoneAccount returns the account a zone belongs to.
func (a *Authorizer) zoneAccount(ctx context.Context, zoneID string) (string, error) {
	a.mu.RLock()
	acct, ok := a.owners[zoneID]
	a.mu.RUnlock()
	if ok {
		return acct, nil
	}
	z, err := a.st.GetZone(ctx, zoneID)
	if err != nil {
		return "", err
	}
	a.remember(zoneID, z.GetAccountId())
	return z.GetAccountId(), nil
}

func (a *Authorizer) remember(zoneID, accountID string) {
	if zoneID == "" || accountID == "" {
		return
	}
	a.mu.Lock()
	if len(a.owners) >= maxOwners {
		a.owners = map[string]string{}
	}
	a.owners[zoneID] = accountID
	a.mu.Unlock()
}
