package zones

import (
	"context"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/status"
)

// holdMessage is the documents' text for a name under another account's
// hold ("Contact the zone owner in case of zone hold error").
const holdMessage = "The zone name provided is subject to a hold which disallows the creation of this zone. Please contact the owner of the account that manages this domain to have this hold removed."

// holdActive tells whether h holds at now: set, or removed only until
// hold_after and that time has come.
func holdActive(h *dnsv1.ZoneHold, now time.Time) bool {
	if h.GetHold() {
		return true
	}
	return h.GetHoldAfter() != nil && !now.Before(h.GetHoldAfter().AsTime())
}

// effectiveHold is h as it applies at now.
func effectiveHold(h *dnsv1.ZoneHold, now time.Time) *dnsv1.ZoneHold {
	out := &dnsv1.ZoneHold{Hold: holdActive(h, now), IncludeSubdomains: h.GetIncludeSubdomains()}
	if !out.Hold {
		out.HoldAfter = h.GetHoldAfter()
	}
	return out
}

// heldByOthers refuses a name another account holds: a held zone of the
// same name, or a held ancestor zone with include_subdomains. Deleted
// zones hold nothing.
func heldByOthers(name, accountID string, now time.Time, sameName, related []*dnsv1.Zone) error {
	for _, zs := range [][]*dnsv1.Zone{sameName, related} {
		for _, z := range zs {
			if z.GetAccountId() == accountID || z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_DELETED || !holdActive(z.GetHold(), now) {
				continue
			}
			if z.GetName() == name || (z.GetHold().GetIncludeSubdomains() && dnsname.IsSubdomain(name, z.GetName())) {
				return status.FailedPrecondition("ZONE_HELD", "name", holdMessage)
			}
		}
	}
	return nil
}

func enterpriseOnly(z *dnsv1.Zone) error {
	if z.GetPlan() != dnsv1.Plan_PLAN_ENTERPRISE {
		return status.FailedPrecondition("PLAN", "plan", "zone holds are available on the Enterprise plan only")
	}
	return nil
}

// CreateZoneHold holds the zone's name (and optionally the names below
// it) against other accounts. Enterprise only.
func (s *Service) CreateZoneHold(ctx context.Context, req *dnsv1.CreateZoneHoldRequest) (*dnsv1.CreateZoneHoldResponse, error) {
	h, err := s.setHold(ctx, "CreateZoneHold", req.GetZoneId(), func(z *dnsv1.Zone) {
		z.Hold = &dnsv1.ZoneHold{Hold: true, IncludeSubdomains: req.GetIncludeSubdomains()}
	})
	if err != nil {
		return nil, err
	}
	return &dnsv1.CreateZoneHoldResponse{Hold: h}, nil
}

// RemoveZoneHold lifts the hold, for good or until hold_after.
func (s *Service) RemoveZoneHold(ctx context.Context, req *dnsv1.RemoveZoneHoldRequest) (*dnsv1.RemoveZoneHoldResponse, error) {
	if ha := req.GetHoldAfter(); ha != nil {
		if err := ha.CheckValid(); err != nil {
			return nil, status.InvalidArgument("hold_after", "is not a valid time")
		}
		if !ha.AsTime().After(s.now()) {
			return nil, status.InvalidArgument("hold_after", "must be in the future")
		}
	}
	h, err := s.setHold(ctx, "RemoveZoneHold", req.GetZoneId(), func(z *dnsv1.Zone) {
		z.Hold = &dnsv1.ZoneHold{IncludeSubdomains: z.GetHold().GetIncludeSubdomains(), HoldAfter: req.GetHoldAfter()}
	})
	if err != nil {
		return nil, err
	}
	return &dnsv1.RemoveZoneHoldResponse{Hold: h}, nil
}

// GetZoneHold returns the hold as it applies now.
func (s *Service) GetZoneHold(ctx context.Context, req *dnsv1.GetZoneHoldRequest) (*dnsv1.GetZoneHoldResponse, error) {
	if err := s.zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	z, err := s.st.GetZone(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.fail("get_hold", err)
	}
	return &dnsv1.GetZoneHoldResponse{Hold: effectiveHold(z.GetHold(), s.now())}, nil
}

func (s *Service) setHold(ctx context.Context, op, zoneID string, set func(z *dnsv1.Zone)) (*dnsv1.ZoneHold, error) {
	if err := s.zoneID(zoneID); err != nil {
		return nil, err
	}
	var refused error
	z, err := s.st.UpdateZone(ctx, op, zoneID, func(z *dnsv1.Zone) (*dnsv1.Zone, error) {
		if refused = enterpriseOnly(z); refused != nil {
			return nil, nil
		}
		set(z)
		z.ModifiedOn = timestamppb.New(s.now())
		return z, nil
	})
	if err != nil {
		return nil, s.fail(op, err)
	}
	if refused != nil {
		return nil, refused
	}
	h := effectiveHold(z.GetHold(), s.now())
	s.log.Info("zone hold changed", zap.String("zone_id", zoneID), zap.String("op", op), zap.Bool("hold", h.GetHold()), zap.Bool("include_subdomains", h.GetIncludeSubdomains()))
	return h, nil
}
