package transfers

import (
	"context"

	"github.com/zonegrid/zonegrid/services/status"
	"go.uber.org/zap"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// ForceAxfr asks the transfer worker for the whole zone from its
// primaries at its next step. The request is a key in etcd, so it is not
// lost when the control plane that took it stops, and asking twice
// before the step is asking once: it needs no request id of its own, but
// accepts one.
func (s *Service) ForceAxfr(ctx context.Context, req *dnsv1.ForceAxfrRequest) (*dnsv1.ForceAxfrResponse, error) {
	got, err := s.GetIncoming(ctx, &dnsv1.GetIncomingRequest{ZoneId: req.GetZoneId()})
	if err != nil {
		return nil, err
	}
	in := got.GetIncoming()
	if in.GetStatus().GetState() == dnsv1.TransferState_TRANSFER_STATE_NOT_APPLICABLE {
		return nil, status.FailedPrecondition("ZONE_TYPE", "zone_id", "the zone is not a secondary zone: it has no primaries to transfer from")
	}
	if len(in.GetPeers()) == 0 {
		return nil, status.FailedPrecondition("NO_PRIMARIES", "zone_id", "the zone has no linked primaries (UpdateIncoming peers)")
	}
	if err := s.st.RequestForceAxfr(ctx, req.GetZoneId(), s.now()); err != nil {
		return nil, s.fail("force axfr", err)
	}
	s.log.Info("force AXFR requested", zap.String("zone_id", req.GetZoneId()))
	return &dnsv1.ForceAxfrResponse{Incoming: in}, nil
}
