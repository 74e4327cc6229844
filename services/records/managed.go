package records

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/managed"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/status"
)

// SetRecordManagedBy marks a record as managed by a platform product, or
// clears the mark. The authorization table lets only the operator call it:
// the products of the platform (R2, Tunnel, Load Balancing, ...) create
// their records through the record API and then claim them here, after
// which users see them read-only.
func (s *Service) SetRecordManagedBy(ctx context.Context, req *dnsv1.SetRecordManagedByRequest) (_ *dnsv1.SetRecordManagedByResponse, err error) {
	defer s.observe("SetRecordManagedBy", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if err := checkRecordID("record_id", req.GetRecordId()); err != nil {
		return nil, err
	}
	by := req.GetManagedBy()
	if _, ok := managed.Parse(by); !ok {
		return nil, status.InvalidArgument("managed_by", fmt.Sprintf("%q is not a product that manages records: one of %s, or empty to clear", by, strings.Join(managed.Names(), ", ")))
	}
	resp := &dnsv1.SetRecordManagedByResponse{}
	err = s.write(ctx, req.GetZoneId(), func(ctx context.Context, w *writer) error {
		old, err := w.existing(ctx, req.GetRecordId(), "record_id")
		if err != nil {
			return err
		}
		r := proto.Clone(old).(*dnsv1.Record)
		r.Meta = nil
		if by != "" {
			r.Meta = &dnsv1.RecordMeta{ManagedBy: by}
		}
		r.ModifiedOn = w.now
		w.ov.put(r)
		resp.Record = r
		return nil
	}, resp)
	if err != nil {
		return nil, err
	}
	return resp, nil
}
