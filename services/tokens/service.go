// Package tokens implements dns.v1.TokenService: issuing API tokens for an
// account (the secret shown once, only its hash stored), reading, listing
// and revoking them. Who may call what is decided by controlplane/authz;
// this service adds the one rule the table cannot express: a token can
// only create tokens that are no more powerful than itself.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/authn"
	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

// Limits of one token.
const (
	MaxNameLen  = 120
	MaxZones    = 100
	MaxCIDRs    = 50
	DefaultPage = 100
	MaxPage     = 1000
)

var accountIDRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Service implements dns.v1.TokenService.
type Service struct {
	dnsv1.UnimplementedTokenServiceServer
	st  *store.Store
	now func() time.Time
	log *zap.Logger
}

// New returns the token service.
func New(st *store.Store, log *zap.Logger) *Service {
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{st: st, now: time.Now, log: log}
}

// fail maps an error to the client's status (status.Failed).
func (s *Service) fail(op string, err error) error {
	return status.Failed(s.log, "token service", op, err)
}

// CreateToken issues a token.
func (s *Service) CreateToken(ctx context.Context, req *dnsv1.CreateTokenRequest) (*dnsv1.CreateTokenResponse, error) {
	c := caller.From(ctx)
	var vs []status.FieldViolation
	bad := func(field, desc string) { vs = append(vs, status.FieldViolation{Field: field, Description: desc}) }
	acct := req.GetAccountId()
	if !accountIDRe.MatchString(acct) {
		bad("account_id", "must be 1-64 characters of letters, digits, '-' and '_'")
	}
	if n := len(req.GetName()); n == 0 || n > MaxNameLen {
		bad("name", fmt.Sprintf("must be 1-%d characters", MaxNameLen))
	}
	var perms []dnsv1.Permission
	if len(req.GetPermissions()) == 0 {
		bad("permissions", "at least one permission is required")
	}
	for i, p := range req.GetPermissions() {
		field := fmt.Sprintf("permissions[%d]", i)
		switch {
		case p == dnsv1.Permission_PERMISSION_UNSPECIFIED || dnsv1.Permission_name[int32(p)] == "":
			bad(field, "unknown permission")
		case c != nil && !c.Has(p):
			bad(field, "the calling token does not hold this permission, so it cannot grant it")
		case !slices.Contains(perms, p):
			perms = append(perms, p)
		}
	}
	if len(req.GetZoneIds()) > MaxZones {
		bad("zone_ids", fmt.Sprintf("at most %d zones", MaxZones))
	}
	var zoneIDs []string
	for i, id := range req.GetZoneIds() {
		if !store.ValidID(id) {
			bad(fmt.Sprintf("zone_ids[%d]", i), "is not a valid zone id")
		} else if !slices.Contains(zoneIDs, id) {
			zoneIDs = append(zoneIDs, id)
		}
	}
	now := s.now()
	var expires time.Time
	if ts := req.GetExpiresOn(); ts != nil {
		switch expires = ts.AsTime(); {
		case !ts.IsValid():
			bad("expires_on", "is not a valid time")
		case !expires.After(now):
			bad("expires_on", "must be in the future")
		case c != nil && !c.Expires.IsZero() && expires.After(c.Expires):
			bad("expires_on", "must not be later than the calling token's own expiry")
		}
	} else if c != nil && !c.Expires.IsZero() {
		bad("expires_on", "is required: the calling token expires, so the tokens it creates must too")
	}
	if len(req.GetAllowedCidrs()) > MaxCIDRs {
		bad("allowed_cidrs", fmt.Sprintf("at most %d ranges", MaxCIDRs))
	}
	var cidrs []string
	for i, r := range req.GetAllowedCidrs() {
		p, err := netip.ParsePrefix(r)
		field := fmt.Sprintf("allowed_cidrs[%d]", i)
		switch {
		case err != nil:
			bad(field, "is not an address range such as 192.0.2.0/24 or 2001:db8::/32")
		case c != nil && len(c.AllowedNets) > 0 && !within(p.Masked(), c.AllowedNets):
			bad(field, "is outside the calling token's own allowed ranges")
		default:
			cidrs = append(cidrs, p.Masked().String())
		}
	}
	if c != nil && len(c.AllowedNets) > 0 && len(req.GetAllowedCidrs()) == 0 {
		bad("allowed_cidrs", "is required: the calling token is limited to address ranges, so the tokens it creates must be too")
	}
	if len(vs) > 0 {
		return nil, status.InvalidArguments(vs...)
	}
	// The zones must be the account's: checked after the cheap checks.
	for i, id := range zoneIDs {
		z, err := s.st.GetZone(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && z.GetAccountId() != acct) {
			return nil, status.InvalidArgument(fmt.Sprintf("zone_ids[%d]", i), "no such zone in account "+acct)
		}
		if err != nil {
			return nil, s.fail("create", err)
		}
	}
	return idempotency.Do(ctx, s.st, dnsv1.TokenService_CreateToken_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.CreateTokenResponse, error) {
		id, secret, err := authn.NewSecret()
		if err != nil {
			return nil, s.fail("create", err)
		}
		createdBy := "internal"
		if c != nil {
			createdBy = c.TokenID
		}
		t := &dnsv1.Token{
			Id: id, AccountId: acct, Name: req.GetName(), Permissions: perms, ZoneIds: zoneIDs,
			AllowedCidrs: cidrs, CreatedOn: timestamppb.New(now), CreatedBy: createdBy,
		}
		if !expires.IsZero() {
			t.ExpiresOn = timestamppb.New(expires)
		}
		// A retry is answered without the secret: it is never stored, not
		// even with the request id.
		if err := idempotency.Respond(ctx, &dnsv1.CreateTokenResponse{Token: t, SecretWithheld: true}); err != nil {
			return nil, s.fail("create", err)
		}
		if err := s.st.CreateToken(ctx, store.StoredToken{Token: t, Hash: authn.Hash(secret)}); err != nil {
			return nil, s.fail("create", err)
		}
		// Never log the secret; the id is enough to find the token.
		s.log.Info("API token created", zap.String("token_id", id), zap.String("account_id", acct), zap.String("created_by", createdBy))
		return &dnsv1.CreateTokenResponse{Token: t, Secret: secret}, nil
	})
}

func within(p netip.Prefix, nets []netip.Prefix) bool {
	for _, n := range nets {
		if n.Bits() <= p.Bits() && n.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func tokenID(id string) error {
	if !store.ValidID(id) {
		return status.InvalidArgument("token_id", "is not a valid token id")
	}
	return nil
}

// GetToken describes a token.
func (s *Service) GetToken(ctx context.Context, req *dnsv1.GetTokenRequest) (*dnsv1.GetTokenResponse, error) {
	if err := tokenID(req.GetTokenId()); err != nil {
		return nil, err
	}
	t, err := s.st.GetToken(ctx, req.GetTokenId())
	if err != nil {
		return nil, s.fail("get", err)
	}
	return &dnsv1.GetTokenResponse{Token: t.Token}, nil
}

// ListTokens lists an account's tokens.
func (s *Service) ListTokens(ctx context.Context, req *dnsv1.ListTokensRequest) (*dnsv1.ListTokensResponse, error) {
	if !accountIDRe.MatchString(req.GetAccountId()) {
		return nil, status.InvalidArgument("account_id", "must be 1-64 characters of letters, digits, '-' and '_'")
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, status.InvalidArgument("page_size", "must not be negative")
	case size == 0:
		size = DefaultPage
	case size > MaxPage:
		size = MaxPage
	}
	ts, next, err := s.st.ListTokens(ctx, req.GetAccountId(), size, req.GetPageToken())
	if err != nil {
		return nil, s.fail("list", err)
	}
	return &dnsv1.ListTokensResponse{Tokens: ts, NextPageToken: next}, nil
}

// RevokeToken deletes a token.
func (s *Service) RevokeToken(ctx context.Context, req *dnsv1.RevokeTokenRequest) (*dnsv1.RevokeTokenResponse, error) {
	if err := tokenID(req.GetTokenId()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.TokenService_RevokeToken_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.RevokeTokenResponse, error) {
		resp := &dnsv1.RevokeTokenResponse{TokenId: req.GetTokenId()}
		// Known before the write: no callback needed.
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, s.fail("revoke", err)
		}
		t, err := s.st.RevokeToken(ctx, req.GetTokenId())
		if err != nil {
			return nil, s.fail("revoke", err)
		}
		s.log.Info("API token revoked", zap.String("token_id", t.GetId()), zap.String("account_id", t.GetAccountId()))
		return resp, nil
	})
}

// VerifyToken describes the caller's own token.
func (s *Service) VerifyToken(ctx context.Context, _ *dnsv1.VerifyTokenRequest) (*dnsv1.VerifyTokenResponse, error) {
	c := caller.From(ctx)
	if c == nil {
		return nil, grpcstatus.Error(codes.Unauthenticated, "no API token")
	}
	if c.Operator {
		return &dnsv1.VerifyTokenResponse{Token: &dnsv1.Token{Id: c.TokenID}, Operator: true}, nil
	}
	t, err := s.st.GetToken(ctx, c.TokenID)
	if err != nil {
		return nil, s.fail("verify", err)
	}
	return &dnsv1.VerifyTokenResponse{Token: t.Token}, nil
}
