// Package auditlog implements dns.v1.AuditService: listing an account's
// audit log (one entry per change, written by controlplane/store in the
// same etcd transaction as the change) by zone and time range. Which
// caller may read which account is decided by the authorization
// interceptor, not here.
package auditlog

import (
	"context"
	"regexp"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/status"
)

// Page sizes of ListAuditLogs.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Service implements dns.v1.AuditService.
type Service struct {
	dnsv1.UnimplementedAuditServiceServer
	st  *store.Store
	log *zap.Logger
}

// New returns the audit log service.
func New(st *store.Store, log *zap.Logger) *Service {
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{st: st, log: log}
}

// idRe is the id syntax of the other services (accounts and zones).
var idRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// timeArg converts an optional timestamp field; unset is the zero time.
func timeArg(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, status.InvalidArgument(field, "is not a valid timestamp")
	}
	return ts.AsTime(), nil
}

// ListAuditLogs lists an account's entries, oldest first, optionally of
// one zone and within [since, until). A page may be shorter than
// page_size while more entries follow (a zone's entries are picked out of
// the account's); next_page_token is empty only at the end.
func (s *Service) ListAuditLogs(ctx context.Context, req *dnsv1.ListAuditLogsRequest) (*dnsv1.ListAuditLogsResponse, error) {
	var violations []status.FieldViolation
	switch acct := req.GetAccountId(); {
	case acct == "":
		violations = append(violations, status.FieldViolation{Field: "account_id", Description: "is required"})
	case !idRe.MatchString(acct):
		violations = append(violations, status.FieldViolation{Field: "account_id", Description: "is not a valid id"})
	}
	if z := req.GetZoneId(); z != "" && !idRe.MatchString(z) {
		violations = append(violations, status.FieldViolation{Field: "zone_id", Description: "is not a valid id"})
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		violations = append(violations, status.FieldViolation{Field: "page_size", Description: "must not be negative"})
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	if len(violations) > 0 {
		return nil, status.InvalidArguments(violations...)
	}
	since, err := timeArg("since", req.GetSince())
	if err != nil {
		return nil, err
	}
	until, err := timeArg("until", req.GetUntil())
	if err != nil {
		return nil, err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return nil, status.InvalidArgument("until", "must not be before since")
	}
	f := store.AuditFilter{AccountID: req.GetAccountId(), ZoneID: req.GetZoneId(), Since: since, Until: until}
	entries, next, err := s.st.ListAuditLogs(ctx, f, size, req.GetPageToken())
	if err != nil {
		st := status.FromStore(err)
		if grpcstatus.Code(st) == codes.Internal {
			s.log.Error("audit log listing failed", zap.String("account_id", f.AccountID), zap.Error(err))
		}
		return nil, st
	}
	return &dnsv1.ListAuditLogsResponse{Entries: entries, NextPageToken: next}, nil
}
