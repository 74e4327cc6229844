package settings

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/plans"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

// MaxNameserverSet is the highest custom nameserver set ("up to five
// different account custom nameserver sets").
const MaxNameserverSet = 5

var defaultsPaths = append([]string{"nameserver_method", "nameserver_set", "multi_provider", "ns_ttl", "flatten_all_cnames", "secondary_overrides"}, soaPaths...)

func defaultsSOA(d *dnsv1.AccountZoneDefaults) soaFields {
	return soaFields{mname: d.GetSoaMname(), rname: d.GetSoaRname(), refresh: d.GetSoaRefresh(), retry: d.GetSoaRetry(),
		expire: d.GetSoaExpire(), minimum: d.GetSoaMinTtl(), soaTTL: d.GetSoaTtl()}
}

// GetAccountZoneDefaults returns an account's DNS zone defaults (the
// platform's when never set).
func (s *Service) GetAccountZoneDefaults(ctx context.Context, req *dnsv1.GetAccountZoneDefaultsRequest) (*dnsv1.GetAccountZoneDefaultsResponse, error) {
	if err := checkID("account_id", req.GetAccountId()); err != nil {
		return nil, err
	}
	d, err := s.st.GetAccountZoneDefaults(ctx, req.GetAccountId())
	if err != nil {
		return nil, s.fail("get_account_zone_defaults", err)
	}
	return &dnsv1.GetAccountZoneDefaultsResponse{Defaults: d}, nil
}

// UpdateAccountZoneDefaults changes the fields of an account's DNS zone
// defaults named in update_mask (all when empty). Values away from the
// platform's defaults need an Enterprise account ("Enterprise accounts
// have the option to configure their own DNS zone defaults"): the account
// must hold an Enterprise zone (plans are per zone here), or the operator
// makes the call. Setting fields back to the platform's defaults passes on
// any account. Existing zones are not touched.
func (s *Service) UpdateAccountZoneDefaults(ctx context.Context, req *dnsv1.UpdateAccountZoneDefaultsRequest) (*dnsv1.UpdateAccountZoneDefaultsResponse, error) {
	if err := checkID("account_id", req.GetAccountId()); err != nil {
		return nil, err
	}
	paths, err := maskPaths(req.GetUpdateMask(), defaultsPaths)
	if err != nil {
		return nil, err
	}
	in := req.GetDefaults()
	if in == nil {
		in = &dnsv1.AccountZoneDefaults{}
	}
	var violations []status.FieldViolation
	if paths["nameserver_method"] {
		if _, ok := dnsv1.NameserverMethod_name[int32(in.GetNameserverMethod())]; !ok {
			violations = append(violations, status.FieldViolation{Field: "defaults.nameserver_method", Description: fmt.Sprintf("unknown method %d", in.GetNameserverMethod())})
		}
	}
	if paths["nameserver_set"] && in.GetNameserverSet() > MaxNameserverSet {
		violations = append(violations, status.FieldViolation{Field: "defaults.nameserver_set", Description: fmt.Sprintf("must be 0 (set 1) or between 1 and %d", MaxNameserverSet)})
	}
	if paths["ns_ttl"] {
		if v := rangeCheck("defaults.ns_ttl", in.GetNsTtl(), MinNSTTL, MaxNSTTL); v != nil {
			violations = append(violations, *v)
		}
	}
	soa, vs := checkSOAFields("defaults.", defaultsSOA(in), paths)
	violations = append(violations, vs...)
	if len(violations) > 0 {
		return nil, status.InvalidArguments(violations...)
	}
	next := proto.Clone(in).(*dnsv1.AccountZoneDefaults)
	next.SoaMname, next.SoaRname = soa.mname, soa.rname
	if field := nonDefault(next, paths); field != "" {
		if err := s.requireEnterprise(ctx, req.GetAccountId(), "defaults."+field); err != nil {
			return nil, err
		}
	}
	return idempotency.Do(ctx, s.st, dnsv1.SettingsService_UpdateAccountZoneDefaults_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdateAccountZoneDefaultsResponse, error) {
		d, err := s.st.UpdateAccountZoneDefaults(ctx, req.GetAccountId(), func(cur *dnsv1.AccountZoneDefaults) (*dnsv1.AccountZoneDefaults, error) {
			applyDefaults(cur, next, paths)
			custom := cur.GetNameserverMethod() == dnsv1.NameserverMethod_NAMESERVER_METHOD_ACCOUNT_CUSTOM ||
				cur.GetNameserverMethod() == dnsv1.NameserverMethod_NAMESERVER_METHOD_TENANT_CUSTOM
			if cur.GetNameserverSet() != 0 && !custom {
				return nil, status.InvalidArgument("defaults.nameserver_set", "a nameserver set belongs to the account or tenant custom nameserver methods")
			}
			if err := checkSOACross("defaults.", defaultsSOA(cur), paths); err != nil {
				return nil, err
			}
			return cur, idempotency.Respond(ctx, &dnsv1.UpdateAccountZoneDefaultsResponse{Defaults: cur})
		})
		if err != nil {
			return nil, s.fail("update_account_zone_defaults", err)
		}
		s.log.Info("account zone defaults updated", zap.String("account_id", req.GetAccountId()),
			zap.String("nameserver_method", d.GetNameserverMethod().String()), zap.Strings("paths", req.GetUpdateMask().GetPaths()))
		return &dnsv1.UpdateAccountZoneDefaultsResponse{Defaults: d}, nil
	})
}

// applyDefaults copies the fields of next named in paths into cur.
func applyDefaults(cur, next *dnsv1.AccountZoneDefaults, paths map[string]bool) {
	if paths["nameserver_method"] {
		cur.NameserverMethod = next.GetNameserverMethod()
	}
	if paths["nameserver_set"] {
		cur.NameserverSet = next.GetNameserverSet()
	}
	if paths["multi_provider"] {
		cur.MultiProvider = next.GetMultiProvider()
	}
	if paths["ns_ttl"] {
		cur.NsTtl = next.GetNsTtl()
	}
	if paths["flatten_all_cnames"] {
		cur.FlattenAllCnames = next.GetFlattenAllCnames()
	}
	if paths["secondary_overrides"] {
		cur.SecondaryOverrides = next.GetSecondaryOverrides()
	}
	if paths["soa_mname"] {
		cur.SoaMname = next.GetSoaMname()
	}
	if paths["soa_rname"] {
		cur.SoaRname = next.GetSoaRname()
	}
	if paths["soa_refresh"] {
		cur.SoaRefresh = next.GetSoaRefresh()
	}
	if paths["soa_retry"] {
		cur.SoaRetry = next.GetSoaRetry()
	}
	if paths["soa_expire"] {
		cur.SoaExpire = next.GetSoaExpire()
	}
	if paths["soa_min_ttl"] {
		cur.SoaMinTtl = next.GetSoaMinTtl()
	}
	if paths["soa_ttl"] {
		cur.SoaTtl = next.GetSoaTtl()
	}
}

// nonDefault returns the first path whose new value is not the platform's
// default, "" when every one is.
func nonDefault(d *dnsv1.AccountZoneDefaults, paths map[string]bool) string {
	empty := &dnsv1.AccountZoneDefaults{}
	applyDefaults(empty, d, paths)
	// A method of STANDARD is the platform default spelled out.
	if empty.GetNameserverMethod() == dnsv1.NameserverMethod_NAMESERVER_METHOD_STANDARD {
		empty.NameserverMethod = dnsv1.NameserverMethod_NAMESERVER_METHOD_UNSPECIFIED
	}
	if proto.Equal(empty, &dnsv1.AccountZoneDefaults{}) {
		return ""
	}
	for _, p := range defaultsPaths {
		if !paths[p] {
			continue
		}
		one := &dnsv1.AccountZoneDefaults{}
		applyDefaults(one, empty, map[string]bool{p: true})
		if !proto.Equal(one, &dnsv1.AccountZoneDefaults{}) {
			return p
		}
	}
	return "defaults"
}

// requireEnterprise refuses unless the caller is the operator (or an
// in-process caller) or the account holds an Enterprise zone.
func (s *Service) requireEnterprise(ctx context.Context, accountID, field string) error {
	if c := caller.From(ctx); c == nil || c.Operator {
		return nil
	}
	token := ""
	for {
		zones, next, err := s.st.ListZones(ctx, store.ZoneFilter{AccountID: accountID}, 1000, token)
		if err != nil {
			return s.fail("list_zones_for_zone_defaults", err)
		}
		for _, z := range zones {
			if plans.For(z.GetPlan()).ZoneDefaults {
				return nil
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	return plans.NewFeature(plans.LimitZoneDefaults, field, dnsv1.Plan_PLAN_UNSPECIFIED,
		"DNS zone defaults are for Enterprise accounts: account %s has no Enterprise zone", accountID)
}
