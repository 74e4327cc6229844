package node

import (
	"runtime/debug"
	"sync"
)

// loadGCPercent is the garbage collector's GOGC while an edge loads its
// zones. Indexing a million-record zone allocates millions of small
// objects into a heap that only grows; at the default 100 the collector
// runs about ten times during the load and marks the whole growing index
// each time, about half of the load's CPU (BenchmarkBuildMillion's CPU
// profile, docs/BENCHMARKS.md "A zone of a million records"). The price is
// a higher peak heap during the load only; a GOMEMLIMIT still caps it.
const loadGCPercent = 400

// loadGC raises GOGC while any node of the process is loading (tests run
// several) and puts the operator's value back after the last one; then it
// returns the load's garbage (fetched snapshot objects, replaced versions)
// to the OS at once, so that the resident size after the load is the
// zones': the background scavenger keeps what lies within GOGC's headroom.
// This runs after the node reported ready, and is the only release of the
// initial load (the follower releases only after ready): the full
// collection it needs takes 0.6-2.6 s on two cores for a million-record
// zone, during which the edge already answers.
var loadGC struct {
	mu      sync.Mutex
	loading int
	prev    int
}

type loadGCToken struct{ once sync.Once }

func startLoadGC() *loadGCToken {
	loadGC.mu.Lock()
	defer loadGC.mu.Unlock()
	if loadGC.loading == 0 {
		loadGC.prev = debug.SetGCPercent(loadGCPercent)
		if loadGC.prev < 0 || loadGC.prev >= loadGCPercent {
			debug.SetGCPercent(loadGC.prev) // GOGC=off or already higher: the operator's choice
		}
	}
	loadGC.loading++
	return &loadGCToken{}
}

// done ends this node's load (ready, or stopped before it).
func (t *loadGCToken) done() {
	t.once.Do(func() {
		loadGC.mu.Lock()
		loadGC.loading--
		last := loadGC.loading == 0
		if last {
			debug.SetGCPercent(loadGC.prev)
		}
		loadGC.mu.Unlock()
		if last {
			debug.FreeOSMemory()
		}
	})
}
