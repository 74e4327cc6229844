package follow

import (
	"time"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Tracing the way of a zone snapshot through a follower, for the
// propagation benchmark's breakdown (e2e/propagation_bench_test.go,
// docs/BENCHMARKS.md, "Propagation"), when Config.Trace is set. Unset
// (production), a value costs a nil check; no clock is read. A field of
// the follower, not of the package: several edges of one process trace
// apart. Nothing of this is on the query path.

// ApplyTrace is when one zone value applied by a follower passed each
// stage.
type ApplyTrace struct {
	// Follower is the follower that applied it (several edges may run in
	// one process).
	Follower *Follower
	// Key is the zones bucket key; Version the zone version now held.
	Key     string
	Version uint64
	// Stored is the JetStream server's timestamp of the message.
	Stored time.Time
	// Received: the watch handed the entry to the follower.
	Received time.Time
	// Verified: its signature was checked (on a worker, ahead).
	Verified time.Time
	// Applied: decoded, indexed and swapped in; queries see it from now.
	Applied time.Time
}

// TraceFunc receives one ApplyTrace per zone value applied from the zones
// bucket's watch; it runs on the watch's goroutine and must not block.
type TraceFunc func(ApplyTrace)

// tracing reports whether the follower reports its values.
func (f *Follower) tracing() bool { return f.cfg.Trace != nil }

// traceApplied reports a zone value applied from the watch.
func (f *Follower) traceApplied(o *opened) {
	fn := f.cfg.Trace
	if fn == nil || o.e == nil {
		return
	}
	t := ApplyTrace{
		Follower: f, Key: o.e.Key(), Stored: o.e.Created(),
		Received: o.received, Verified: o.verified, Applied: time.Now(),
	}
	t.Version, _ = f.cfg.Zones.Version(snapshot.NameFromKey(t.Key))
	fn(t)
}
