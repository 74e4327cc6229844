// Package caller carries the authenticated caller of an RPC through its
// context: the authorization interceptor puts it there once, the services
// read it to scope what they list, and the store reads it to write the
// audit entry of a change in the same transaction as the change.
package caller

import (
	"context"
	"net/netip"
	"slices"
	"time"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// OperatorID is the token id of the operator's bootstrap credential.
const OperatorID = "operator"

// Caller is who makes a call, as its token says.
type Caller struct {
	// TokenID identifies the token; OperatorID for the operator.
	TokenID string
	// AccountID owns the token; empty for the operator, who acts on every
	// account.
	AccountID string
	// Operator is true for the bootstrap credential: every permission on
	// every account.
	Operator bool
	// Permissions the token holds (unused for the operator).
	Permissions []dnsv1.Permission
	// ZoneIDs limits the token to these zones of its account; empty means
	// the whole account.
	ZoneIDs []string
	// Expires is when the token stops working (zero: never), and
	// AllowedNets the source ranges it may call from (empty: any): a token
	// may only create tokens that are no wider.
	Expires     time.Time
	AllowedNets []netip.Prefix
	// ReplayOnly, when set, means the call was let through authorization
	// only as a retry of a remembered write (its object is gone because of
	// that write): the handler may answer from the remembered outcome of
	// exactly this request and must otherwise fail with ReplayOnly, the
	// error authorization would have returned. It never runs a write.
	ReplayOnly error
	// RemoteAddr is the peer address of the call.
	RemoteAddr string
	// Method is the full gRPC method being called.
	Method string
}

type key struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, key{}, c)
}

// From returns the caller ctx carries, or nil for an unauthenticated
// context (in-process callers such as the builder, and unit tests that
// call a service directly).
func From(ctx context.Context) *Caller {
	c, _ := ctx.Value(key{}).(*Caller)
	return c
}

// Has reports whether the caller holds permission p.
func (c *Caller) Has(p dnsv1.Permission) bool {
	return c.Operator || slices.Contains(c.Permissions, p)
}

// SeesAccount reports whether the account's objects are visible to the
// caller at all.
func (c *Caller) SeesAccount(accountID string) bool {
	return c.Operator || c.AccountID == accountID
}

// AccountWide reports whether the caller acts on the whole account (not
// only on listed zones): creating zones, account settings, tokens and the
// audit log need that.
func (c *Caller) AccountWide(accountID string) bool {
	return c.Operator || (c.AccountID == accountID && len(c.ZoneIDs) == 0)
}

// SeesZone reports whether the zone (of accountID) is visible to the
// caller.
func (c *Caller) SeesZone(accountID, zoneID string) bool {
	if c.Operator {
		return true
	}
	if c.AccountID != accountID {
		return false
	}
	return len(c.ZoneIDs) == 0 || slices.Contains(c.ZoneIDs, zoneID)
}
