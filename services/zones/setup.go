package zones

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/lifecycle"
	"github.com/zonegrid/zonegrid/controlplane/plans"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

func setupName(t dnsv1.ZoneType) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "ZONE_TYPE_"))
}

// ChangeSetup converts a zone to another setup, the six conversions of the
// documents' "DNS setup conversions". Records and settings stay. What the
// zone must prove starts again where the new setup needs another proof:
//   - to partial: a new verification TXT record, status PENDING until it
//     is published at the authoritative provider ("Add the Verification
//     TXT Record at your authoritative DNS provider");
//   - partial to full or secondary: status PENDING until the registrar
//     delegates to the assigned nameservers ("Get your assigned Cloudflare
//     nameservers ... and update your nameservers at your registrar");
//   - full to secondary and back: the delegation does not change, the
//     status stays.
//
// The new setup must be on the zone's plan, and a partial zone may not sit
// below an active full or secondary zone (the same rules as CreateZone).
func (s *Service) ChangeSetup(ctx context.Context, req *dnsv1.ChangeSetupRequest) (*dnsv1.ChangeSetupResponse, error) {
	if err := s.zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	to := req.GetType()
	if to == dnsv1.ZoneType_ZONE_TYPE_UNSPECIFIED {
		return nil, status.InvalidArgument("type", "is required")
	}
	if _, ok := dnsv1.ZoneType_name[int32(to)]; !ok {
		return nil, status.InvalidArgument("type", "unknown zone type")
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneService_ChangeSetup_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.ChangeSetupResponse, error) {
		z, err := s.st.GetZone(ctx, req.GetZoneId())
		if err != nil {
			return nil, s.fail("change_setup", err)
		}
		from := z.GetType()
		switch {
		case from == to:
			return nil, status.InvalidArgument("type", fmt.Sprintf("the zone already has a %s setup", setupName(to)))
		case z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_DELETED || z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING:
			return nil, status.FailedPrecondition("ZONE_STATUS", "zone_id", fmt.Sprintf("a %s zone cannot change its setup", strings.ToLower(strings.TrimPrefix(z.GetStatus().String(), "ZONE_STATUS_"))))
		case !plans.For(z.GetPlan()).AllowsSetup(to):
			return nil, plans.NewFeature("setup", "type", z.GetPlan(), "a %s setup is not available on the %s plan", setupName(to), strings.ToLower(strings.TrimPrefix(z.GetPlan().String(), "PLAN_")))
		}
		if to == dnsv1.ZoneType_ZONE_TYPE_PARTIAL {
			related, err := s.st.ZonesRelatedTo(ctx, z.GetName())
			if err != nil {
				return nil, s.fail("change_setup", err)
			}
			if err := partialBelowFull(to, z.GetName(), related); err != nil {
				return nil, err
			}
		}
		var verification *dnsv1.VerificationRecord
		if to == dnsv1.ZoneType_ZONE_TYPE_PARTIAL {
			if verification, err = lifecycle.NewVerification(z.GetName()); err != nil {
				return nil, s.fail("change_setup", err)
			}
		}
		now := timestamppb.New(s.now())
		nz, err := s.st.UpdateZoneGroup(ctx, "ChangeSetup", z.GetId(), func(t *dnsv1.Zone, _ []*dnsv1.Zone) ([]*dnsv1.Zone, error) {
			if t.GetType() != from || t.GetStatus() != z.GetStatus() {
				return nil, fmt.Errorf("zone %s changed meanwhile: %w", z.GetId(), store.ErrConflict)
			}
			t.Type, t.ModifiedOn, t.Verification = to, now, verification
			reprove := to == dnsv1.ZoneType_ZONE_TYPE_PARTIAL || from == dnsv1.ZoneType_ZONE_TYPE_PARTIAL
			if reprove && t.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
				t.Status, t.StatusChangedOn, t.ActivatedOn = dnsv1.ZoneStatus_ZONE_STATUS_PENDING, now, nil
			}
			return []*dnsv1.Zone{t}, nil
		})
		if err != nil {
			return nil, s.fail("change_setup", err)
		}
		resp := &dnsv1.ChangeSetupResponse{Zone: s.annotated(nz, nil)}
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, s.fail("change_setup", err)
		}
		s.log.Info("zone setup changed", zap.String("zone_id", nz.GetId()), zap.String("from", setupName(from)),
			zap.String("to", setupName(to)), zap.Stringer("status", nz.GetStatus()))
		return resp, nil
	})
}
