package builder

import (
	"context"
	"sync"
	"time"
)

// Tracing the way of a change through the builder, for the propagation
// benchmark's breakdown (e2e/propagation_bench_test.go, docs/BENCHMARKS.md,
// "Propagation"): when Config.Trace is set, every published batch of that
// builder reports when its stages ended. Unset (production), a batch costs
// a nil check; no clock is read. A field of the builder, not of the
// package: two builders of one process (tests, failover) trace apart.

// BatchTrace is when the stages of one published batch ended. Zone stages
// hold the latest time over the batch's zones (the one edges wait for);
// they are zero when the batch published no zone snapshot or delta.
type BatchTrace struct {
	// Revision is the batch's etcd revision (the version edges get).
	Revision int64
	// Watched: the first watch response of the batch arrived.
	Watched time.Time
	// Coalesced: the coalescing window closed; publishing starts.
	Coalesced time.Time
	// Read: the zones' data were read from etcd.
	Read time.Time
	// Encoded: the snapshots (or deltas) were compiled, encoded and signed.
	Encoded time.Time
	// Fenced: the fence proved the lease for the write (fence.go).
	Fenced time.Time
	// Put: JetStream acknowledged the write.
	Put time.Time
	// Published: every zone and account of the batch is published.
	Published time.Time
	// Stored: the builder revision is stored in etcd; the next batch may
	// start.
	Stored time.Time
}

// TraceFunc receives one BatchTrace per published batch, in order, once
// its revision is stored (from the goroutine storing it); it must not
// block.
type TraceFunc func(BatchTrace)

// batchTrace collects a batch's stage times while it publishes; zones
// publish in parallel, hence the lock.
type batchTrace struct {
	fn TraceFunc
	mu sync.Mutex
	t  BatchTrace
}

type traceKey struct{}

// newBatchTrace returns a trace for a batch whose first watch response
// arrived at watched, nil when the builder does not trace.
func (b *Builder) newBatchTrace(watched time.Time) *batchTrace {
	if b.cfg.Trace == nil {
		return nil
	}
	return &batchTrace{fn: b.cfg.Trace, t: BatchTrace{Watched: watched}}
}

// withTrace carries tr to the zone publishers below publishBatch.
func withTrace(ctx context.Context, tr *batchTrace) context.Context {
	if tr == nil {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, tr)
}

// traceStage marks the end of a zone stage of the batch traced in ctx, if
// any: the latest mark of each stage wins. Not tracing, it costs a nil
// check (no context lookup).
func (b *Builder) traceStage(ctx context.Context, stage func(*BatchTrace) *time.Time) {
	if b.cfg.Trace == nil {
		return
	}
	tr, _ := ctx.Value(traceKey{}).(*batchTrace)
	if tr == nil {
		return
	}
	now := time.Now()
	tr.mu.Lock()
	if p := stage(&tr.t); now.After(*p) {
		*p = now
	}
	tr.mu.Unlock()
}

func stageRead(t *BatchTrace) *time.Time    { return &t.Read }
func stageEncoded(t *BatchTrace) *time.Time { return &t.Encoded }
func stageFenced(t *BatchTrace) *time.Time  { return &t.Fenced }
func stagePut(t *BatchTrace) *time.Time     { return &t.Put }

// report hands the finished trace to the trace function.
func (tr *batchTrace) report(rev int64) {
	if tr == nil {
		return
	}
	tr.mu.Lock()
	t := tr.t
	tr.mu.Unlock()
	t.Revision = rev
	tr.fn(t)
}
