// Package heapgoal keeps an edge's heap close to its live data.
//
// An edge's live heap is its zones, and what it allocates afterwards is
// short-lived: each delta leaves the replaced names of the zone version it
// supersedes (a few KB), a cache miss an answer's records. At the
// runtime's default GOGC of 100 the heap may grow to twice the live data
// before a collection, so a million-record zone under a stream of deltas
// grows the process by a quarter of its size (+23-52 % after 10,000
// deltas), memory that buys nothing: the edge allocates little, and a
// collection of a heap of wire-form records is cheap.
//
// Run sets GOGC from the live heap, once a second: the heap may grow by
// Headroom of the live data, or by Floor bytes when that is more (a small
// heap is not collected every few allocations), and never by more than the
// default's 100 %. It follows the live heap as zones are added or grow, so
// it never binds like a fixed memory limit would. The initial load is
// left alone (Run starts once the edge is ready): collecting a growing
// heap every few percent of growth would slow the cold start.
package heapgoal

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"go.uber.org/zap"
)

// Config bounds the heap's growth between collections.
type Config struct {
	// Headroom is the growth allowed over the live heap, a fraction of it
	// (0.05: 5 %); 0 or less turns Run off.
	Headroom float64
	// Floor is the least growth allowed, in bytes.
	Floor uint64
	// Interval is how often the live heap is read (default 1 s).
	Interval time.Duration
}

// DefaultConfig is the edge's default: 5 % of the live heap, at least
// 8 MiB.
var DefaultConfig = Config{Headroom: 0.05, Floor: 8 << 20, Interval: time.Second}

// Percent is the GOGC that allows the growth cfg asks for over a live
// heap of live bytes.
func Percent(cfg Config, live uint64) int {
	if live == 0 {
		return 100
	}
	pct := cfg.Headroom * 100
	if floor := float64(cfg.Floor) * 100 / float64(live); floor > pct {
		pct = floor
	}
	return max(1, min(100, int(pct+0.5)))
}

// Run sets GOGC from the live heap every cfg.Interval until ctx ends, then
// restores the GOGC it found. It does nothing when cfg.Headroom is not
// positive or the operator set GOGC in the environment (their setting
// stands). GOGC is the process's setting: one Run per process.
func Run(ctx context.Context, cfg Config, log *zap.Logger) {
	if cfg.Headroom <= 0 {
		return
	}
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Info("heap goal left to GOGC from the environment", zap.String("GOGC", v))
		return
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	orig := debug.SetGCPercent(100)
	debug.SetGCPercent(orig)
	defer debug.SetGCPercent(orig)
	cur := orig
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if pct := Percent(cfg, sample[0].Value.Uint64()); pct != cur {
				debug.SetGCPercent(pct)
				log.Debug("GOGC set from the live heap", zap.Uint64("live_bytes", sample[0].Value.Uint64()), zap.Int("gogc", pct))
				cur = pct
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
