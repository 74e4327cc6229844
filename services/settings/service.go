// Package settings implements dns.v1.SettingsService: account-wide DNS
// settings (enforce_dns_only), per-zone settings (CNAME flattening, NS
// TTL, the SOA fields, multi-provider, secondary override, the operator's
// record quota override) and the account's DNS zone defaults, with
// update_mask support. Plan limits come from controlplane/plans.
package settings

import (
	"context"
	"fmt"
	"regexp"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/plans"
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
	GetAccountZoneDefaults(ctx context.Context, accountID string) (*dnsv1.AccountZoneDefaults, error)
	UpdateAccountZoneDefaults(ctx context.Context, accountID string, fn func(cur *dnsv1.AccountZoneDefaults) (*dnsv1.AccountZoneDefaults, error)) (*dnsv1.AccountZoneDefaults, error)
	// ListZones pages through an account's zones (the Enterprise check of
	// zone defaults).
	ListZones(ctx context.Context, f store.ZoneFilter, pageSize int, pageToken string) ([]*dnsv1.Zone, string, error)
	// Remembered reads the outcome of a request id (store/idem.go).
	Remembered(ctx context.Context, scope, id string) (*store.Outcome, error)
}

// Range of the NS TTL; 0 always means the platform default (86400).
const (
	MinNSTTL = 30
	MaxNSTTL = 86400
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

// fail maps an error to the client's status (status.Failed).
func (s *Service) fail(op string, err error) error {
	return status.Failed(s.log, "settings service", op, err)
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

var zonePaths = append([]string{"flatten_all_cnames", "ns_ttl", "max_records_override", "multi_provider", "secondary_overrides"}, soaPaths...)

// rangeCheck validates a uint32 setting where 0 means default.
func rangeCheck(field string, v, lo, hi uint32) *status.FieldViolation {
	if v == 0 || (v >= lo && v <= hi) {
		return nil
	}
	return &status.FieldViolation{Field: field, Description: fmt.Sprintf("must be 0 (default) or between %d and %d", lo, hi)}
}

func zoneSOA(z *dnsv1.ZoneSettings) soaFields {
	return soaFields{mname: z.GetSoaMname(), rname: z.GetSoaRname(), refresh: z.GetSoaRefresh(), retry: z.GetSoaRetry(),
		expire: z.GetSoaExpire(), minimum: z.GetSoaMinTtl(), soaTTL: z.GetSoaTtl()}
}

func setZoneSOA(z *dnsv1.ZoneSettings, f soaFields, paths map[string]bool) {
	set := func(path string, dst *uint32, v uint32) {
		if paths[path] {
			*dst = v
		}
	}
	if paths["soa_mname"] {
		z.SoaMname = f.mname
	}
	if paths["soa_rname"] {
		z.SoaRname = f.rname
	}
	set("soa_refresh", &z.SoaRefresh, f.refresh)
	set("soa_retry", &z.SoaRetry, f.retry)
	set("soa_expire", &z.SoaExpire, f.expire)
	set("soa_min_ttl", &z.SoaMinTtl, f.minimum)
	set("soa_ttl", &z.SoaTtl, f.soaTTL)
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
	if paths["ns_ttl"] {
		if v := rangeCheck("settings.ns_ttl", in.GetNsTtl(), MinNSTTL, MaxNSTTL); v != nil {
			violations = append(violations, *v)
		}
	}
	if o := in.GetMaxRecordsOverride(); paths["max_records_override"] && o != 0 && (o < 3500 || o > plans.MaxRecordsOverride) {
		violations = append(violations, status.FieldViolation{Field: "settings.max_records_override",
			Description: fmt.Sprintf("must be 0 (the plan's quota) or between %d and %d", 3500, plans.MaxRecordsOverride)})
	}
	soa, vs := checkSOAFields("settings.", zoneSOA(in), paths)
	violations = append(violations, vs...)
	if len(violations) > 0 {
		return nil, status.InvalidArguments(violations...)
	}
	return idempotency.Do(ctx, s.st, dnsv1.SettingsService_UpdateZoneSettings_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdateZoneSettingsResponse, error) {
		return s.updateZoneSettings(ctx, req, paths, soa)
	})
}

// updateZoneSettings is the write of UpdateZoneSettings. The rules that
// depend on the zone (its plan and setup) and on the settings in force run
// inside the store's read-modify-write, against what is committed. A value
// the request does not change passes whatever the plan (a zone keeps what
// it was granted before a plan change); setting a field back to its
// default passes on every plan.
func (s *Service) updateZoneSettings(ctx context.Context, req *dnsv1.UpdateZoneSettingsRequest, paths map[string]bool, soa soaFields) (*dnsv1.UpdateZoneSettingsResponse, error) {
	in := req.GetSettings()
	zs, err := s.st.UpdateZoneSettings(ctx, req.GetZoneId(), func(z *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
		plan := z.GetPlan()
		l := plans.For(plan)
		if paths["flatten_all_cnames"] {
			if in.GetFlattenAllCnames() && !cur.GetFlattenAllCnames() && !l.FlattenAll {
				return nil, plans.NewFeature(plans.LimitFlattenAll, "settings.flatten_all_cnames", plan,
					"flattening all CNAMEs is not available on the %s plan", l.Name)
			}
			cur.FlattenAllCnames = in.GetFlattenAllCnames()
		}
		if paths["ns_ttl"] {
			cur.NsTtl = in.GetNsTtl()
		}
		if paths["max_records_override"] && in.GetMaxRecordsOverride() != cur.GetMaxRecordsOverride() {
			if c := caller.From(ctx); c != nil && !c.Operator {
				return nil, grpcstatus.Error(codes.PermissionDenied,
					"settings.max_records_override: only the operator can change a zone's record quota (Enterprise customers ask their account team)")
			}
			if in.GetMaxRecordsOverride() != 0 && !l.RecordsOverridable {
				return nil, plans.NewFeature(plans.LimitRecordsOverride, "settings.max_records_override", plan,
					"the record quota can only be increased on Enterprise zones, the zone is on %s", l.Name)
			}
			cur.MaxRecordsOverride = in.GetMaxRecordsOverride()
		}
		setupType := z.GetType()
		if paths["multi_provider"] && in.GetMultiProvider() != cur.GetMultiProvider() {
			if in.GetMultiProvider() && setupType != dnsv1.ZoneType_ZONE_TYPE_FULL && setupType != dnsv1.ZoneType_ZONE_TYPE_UNSPECIFIED {
				return nil, status.InvalidArgument("settings.multi_provider", "multi-provider DNS is a setting of full zones (secondary zones always behave so)")
			}
			cur.MultiProvider = in.GetMultiProvider()
		}
		if paths["secondary_overrides"] && in.GetSecondaryOverrides() != cur.GetSecondaryOverrides() {
			if in.GetSecondaryOverrides() && setupType != dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
				return nil, status.InvalidArgument("settings.secondary_overrides", "secondary DNS override is a setting of secondary zones")
			}
			cur.SecondaryOverrides = in.GetSecondaryOverrides()
		}
		if !l.SOAEdits {
			if f := soaEdit(zoneSOA(cur), soa, paths); f != "" {
				return nil, plans.NewFeature(plans.LimitSOAEdits, "settings."+f, plan,
					"SOA values can only be changed on Enterprise zones, the zone is on %s", l.Name)
			}
		}
		setZoneSOA(cur, soa, paths)
		if err := checkSOACross("settings.", zoneSOA(cur), paths); err != nil {
			return nil, err
		}
		return cur, idempotency.Respond(ctx, &dnsv1.UpdateZoneSettingsResponse{Settings: cur})
	})
	if err != nil {
		return nil, s.fail("update_zone_settings", err)
	}
	s.log.Info("zone settings updated", zap.String("zone_id", req.GetZoneId()), zap.Strings("paths", req.GetUpdateMask().GetPaths()))
	return &dnsv1.UpdateZoneSettingsResponse{Settings: zs}, nil
}

// soaEdit returns the first SOA field (in mask order) the request sets to
// a value other than its default and other than the one in force, "" when
// none: what needs a plan with SOA edits.
func soaEdit(cur, next soaFields, paths map[string]bool) string {
	changed := func(path string, isDefault, same bool) bool { return paths[path] && !isDefault && !same }
	switch {
	case changed("soa_mname", next.mname == "", next.mname == cur.mname):
		return "soa_mname"
	case changed("soa_rname", next.rname == "", next.rname == cur.rname):
		return "soa_rname"
	case changed("soa_refresh", next.refresh == 0, next.refresh == cur.refresh):
		return "soa_refresh"
	case changed("soa_retry", next.retry == 0, next.retry == cur.retry):
		return "soa_retry"
	case changed("soa_expire", next.expire == 0, next.expire == cur.expire):
		return "soa_expire"
	case changed("soa_min_ttl", next.minimum == 0, next.minimum == cur.minimum):
		return "soa_min_ttl"
	case changed("soa_ttl", next.soaTTL == 0, next.soaTTL == cur.soaTTL):
		return "soa_ttl"
	}
	return ""
}
