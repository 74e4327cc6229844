package transfers

import (
	"context"
	"strings"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/status"
)

// ListTransferEvents returns a zone's transfer events ("Alerts for
// Secondary DNS", recorded by the transfer worker: controlplane/xfrin
// events.go), newest first. A zone that is not secondary has none. The
// caller is authorized on the zone (the permission table: as GetIncoming),
// so another account's zone is NotFound like any object it cannot see.
func (s *Service) ListTransferEvents(ctx context.Context, req *dnsv1.ListTransferEventsRequest) (*dnsv1.ListTransferEventsResponse, error) {
	if err := zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	after := req.GetAfterId()
	if after != "" && (len(after) != 20 || strings.Trim(after, "0123456789") != "") {
		return nil, status.InvalidArgument("after_id", "must be the id of an event (20 digits)")
	}
	size := int(req.GetPageSize())
	if size < 0 {
		return nil, status.InvalidArgument("page_size", "must not be negative")
	}
	if size == 0 || size > store.MaxTransferEvents {
		size = store.MaxTransferEvents
	}
	z, err := s.st.GetZone(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.fail("list transfer events", err)
	}
	evs, err := s.st.TransferEvents(ctx, z.GetId(), after, size)
	if err != nil {
		return nil, s.fail("list transfer events", err)
	}
	return &dnsv1.ListTransferEventsResponse{Events: evs}, nil
}
