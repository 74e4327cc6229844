package records

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/zonegrid/zonegrid/controlplane/builder"
	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/plans"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/records/zonefile"
	"github.com/zonegrid/zonegrid/services/status"
)

// MaxImportRecords bounds the records of one import: a 256 KiB file holds
// at most about 18,000 distinct records, but $GENERATE makes any number,
// and one import is one etcd transaction of about two operations and
// 600 bytes per record (store README, "Limits"; embedded.MaxTxnOps and
// MaxRequestBytes are sized for this bound).
const MaxImportRecords = 20000

// importViolationsMax bounds the bad lines one answer lists: the rest are
// counted in the last one (a gRPC answer must stay small).
const importViolationsMax = 1000

// Import rate ("Import and export records", Limits: "three requests per
// minute per user"): a burst of three, then one every 20 seconds.
const (
	importBurst = 3
	importEvery = 20 * time.Second
)

// importLimiter keeps one token bucket per caller token.
type importLimiter struct {
	mu      sync.Mutex
	every   time.Duration
	burst   int
	buckets map[string]*rate.Limiter
}

func newImportLimiter(every time.Duration, burst int) *importLimiter {
	return &importLimiter{every: every, burst: burst, buckets: map[string]*rate.Limiter{}}
}

// allow takes one import from key's bucket, or says how long to wait.
func (l *importLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 100000 {
			// Full buckets carry no state: drop them rather than grow.
			for k, v := range l.buckets {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
		}
		b = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// checkImportRate applies the per-user import rate to the caller's token.
// The operator's credential is the platform's own, not a user's, and calls
// without a caller (in-process) are not limited.
func (s *Service) checkImportRate(ctx context.Context) error {
	c := caller.From(ctx)
	if c == nil || c.Operator {
		return nil
	}
	key := "token:" + c.TokenID
	if c.TokenID == "" {
		key = "account:" + c.AccountID
	}
	ok, wait := s.imports.allow(key, s.now())
	if ok {
		return nil
	}
	msg := fmt.Sprintf("zone file imports are limited to %d per minute per user; retry in %s", importBurst, wait.Round(time.Second))
	st, err := grpcstatus.New(codes.ResourceExhausted, msg).WithDetails(
		&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: key, Description: msg}}},
	)
	if err != nil {
		return grpcstatus.Error(codes.ResourceExhausted, msg)
	}
	return st.Err()
}

// ImportRecords adds the records of a zone file as one write: every
// record is validated as CreateRecord validates it, against the zone and
// the records before it, and one bad line (of the file or of a record)
// rejects the whole file, every bad line reported.
func (s *Service) ImportRecords(ctx context.Context, req *dnsv1.ImportRecordsRequest) (_ *dnsv1.ImportRecordsResponse, err error) {
	defer s.observe("ImportRecords", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if n := len(req.GetZoneFile()); n > zonefile.MaxSize {
		return nil, status.InvalidArgument("zone_file", fmt.Sprintf("is %d bytes; a zone file holds at most %d bytes (256 KiB)", n, zonefile.MaxSize))
	}
	if len(bytes.TrimSpace(req.GetZoneFile())) == 0 {
		return nil, status.InvalidArgument("zone_file", "is empty")
	}
	if err := s.checkImportRate(ctx); err != nil {
		return nil, err
	}
	zone, err := s.zone(ctx, req.GetZoneId())
	if err != nil {
		return nil, err
	}
	started := time.Now()
	res := zonefile.Read(req.GetZoneFile(), zone.GetName())
	if len(res.Errors) > 0 {
		v := make([]status.FieldViolation, 0, len(res.Errors))
		for _, e := range res.Errors {
			v = append(v, status.FieldViolation{Field: "zone_file", Description: e.Error()})
		}
		return nil, status.InvalidArguments(capViolations(v)...)
	}
	if len(res.Entries) > MaxImportRecords {
		return nil, status.InvalidArgument("zone_file", fmt.Sprintf("holds %d records; one import takes at most %d (split the file)", len(res.Entries), MaxImportRecords))
	}
	ids := make([]string, len(res.Entries))
	for i := range ids {
		if ids[i], err = newID(); err != nil {
			return nil, err
		}
	}
	resp, err := idempotency.Do(ctx, s.st, dnsv1.RecordService_ImportRecords_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.ImportRecordsResponse, error) {
		resp := &dnsv1.ImportRecordsResponse{TotalRecordsParsed: int32(res.Parsed)}
		err := s.write(ctx, req.GetZoneId(), func(ctx context.Context, w *writer) error {
			// The closure may run again: the skipped list is rebuilt.
			resp.Skipped = resp.Skipped[:0]
			for _, sk := range res.Skipped {
				resp.Skipped = append(resp.Skipped, &dnsv1.SkippedRecord{Line: int32(sk.Line), Reason: sk.Reason})
			}
			entries := w.apexNS(res.Entries, func(line int) {
				resp.Skipped = append(resp.Skipped, &dnsv1.SkippedRecord{Line: int32(line), Reason: zonefile.ApexNSReason})
			})
			n, err := w.importEntries(ctx, entries, ids, req.GetProxied())
			resp.RecsAdded = int32(n)
			return err
		}, resp)
		if err != nil {
			return nil, err
		}
		return resp, nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("zone file imported", zap.String("zone_id", req.GetZoneId()), zap.Int("bytes", len(req.GetZoneFile())),
		zap.Int32("records", resp.GetRecsAdded()), zap.Int("skipped", len(resp.GetSkipped())), zap.Duration("took", time.Since(started)))
	return resp, nil
}

// importEntries creates the records of a file, going on after a refused
// record so that every refused line is reported; any refusal fails the
// write. A zone full (quota) stops at its first line: every line after
// it would say the same.
// apexNS drops the apex NS entries the zone would not serve, reporting
// each to skip: all of them without multi-provider DNS (full zones; a
// secondary zone always serves them), and those naming one of the
// platform's own nameservers with it (they are served anyway, and an
// export writes them: a round trip must not turn them into records).
func (w *writer) apexNS(entries []zonefile.Entry, skip func(line int)) []zonefile.Entry {
	keep := w.settings.GetMultiProvider() || w.zone.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY
	platform := map[string]bool{}
	for _, n := range nameservers.Served(w.zone) {
		platform[strings.ToLower(dns.Fqdn(n))] = true
	}
	out := entries[:0:0]
	for _, e := range entries {
		if e.ApexNS && (!keep || platform[strings.ToLower(dns.Fqdn(e.Record.GetContent()))]) {
			skip(e.Line)
			continue
		}
		out = append(out, e)
	}
	return out
}

func (w *writer) importEntries(ctx context.Context, entries []zonefile.Entry, ids []string, proxied bool) (int, error) {
	recs := make([]*dnsv1.Record, len(entries))
	for i, e := range entries {
		r := e.Record
		rec := &dnsv1.Record{Name: r.GetName(), Type: r.GetType(), Content: r.GetContent(), Priority: r.GetPriority(),
			Ttl: r.GetTtl(), Comment: r.GetComment(), Tags: r.GetTags(), Settings: r.GetSettings()}
		switch {
		case e.Proxied != nil:
			// A cf-proxied tag decides for its record.
			rec.Proxied = *e.Proxied
		case proxied && proxiable(r.GetType(), r.GetContent(), w.np):
			// The import-wide option proxies the records that can be
			// ("Proxy imported DNS records": the applicable ones): one
			// the proxy rules refuse (a flattened CNAME, an address not
			// to be proxied) is imported DNS-only rather than failing.
			rec.Proxied = true
			if _, err := w.normalize(rec); err != nil {
				rec.Proxied = false
				if _, err := w.normalize(rec); err != nil {
					rec.Proxied = true // refused either way: report as asked
				}
			}
		}
		recs[i] = rec
	}
	if err := w.prefetch(ctx, recs, nil); err != nil {
		return 0, err
	}
	var (
		bad   []status.FieldViolation
		limit *plans.LimitError
	)
	added := 0
	for i, r := range recs {
		_, err := w.create(ctx, r, ids[i], "")
		if err == nil {
			added++
			continue
		}
		line := entries[i].Line
		var le *plans.LimitError
		switch {
		case errors.As(err, &le):
			c := *le
			c.Field, c.Description = "zone_file", fmt.Sprintf("line %d: %s", line, describe(le.Field, le.Description))
			bad = append(bad, status.FieldViolation{Field: c.Field, Description: c.Description})
			if le.Limit == plans.LimitRecordsPerZone {
				limit = &c
			}
		default:
			st, ok := grpcstatus.FromError(err)
			if !ok || st.Code() == codes.Unknown || st.Code() == codes.Internal || st.Code() == codes.Unavailable {
				return 0, err // not the record's fault
			}
			bad = append(bad, lineViolations(line, st)...)
		}
		if limit != nil {
			break
		}
	}
	switch {
	case len(bad) == 0:
		return added, nil
	case len(bad) == 1 && limit != nil:
		// Only the zone's quota: keep its code and details.
		return 0, limit
	}
	return 0, status.InvalidArguments(capViolations(bad)...)
}

// lineViolations turns a record's validation status into zone_file
// violations naming its line.
func lineViolations(line int, st *grpcstatus.Status) []status.FieldViolation {
	var out []status.FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, status.FieldViolation{Field: "zone_file", Description: fmt.Sprintf("line %d: %s", line, describe(v.GetField(), v.GetDescription()))})
			}
		}
	}
	if len(out) == 0 {
		out = append(out, status.FieldViolation{Field: "zone_file", Description: fmt.Sprintf("line %d: %s", line, st.Message())})
	}
	return out
}

func describe(field, desc string) string {
	if field == "" {
		return desc
	}
	return field + ": " + desc
}

func capViolations(v []status.FieldViolation) []status.FieldViolation {
	if len(v) <= importViolationsMax {
		return v
	}
	more := len(v) - importViolationsMax + 1
	v = v[:importViolationsMax-1]
	return append(v, status.FieldViolation{Field: "zone_file", Description: fmt.Sprintf("and %d more bad lines", more)})
}

// ExportRecords writes the zone as a zone file: $ORIGIN, the SOA and apex
// NS the edges serve, then every record with its attributes. Everything
// is read at one revision.
func (s *Service) ExportRecords(ctx context.Context, req *dnsv1.ExportRecordsRequest) (_ *dnsv1.ExportRecordsResponse, err error) {
	defer s.observe("ExportRecords", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	rev, err := s.st.CurrentRevision(ctx)
	if err != nil {
		return nil, s.storeErr(req.GetZoneId(), err)
	}
	z, err := s.st.GetZoneAt(ctx, req.GetZoneId(), rev)
	if err != nil {
		return nil, s.storeErr(req.GetZoneId(), err)
	}
	zs, err := s.st.ZoneSettingsAt(ctx, req.GetZoneId(), rev)
	if err != nil {
		return nil, s.storeErr(req.GetZoneId(), err)
	}
	recs, err := s.st.ZoneRecords(ctx, req.GetZoneId(), rev)
	if err != nil {
		return nil, s.storeErr(req.GetZoneId(), err)
	}
	h := zonefile.Header{Origin: z.GetName(), SOA: s.exportSOA(z, zs, recs, rev)}
	nsTTL := zs.GetNsTtl()
	if nsTTL == 0 {
		nsTTL = builder.DefaultNSTTL
	}
	for _, ns := range nameservers.Served(z) {
		h.NS = append(h.NS, &dns.NS{Hdr: dns.RR_Header{Name: z.GetName(), Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: nsTTL}, Ns: dns.Fqdn(ns)})
	}
	entries := make([]zonefile.Entry, 0, len(recs))
	for _, r := range recs {
		if r.GetType() == "SOA" {
			continue // a secondary zone's transferred SOA: the header's
		}
		e := zonefile.Entry{Record: r}
		if r.GetProxiable() || r.GetProxied() {
			p := r.GetProxied()
			e.Proxied = &p
		}
		entries = append(entries, e)
	}
	var buf bytes.Buffer
	if err := zonefile.Write(&buf, h, entries); err != nil {
		return nil, fmt.Errorf("write zone file: %w", err)
	}
	return &dnsv1.ExportRecordsResponse{ZoneFile: buf.Bytes(), RecordCount: int32(len(recs))}, nil
}

// exportSOA is the SOA the builder serves (builder.ServedSOA: the
// primary's for a transferred secondary zone), with the zone name as MNAME
// when the zone has no nameserver to name.
func (s *Service) exportSOA(z *dnsv1.Zone, zs *dnsv1.ZoneSettings, recs []*dnsv1.Record, rev int64) *dns.SOA {
	soa := builder.ServedSOA(z, zs, recs, rev, s.soaRname)
	if soa.GetMname() == "" {
		soa.Mname = z.GetName()
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: z.GetName(), Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soa.GetTtl()},
		Ns:      dns.Fqdn(soa.GetMname()),
		Mbox:    dns.Fqdn(soa.GetRname()),
		Serial:  soa.GetSerial(),
		Refresh: soa.GetRefresh(),
		Retry:   soa.GetRetry(),
		Expire:  soa.GetExpire(),
		Minttl:  soa.GetMinimum(),
	}
}
