// Package settings implements dns.v1.SettingsService: account-wide DNS
// settings (enforce_dns_only) and per-zone settings (CNAME flattening, NS
// TTL, SOA timers), with update_mask support.
package settings

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

// Store is the part of controlplane/store the service uses.
type Store interface {
	GetAccountSettings(ctx context.Context, accountID string) (*dnsv1.AccountSettings, error)
	UpdateAccountSettings(ctx context.Context, accountID string, fn func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error)) (*dnsv1.AccountSettings, error)
	GetZoneSettings(ctx context.Context, zoneID string) (*dnsv1.ZoneSettings, error)
	UpdateZoneSettings(ctx context.Context, zoneID string, fn func(z *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error)) (*dnsv1.ZoneSettings, error)
	// Remembered reads the outcome of a request id (store/idem.go).
	Remembered(ctx context.Context, scope, id string) (*store.Outcome, error)
}

// Ranges of zone settings; 0 always means "platform default".
const (
	MinNSTTL = 30
	MaxNSTTL = 86400
	// SOA timer bounds and defaults, from the source documents' SOA table.
	MinSOARefresh = 600
	MaxSOARefresh = 86400
	MinSOARetry   = 600
	MaxSOARetry   = 3600
	MinSOAExpire  = 86400
	MaxSOAExpire  = 2419200
	MinSOAMinTTL  = 60
	MaxSOAMinTTL  = 86400

	DefaultSOARefresh = 10000
	DefaultSOARetry   = 2400
	DefaultSOAExpire  = 604800
)

func orDefault(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

// Service implements dns.v1.SettingsService.
type Service struct {
	dnsv1.UnimplementedSettingsServiceServer
	st  Store
	log *zap.Logger
}

// New returns the settings service.
func New(st Store, log *zap.Logger) *Service {
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{st: st, log: log}
}

var idRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func checkID(field, id string) error {
	if id == "" {
		return status.InvalidArgument(field, "is required")
	}
	if !idRe.MatchString(id) {
		return status.InvalidArgument(field, "is not a valid id")
	}
	return nil
}

func (s *Service) fail(op string, err error) error {
	if errors.Is(err, store.ErrIdempotentReplay) {
		return err // answered by idempotency.Do
	}
	st := status.FromStore(err)
	if grpcstatus.Code(st) == codes.Internal {
		s.log.Error("settings service failure", zap.String("op", op), zap.Error(err))
	}
	return st
}

// maskPaths returns the set of paths to apply: every known path when the
// mask is empty, else the mask's paths, which must all be known.
func maskPaths(mask *fieldmaskpb.FieldMask, known []string) (map[string]bool, error) {
	set := map[string]bool{}
	if len(mask.GetPaths()) == 0 {
		for _, k := range known {
			set[k] = true
		}
		return set, nil
	}
	for _, p := range mask.GetPaths() {
		ok := false
		for _, k := range known {
			if p == k {
				ok = true
			}
		}
		if !ok {
			return nil, status.InvalidArgument("update_mask", fmt.Sprintf("unknown path %q", p))
		}
		set[p] = true
	}
	return set, nil
}

// GetAccountSettings returns an account's settings (defaults if never set).
func (s *Service) GetAccountSettings(ctx context.Context, req *dnsv1.GetAccountSettingsRequest) (*dnsv1.GetAccountSettingsResponse, error) {
	if err := checkID("account_id", req.GetAccountId()); err != nil {
		return nil, err
	}
	as, err := s.st.GetAccountSettings(ctx, req.GetAccountId())
	if err != nil {
		return nil, s.fail("get_account_settings", err)
	}
	return &dnsv1.GetAccountSettingsResponse{Settings: as}, nil
}

// UpdateAccountSettings changes the fields of an account's settings named
// in update_mask (all when empty).
func (s *Service) UpdateAccountSettings(ctx context.Context, req *dnsv1.UpdateAccountSettingsRequest) (*dnsv1.UpdateAccountSettingsResponse, error) {
	if err := checkID("account_id", req.GetAccountId()); err != nil {
		return nil, err
	}
	paths, err := maskPaths(req.GetUpdateMask(), []string{"enforce_dns_only"})
	if err != nil {
		return nil, err
	}
	in := req.GetSettings()
	return idempotency.Do(ctx, s.st, dnsv1.SettingsService_UpdateAccountSettings_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdateAccountSettingsResponse, error) {
		as, err := s.st.UpdateAccountSettings(ctx, req.GetAccountId(), func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) {
			if paths["enforce_dns_only"] {
				cur.EnforceDnsOnly = in.GetEnforceDnsOnly()
			}
			return cur, idempotency.Respond(ctx, &dnsv1.UpdateAccountSettingsResponse{Settings: cur})
		})
		if err != nil {
			return nil, s.fail("update_account_settings", err)
		}
		s.log.Info("account settings updated", zap.String("account_id", req.GetAccountId()), zap.Bool("enforce_dns_only", as.GetEnforceDnsOnly()))
		return &dnsv1.UpdateAccountSettingsResponse{Settings: as}, nil
	})
}

// GetZoneSettings returns a zone's settings.
func (s *Service) GetZoneSettings(ctx context.Context, req *dnsv1.GetZoneSettingsRequest) (*dnsv1.GetZoneSettingsResponse, error) {
	if err := checkID("zone_id", req.GetZoneId()); err != nil {
		return nil, err
	}
	zs, err := s.st.GetZoneSettings(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.fail("get_zone_settings", err)
	}
	return &dnsv1.GetZoneSettingsResponse{Settings: zs}, nil
}

var zonePaths = []string{"flatten_all_cnames", "ns_ttl", "soa_refresh", "soa_retry", "soa_expire", "soa_min_ttl"}

// rangeCheck validates a uint32 setting where 0 means default.
func rangeCheck(field string, v, lo, hi uint32) *status.FieldViolation {
	if v == 0 || (v >= lo && v <= hi) {
		return nil
	}
	return &status.FieldViolation{Field: "settings." + field, Description: fmt.Sprintf("must be 0 (default) or between %d and %d", lo, hi)}
}

// UpdateZoneSettings changes the fields of a zone's settings named in
// update_mask (all when empty). Only the changed fields are validated, so a
// setting grandfathered by a plan change does not block unrelated updates.
func (s *Service) UpdateZoneSettings(ctx context.Context, req *dnsv1.UpdateZoneSettingsRequest) (*dnsv1.UpdateZoneSettingsResponse, error) {
	if err := checkID("zone_id", req.GetZoneId()); err != nil {
		return nil, err
	}
	paths, err := maskPaths(req.GetUpdateMask(), zonePaths)
	if err != nil {
		return nil, err
	}
	in := req.GetSettings()
	var violations []status.FieldViolation
	add := func(v *status.FieldViolation) {
		if v != nil {
			violations = append(violations, *v)
		}
	}
	if paths["ns_ttl"] {
		add(rangeCheck("ns_ttl", in.GetNsTtl(), MinNSTTL, MaxNSTTL))
	}
	if paths["soa_refresh"] {
		add(rangeCheck("soa_refresh", in.GetSoaRefresh(), MinSOARefresh, MaxSOARefresh))
	}
	if paths["soa_retry"] {
		add(rangeCheck("soa_retry", in.GetSoaRetry(), MinSOARetry, MaxSOARetry))
	}
	if paths["soa_expire"] {
		add(rangeCheck("soa_expire", in.GetSoaExpire(), MinSOAExpire, MaxSOAExpire))
	}
	if paths["soa_min_ttl"] {
		add(rangeCheck("soa_min_ttl", in.GetSoaMinTtl(), MinSOAMinTTL, MaxSOAMinTTL))
	}
	if len(violations) > 0 {
		return nil, status.InvalidArguments(violations...)
	}
	return idempotency.Do(ctx, s.st, dnsv1.SettingsService_UpdateZoneSettings_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdateZoneSettingsResponse, error) {
		return s.updateZoneSettings(ctx, req, paths)
	})
}

// updateZoneSettings is the write of UpdateZoneSettings.
func (s *Service) updateZoneSettings(ctx context.Context, req *dnsv1.UpdateZoneSettingsRequest, paths map[string]bool) (*dnsv1.UpdateZoneSettingsResponse, error) {
	in := req.GetSettings()
	zs, err := s.st.UpdateZoneSettings(ctx, req.GetZoneId(), func(z *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
		if paths["flatten_all_cnames"] {
			if in.GetFlattenAllCnames() && (z.GetPlan() == dnsv1.Plan_PLAN_FREE || z.GetPlan() == dnsv1.Plan_PLAN_UNSPECIFIED) {
				return nil, status.InvalidArgument("settings.flatten_all_cnames", "flattening all CNAMEs is not available on the Free plan")
			}
			cur.FlattenAllCnames = in.GetFlattenAllCnames()
		}
		if paths["ns_ttl"] {
			cur.NsTtl = in.GetNsTtl()
		}
		if paths["soa_refresh"] {
			cur.SoaRefresh = in.GetSoaRefresh()
		}
		if paths["soa_retry"] {
			cur.SoaRetry = in.GetSoaRetry()
		}
		if paths["soa_expire"] {
			cur.SoaExpire = in.GetSoaExpire()
		}
		if paths["soa_min_ttl"] {
			cur.SoaMinTtl = in.GetSoaMinTtl()
		}
		// Secondaries must retry before they would refresh anyway and must
		// not expire the zone before refreshing it; compare effective values.
		refresh := orDefault(cur.GetSoaRefresh(), DefaultSOARefresh)
		if orDefault(cur.GetSoaRetry(), DefaultSOARetry) > refresh {
			return nil, status.InvalidArgument("settings.soa_retry", "must not be greater than soa_refresh")
		}
		if orDefault(cur.GetSoaExpire(), DefaultSOAExpire) < refresh {
			return nil, status.InvalidArgument("settings.soa_expire", "must not be smaller than soa_refresh")
		}
		return cur, idempotency.Respond(ctx, &dnsv1.UpdateZoneSettingsResponse{Settings: cur})
	})
	if err != nil {
		return nil, s.fail("update_zone_settings", err)
	}
	s.log.Info("zone settings updated", zap.String("zone_id", req.GetZoneId()))
	return &dnsv1.UpdateZoneSettingsResponse{Settings: zs}, nil
}
