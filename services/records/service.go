// Package records implements dns.v1.RecordService: it validates DNS records
// (per type through package rdata, then against the other records of the
// zone) and writes them through controlplane/store. Every write is one
// store.UpdateRecords call whose closure re-validates on each attempt, so
// concurrent writers cannot both pass a cross-record rule, and a rejected
// write changes nothing. The store group-commits the writes of a zone: the
// closure runs on the zone's committer against a view that already holds
// the writes queued before it.
package records

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/plans"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/managed"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

// Service is the RecordService server.
type Service struct {
	dnsv1.UnimplementedRecordServiceServer

	st      *store.Store
	np      NonProxiable
	anycast []netip.Addr // Options.Anycast: refused as A/AAAA content
	now     func() time.Time
	log     *zap.Logger
	metrics *metrics
	// imports limits ImportRecords per user; soaRname is the SOA RNAME
	// an export writes when the zone sets none (as the builder's).
	imports  *importLimiter
	soaRname string
}

// New returns the RecordService backed by st.
func New(st *store.Store, opts Options, log *zap.Logger) dnsv1.RecordServiceServer {
	return newService(st, opts, log)
}

func newService(st *store.Store, opts Options, log *zap.Logger) *Service {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Service{st: st, np: opts.NonProxiable, anycast: opts.Anycast, now: opts.Now, log: log, metrics: newMetrics(opts.Registerer),
		imports: newImportLimiter(importEvery, importBurst), soaRname: opts.SOARname}
	if s.soaRname == "" {
		s.soaRname = "dns.zonegrid.test."
	}
	if s.np.empty() {
		s.np = DefaultNonProxiable()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// CreateRecord validates and adds one record.
func (s *Service) CreateRecord(ctx context.Context, req *dnsv1.CreateRecordRequest) (_ *dnsv1.CreateRecordResponse, err error) {
	defer s.observe("CreateRecord", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.RecordService_CreateRecord_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.CreateRecordResponse, error) {
		resp := &dnsv1.CreateRecordResponse{}
		err := s.write(ctx, req.GetZoneId(), func(ctx context.Context, w *writer) error {
			if err := w.prefetch(ctx, []*dnsv1.Record{req.GetRecord()}, nil); err != nil {
				return err
			}
			r, err := w.create(ctx, req.GetRecord(), id, "record.")
			resp.Record = r
			return err
		}, resp)
		if err != nil {
			return nil, err
		}
		return resp, nil
	})
}

// GetRecord returns one record.
func (s *Service) GetRecord(ctx context.Context, req *dnsv1.GetRecordRequest) (_ *dnsv1.GetRecordResponse, err error) {
	defer s.observe("GetRecord", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if err := checkRecordID("record_id", req.GetRecordId()); err != nil {
		return nil, err
	}
	if _, err := s.zone(ctx, req.GetZoneId()); err != nil {
		return nil, err
	}
	r, err := s.st.GetRecord(ctx, req.GetZoneId(), req.GetRecordId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, recordNotFound("record_id", req.GetRecordId(), req.GetZoneId())
	}
	if err != nil {
		return nil, s.storeErr(req.GetZoneId(), err)
	}
	return &dnsv1.GetRecordResponse{Record: r}, nil
}

// UpdateRecord replaces every user-writable field of a record.
func (s *Service) UpdateRecord(ctx context.Context, req *dnsv1.UpdateRecordRequest) (_ *dnsv1.UpdateRecordResponse, err error) {
	defer s.observe("UpdateRecord", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if err := checkRecordID("record_id", req.GetRecordId()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.RecordService_UpdateRecord_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdateRecordResponse, error) {
		resp := &dnsv1.UpdateRecordResponse{}
		err := s.write(ctx, req.GetZoneId(), func(ctx context.Context, w *writer) error {
			r, err := w.replace(ctx, req.GetRecordId(), req.GetRecord(), "record_id", "record.")
			resp.Record = r
			return err
		}, resp)
		if err != nil {
			return nil, err
		}
		return resp, nil
	})
}

// PatchRecord changes the fields of a record named in update_mask.
func (s *Service) PatchRecord(ctx context.Context, req *dnsv1.PatchRecordRequest) (_ *dnsv1.PatchRecordResponse, err error) {
	defer s.observe("PatchRecord", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if err := checkRecordID("record_id", req.GetRecordId()); err != nil {
		return nil, err
	}
	if err := checkMask("update_mask", req.GetUpdateMask()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.RecordService_PatchRecord_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.PatchRecordResponse, error) {
		resp := &dnsv1.PatchRecordResponse{}
		err := s.write(ctx, req.GetZoneId(), func(ctx context.Context, w *writer) error {
			r, err := w.patch(ctx, req.GetRecordId(), req.GetRecord(), req.GetUpdateMask(), "record_id", "record.")
			resp.Record = r
			return err
		}, resp)
		if err != nil {
			return nil, err
		}
		return resp, nil
	})
}

// DeleteRecord removes a record.
func (s *Service) DeleteRecord(ctx context.Context, req *dnsv1.DeleteRecordRequest) (_ *dnsv1.DeleteRecordResponse, err error) {
	defer s.observe("DeleteRecord", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if err := checkRecordID("record_id", req.GetRecordId()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.RecordService_DeleteRecord_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.DeleteRecordResponse, error) {
		resp := &dnsv1.DeleteRecordResponse{RecordId: req.GetRecordId()}
		err := s.write(ctx, req.GetZoneId(), func(ctx context.Context, w *writer) error {
			return w.delete(ctx, req.GetRecordId(), "record_id")
		}, resp)
		if err != nil {
			return nil, err
		}
		return resp, nil
	})
}

// BatchRecords applies deletes, patches, puts and posts, in that order and
// each list in its order, as one write: each operation is validated against
// the state the earlier ones leave, and the first failure rejects all.
func (s *Service) BatchRecords(ctx context.Context, req *dnsv1.BatchRecordsRequest) (_ *dnsv1.BatchRecordsResponse, err error) {
	defer s.observe("BatchRecords", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	for i, id := range req.GetDeletes() {
		if err := checkRecordID(fmt.Sprintf("deletes[%d]", i), id); err != nil {
			return nil, err
		}
	}
	for i, p := range req.GetPatches() {
		if err := checkRecordID(fmt.Sprintf("patches[%d].record_id", i), p.GetRecordId()); err != nil {
			return nil, err
		}
		if err := checkMask(fmt.Sprintf("patches[%d].update_mask", i), p.GetUpdateMask()); err != nil {
			return nil, err
		}
	}
	for i, p := range req.GetPuts() {
		if err := checkRecordID(fmt.Sprintf("puts[%d].record_id", i), p.GetRecordId()); err != nil {
			return nil, err
		}
	}
	ids := make([]string, len(req.GetPosts()))
	for i := range ids {
		if ids[i], err = newID(); err != nil {
			return nil, err
		}
	}
	total := len(req.GetDeletes()) + len(req.GetPatches()) + len(req.GetPuts()) + len(req.GetPosts())
	if total == 0 {
		if _, err := s.zone(ctx, req.GetZoneId()); err != nil {
			return nil, err
		}
		return &dnsv1.BatchRecordsResponse{}, nil
	}
	return idempotency.Do(ctx, s.st, dnsv1.RecordService_BatchRecords_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.BatchRecordsResponse, error) {
		return s.batch(ctx, req, ids, total)
	})
}

// batch runs the write of BatchRecords.
func (s *Service) batch(ctx context.Context, req *dnsv1.BatchRecordsRequest, ids []string, total int) (*dnsv1.BatchRecordsResponse, error) {
	resp := &dnsv1.BatchRecordsResponse{}
	err := s.write(ctx, req.GetZoneId(), func(ctx context.Context, w *writer) error {
		// Batch size per plan (source documents, "Batch record changes").
		l := plans.For(w.zone.GetPlan())
		if limit := l.BatchOperations; total > limit {
			return plans.NewValue(plans.LimitBatchOperations, overflowList(req, limit), w.zone.GetPlan(), int64(limit),
				"a batch on the %s plan may hold at most %d operations, got %d", l.Name, limit, total)
		}
		recs := append([]*dnsv1.Record(nil), req.GetPosts()...)
		touched := append([]string(nil), req.GetDeletes()...)
		for _, p := range req.GetPatches() {
			recs, touched = append(recs, p.GetRecord()), append(touched, p.GetRecordId())
		}
		for _, p := range req.GetPuts() {
			recs, touched = append(recs, p.GetRecord()), append(touched, p.GetRecordId())
		}
		if err := w.prefetch(ctx, recs, touched); err != nil {
			return err
		}
		out := &dnsv1.BatchRecordsResponse{}
		for i, id := range req.GetDeletes() {
			if err := w.delete(ctx, id, fmt.Sprintf("deletes[%d]", i)); err != nil {
				return err
			}
			out.Deleted = append(out.Deleted, id)
		}
		for i, p := range req.GetPatches() {
			r, err := w.patch(ctx, p.GetRecordId(), p.GetRecord(), p.GetUpdateMask(),
				fmt.Sprintf("patches[%d].record_id", i), fmt.Sprintf("patches[%d].record.", i))
			if err != nil {
				return err
			}
			out.Patched = append(out.Patched, r)
		}
		for i, p := range req.GetPuts() {
			r, err := w.replace(ctx, p.GetRecordId(), p.GetRecord(),
				fmt.Sprintf("puts[%d].record_id", i), fmt.Sprintf("puts[%d].record.", i))
			if err != nil {
				return err
			}
			out.Put = append(out.Put, r)
		}
		for i, p := range req.GetPosts() {
			r, err := w.create(ctx, p, ids[i], fmt.Sprintf("posts[%d].", i))
			if err != nil {
				return err
			}
			out.Posted = append(out.Posted, r)
		}
		// A record patched or put several times is returned in its final
		// form everywhere, as it is stored.
		final := func(rs []*dnsv1.Record) {
			for i, r := range rs {
				if f, ok := w.ov.puts[r.GetId()]; ok {
					rs[i] = f
				}
			}
		}
		final(out.Patched)
		final(out.Put)
		resp.Deleted, resp.Patched, resp.Put, resp.Posted = out.Deleted, out.Patched, out.Put, out.Posted
		return nil
	}, resp)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// overflowList names the list of a batch in which the operation beyond limit
// falls (operations count in execution order).
func overflowList(req *dnsv1.BatchRecordsRequest, limit int) string {
	n := 0
	for _, l := range []struct {
		name string
		len  int
	}{{"deletes", len(req.GetDeletes())}, {"patches", len(req.GetPatches())}, {"puts", len(req.GetPuts())}, {"posts", len(req.GetPosts())}} {
		if n += l.len; n > limit {
			return l.name
		}
	}
	return "posts"
}

// write runs fn inside one store.UpdateRecords call. fn may run several
// times (on conflicts, or when its group was full) and must only touch the
// writer; it runs on the zone's committer, so it must not block. resp is
// the RPC's response, which fn fills: with a request id it is remembered in
// the write's transaction.
func (s *Service) write(ctx context.Context, zoneID string, fn func(ctx context.Context, w *writer) error, resp proto.Message) error {
	now := timestamppb.New(s.now())
	var committed []store.RecordOp
	err := s.st.UpdateRecords(ctx, zoneID, func(ctx context.Context, v store.ZoneView) ([]store.RecordOp, error) {
		if v.Zone().GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_DELETED {
			// An archived zone is read-only until restored (docs/ZONE_LIFECYCLE.md).
			return nil, status.FailedPrecondition("ZONE_STATUS", "zone_id", "the zone is deleted: add it again (CreateZone) to restore it before changing its records")
		}
		w := &writer{ov: newOverlay(v), view: v, base: -1, zone: v.Zone(), settings: v.Settings(), np: s.np, anycast: s.anycast, now: now}
		w.pf, _ = v.(store.Prefetcher)
		if err := fn(ctx, w); err != nil {
			return nil, err
		}
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, err
		}
		committed = w.ov.ops()
		return committed, nil
	})
	if errors.Is(err, store.ErrIdempotentReplay) {
		return err // answered by idempotency.Do
	}
	if err != nil {
		return s.storeErr(zoneID, err)
	}
	puts, deletes := 0, 0
	for _, op := range committed {
		if op.Put != nil {
			puts++
		} else {
			deletes++
		}
	}
	s.metrics.written.WithLabelValues("put").Add(float64(puts))
	s.metrics.written.WithLabelValues("delete").Add(float64(deletes))
	s.log.Info("records written", zap.String("zone_id", zoneID), zap.Int("puts", puts), zap.Int("deletes", deletes))
	return nil
}

// zone reads a zone for the read paths, mapping a missing zone to NotFound.
func (s *Service) zone(ctx context.Context, zoneID string) (*dnsv1.Zone, error) {
	z, err := s.st.GetZone(ctx, zoneID)
	if err != nil {
		return nil, s.storeErr(zoneID, err)
	}
	return z, nil
}

// storeErr maps a store error to a status. Statuses built by the validation
// pass through; a NotFound left over can only be the zone, since records
// not found are reported inside the write.
func (s *Service) storeErr(zoneID string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(interface{ GRPCStatus() *grpcstatus.Status }); ok {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		return grpcstatus.Errorf(codes.NotFound, "zone_id: zone %q not found", zoneID)
	}
	st := status.FromStore(err)
	if grpcstatus.Code(st) == codes.Internal || grpcstatus.Code(st) == codes.Unavailable {
		s.log.Error("record store failure", zap.String("zone_id", zoneID), zap.Error(err))
	}
	return st
}

func (s *Service) observe(method string, err *error) {
	s.metrics.requests.WithLabelValues(method, grpcstatus.Code(*err).String()).Inc()
}

// writer prepares the operations of one write against an overlay of the
// zone read at one revision.
type writer struct {
	ov   *overlay
	view store.ZoneView
	// base is the zone's record count before this write (-1 until read);
	// delta what the write adds (creates) and removes (deletes) so far.
	base, delta int
	zone        *dnsv1.Zone
	settings    *dnsv1.ZoneSettings
	np          NonProxiable
	anycast     []netip.Addr
	now         *timestamppb.Timestamp
	pf          store.Prefetcher // nil if the view cannot prefetch
}

// prefetch tells the store what the write is about to read: the name of
// each record with its ancestors down to the apex (the delegation rule
// reads them) and the ids it replaces or deletes. Names that do not
// qualify are skipped: validation reports them.
func (w *writer) prefetch(ctx context.Context, recs []*dnsv1.Record, ids []string) error {
	if w.pf == nil {
		return nil
	}
	apex := w.zone.GetName()
	seen := map[string]bool{}
	var names []string
	for _, r := range recs {
		raw := strings.TrimSpace(r.GetName())
		if raw == "" {
			continue
		}
		n, err := dnsname.Qualify(raw, apex)
		if err != nil || !dnsname.IsSubdomain(n, apex) {
			continue
		}
		for a := n; !seen[a]; a = dnsname.Parent(a) {
			seen[a] = true
			names = append(names, a)
			if a == apex {
				break
			}
		}
	}
	if err := w.pf.Prefetch(ctx, names, ids); err != nil {
		return fmt.Errorf("prefetch records: %w", err)
	}
	return nil
}

// normalize is the rules of one record on its own, the platform's
// anycast addresses included.
func (w *writer) normalize(in *dnsv1.Record) (*dnsv1.Record, error) {
	var r *dnsv1.Record
	var err error
	if isSecondary(w.zone) {
		r, err = w.normalizeSecondary(in) // secondary.go: overrides only
	} else {
		r, err = normalize(in, w.zone, w.settings, w.np)
	}
	if err != nil {
		return nil, err
	}
	if err := anycastAddress(r.GetType(), r.GetContent(), w.anycast); err != nil {
		return nil, err
	}
	return r, nil
}

func (w *writer) create(ctx context.Context, in *dnsv1.Record, id, prefix string) (*dnsv1.Record, error) {
	r, err := w.normalize(in)
	if err != nil {
		return nil, fieldStatus(prefix, err)
	}
	r.Id, r.ZoneId, r.CreatedOn, r.ModifiedOn = id, w.zone.GetId(), w.now, w.now
	if err := w.reserve(ctx, prefix); err != nil {
		return nil, err
	}
	r, err = w.commit(ctx, r, prefix)
	if err != nil {
		w.delta--
	}
	return r, err
}

// reserve counts one more record against the zone's record quota (plan,
// creation date, operator override), refusing it beyond. Only creations
// count: updates and deletes pass on a zone above its quota (after a
// downgrade, or an override lowered), so that it can be brought back.
func (w *writer) reserve(ctx context.Context, prefix string) error {
	if isSecondary(w.zone) {
		// A secondary zone's records are its primary's (bounded by one
		// transfer, not by this quota), and what a user adds is at most
		// one override per transferred name and the apex CNAME
		// (secondary.go): counting the transferred records would refuse
		// the overrides of any large zone.
		w.delta++
		return nil
	}
	if w.base < 0 {
		n, err := w.view.RecordCount(ctx)
		if err != nil {
			return fmt.Errorf("record quota: %w", err)
		}
		w.base = n
	}
	plan := w.zone.GetPlan()
	var created time.Time
	if c := w.zone.GetCreatedOn(); c != nil {
		created = c.AsTime()
	}
	max := plans.For(plan).MaxRecords(created, w.settings.GetMaxRecordsOverride())
	if have := w.base + w.delta; have+1 > max {
		return plans.NewQuota(plans.LimitRecordsPerZone, strings.TrimSuffix(prefix, "."), "zones/"+w.zone.GetId()+"/records", plan, int64(max),
			"the zone would hold %d records, the %s plan allows %d for this zone", have+1, plans.For(plan).Name, max)
	}
	w.delta++
	return nil
}

func (w *writer) replace(ctx context.Context, id string, in *dnsv1.Record, idField, prefix string) (*dnsv1.Record, error) {
	old, err := w.editable(ctx, id, idField)
	if err != nil {
		return nil, err
	}
	return w.rewrite(ctx, old, in, prefix)
}

func (w *writer) patch(ctx context.Context, id string, in *dnsv1.Record, mask *fieldmaskpb.FieldMask, idField, prefix string) (*dnsv1.Record, error) {
	old, err := w.editable(ctx, id, idField)
	if err != nil {
		return nil, err
	}
	return w.rewrite(ctx, old, applyMask(old, in, mask.GetPaths()), prefix)
}

// rewrite validates in as the new version of old, keeping what users cannot
// change.
func (w *writer) rewrite(ctx context.Context, old, in *dnsv1.Record, prefix string) (*dnsv1.Record, error) {
	r, err := w.normalize(in)
	if err != nil {
		return nil, fieldStatus(prefix, err)
	}
	r.Id, r.ZoneId, r.Meta, r.CreatedOn, r.ModifiedOn = old.GetId(), w.zone.GetId(), old.GetMeta(), old.GetCreatedOn(), w.now
	return w.commit(ctx, r, prefix)
}

func (w *writer) commit(ctx context.Context, r *dnsv1.Record, prefix string) (*dnsv1.Record, error) {
	check := checkConflicts
	if isSecondary(w.zone) {
		check = checkSecondary // secondary.go
	}
	if err := check(ctx, w.ov, r, w.zone.GetName()); err != nil {
		return nil, fieldStatus(prefix, err)
	}
	w.ov.put(r)
	return r, nil
}

func (w *writer) delete(ctx context.Context, id, idField string) error {
	if _, err := w.editable(ctx, id, idField); err != nil {
		return err
	}
	w.ov.delete(id)
	w.delta--
	return nil
}

// editable returns the record id for a change through the record API,
// which may not touch a record managed by a platform product: that product
// owns it (docs/ANSWER_RULES.md, "Managed records").
func (w *writer) editable(ctx context.Context, id, idField string) (*dnsv1.Record, error) {
	r, err := w.existing(ctx, id, idField)
	if err != nil {
		return nil, err
	}
	if by := r.GetMeta().GetManagedBy(); by == managed.SecondaryDNS.String() {
		return nil, status.FailedPrecondition("MANAGED_RECORD", idField,
			fmt.Sprintf("record %q was transferred from the zone's primary and is read-only here: change it at the primary (or add an override record)", id))
	} else if by != "" {
		return nil, status.FailedPrecondition("MANAGED_RECORD", idField,
			fmt.Sprintf("record %q is managed by %s and read-only here: change or remove it through %s", id, by, by))
	}
	return r, nil
}

func (w *writer) existing(ctx context.Context, id, idField string) (*dnsv1.Record, error) {
	r, err := w.ov.Record(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, recordNotFound(idField, id, w.zone.GetId())
	}
	if err != nil {
		return nil, fmt.Errorf("read record %s: %w", id, err)
	}
	return r, nil
}

// maskPaths are the Record fields PatchRecord can change (record.proto).
var maskPaths = map[string]bool{
	"name": true, "type": true, "content": true, "data": true, "priority": true, "ttl": true,
	"proxied": true, "comment": true, "tags": true, "settings": true, "settings.flatten_cname": true,
}

func checkMask(field string, m *fieldmaskpb.FieldMask) error {
	if len(m.GetPaths()) == 0 {
		return status.InvalidArgument(field, "must name at least one field")
	}
	for _, p := range m.GetPaths() {
		if !maskPaths[p] {
			return status.InvalidArgument(field, fmt.Sprintf("unknown or read-only path %q", p))
		}
	}
	return nil
}

// applyMask returns old with the masked fields taken from in. Content and
// data are two forms of one value: changing one alone drops the other so
// that the stale form cannot contradict the new one.
func applyMask(old, in *dnsv1.Record, paths []string) *dnsv1.Record {
	m := proto.Clone(old).(*dnsv1.Record)
	if in == nil {
		in = &dnsv1.Record{}
	}
	set := map[string]bool{}
	for _, p := range paths {
		set[p] = true
	}
	if set["name"] {
		m.Name = in.GetName()
	}
	if set["type"] {
		m.Type = in.GetType()
	}
	if set["content"] {
		m.Content = in.GetContent()
		if !set["data"] {
			m.Data = nil
		}
	}
	if set["data"] {
		m.Data = in.GetData()
		if !set["content"] {
			m.Content = ""
		}
	}
	if set["priority"] {
		m.Priority = in.GetPriority()
	}
	if set["ttl"] {
		m.Ttl = in.GetTtl()
	}
	if set["proxied"] {
		m.Proxied = in.GetProxied()
	}
	if set["comment"] {
		m.Comment = in.GetComment()
	}
	if set["tags"] {
		m.Tags = in.GetTags()
	}
	if set["settings"] || set["settings.flatten_cname"] {
		m.Settings = in.GetSettings()
	}
	return m
}

// fieldStatus turns a validation failure into InvalidArgument naming the
// field as it appears in the request.
func fieldStatus(prefix string, err error) error {
	var le *plans.LimitError
	if errors.As(err, &le) {
		return le.WithFieldPrefix(prefix)
	}
	var fe *fieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := prefix + fe.Field
	if fe.Field == "" {
		field = strings.TrimSuffix(prefix, ".")
	}
	return status.InvalidArgument(field, fe.Description)
}

func recordNotFound(field, id, zoneID string) error {
	return grpcstatus.Errorf(codes.NotFound, "%s: record %q not found in zone %q", field, id, zoneID)
}

func checkZoneID(id string) error {
	if id == "" {
		return status.InvalidArgument("zone_id", "is required")
	}
	if !validID(id) {
		return status.InvalidArgument("zone_id", "is not a valid id")
	}
	return nil
}

func checkRecordID(field, id string) error {
	if id == "" {
		return status.InvalidArgument(field, "is required")
	}
	if !validID(id) {
		return status.InvalidArgument(field, "is not a valid id")
	}
	return nil
}

// validID mirrors the store's id alphabet, so a bad id is the caller's
// error rather than a storage failure.
func validID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newID returns 32 random hex characters.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate record id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
