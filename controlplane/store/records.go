package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	p := s.recordsPrefix(zoneID)
	var out []*dnsv1.Record
	err := s.scan(ctx, p, prefixEnd(p), rev, func(_ string, r *dnsv1.Record) bool {
		out = append(out, r)
		return true
	})
	return out, err
}

func (f RecordFilter) match(r *dnsv1.Record) bool {
	if f.Type != "" && !strings.EqualFold(f.Type, r.GetType()) {
		return false
	}
	if f.Content != "" && f.Content != r.GetContent() {
		return false
	}
	if f.Proxied != nil && *f.Proxied != r.GetProxied() {
		return false
	}
	return true
}

// ListRecords lists the records of a zone matching f, ordered by name
// (reversed labels) then id. The token returned is empty on the last page.
// ErrNotFound if the zone does not exist; ErrBadPageToken for a token that
// is not from a listing of this zone and name.
func (s *Store) ListRecords(ctx context.Context, zoneID string, f RecordFilter, pageSize int, pageToken string) ([]*dnsv1.Record, string, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	_, rev, err := s.getZoneRev(ctx, zoneID, 0)
	if err != nil {
		return nil, "", err
	}
	prefix := s.recordsPrefix(zoneID)
	if f.Name != "" {
		prefix += dnsname.Reverse(f.Name) + "/"
	}
	start := prefix
	if pageToken != "" {
		last, err := decodeToken(pageToken, prefix)
		if err != nil {
			return nil, "", err
		}
		start = last + "\x00"
	}
	var out []*dnsv1.Record
	var lastKey string
	more := false
	err = s.scan(ctx, start, prefixEnd(prefix), rev, func(key string, r *dnsv1.Record) bool {
		if !f.match(r) {
			return true
		}
		if len(out) == pageSize {
			more = true // one more match exists: the page is not the last
			return false
		}
		out = append(out, r)
		lastKey = key
		return true
	})
	if err != nil {
		return nil, "", err
	}
	if !more {
		return out, "", nil
	}
	return out, encodeToken(lastKey), nil
}

// zoneView implements ZoneView at one revision.
type zoneView struct {
	s        *Store
	zone     *dnsv1.Zone
	settings *dnsv1.ZoneSettings
	rev      int64
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

// UpdateRecords reads a ZoneView at one revision, calls fn, and commits the
// returned ops in one transaction that also bumps zonemark/<zone_id> and
// fails if any record of the zone, the zone or its settings changed since
// the read; then it re-reads and calls fn again (fn must be side-effect
// free). An error from fn is returned as is, so gRPC status errors pass
// through. ErrNotFound if the zone does not exist, or if an op deletes a
// record that does not exist. Several ops on the same id apply in order.
func (s *Store) UpdateRecords(ctx context.Context, zoneID string, fn func(ctx context.Context, v ZoneView) ([]RecordOp, error)) error {
	for range maxAttempts {
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
		txnOps, err := s.recordTxnOps(ctx, zoneID, sr.rev, ops)
		if err != nil {
			return err
		}
		txnOps = append(txnOps, clientv3.OpPut(s.zoneMarkKey(zoneID), strconv.FormatInt(sr.rev, 10)))
		tr, err := s.cli.Txn(ctx).If(
			clientv3.Compare(clientv3.ModRevision(s.zoneMarkKey(zoneID)), "=", markRev),
			clientv3.Compare(clientv3.ModRevision(s.zoneKey(zoneID)), "=", sr.zoneModRev),
			clientv3.Compare(clientv3.ModRevision(s.zoneSettingsKey(zoneID)), "=", sr.settingsModRev),
		).Then(txnOps...).Commit()
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
// etcd operations producing it; each key appears once, as etcd requires.
func (s *Store) recordTxnOps(ctx context.Context, zoneID string, rev int64, ops []RecordOp) ([]clientv3.Op, error) {
	type state struct {
		origRName string // "" if the record did not exist at rev
		put       *dnsv1.Record
		deleted   bool
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
		resp, err := s.getAt(ctx, s.recordIDKey(zoneID, id), rev)
		if err != nil {
			return nil, err
		}
		st := &state{}
		if len(resp.Kvs) > 0 {
			st.origRName = string(resp.Kvs[0].Value)
		}
		states[id] = st
		order = append(order, id)
		return st, nil
	}
	for _, op := range ops {
		switch {
		case op.Put != nil && op.DeleteID != "":
			return nil, errors.New("record op: both Put and DeleteID set")
		case op.Put != nil:
			r := op.Put
			n, err := dnsname.Normalize(r.GetName())
			if err != nil || n != r.GetName() {
				return nil, fmt.Errorf("record %s: name %q not normalized", r.GetId(), r.GetName())
			}
			st, err := lookup(r.GetId())
			if err != nil {
				return nil, err
			}
			c := protoClone(r)
			c.ZoneId = zoneID
			st.put, st.deleted = c, false
		case op.DeleteID != "":
			st, err := lookup(op.DeleteID)
			if err != nil {
				return nil, err
			}
			if st.put == nil && (st.deleted || st.origRName == "") {
				return nil, fmt.Errorf("record %s: %w", op.DeleteID, ErrNotFound)
			}
			st.put, st.deleted = nil, true
		default:
			return nil, errors.New("record op: neither Put nor DeleteID set")
		}
	}
	var out []clientv3.Op
	for _, id := range order {
		st := states[id]
		switch {
		case st.put != nil:
			rname := dnsname.Reverse(st.put.GetName())
			if st.origRName != "" && st.origRName != rname {
				out = append(out, clientv3.OpDelete(s.recordKey(zoneID, st.origRName, id)))
			}
			v, err := marshal(st.put, "record "+id)
			if err != nil {
				return nil, err
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
	return out, nil
}
