package zones

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/plans"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

// annotated fills z's read-only lifecycle fields (next timer, check
// state) and returns it.
func (s *Service) annotated(z *dnsv1.Zone, checks *dnsv1.ActivationChecks) *dnsv1.Zone {
	s.policy.Annotate(z, checks, s.scheduled)
	return z
}

// ActivationCheck runs the ownership check of a zone now and activates it
// when it passes. In delegation mode it is the lifecycle's check
// (delegation for full and secondary zones, the verification TXT record
// for partial ones), rate-limited per zone; in immediate mode it activates
// a pending zone unless another account's zone of the name is active.
func (s *Service) ActivationCheck(ctx context.Context, req *dnsv1.ActivationCheckRequest) (*dnsv1.ActivationCheckResponse, error) {
	if err := s.zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	z, err := s.st.GetZone(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.fail("activation_check", err)
	}
	switch z.GetStatus() {
	case dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE:
		return &dnsv1.ActivationCheckResponse{Zone: s.annotated(z, nil)}, nil
	case dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING:
		return nil, status.FailedPrecondition("ZONE_STATUS", "zone_id", "the zone has no plan yet: choose one with UpdateZone before checking its activation")
	case dnsv1.ZoneStatus_ZONE_STATUS_DELETED:
		return nil, status.FailedPrecondition("ZONE_STATUS", "zone_id", "the zone is deleted: add it again (CreateZone) to restore it")
	}
	now := s.now()
	if s.life == nil {
		return s.immediateCheck(ctx, z, now)
	}
	checks, err := s.st.ZoneChecks(ctx, z.GetId())
	if err != nil {
		return nil, s.fail("activation_check", err)
	}
	if every := s.policy.ManualCheckEvery(z.GetPlan()); every > 0 && checks.GetLastRequestedOn() != nil {
		if wait := checks.GetLastRequestedOn().AsTime().Add(every).Sub(now); wait > 0 {
			return nil, rateLimited(z, every, wait)
		}
	}
	if _, err := s.life.CheckZone(ctx, z, checks, now, true); err != nil {
		return nil, s.fail("activation_check", err)
	}
	if z, err = s.st.GetZone(ctx, z.GetId()); err != nil {
		return nil, s.fail("activation_check", err)
	}
	if checks, err = s.st.ZoneChecks(ctx, z.GetId()); err != nil {
		return nil, s.fail("activation_check", err)
	}
	reason := ""
	if z.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		reason = checks.GetLastResult()
		s.log.Info("zone not activated", zap.String("zone_id", z.GetId()), zap.String("zone", z.GetName()), zap.String("reason", reason))
	}
	return &dnsv1.ActivationCheckResponse{Zone: s.annotated(z, checks), Reason: reason}, nil
}

// rateLimited is ResourceExhausted with a RetryInfo and a QuotaFailure
// naming the limit.
func rateLimited(z *dnsv1.Zone, every, wait time.Duration) error {
	msg := fmt.Sprintf("activation checks of this zone are limited to one every %s on its plan; retry in %s", every, wait.Round(time.Second))
	st, err := grpcstatus.New(codes.ResourceExhausted, msg).WithDetails(
		&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject: "zone:" + z.GetId(), Description: msg,
		}}},
	)
	if err != nil {
		return grpcstatus.Error(codes.ResourceExhausted, msg)
	}
	return st.Err()
}

// immediateCheck activates a pending or moved zone unless another
// account's zone of the name is active (immediate mode, no external proof).
func (s *Service) immediateCheck(ctx context.Context, z *dnsv1.Zone, now time.Time) (*dnsv1.ActivationCheckResponse, error) {
	others, err := s.st.ZonesNamedAt(ctx, z.GetName(), 0)
	if err != nil {
		return nil, s.fail("activation_check", err)
	}
	for _, o := range others {
		if o.GetId() != z.GetId() && o.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
			reason := "another account's zone of this name is active"
			s.log.Info("zone not activated", zap.String("zone_id", z.GetId()), zap.String("zone", z.GetName()), zap.String("reason", reason))
			return &dnsv1.ActivationCheckResponse{Zone: s.annotated(z, nil), Reason: reason}, nil
		}
	}
	if z, err = s.st.ActivateZone(ctx, z.GetId(), now); err != nil {
		return nil, s.fail("activation_check", err)
	}
	s.log.Info("zone activated", zap.String("zone_id", z.GetId()), zap.String("zone", z.GetName()), zap.String("account_id", z.GetAccountId()))
	return &dnsv1.ActivationCheckResponse{Zone: s.annotated(z, nil)}, nil
}

// UpdateZone changes a zone's plan. Choosing the plan of an initializing
// zone makes it pending ("Plan selection" in the documents' diagram); a
// deleted zone is restored by CreateZone, not changed.
func (s *Service) UpdateZone(ctx context.Context, req *dnsv1.UpdateZoneRequest) (*dnsv1.UpdateZoneResponse, error) {
	if err := s.zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	plan := req.GetPlan()
	if plan == dnsv1.Plan_PLAN_UNSPECIFIED && req.GetVanityNameServers() == nil && req.GetAccountNameservers() == nil {
		return nil, status.InvalidArgument("plan", "is required (or vanity_name_servers, account_nameservers)")
	}
	if an := req.GetAccountNameservers(); an != nil && an.GetNsSet() > 5 {
		return nil, status.InvalidArgument("account_nameservers.ns_set", "must be 1 to 5, or 0 for the assigned nameservers")
	}
	if _, ok := dnsv1.Plan_name[int32(plan)]; !ok {
		return nil, status.InvalidArgument("plan", "unknown plan")
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneService_UpdateZone_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdateZoneResponse, error) {
		now := s.now()
		z, err := s.st.GetZone(ctx, req.GetZoneId())
		if err != nil {
			return nil, s.fail("update", err)
		}
		if z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_DELETED {
			return nil, status.FailedPrecondition("ZONE_STATUS", "zone_id", "the zone is deleted: add it again (CreateZone) to restore it")
		}
		if plan == dnsv1.Plan_PLAN_UNSPECIFIED {
			plan = z.GetPlan()
		}
		if v := s.names.check(z.GetName(), plan); v != nil {
			return nil, status.InvalidArgumentCoded(*v)
		}
		if vn := req.GetVanityNameServers(); vn != nil {
			if z, err = s.setVanity(ctx, z, plan, vn.GetNames(), now); err != nil {
				return nil, s.fail("update", err)
			}
		}
		if an := req.GetAccountNameservers(); an != nil {
			if z, err = s.setAccountNameservers(ctx, z, an.GetNsSet(), an.GetTenant(), now); err != nil {
				return nil, s.fail("update", err)
			}
		}
		if z.GetPlan() == plan {
			// nothing more to change
		} else if z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING {
			if !plans.For(plan).AllowsSetup(z.GetType()) {
				return nil, plans.NewFeature("setup", "plan", plan, "the zone's %s setup is not available on the %s plan",
					strings.ToLower(strings.TrimPrefix(z.GetType().String(), "ZONE_TYPE_")), strings.ToLower(strings.TrimPrefix(plan.String(), "PLAN_")))
			}
			if z, err = s.choosePlan(ctx, z.GetId(), plan, now); err != nil {
				return nil, s.fail("update", err)
			}
		} else if z, err = s.changePlan(ctx, z, plan, now); err != nil {
			return nil, s.fail("update", err)
		}
		resp := &dnsv1.UpdateZoneResponse{Zone: s.annotated(z, nil)}
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, s.fail("update", err)
		}
		s.log.Info("zone updated", zap.String("zone_id", z.GetId()), zap.Stringer("plan", plan), zap.Stringer("status", z.GetStatus()))
		return resp, nil
	})
}

// setVanity sets or (names empty) removes the zone custom nameservers:
// 2-5 distinct names below the zone ("each custom nameserver name must be
// a subdomain of the zone"), on a plan that offers them (Business and
// Enterprise), for full and secondary zones; each name gets the platform's
// addresses, answered as read-only A/AAAA records.
func (s *Service) setVanity(ctx context.Context, z *dnsv1.Zone, plan dnsv1.Plan, names []string, now time.Time) (*dnsv1.Zone, error) {
	var norm []string
	var ips []*dnsv1.NameserverAddresses
	if len(names) > 0 {
		if !plans.For(plan).ZoneCustomNameservers {
			return nil, plans.NewFeature("zone_custom_nameservers", "vanity_name_servers", plan, "zone custom nameservers are available on the Business and Enterprise plans")
		}
		if z.GetType() == dnsv1.ZoneType_ZONE_TYPE_PARTIAL {
			return nil, status.InvalidArgument("vanity_name_servers", "a partial zone has no nameservers of its own")
		}
		if len(names) < 2 || len(names) > 5 {
			return nil, status.InvalidArgument("vanity_name_servers", "give 2 to 5 names")
		}
		for i, n := range names {
			nn, err := dnsname.Normalize(n)
			field := fmt.Sprintf("vanity_name_servers[%d]", i)
			switch {
			case err != nil:
				return nil, status.InvalidArgument(field, err.Error())
			case strings.Contains(nn, "*"):
				return nil, status.InvalidArgument(field, "must not contain \"*\"")
			case nn == z.GetName() || !dnsname.IsSubdomain(nn, z.GetName()):
				return nil, status.InvalidArgument(field, fmt.Sprintf("must be a name below %s (zone custom nameservers belong to their zone)", z.GetName()))
			case slices.Contains(norm, nn):
				return nil, status.InvalidArgument(field, "is given twice")
			}
			norm = append(norm, nn)
			ips = append(ips, s.nsAddrs.For(nn))
		}
	}
	return s.st.UpdateZone(ctx, "UpdateZone", z.GetId(), func(c *dnsv1.Zone) (*dnsv1.Zone, error) {
		if slices.Equal(c.GetVanityNameServers(), norm) {
			return nil, nil
		}
		c.VanityNameServers, c.VanityNameServersIps = norm, ips
		c.ModifiedOn = timestamppb.New(now)
		return c, nil
	})
}

// setAccountNameservers moves a zone onto set n of its account's custom
// nameservers ("Use ACNS on existing zones"), or back to its assigned
// nameservers (n 0). The set must hold two names or more and not be the
// set of a zone directly above or below (the documents' rule for subdomain
// setups); its names are copied into the zone, so deleting a name later
// does not change what the zone serves (the documents: move zones off a
// set before deleting its names). Full and secondary zones only.
func (s *Service) setAccountNameservers(ctx context.Context, z *dnsv1.Zone, n uint32, tenant bool, now time.Time) (*dnsv1.Zone, error) {
	var names []string
	if n > 0 {
		if z.GetType() == dnsv1.ZoneType_ZONE_TYPE_PARTIAL {
			return nil, status.InvalidArgument("account_nameservers", "a partial zone has no nameservers of its own")
		}
		var custom []*dnsv1.CustomNameserver
		whose := "the account's"
		if tenant {
			whose = "the account's tenant's"
			var err error
			if custom, err = s.tenantNameservers(ctx, z.GetAccountId()); err != nil {
				return nil, err
			}
		} else {
			acns, err := s.st.CustomNameservers(ctx, z.GetAccountId())
			if err != nil {
				return nil, err
			}
			custom = acns.GetNameservers()
		}
		if names = nameservers.CustomSet(custom, n); len(names) < 2 {
			return nil, status.FailedPrecondition("NAMESERVER_SET", "account_nameservers.ns_set",
				fmt.Sprintf("set %d of %s custom nameservers has %d names; a set needs two or more", n, whose, len(names)))
		}
		related, err := s.st.ZonesRelatedTo(ctx, z.GetName())
		if err != nil {
			return nil, err
		}
		for _, o := range related {
			if o.GetAccountId() == z.GetAccountId() && slices.Equal(dnsname.NormalizedSet(nameservers.Served(o)), dnsname.NormalizedSet(names)) {
				return nil, status.FailedPrecondition("NAMESERVER_SET", "account_nameservers.ns_set",
					fmt.Sprintf("%s, a zone above or below this one, uses set %d: parent and child zones need different sets", strings.TrimSuffix(o.GetName(), "."), n))
			}
		}
	}
	return s.st.UpdateZone(ctx, "UpdateZone", z.GetId(), func(c *dnsv1.Zone) (*dnsv1.Zone, error) {
		if c.GetAccountNameserverSet() == n && slices.Equal(c.GetAccountNameServers(), names) {
			return nil, nil
		}
		c.AccountNameserverSet, c.AccountNameServers = n, names
		c.ModifiedOn = timestamppb.New(now)
		return c, nil
	})
}

// changePlan moves a zone to another plan when what it uses fits the new
// plan's limits ("A plan downgrade that would exceed a limit is refused":
// plans.CheckDowngrade names every limit exceeded). The usage is measured
// first and the change commits only if the zone's records did not change
// since (the guard), so nothing slips in under the old plan.
func (s *Service) changePlan(ctx context.Context, z *dnsv1.Zone, plan dnsv1.Plan, now time.Time) (*dnsv1.Zone, error) {
	for range 5 {
		if z.GetPlan() == plan {
			return z, nil
		}
		u, guard, err := s.st.ZoneUsage(ctx, z.GetId())
		if err != nil {
			return nil, err
		}
		u.Subdomain = s.names.isSubdomain(z.GetName())
		u.AdvancedNameservers = s.adv.Owns(z.GetNameServers())
		u.ZoneCustomNameservers = len(z.GetVanityNameServers()) > 0
		ds, err := s.st.GetDnssec(ctx, z.GetId())
		if err != nil {
			return nil, err
		}
		u.NSEC3 = ds.GetUseNsec3() && cpdnssec.Signed(ds)
		if err := plans.CheckDowngrade(z.GetPlan(), plan, u); err != nil {
			return nil, err
		}
		nz, err := s.st.UpdateZoneGuarded(ctx, "UpdateZone", z.GetId(), []clientv3.Cmp{guard}, func(c *dnsv1.Zone) (*dnsv1.Zone, error) {
			if c.GetPlan() != z.GetPlan() {
				return nil, fmt.Errorf("zone %s: plan changed meanwhile: %w", z.GetId(), store.ErrConflict)
			}
			c.Plan = plan
			c.ModifiedOn = timestamppb.New(now)
			return c, nil
		})
		if err == nil {
			return nz, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		if z, err = s.st.GetZone(ctx, z.GetId()); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("change plan of zone %s: %w", z.GetId(), store.ErrConflict)
}

// choosePlan gives an initializing zone its plan and makes it pending (or
// active in immediate mode when nobody else holds the name active).
func (s *Service) choosePlan(ctx context.Context, zoneID string, plan dnsv1.Plan, now time.Time) (*dnsv1.Zone, error) {
	return s.st.UpdateZoneGroup(ctx, "UpdateZone", zoneID, func(t *dnsv1.Zone, others []*dnsv1.Zone) ([]*dnsv1.Zone, error) {
		if t.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING {
			return nil, fmt.Errorf("zone %s: no longer initializing: %w", zoneID, store.ErrConflict)
		}
		ts := timestamppb.New(now)
		t.Plan, t.ModifiedOn, t.StatusChangedOn = plan, ts, ts
		t.Status = dnsv1.ZoneStatus_ZONE_STATUS_PENDING
		if s.act.activateOnCreate(others) {
			t.Status, t.ActivatedOn = dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, ts
		}
		return []*dnsv1.Zone{t}, nil
	})
}
