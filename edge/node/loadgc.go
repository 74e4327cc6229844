package node

import (
	"runtime/debug"
	"sync"
)

// loadGC returns the initial load's garbage (fetched snapshot objects,
// replaced versions: for a million-record zone about 350 MB, more than the
// zone itself) to the OS once the last node of the process that is loading
// (tests run several) is ready. The background scavenger would keep it: it
// returns only what lies beyond GOGC's headroom over the live heap. This
// runs after the node reported ready, and is the only release of the
// initial load (the follower releases only after ready): the full
// collection it needs and the madvise calls take 0.2-2.6 s on two cores
// (docs/BENCHMARKS.md, "Cold start (2026-11-28)"), during which the edge
// already answers.
//
// The load runs at the operator's GOGC. It used to run at 400: with every
// record decoded into pointers, collecting at 100 was half the load's CPU.
// With records kept in wire form the heap holds few pointers and a
// collection of it is cheap, while the heap a higher GOGC lets grow is
// fresh memory to fault in: at 400 BenchmarkBuildMillion took 0.95-2.4
// times the wall time it takes at 100 (5 alternating pairs on the shared
// machine, slower at 400 in 4), and the edge's peak RSS while loading was
// 544-553 MiB instead of 398-413 MiB.
var loadGC struct {
	mu      sync.Mutex
	loading int
}

type loadGCToken struct{ once sync.Once }

func startLoadGC() *loadGCToken {
	loadGC.mu.Lock()
	defer loadGC.mu.Unlock()
	loadGC.loading++
	return &loadGCToken{}
}

// done ends this node's load (ready, or stopped before it).
func (t *loadGCToken) done() {
	t.once.Do(func() {
		loadGC.mu.Lock()
		loadGC.loading--
		last := loadGC.loading == 0
		loadGC.mu.Unlock()
		if last {
			debug.FreeOSMemory()
		}
	})
}
