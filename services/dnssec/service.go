// Package dnssec implements dns.v1.DnssecService: enabling, disabling and
// deleting a zone's DNSSEC, its settings (multi-signer, NSEC3), ZSK
// rollovers on demand and operator-triggered KSK rollovers. The rules and keys are controlplane/dnssec's; this
// package checks requests, the plan and the zone, and writes through the
// store. No response carries a private key, sealed or not.
package dnssec

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	"github.com/zonegrid/zonegrid/controlplane/plans"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

// Service implements dns.v1.DnssecService.
type Service struct {
	dnsv1.UnimplementedDnssecServiceServer
	st     *store.Store
	ring   *keyseal.Ring
	policy cpdnssec.Policy
	now    func() time.Time
	log    *zap.Logger
}

// New returns the service; ring seals the keys it generates.
func New(st *store.Store, ring *keyseal.Ring, policy cpdnssec.Policy, log *zap.Logger) *Service {
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{st: st, ring: ring, policy: policy.WithDefaults(), now: time.Now, log: log}
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

func checkZoneID(id string) error {
	if id == "" {
		return status.InvalidArgument("zone_id", "is required")
	}
	if !idRe.MatchString(id) {
		return status.InvalidArgument("zone_id", "is not a valid id")
	}
	return nil
}

// GetDnssec returns the zone's DNSSEC: DELETED when never enabled.
func (s *Service) GetDnssec(ctx context.Context, req *dnsv1.GetDnssecRequest) (*dnsv1.GetDnssecResponse, error) {
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	z, err := s.st.GetZone(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.storeErr(req.GetZoneId(), err)
	}
	st, err := s.st.GetDnssec(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.storeErr(req.GetZoneId(), err)
	}
	return &dnsv1.GetDnssecResponse{Dnssec: cpdnssec.View(z.GetName(), st, s.now())}, nil
}

var updatePaths = map[string]bool{"status": true, "dnssec_multi_signer": true, "dnssec_use_nsec3": true}

// UpdateDnssec enables or disables DNSSEC and changes its settings.
func (s *Service) UpdateDnssec(ctx context.Context, req *dnsv1.UpdateDnssecRequest) (*dnsv1.UpdateDnssecResponse, error) {
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	paths := map[string]bool{}
	for _, p := range req.GetUpdateMask().GetPaths() {
		if !updatePaths[p] {
			return nil, status.InvalidArgument("update_mask", fmt.Sprintf("unknown or read-only path %q (status, dnssec_multi_signer, dnssec_use_nsec3)", p))
		}
		paths[p] = true
	}
	if len(paths) == 0 {
		return nil, status.InvalidArgument("update_mask", "must name at least one of status, dnssec_multi_signer, dnssec_use_nsec3")
	}
	in := req.GetDnssec()
	if paths["status"] {
		switch in.GetStatus() {
		case dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED:
		default:
			return nil, status.InvalidArgument("dnssec.status", "must be DNSSEC_STATUS_ACTIVE (enable) or DNSSEC_STATUS_DISABLED (disable); the other statuses follow the DS at the parent")
		}
	}
	return idempotency.Do(ctx, s.st, dnsv1.DnssecService_UpdateDnssec_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdateDnssecResponse, error) {
		if paths["status"] && in.GetStatus() == dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE && s.ring == nil {
			return nil, noKEK()
		}
		if paths["status"] && in.GetStatus() == dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE {
			if err := s.notPresigned(ctx, req.GetZoneId()); err != nil {
				return nil, err
			}
		}
		now := s.now()
		var name string
		st, err := s.st.UpdateDnssec(ctx, req.GetZoneId(), "UpdateDnssec", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			name = z.GetName()
			if err := writable(z); err != nil {
				return nil, err
			}
			if paths["dnssec_use_nsec3"] && in.GetDnssecUseNsec3() && !cur.GetUseNsec3() && !plans.For(z.GetPlan()).NSEC3 {
				return nil, plans.NewFeature(plans.LimitNSEC3, "dnssec.dnssec_use_nsec3", z.GetPlan(), "NSEC3 is only available for zones on the Enterprise plan")
			}
			next := cur
			var err error
			if paths["status"] {
				if in.GetStatus() == dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE {
					next, err = cpdnssec.Enable(cur, s.ring, z.GetId(), z.GetName(), s.policy, now)
				} else {
					next, err = cpdnssec.Disable(cur, now)
				}
				if err != nil {
					return nil, err
				}
			}
			if next == nil {
				if in.GetDnssecMultiSigner() || in.GetDnssecUseNsec3() {
					return nil, status.FailedPrecondition("DNSSEC_STATUS", "dnssec.status", "DNSSEC is not enabled: set status to DNSSEC_STATUS_ACTIVE in the same request")
				}
				return nil, idempotency.Respond(ctx, &dnsv1.UpdateDnssecResponse{Dnssec: cpdnssec.View(name, nil, now)})
			}
			if paths["dnssec_multi_signer"] {
				next.MultiSigner = in.GetDnssecMultiSigner()
			}
			if paths["dnssec_use_nsec3"] {
				next.UseNsec3 = in.GetDnssecUseNsec3()
			}
			return next, idempotency.Respond(ctx, &dnsv1.UpdateDnssecResponse{Dnssec: cpdnssec.View(name, next, now)})
		})
		if err != nil {
			return nil, s.storeErr(req.GetZoneId(), err)
		}
		s.log.Info("dnssec updated", zap.String("zone_id", req.GetZoneId()), zap.String("status", cpdnssec.StatusName(st.GetStatus())))
		return &dnsv1.UpdateDnssecResponse{Dnssec: cpdnssec.View(name, st, now)}, nil
	})
}

// notPresigned refuses live signing for a zone whose incoming transfers
// are marked pre-signed (IncomingTransfer.dnssec_presigned): its primary's
// signatures are served as transferred, and ours would contradict them (a
// second DNSKEY set, RRSIGs from keys the parent's DS does not name). The
// transfer service refuses the other order (DNSSEC_LIVE_SIGNING). Like
// that check it reads before the write: the two settings are changed by
// people, not raced by machines, and the edge serves a zone holding the
// primary's signatures as pre-signed whatever the header says.
func (s *Service) notPresigned(ctx context.Context, zoneID string) error {
	in, err := s.st.GetIncomingTransfer(ctx, zoneID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // no incoming transfers; the write reports a missing zone
	}
	if err != nil {
		return s.storeErr(zoneID, fmt.Errorf("read incoming transfer: %w", err))
	}
	if in.GetDnssecPresigned() {
		return status.FailedPrecondition("DNSSEC_PRESIGNED", "dnssec.status",
			"the zone is pre-signed (its incoming transfer setting dnssec_presigned is on): its primary's signatures are served; "+
				"turn dnssec_presigned off (ZoneTransferService.UpdateIncoming) before enabling live signing")
	}
	return nil
}

// DeleteDnssec removes the zone's keys, from DISABLED only.
func (s *Service) DeleteDnssec(ctx context.Context, req *dnsv1.DeleteDnssecRequest) (*dnsv1.DeleteDnssecResponse, error) {
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.DnssecService_DeleteDnssec_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.DeleteDnssecResponse, error) {
		_, err := s.st.UpdateDnssec(ctx, req.GetZoneId(), "DeleteDnssec", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			if err := cpdnssec.Delete(cur); err != nil {
				return nil, status.FailedPrecondition("DNSSEC_STATUS", "zone_id", err.Error())
			}
			return nil, idempotency.Respond(ctx, &dnsv1.DeleteDnssecResponse{Dnssec: cpdnssec.View("", nil, s.now())})
		})
		if err != nil {
			return nil, s.storeErr(req.GetZoneId(), err)
		}
		return &dnsv1.DeleteDnssecResponse{Dnssec: cpdnssec.View("", nil, s.now())}, nil
	})
}

// RollZsk starts a ZSK rollover now.
func (s *Service) RollZsk(ctx context.Context, req *dnsv1.RollZskRequest) (*dnsv1.RollZskResponse, error) {
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if s.ring == nil {
		return nil, noKEK()
	}
	return idempotency.Do(ctx, s.st, dnsv1.DnssecService_RollZsk_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.RollZskResponse, error) {
		now := s.now()
		var name string
		st, err := s.st.UpdateDnssec(ctx, req.GetZoneId(), "RollZsk", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			name = z.GetName()
			if err := writable(z); err != nil {
				return nil, err
			}
			next, err := cpdnssec.RollZSK(cur, s.ring, z.GetId(), z.GetName(), s.policy, now)
			switch {
			case errors.Is(err, cpdnssec.ErrRollInProgress):
				return nil, status.FailedPrecondition("ROLLOVER", "zone_id", "a ZSK rollover is already in progress: the new key signs once it has been published long enough")
			case errors.Is(err, cpdnssec.ErrTransition):
				return nil, status.FailedPrecondition("DNSSEC_STATUS", "zone_id", "DNSSEC is not enabled for the zone")
			case err != nil:
				return nil, err
			}
			return next, idempotency.Respond(ctx, &dnsv1.RollZskResponse{Dnssec: cpdnssec.View(name, next, now)})
		})
		if err != nil {
			return nil, s.storeErr(req.GetZoneId(), err)
		}
		return &dnsv1.RollZskResponse{Dnssec: cpdnssec.View(name, st, now)}, nil
	})
}

// RollKsk starts a KSK rollover by double signature now: the response's
// ds is the new KSK's DS, to give the registrar.
func (s *Service) RollKsk(ctx context.Context, req *dnsv1.RollKskRequest) (*dnsv1.RollKskResponse, error) {
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if s.ring == nil {
		return nil, noKEK()
	}
	return idempotency.Do(ctx, s.st, dnsv1.DnssecService_RollKsk_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.RollKskResponse, error) {
		now := s.now()
		var name string
		st, err := s.st.UpdateDnssec(ctx, req.GetZoneId(), "RollKsk", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			name = z.GetName()
			if err := writable(z); err != nil {
				return nil, err
			}
			next, err := cpdnssec.RollKSK(cur, s.ring, z.GetId(), z.GetName(), now)
			switch {
			case errors.Is(err, cpdnssec.ErrKSKRollInProgress):
				return nil, status.FailedPrecondition("ROLLOVER", "zone_id", "a KSK rollover is already in progress: it ends once the new DS is at the parent and the old KSK has been removed")
			case errors.Is(err, cpdnssec.ErrTransition):
				return nil, status.FailedPrecondition("DNSSEC_STATUS", "zone_id", "the KSK can only be rolled while DNSSEC is pending or active")
			case err != nil:
				return nil, err
			}
			return next, idempotency.Respond(ctx, &dnsv1.RollKskResponse{Dnssec: cpdnssec.View(name, next, now)})
		})
		if err != nil {
			return nil, s.storeErr(req.GetZoneId(), err)
		}
		s.log.Info("ksk rollover started", zap.String("zone_id", req.GetZoneId()), zap.Uint32("new_ksk", cpdnssec.KSK(st).GetKeyTag()))
		return &dnsv1.RollKskResponse{Dnssec: cpdnssec.View(name, st, now)}, nil
	})
}

// noKEK is the answer of a control plane started without a key-encryption
// key: it cannot make keys it could store.
func noKEK() error {
	return status.FailedPrecondition("DNSSEC_KEK", "zone_id", "this control plane has no key-encryption key (--dnssec-kek-file): DNSSEC keys cannot be generated")
}

// writable refuses changes to an archived zone, as the record API does.
func writable(z *dnsv1.Zone) error {
	if z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_DELETED {
		return status.FailedPrecondition("ZONE_STATUS", "zone_id", "the zone is deleted: add it again (CreateZone) to restore it before changing its DNSSEC")
	}
	return nil
}

func (s *Service) storeErr(zoneID string, err error) error {
	if errors.Is(err, store.ErrIdempotentReplay) {
		return err // answered by idempotency.Do
	}
	if _, ok := err.(interface{ GRPCStatus() *grpcstatus.Status }); ok {
		return err
	}
	var le *plans.LimitError
	if errors.As(err, &le) {
		return le
	}
	if errors.Is(err, store.ErrNotFound) {
		return grpcstatus.Errorf(codes.NotFound, "zone_id: zone %q not found", zoneID)
	}
	st := status.FromStore(err)
	if c := grpcstatus.Code(st); c == codes.Internal || c == codes.Unavailable {
		s.log.Error("dnssec store failure", zap.String("zone_id", zoneID), zap.Error(err))
	}
	return st
}
