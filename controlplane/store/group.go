package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Group commit of record writes.
//
// Every record write of a zone compares and bumps zonemark/<zone_id>, so
// writers of one zone serialize. Racing each other through optimistic
// retries, concurrent writers mostly lose (and the losers exhaust their
// retries); so the writes of one zone from this process are queued instead,
// and one committer per zone takes every queued write (up to the bounds of
// Config), validates each in order against the zone plus the earlier writes
// of the group, and commits the group in one etcd transaction that still
// compares zonemark, so several control-plane processes stay safe: on a
// conflict the committer re-reads and re-applies the whole group.
//
// Validation reads an in-memory index of the zone's records that the
// committer keeps between groups (index.go); it is current as long as
// zonemark is the one the committer last wrote, and rebuilt otherwise.

// UpdateRecords applies one record write to a zone: fn gets a ZoneView
// (consistent with the zone as committed plus the writes committed before
// it in the same group) and returns the ops to apply. The write is
// acknowledged (nil) only after the etcd transaction holding it committed.
// fn may run several times (after a conflict with another process, or when
// the write did not fit in a full group) and must be side-effect free; it
// runs on the zone's committer, so it must be quick and must not block on
// other writes. An error from fn fails this write alone and is returned as
// is, so gRPC status errors pass through. ErrNotFound if the zone does not
// exist, or if an op deletes a record that does not exist. Several ops on
// the same id apply in order.
func (s *Store) UpdateRecords(ctx context.Context, zoneID string, fn func(ctx context.Context, v ZoneView) ([]RecordOp, error)) error {
	if !validID(zoneID) {
		return fmt.Errorf("zone %q: %w", zoneID, ErrNotFound)
	}
	if ctx.Value(inCommitKey{}) == s {
		// Called from inside a group's callback: queueing would wait for
		// the committer that is running the caller. The request id is the
		// outer write's, remembered by its group, not by this write.
		return s.updateDirect(WithIdempotency(ctx, nil), zoneID, fn)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update records of zone %s: %w", zoneID, err)
	}
	w := &pendingWrite{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.enqueue(zoneID, w)
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		// The write may still commit: it is not acknowledged, which is all
		// promise 5 asks.
		return fmt.Errorf("update records of zone %s: %w", zoneID, ctx.Err())
	}
}

// inCommitKey marks the context a group passes to its callbacks; its value
// is the Store.
type inCommitKey struct{}

type pendingWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, v ZoneView) ([]RecordOp, error)
	done chan error // buffered: the committer never blocks on a caller
}

// committer serializes the record writes of one zone. queue is guarded by
// Store.mu; index is touched only by the committer's goroutine.
type committer struct {
	zoneID string
	queue  []*pendingWrite
	wake   chan struct{}
	index  *recordIndex
}

func (s *Store) enqueue(zoneID string, w *pendingWrite) {
	s.mu.Lock()
	c := s.committers[zoneID]
	if c == nil {
		c = &committer{zoneID: zoneID, wake: make(chan struct{}, 1)}
		s.committers[zoneID] = c
		go s.runCommitter(c)
	}
	c.queue = append(c.queue, w)
	s.metrics.queued.Inc()
	s.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// runCommitter commits groups while writes are queued and exits (dropping
// its index) after Config.CommitterIdle without any.
func (s *Store) runCommitter(c *committer) {
	for {
		s.mu.Lock()
		n := min(len(c.queue), s.cfg.MaxGroupWrites)
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		s.metrics.queued.Sub(float64(n))
		s.mu.Unlock()
		if n > 0 {
			if deferred := s.commitGroup(c, batch); len(deferred) > 0 {
				s.mu.Lock()
				c.queue = append(deferred, c.queue...)
				s.metrics.queued.Add(float64(len(deferred)))
				s.mu.Unlock()
			}
			continue
		}
		select {
		case <-c.wake:
		case <-time.After(s.cfg.CommitterIdle):
			s.mu.Lock()
			if len(c.queue) == 0 {
				delete(s.committers, c.zoneID)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}
}

// groupRead is what a group reads before validating: the zone, its
// settings and the revisions the commit compares.
type groupRead struct {
	rev, zoneModRev, settingsModRev, markRev, records int64
	zone                                              *dnsv1.Zone
	settings                                          *dnsv1.ZoneSettings
}

// readGroup reads zone, settings, zonemark and the record count, in one
// etcd round trip unless the count has to be counted. etcd counts a range
// by walking every key in it (1.28 million keys of the reference zone took
// about as long as the rest of a write, and 0.5 s for a committer's first
// write), and the count changes only with zonemark, which every record
// write bumps. So the count comes, in this order, from the committer's
// index x when the mark has not moved since (asked for in the Else branch
// of a compare on the mark's revision), from the mark's value (a group
// writes the count it leaves there: markValue), and only then from
// counting.
func (s *Store) readGroup(ctx context.Context, zoneID string, x *recordIndex) (groupRead, error) {
	reads := []clientv3.Op{
		clientv3.OpGet(s.zoneKey(zoneID)),
		clientv3.OpGet(s.zoneSettingsKey(zoneID)),
		clientv3.OpGet(s.zoneMarkKey(zoneID)),
	}
	txn := s.kv.Txn(ctx)
	if x != nil && x.countKnown {
		txn = txn.If(clientv3.Compare(clientv3.ModRevision(s.zoneMarkKey(zoneID)), "=", x.markRev)).
			Then(reads...).Else(reads...)
	} else {
		txn = txn.Then(reads...)
	}
	tr, err := txn.Commit()
	if err != nil {
		return groupRead{}, fmt.Errorf("read zone %s for a record write: etcd txn: %w", zoneID, err)
	}
	g := groupRead{rev: tr.Header.Revision, settings: &dnsv1.ZoneSettings{}}
	zr := tr.Responses[0].GetResponseRange()
	if len(zr.Kvs) == 0 {
		return groupRead{}, fmt.Errorf("zone %s: %w", zoneID, ErrNotFound)
	}
	if g.zone, err = unmarshal(zr.Kvs[0].Value, &dnsv1.Zone{}, "zone "+zoneID); err != nil {
		return groupRead{}, err
	}
	g.zoneModRev = zr.Kvs[0].ModRevision
	if kvs := tr.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		if g.settings, err = unmarshal(kvs[0].Value, &dnsv1.ZoneSettings{}, "zone settings "+zoneID); err != nil {
			return groupRead{}, err
		}
		g.settingsModRev = kvs[0].ModRevision
	}
	counted := false
	if kvs := tr.Responses[2].GetResponseRange().Kvs; len(kvs) > 0 {
		g.markRev = kvs[0].ModRevision
		g.records, counted = markCount(kvs[0].Value)
	}
	switch {
	case tr.Succeeded && x != nil && x.countKnown:
		// The mark has not moved since the index was current: neither has
		// the count (the caller keeps the index, whose mark matches).
		g.records = x.count
	case counted:
	default:
		// A mark without a count (written by updateDirect or an older
		// version) or no mark: count, at the revision read.
		resp, err := s.getAt(ctx, s.recordIDsPrefix(zoneID), g.rev, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return groupRead{}, fmt.Errorf("count records of zone %s: %w", zoneID, err)
		}
		s.metrics.recordCounts.Inc()
		g.records = resp.Count
	}
	return g, nil
}

// markValue is what a group writes to zonemark/<zone_id>: the revision it
// read at and the zone's record count after its writes. Every record write
// bumps the mark and the group's commit compares it, so the count there is
// exact at the mark's revision; a write that does not know the count
// (updateDirect) writes the revision alone, and the next group counts.
func markValue(rev int64, count int) string {
	return strconv.FormatInt(rev, 10) + " " + strconv.Itoa(count)
}

// markCount reads the record count from a zonemark value; false when it
// holds none.
func markCount(v []byte) (int64, bool) {
	_, c, ok := strings.Cut(string(v), " ")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// groupOutcome is how one attempt at a group ended.
type groupOutcome int

const (
	outcomeDone     groupOutcome = iota // every write has its result
	outcomeConflict                     // another writer changed the zone: retry the group
)

// commitGroup commits batch (all writes of one zone) and delivers each
// write its result. It returns the writes that did not fit in the group,
// to be queued first for the next one.
func (s *Store) commitGroup(c *committer, batch []*pendingWrite) []*pendingWrite {
	// The commit must not depend on any one caller's context: others wait
	// on the same transaction. Its bound is server-side, so running out of
	// it is etcd being unavailable, not a caller's deadline.
	ctx, cancel := context.WithTimeoutCause(context.Background(), s.cfg.TxnTimeout, &UnavailableError{
		Reason: fmt.Sprintf("record write not committed within %s", s.cfg.TxnTimeout)})
	defer cancel()
	for range maxAttempts {
		results, deferred, outcome := s.attemptGroup(ctx, c, batch)
		if outcome == outcomeConflict {
			c.index = nil
			s.metrics.groups.WithLabelValues("conflict").Inc()
			s.log.Debug("record group conflict, retrying", zap.String("zone_id", c.zoneID), zap.Int("writes", len(batch)))
			continue
		}
		for i, w := range batch[:len(batch)-len(deferred)] {
			w.done <- results[i]
		}
		return deferred
	}
	for _, w := range batch {
		w.done <- fmt.Errorf("update records of zone %s: %w", c.zoneID, ErrConflict)
	}
	return nil
}

// attemptGroup reads the zone, validates the writes of batch in order and
// commits those that pass in one transaction. results[i] is the outcome of
// batch[i] for the writes not deferred (a suffix of batch) and is
// meaningful only when the outcome is outcomeDone.
func (s *Store) attemptGroup(ctx context.Context, c *committer, batch []*pendingWrite) (results []error, deferred []*pendingWrite, outcome groupOutcome) {
	results = make([]error, len(batch))
	failAll := func(err error) ([]error, []*pendingWrite, groupOutcome) {
		c.index = nil
		s.metrics.groups.WithLabelValues("error").Inc()
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
		return results, deferred, outcomeDone
	}
	g, err := s.readGroup(ctx, c.zoneID, c.index)
	if err != nil {
		return failAll(err)
	}
	if c.index == nil || c.index.markRev != g.markRev {
		c.index = nil
		if g.records > int64(s.cfg.MaxPreloadRecords) {
			c.index = newPartialIndex(s, c.zoneID, g.markRev)
		} else {
			x, err := s.loadIndex(ctx, c.zoneID, g.rev, g.markRev)
			if err != nil {
				return failAll(err)
			}
			s.metrics.indexLoads.WithLabelValues("full").Inc()
			c.index = x
		}
	}
	c.index.count, c.index.countKnown = g.records, true
	// On-demand reads of a partial index happen at this group's revision:
	// the mark has not moved since the index was current, so the records
	// there are the ones it describes.
	c.index.rev = g.rev

	// Writes that pass are applied to the index at once, so later writes of
	// the group see them; if the transaction does not commit, the index is
	// dropped and reloaded.
	x := c.index
	origin := map[string]string{} // touched id → its name before the group ("" = absent)
	var order []string
	// The zonemark put, and the audit due marker of the zone's account.
	now := time.Now()
	dueKey := s.dueKey(g.zone.GetAccountId(), now)
	txnOps, txnBytes := 2, len(dueKey)+64
	var audits []auditEntry // one per committed write that changed records
	committedWrites := 0
	used, err := s.usedRequestIDs(ctx, batch)
	if err != nil {
		return failAll(err)
	}
	count := int(g.records) // the zone's records after the writes applied so far
	var idemCmps []clientv3.Cmp
	var idemPuts []clientv3.Op
	for i, w := range batch {
		if err := w.ctx.Err(); err != nil {
			results[i] = fmt.Errorf("update records of zone %s: %w", c.zoneID, err)
			continue
		}
		idem := IdempotencyFrom(w.ctx)
		if idem != nil {
			// Remembered already, or taken by an earlier write of this
			// group (a concurrent retry): the caller answers from the
			// outcome once it is committed.
			k := s.idemKey(idem.Scope, idem.RequestID)
			if used[k] {
				results[i] = fmt.Errorf("update records of zone %s: request id %s: %w", c.zoneID, idem.RequestID, ErrIdempotentReplay)
				continue
			}
			idem.set = false // set again by this attempt's callback
		}
		view := &indexView{zone: protoClone(g.zone), settings: protoClone(g.settings), x: x, count: count}
		ops, err := s.callWrite(w, view, c.zoneID)
		if err != nil {
			results[i] = err
			continue
		}
		final, nOps, nBytes, err := s.planWrite(w.ctx, x, c.zoneID, ops)
		if err != nil {
			results[i] = err
			continue
		}
		audit, hasAudit, err := s.recordWriteAudit(w.ctx, now, g.zone, x, final)
		if err != nil {
			results[i] = err
			continue
		}
		if hasAudit {
			nOps, nBytes = nOps+1, nBytes+audit.size()
		}
		var cmp clientv3.Cmp
		var iops []clientv3.Op
		if idem != nil {
			if cmp, iops, err = s.idemOps(idem, now); err != nil {
				results[i] = err
				continue
			}
			nOps, nBytes = nOps+len(iops), nBytes+idemSize(idem)
		}
		if committedWrites > 0 && (txnOps+nOps > s.cfg.MaxTxnOps || txnBytes+nBytes > s.cfg.MaxTxnBytes) {
			deferred = batch[i:]
			results = results[:i]
			break
		}
		txnOps, txnBytes = txnOps+nOps, txnBytes+nBytes
		committedWrites++
		if hasAudit {
			audits = append(audits, audit)
		}
		if idem != nil {
			used[s.idemKey(idem.Scope, idem.RequestID)] = true
			idemCmps, idemPuts = append(idemCmps, cmp), append(idemPuts, iops...)
		}
		for _, f := range final {
			if _, seen := origin[f.id]; !seen {
				if old, ok := x.byID[f.id]; ok {
					origin[f.id] = old.GetName()
				} else {
					origin[f.id] = ""
				}
				order = append(order, f.id)
			}
			// planWrite looked every touched id up, so byID knows
			// whether it exists.
			_, existed := x.byID[f.id]
			switch {
			case f.put != nil && !existed:
				count++
			case f.put == nil && existed:
				count--
			}
			if f.put != nil {
				x.put(f.put)
			} else {
				x.remove(f.id)
			}
		}
	}
	if len(order) == 0 && len(idemPuts) == 0 {
		// Nothing to write (every write failed, or wrote nothing, and no
		// write has a request id to remember).
		return results, deferred, outcomeDone
	}

	ops := make([]clientv3.Op, 0, 2*len(order)+len(audits)+2)
	for _, id := range order {
		orig := origin[id]
		cur, exists := x.byID[id]
		switch {
		case exists:
			rname := dnsname.Reverse(cur.GetName())
			if orig != "" && orig != cur.GetName() {
				ops = append(ops, clientv3.OpDelete(s.recordKey(c.zoneID, dnsname.Reverse(orig), id)))
			}
			v, err := marshal(cur, "record "+id)
			if err != nil {
				return failAll(err)
			}
			ops = append(ops,
				clientv3.OpPut(s.recordKey(c.zoneID, rname, id), v),
				clientv3.OpPut(s.recordIDKey(c.zoneID, id), rname))
		case orig != "":
			rname := dnsname.Reverse(orig)
			ops = append(ops,
				clientv3.OpDelete(s.recordKey(c.zoneID, rname, id)),
				clientv3.OpDelete(s.recordIDKey(c.zoneID, id)))
		}
	}
	ops = append(ops, clientv3.OpPut(s.zoneMarkKey(c.zoneID), markValue(g.rev, count)))
	ops = append(ops, s.auditOps(now, audits...)...)
	ops = append(ops, idemPuts...)
	// A request id remembered since usedRequestIDs read (another control
	// plane committed a retry) fails the compare: the group is retried and
	// the next read sees it.
	tr, err := s.kv.Txn(ctx).If(append([]clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(s.zoneMarkKey(c.zoneID)), "=", g.markRev),
		clientv3.Compare(clientv3.ModRevision(s.zoneKey(c.zoneID)), "=", g.zoneModRev),
		clientv3.Compare(clientv3.ModRevision(s.zoneSettingsKey(c.zoneID)), "=", g.settingsModRev),
	}, idemCmps...)...).Then(ops...).Commit()
	if err != nil {
		return failAll(fmt.Errorf("update records of zone %s: etcd txn: %w", c.zoneID, err))
	}
	if !tr.Succeeded {
		return nil, nil, outcomeConflict
	}
	x.markRev = tr.Header.Revision // the mark was put by this transaction
	x.count = int64(count)         // and every record change counted above with it
	if max(len(x.byID), len(x.known), len(x.names)) > s.cfg.MaxIndexedRecords {
		c.index = nil // grown past the bound: start again from what the next groups read
	}
	s.metrics.groups.WithLabelValues("committed").Inc()
	s.metrics.groupWrites.Observe(float64(committedWrites))
	return results, deferred, outcomeDone
}

// usedRequestIDs reads which request ids of batch are remembered already,
// in one round trip and only when some write has one.
func (s *Store) usedRequestIDs(ctx context.Context, batch []*pendingWrite) (map[string]bool, error) {
	used := map[string]bool{}
	var gets []clientv3.Op
	for _, w := range batch {
		if i := IdempotencyFrom(w.ctx); i != nil {
			gets = append(gets, clientv3.OpGet(s.idemKey(i.Scope, i.RequestID), clientv3.WithKeysOnly()))
		}
	}
	if len(gets) == 0 {
		return used, nil
	}
	res, err := s.readMany(ctx, gets, "request ids")
	if err != nil {
		return nil, err
	}
	for _, kvs := range res {
		for _, kv := range kvs {
			used[string(kv.Key)] = true
		}
	}
	return used, nil
}

// callWrite runs one write's callback. A panic fails that write alone
// instead of the committer (and every write queued behind it).
func (s *Store) callWrite(w *pendingWrite, v ZoneView, zoneID string) (ops []RecordOp, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("record write callback panicked", zap.String("zone_id", zoneID), zap.Any("panic", p), zap.Stack("stack"))
			ops, err = nil, fmt.Errorf("update records of zone %s: write callback panicked: %v", zoneID, p)
		}
	}()
	return w.fn(context.WithValue(w.ctx, inCommitKey{}, s), v)
}

// finalOp is the state one write leaves a record in: put (a clone the
// index may own) or, when put is nil, deleted.
type finalOp struct {
	id  string
	put *dnsv1.Record
}

// planWrite checks the ops of one write against the index (without
// changing it) and returns the state they leave each touched record in,
// with an estimate of the etcd operations and bytes they cost. Several ops
// on one id fold in order.
func (s *Store) planWrite(ctx context.Context, x *recordIndex, zoneID string, ops []RecordOp) ([]finalOp, int, int, error) {
	ids := make([]string, 0, len(ops))
	for _, op := range ops {
		if op.Put != nil {
			ids = append(ids, op.Put.GetId())
		} else {
			ids = append(ids, op.DeleteID)
		}
	}
	if err := x.lookup(ctx, ids...); err != nil {
		return nil, 0, 0, err
	}
	var out []finalOp
	pos := map[string]int{} // id → index in out
	nOps, nBytes := 0, 0
	for _, op := range ops {
		var id string
		var put *dnsv1.Record
		switch {
		case op.Put != nil && op.DeleteID != "":
			return nil, 0, 0, errors.New("record op: both Put and DeleteID set")
		case op.Put != nil:
			r := op.Put
			id = r.GetId()
			if !validID(id) {
				return nil, 0, 0, fmt.Errorf("record id %q: invalid", id)
			}
			n, err := dnsname.Normalize(r.GetName())
			if err != nil || n != r.GetName() {
				return nil, 0, 0, fmt.Errorf("record %s: name %q not normalized", id, r.GetName())
			}
			put = protoClone(r)
			put.ZoneId = zoneID
		case op.DeleteID != "":
			id = op.DeleteID
			if !validID(id) {
				return nil, 0, 0, fmt.Errorf("record id %q: invalid", id)
			}
			exists := false
			if p, ok := pos[id]; ok {
				exists = out[p].put != nil
			} else {
				_, exists = x.byID[id]
			}
			if !exists {
				return nil, 0, 0, fmt.Errorf("record %s: %w", id, ErrNotFound)
			}
		default:
			return nil, 0, 0, errors.New("record op: neither Put and DeleteID set")
		}
		if p, ok := pos[id]; ok {
			out[p].put = put
			continue
		}
		pos[id] = len(out)
		out = append(out, finalOp{id: id, put: put})
	}
	for _, f := range out {
		// Two keys per record (records/ and recordids/), and a third when a
		// rename deletes the old records/ key.
		nOps += 2
		keys := len(s.recordKey(zoneID, "", f.id)) + len(s.recordIDKey(zoneID, f.id))
		nBytes += keys + 64 // 64: per-op overhead of the request encoding
		if old, ok := x.byID[f.id]; ok {
			nBytes += 2 * len(old.GetName())
			if f.put != nil && old.GetName() != f.put.GetName() {
				nOps++
				nBytes += keys
			}
		}
		if f.put != nil {
			nBytes += 2*len(f.put.GetName()) + proto.Size(f.put)
		}
	}
	return out, nOps, nBytes, nil
}

// recordWriteAudit builds the audit entry of one record write of a group:
// each record it touches as x holds it before the write (the zone plus the
// earlier writes of the group) and as final leaves it. It returns false
// when the write changes nothing (e.g. puts then deletes a new record).
func (s *Store) recordWriteAudit(ctx context.Context, now time.Time, zone *dnsv1.Zone, x *recordIndex, final []finalOp) (auditEntry, bool, error) {
	changes := make([]*dnsv1.AuditChange, 0, len(final))
	for _, f := range final {
		before, existed := x.byID[f.id]
		if !existed && f.put == nil {
			continue
		}
		ch, err := auditChange(AuditRecord, f.id, before, f.put)
		if err != nil {
			return auditEntry{}, false, err
		}
		changes = append(changes, ch)
	}
	if len(changes) == 0 {
		return auditEntry{}, false, nil
	}
	e, err := s.buildAudit(ctx, now, auditInput{AccountID: zone.GetAccountId(), ZoneID: zone.GetId(), Op: "UpdateRecords", Changes: changes})
	return e, err == nil, err
}
