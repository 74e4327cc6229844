package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// scanBatch is how many keys one range request of a record scan reads.
const scanBatch = 1000

// recordByID reads the record with this id at rev via the recordids index.
func (s *Store) recordByID(ctx context.Context, zoneID, id string, rev int64) (*dnsv1.Record, error) {
	if !validID(id) {
		return nil, fmt.Errorf("record %q: %w", id, ErrNotFound)
	}
	resp, err := s.getAt(ctx, s.recordIDKey(zoneID, id), rev)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	rr, err := s.getAt(ctx, s.recordKey(zoneID, string(resp.Kvs[0].Value), id), resp.Header.Revision)
	if err != nil {
		return nil, err
	}
	if len(rr.Kvs) == 0 {
		return nil, fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	return unmarshal(rr.Kvs[0].Value, &dnsv1.Record{}, "record "+id)
}

// GetRecord returns a record of a zone; ErrNotFound if the zone or the
// record does not exist.
func (s *Store) GetRecord(ctx context.Context, zoneID, recordID string) (*dnsv1.Record, error) {
	_, rev, err := s.getZoneRev(ctx, zoneID, 0)
	if err != nil {
		return nil, err
	}
	return s.recordByID(ctx, zoneID, recordID, rev)
}

// scan calls fn for every record in [start, end) at rev, in key order,
// until fn returns false.
func (s *Store) scan(ctx context.Context, start, end string, rev int64, fn func(key string, r *dnsv1.Record) bool) error {
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(scanBatch)}
		resp, err := s.getAt(ctx, start, rev, opts...)
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			r, err := unmarshal(kv.Value, &dnsv1.Record{}, "record "+string(kv.Key))
			if err != nil {
				return err
			}
			if !fn(string(kv.Key), r) {
				return nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

func (s *Store) recordsUnder(ctx context.Context, zoneID, name string, exact bool, rev int64) ([]*dnsv1.Record, error) {
	p := s.recordsPrefix(zoneID) + dnsname.Reverse(name)
	if exact {
		p += "/"
	}
	var out []*dnsv1.Record
	err := s.scan(ctx, p, prefixEnd(p), rev, func(_ string, r *dnsv1.Record) bool {
		out = append(out, r)
		return true
	})
	return out, err
}

// ZoneRecords returns every record of a zone at rev (0 = latest).
func (s *Store) ZoneRecords(ctx context.Context, zoneID string, rev int64) ([]*dnsv1.Record, error) {
	var out []*dnsv1.Record
	err := s.scanZone(ctx, zoneID, rev, func(r *dnsv1.Record) {
		out = append(out, r)
	})
	return out, err
}

// ZoneRecordsKeyed is ZoneRecords with each record's key below the zone's
// records prefix ("<reversed owner name>/<record id>", the order of the
// records), for the builder's in-memory copy of small zones, which the
// watch's record events then update by key.
func (s *Store) ZoneRecordsKeyed(ctx context.Context, zoneID string, rev int64) ([]*dnsv1.Record, []string, error) {
	var recs []*dnsv1.Record
	var keys []string
	err := s.scanZoneKeyed(ctx, zoneID, rev, func(key string, r *dnsv1.Record) {
		recs = append(recs, r)
		keys = append(keys, key)
	})
	return recs, keys, err
}

// scanZone calls fn for every record of a zone at rev, in key order. A
// whole zone is read through etcd's RangeStream (streamRange), not range
// requests a batch at a time: etcd counts a range to its end on every
// request, which made reading a 1,000,000-record zone that way take over
// a minute (docs/BENCHMARKS.md, "Record listing").
func (s *Store) scanZone(ctx context.Context, zoneID string, rev int64, fn func(r *dnsv1.Record)) error {
	return s.scanZoneKeyed(ctx, zoneID, rev, func(_ string, r *dnsv1.Record) { fn(r) })
}

// scanZoneKeyed is scanZone giving fn each record's key below the zone's
// records prefix too.
func (s *Store) scanZoneKeyed(ctx context.Context, zoneID string, rev int64, fn func(key string, r *dnsv1.Record)) error {
	p := s.recordsPrefix(zoneID)
	return s.streamRange(ctx, p, prefixEnd(p), rev, func(kv *mvccpb.KeyValue) (bool, error) {
		r, err := unmarshal(kv.Value, &dnsv1.Record{}, "record "+string(kv.Key))
		if err != nil {
			return false, err
		}
		fn(string(kv.Key[len(p):]), r)
		return true, nil
	})
}

// zoneView implements ZoneView at one revision.
type zoneView struct {
	s        *Store
	zone     *dnsv1.Zone
	settings *dnsv1.ZoneSettings
	rev      int64
}

func (v *zoneView) RecordCount(ctx context.Context) (int, error) {
	resp, err := v.s.getAt(ctx, v.s.recordIDsPrefix(v.zone.GetId()), v.rev, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("count records of zone %s: %w", v.zone.GetId(), err)
	}
	return int(resp.Count), nil
}
func (v *zoneView) Zone() *dnsv1.Zone             { return v.zone }
func (v *zoneView) Settings() *dnsv1.ZoneSettings { return v.settings }
func (v *zoneView) Record(ctx context.Context, id string) (*dnsv1.Record, error) {
	return v.s.recordByID(ctx, v.zone.GetId(), id, v.rev)
}
func (v *zoneView) RecordsAt(ctx context.Context, name string) ([]*dnsv1.Record, error) {
	return v.s.recordsUnder(ctx, v.zone.GetId(), name, true, v.rev)
}
func (v *zoneView) RecordsUnder(ctx context.Context, name string) ([]*dnsv1.Record, error) {
	return v.s.recordsUnder(ctx, v.zone.GetId(), name, false, v.rev)
}

// updateDirect is a record write outside the group committer: it reads a
// ZoneView at one revision (each lookup an etcd read), calls fn, and commits
// the returned ops in one transaction that also bumps zonemark/<zone_id> and
// fails if any record of the zone, the zone or its settings changed since
// the read; then it re-reads and calls fn again. It serves writes issued
// from inside a group's callback (which would wait on their own committer)
// and zones too large for the in-memory index.
func (s *Store) updateDirect(ctx context.Context, zoneID string, fn func(ctx context.Context, v ZoneView) ([]RecordOp, error)) error {
	idem := IdempotencyFrom(ctx)
	for range maxAttempts {
		if idem != nil {
			// Checked on every attempt: a concurrent retry that committed
			// makes the compare below fail, and must end the loop.
			o, err := s.Remembered(ctx, idem.Scope, idem.RequestID)
			if err != nil {
				return err
			}
			if o != nil {
				return fmt.Errorf("update records of zone %s: request id %s: %w", zoneID, idem.RequestID, ErrIdempotentReplay)
			}
			idem.set = false
		}
		zr, zs, sr, err := s.zoneAndSettings(ctx, zoneID, 0)
		if err != nil {
			return err
		}
		markResp, err := s.getAt(ctx, s.zoneMarkKey(zoneID), sr.rev)
		if err != nil {
			return err
		}
		var markRev int64
		if len(markResp.Kvs) > 0 {
			markRev = markResp.Kvs[0].ModRevision
		}
		view := &zoneView{s: s, zone: protoClone(zr.zone), settings: protoClone(zs), rev: sr.rev}
		ops, err := fn(ctx, view)
		if err != nil {
			return err
		}
		txnOps, changes, err := s.recordTxnOps(ctx, zoneID, sr.rev, ops)
		if err != nil {
			return err
		}
		txnOps = append(txnOps, clientv3.OpPut(s.zoneMarkKey(zoneID), strconv.FormatInt(sr.rev, 10)))
		cmps := []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(s.zoneMarkKey(zoneID)), "=", markRev),
			clientv3.Compare(clientv3.ModRevision(s.zoneKey(zoneID)), "=", sr.zoneModRev),
			clientv3.Compare(clientv3.ModRevision(s.zoneSettingsKey(zoneID)), "=", sr.settingsModRev),
		}
		if idem != nil {
			cmp, iops, err := s.idemOps(idem, time.Now())
			if err != nil {
				return err
			}
			cmps, txnOps = append(cmps, cmp), append(txnOps, iops...)
		}
		if len(changes) > 0 {
			audit, err := s.auditPut(ctx, auditInput{AccountID: zr.zone.GetAccountId(), ZoneID: zoneID, Op: "UpdateRecords", Changes: changes})
			if err != nil {
				return err
			}
			txnOps = append(txnOps, audit...)
		}
		tr, err := s.kv.Txn(ctx).If(cmps...).Then(txnOps...).Commit()
		if err != nil {
			return fmt.Errorf("update records of zone %s: etcd txn: %w", zoneID, err)
		}
		if tr.Succeeded {
			return nil
		}
		s.log.Debug("record update conflict, retrying")
	}
	return fmt.Errorf("update records of zone %s: %w", zoneID, ErrConflict)
}

// recordTxnOps folds ops into the final state per record id and returns the
// etcd operations producing it (each key appears once, as etcd requires)
// and the audit changes (each touched record before and after). The
// records the ops touch are read in two round trips, whatever their number.
func (s *Store) recordTxnOps(ctx context.Context, zoneID string, rev int64, ops []RecordOp) ([]clientv3.Op, []*dnsv1.AuditChange, error) {
	type state struct {
		origRName string        // "" if the record did not exist at rev
		orig      *dnsv1.Record // the record at rev, for the audit entry
		put       *dnsv1.Record
		deleted   bool
	}
	var want []string
	wanted := map[string]bool{}
	for _, op := range ops {
		id := op.DeleteID
		if op.Put != nil {
			id = op.Put.GetId()
		}
		if validID(id) && !wanted[id] {
			wanted[id] = true
			want = append(want, id)
		}
	}
	origs, err := s.recordsByIDs(ctx, zoneID, want, rev)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]*dnsv1.Record, len(origs))
	for _, r := range origs {
		byID[r.GetId()] = r
	}
	states := map[string]*state{}
	var order []string
	lookup := func(id string) (*state, error) {
		if st, ok := states[id]; ok {
			return st, nil
		}
		if !validID(id) {
			return nil, fmt.Errorf("record id %q: invalid", id)
		}
		st := &state{}
		if r, ok := byID[id]; ok {
			st.orig, st.origRName = r, dnsname.Reverse(r.GetName())
		}
		states[id] = st
		order = append(order, id)
		return st, nil
	}
	for _, op := range ops {
		switch {
		case op.Put != nil && op.DeleteID != "":
			return nil, nil, errors.New("record op: both Put and DeleteID set")
		case op.Put != nil:
			r := op.Put
			n, err := dnsname.Normalize(r.GetName())
			if err != nil || n != r.GetName() {
				return nil, nil, fmt.Errorf("record %s: name %q not normalized", r.GetId(), r.GetName())
			}
			st, err := lookup(r.GetId())
			if err != nil {
				return nil, nil, err
			}
			c := protoClone(r)
			c.ZoneId = zoneID
			st.put, st.deleted = c, false
		case op.DeleteID != "":
			st, err := lookup(op.DeleteID)
			if err != nil {
				return nil, nil, err
			}
			if st.put == nil && (st.deleted || st.origRName == "") {
				return nil, nil, fmt.Errorf("record %s: %w", op.DeleteID, ErrNotFound)
			}
			st.put, st.deleted = nil, true
		default:
			return nil, nil, errors.New("record op: neither Put nor DeleteID set")
		}
	}
	var out []clientv3.Op
	var changes []*dnsv1.AuditChange
	for _, id := range order {
		st := states[id]
		if st.orig != nil || st.put != nil {
			ch, err := auditChange(AuditRecord, id, st.orig, st.put)
			if err != nil {
				return nil, nil, err
			}
			changes = append(changes, ch)
		}
		switch {
		case st.put != nil:
			rname := dnsname.Reverse(st.put.GetName())
			if st.origRName != "" && st.origRName != rname {
				out = append(out, clientv3.OpDelete(s.recordKey(zoneID, st.origRName, id)))
			}
			v, err := marshal(st.put, "record "+id)
			if err != nil {
				return nil, nil, err
			}
			out = append(out,
				clientv3.OpPut(s.recordKey(zoneID, rname, id), v),
				clientv3.OpPut(s.recordIDKey(zoneID, id), rname))
		case st.deleted && st.origRName != "":
			out = append(out,
				clientv3.OpDelete(s.recordKey(zoneID, st.origRName, id)),
				clientv3.OpDelete(s.recordIDKey(zoneID, id)))
		}
	}
	return out, changes, nil
}

// readChunk is how many range operations one multi-read transaction holds;
// it stays under etcd's default --max-txn-ops (128) so that the read path
// works against any etcd.
const readChunk = 128

// readMany runs get ops in transactions of readChunk ops and returns their
// key-values in op order.
func (s *Store) readMany(ctx context.Context, ops []clientv3.Op, what string) ([][]*mvccpb.KeyValue, error) {
	out := make([][]*mvccpb.KeyValue, 0, len(ops))
	for len(ops) > 0 {
		chunk := ops[:min(readChunk, len(ops))]
		ops = ops[len(chunk):]
		tr, err := s.kv.Txn(ctx).Then(chunk...).Commit()
		if err != nil {
			return nil, fmt.Errorf("read %s: etcd txn: %w", what, err)
		}
		for _, r := range tr.Responses {
			out = append(out, r.GetResponseRange().GetKvs())
		}
	}
	return out, nil
}

// recordsAtNames reads every record named exactly one of names at rev.
func (s *Store) recordsAtNames(ctx context.Context, zoneID string, names []string, rev int64) ([]*dnsv1.Record, error) {
	ops := make([]clientv3.Op, len(names))
	for i, n := range names {
		ops[i] = clientv3.OpGet(s.recordsPrefix(zoneID)+dnsname.Reverse(n)+"/", clientv3.WithPrefix(), clientv3.WithRev(rev))
	}
	res, err := s.readMany(ctx, ops, "records of zone "+zoneID)
	if err != nil {
		return nil, err
	}
	var out []*dnsv1.Record
	for _, kvs := range res {
		for _, kv := range kvs {
			r, err := unmarshal(kv.Value, &dnsv1.Record{}, "record "+string(kv.Key))
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// recordsByIDs reads the records with these (valid) ids at rev; absent ids
// are left out.
func (s *Store) recordsByIDs(ctx context.Context, zoneID string, ids []string, rev int64) ([]*dnsv1.Record, error) {
	ops := make([]clientv3.Op, len(ids))
	for i, id := range ids {
		ops[i] = clientv3.OpGet(s.recordIDKey(zoneID, id), clientv3.WithRev(rev))
	}
	res, err := s.readMany(ctx, ops, "record ids of zone "+zoneID)
	if err != nil {
		return nil, err
	}
	ops = ops[:0]
	for i, kvs := range res {
		if len(kvs) > 0 {
			ops = append(ops, clientv3.OpGet(s.recordKey(zoneID, string(kvs[0].Value), ids[i]), clientv3.WithRev(rev)))
		}
	}
	if res, err = s.readMany(ctx, ops, "records of zone "+zoneID); err != nil {
		return nil, err
	}
	var out []*dnsv1.Record
	for _, kvs := range res {
		if len(kvs) > 0 {
			r, err := unmarshal(kvs[0].Value, &dnsv1.Record{}, "record "+string(kvs[0].Key))
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}
