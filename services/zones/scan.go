package zones

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/status"
)

// RecordBatcher adds records to a zone under every rule of the record API
// (the records service, in process).
type RecordBatcher interface {
	BatchRecords(ctx context.Context, req *dnsv1.BatchRecordsRequest) (*dnsv1.BatchRecordsResponse, error)
}

// ScanRecords runs the records quick scan of a zone and, when asked,
// imports what it found through the record API in one batch. Names the
// zone already has records at are left out of the import, so that a scan
// never conflicts with (or duplicates) what the user made.
func (s *Service) ScanRecords(ctx context.Context, req *dnsv1.ScanRecordsRequest) (*dnsv1.ScanRecordsResponse, error) {
	if err := s.zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if s.scanner == nil {
		return nil, status.FailedPrecondition("QUICK_SCAN", "zone_id", "the records quick scan needs a resolver: start the control plane with --quick-scan-resolver (or --activation-resolver)")
	}
	z, err := s.st.GetZone(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.fail("scan", err)
	}
	sc := *s.scanner
	sc.Exclude = z.GetNameServers()
	res, err := sc.Scan(ctx, z.GetName())
	if err != nil {
		s.log.Info("quick scan failed", zap.String("zone_id", z.GetId()), zap.Error(err))
		return nil, status.FailedPrecondition("QUICK_SCAN", "zone_id", "the quick scan could not reach the zone's nameservers: "+err.Error())
	}
	out := &dnsv1.ScanRecordsResponse{Found: res.Records, Server: res.Server}
	if !req.GetImportRecords() || len(res.Records) == 0 {
		return out, nil
	}
	if s.records == nil {
		return nil, errors.New("zones: no record service to import into")
	}
	taken := map[string]bool{}
	tok := ""
	for {
		recs, next, err := s.st.ListRecords(ctx, z.GetId(), store.RecordFilter{}, 1000, tok)
		if err != nil {
			return nil, s.fail("scan", err)
		}
		for _, r := range recs {
			taken[r.GetName()] = true
		}
		if tok = next; tok == "" {
			break
		}
	}
	batch := &dnsv1.BatchRecordsRequest{ZoneId: z.GetId()}
	for _, r := range res.Records {
		if !taken[r.GetName()] {
			batch.Posts = append(batch.Posts, r)
		}
	}
	if len(batch.Posts) == 0 {
		return out, nil
	}
	br, err := s.records.BatchRecords(ctx, batch)
	if err != nil {
		return nil, err // the record API's own error, naming the record
	}
	out.Imported = br.GetPosted()
	s.log.Info("quick scan imported records", zap.String("zone_id", z.GetId()), zap.Int("records", len(out.Imported)), zap.String("server", res.Server))
	return out, nil
}
