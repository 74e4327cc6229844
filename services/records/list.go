package records

import (
	"context"
	"errors"
	"strings"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records/rdata"
	"github.com/zonegrid/zonegrid/services/status"
)

// Listing limits (record.proto).
const (
	defaultPageSize = 100
	maxPageSize     = 5000
)

// ListRecords lists a zone's records, filtered and paginated.
func (s *Service) ListRecords(ctx context.Context, req *dnsv1.ListRecordsRequest) (_ *dnsv1.ListRecordsResponse, err error) {
	defer s.observe("ListRecords", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, status.InvalidArgument("page_size", "must not be negative")
	case size == 0:
		size = defaultPageSize
	case size > maxPageSize:
		size = maxPageSize
	}
	zone, err := s.zone(ctx, req.GetZoneId())
	if err != nil {
		return nil, err
	}
	f := store.RecordFilter{Type: strings.ToUpper(strings.TrimSpace(req.GetType())), Content: req.GetContent()}
	if req.Proxied != nil {
		p := req.GetProxied()
		f.Proxied = &p
	}
	if req.GetName() != "" {
		if f.Name, err = dnsname.Qualify(strings.TrimSpace(req.GetName()), zone.GetName()); err != nil {
			return nil, status.InvalidArgument("name", err.Error())
		}
	}
	if f.Type != "" && f.Content != "" {
		// Match what is stored: "fe80::0:1" finds "fe80::1".
		if rd, err := rdata.Parse(f.Type, f.Content, nil, 0); err == nil {
			f.Content = rd.Content
		}
	}
	recs, next, err := s.st.ListRecords(ctx, req.GetZoneId(), f, size, req.GetPageToken())
	if errors.Is(err, store.ErrBadPageToken) {
		return nil, status.InvalidArgument("page_token", "is not a token of this listing")
	}
	if err != nil {
		return nil, s.storeErr(req.GetZoneId(), err)
	}
	return &dnsv1.ListRecordsResponse{Records: recs, NextPageToken: next}, nil
}
