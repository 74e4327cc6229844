package xfrintest

// StartBenchPrimary is StartNSD/StartKnot for benchmarks: the same
// configuration (TSIG required for transfers), Knot logging only notices
// and WaitSerial allowing 10 minutes, since a benchmark zone of a million
// names loads slowly. The outgoing transfer benchmark
// (e2e/outgoing_test.go) times AXFR and IXFR from them next to our edge.

import (
	"path/filepath"
	"testing"
	"time"
)

// StartBenchPrimary starts kind ("nsd" or "knot") serving zone from
// zoneFile with transfers allowed to holders of key.
func StartBenchPrimary(tb testing.TB, kind, zone string, key Key, zoneFile string) *Primary {
	tb.Helper()
	b := newPeer(tb, zoneFile)
	b.waitFor = 10 * time.Minute
	switch kind {
	case "nsd":
		conf := filepath.Join(b.dir, "nsd.conf")
		writeConf(tb, conf, nsdPrimaryConf(b, key, zone))
		b.run(tb, FindTool(tb, "nsd"), "-d", "-c", conf)
	case "knot":
		knotc := FindTool(tb, "knotc")
		conf := filepath.Join(b.dir, "knot.conf")
		writeConf(tb, conf, knotPrimaryConf(b, key, zone, "notice"))
		b.run(tb, FindTool(tb, "knotd"), "-c", conf)
		b.reloadCmd = knotReload(knotc, conf, zone)
	default:
		tb.Fatalf("unknown primary %q", kind)
	}
	return b
}
