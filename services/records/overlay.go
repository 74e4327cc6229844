package records

import (
	"context"
	"fmt"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// overlay is a zone's records as read at one revision plus the changes of
// the write being prepared. It makes each operation of a batch validate
// against the state the earlier ones left, and collapses the batch into at
// most one op per record (etcd refuses a transaction touching a key twice).
type overlay struct {
	base    recordReader
	order   []string // ids in the order first touched
	puts    map[string]*dnsv1.Record
	deleted map[string]bool
	// atName lists the ids put at each name, so that reading a name costs
	// what is pending there, not the whole batch (a 3,500-record batch
	// reads a name or two per record). It may hold ids since moved away or
	// deleted: readers check puts.
	atName map[string][]string
}

func newOverlay(base recordReader) *overlay {
	return &overlay{base: base, puts: map[string]*dnsv1.Record{}, deleted: map[string]bool{}, atName: map[string][]string{}}
}

func (o *overlay) touch(id string) {
	if _, ok := o.puts[id]; ok {
		return
	}
	if o.deleted[id] {
		return
	}
	o.order = append(o.order, id)
}

func (o *overlay) put(r *dnsv1.Record) {
	o.touch(r.GetId())
	delete(o.deleted, r.GetId())
	if prev, ok := o.puts[r.GetId()]; !ok || prev.GetName() != r.GetName() {
		o.atName[r.GetName()] = append(o.atName[r.GetName()], r.GetId())
	}
	o.puts[r.GetId()] = r
}

func (o *overlay) delete(id string) {
	o.touch(id)
	delete(o.puts, id)
	o.deleted[id] = true
}

func (o *overlay) Record(ctx context.Context, id string) (*dnsv1.Record, error) {
	if o.deleted[id] {
		return nil, fmt.Errorf("record %s: %w", id, store.ErrNotFound)
	}
	if r, ok := o.puts[id]; ok {
		return r, nil
	}
	return o.base.Record(ctx, id)
}

func (o *overlay) RecordsAt(ctx context.Context, name string) ([]*dnsv1.Record, error) {
	base, err := o.base.RecordsAt(ctx, name)
	if err != nil {
		return nil, err
	}
	out := o.merge(base, nil)
	seen := map[string]bool{}
	for _, id := range o.atName[name] {
		if r, ok := o.puts[id]; ok && r.GetName() == name && !seen[id] {
			seen[id] = true
			out = append(out, r)
		}
	}
	return out, nil
}

func (o *overlay) RecordsUnder(ctx context.Context, name string) ([]*dnsv1.Record, error) {
	base, err := o.base.RecordsUnder(ctx, name)
	if err != nil {
		return nil, err
	}
	return o.merge(base, func(r *dnsv1.Record) bool { return dnsname.IsSubdomain(r.GetName(), name) }), nil
}

// merge replaces the base's versions of changed records with the pending
// ones that match (none if match is nil).
func (o *overlay) merge(base []*dnsv1.Record, match func(*dnsv1.Record) bool) []*dnsv1.Record {
	out := make([]*dnsv1.Record, 0, len(base))
	for _, r := range base {
		if _, changed := o.puts[r.GetId()]; changed || o.deleted[r.GetId()] {
			continue
		}
		out = append(out, r)
	}
	if match == nil {
		return out
	}
	for _, id := range o.order {
		if r, ok := o.puts[id]; ok && match(r) {
			out = append(out, r)
		}
	}
	return out
}

// ops is the net change, one op per touched record.
func (o *overlay) ops() []store.RecordOp {
	ops := make([]store.RecordOp, 0, len(o.order))
	for _, id := range o.order {
		if r, ok := o.puts[id]; ok {
			ops = append(ops, store.RecordOp{Put: r})
		} else if o.deleted[id] {
			ops = append(ops, store.RecordOp{DeleteID: id})
		}
	}
	return ops
}
