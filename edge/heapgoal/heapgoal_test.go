package heapgoal

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

func TestPercentFollowsTheLiveHeap(t *testing.T) {
	cfg := Config{Headroom: 0.05, Floor: 8 << 20}
	for _, tc := range []struct {
		name string
		live uint64
		want int
	}{
		{"nothing measured yet: the default", 0, 100},
		{"small heap: the floor, capped at the default", 4 << 20, 100},
		{"floor over headroom", 80 << 20, 10},
		{"large heap: the headroom", 400 << 20, 5},
		{"huge heap: the headroom, never below 1", 1 << 40, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percent(cfg, tc.live); got != tc.want {
				t.Fatalf("Percent(%d) = %d, want %d", tc.live, got, tc.want)
			}
		})
	}
	if got := Percent(Config{Headroom: 0.001}, 1<<40); got != 1 {
		t.Fatalf("tiny headroom: %d, want 1", got)
	}
}

// Run sets GOGC while it runs and restores the operator's when it ends;
// with GOGC in the environment it leaves GOGC alone.
func TestRunSetsAndRestoresGOGC(t *testing.T) {
	orig := debug.SetGCPercent(77)
	defer debug.SetGCPercent(orig)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// A floor this high makes the goal the default's cap: 100.
	go func() {
		defer close(done)
		Run(ctx, Config{Headroom: 0.05, Floor: 1 << 50, Interval: time.Millisecond}, zaptest.NewLogger(t))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if cur := gogc(); cur == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d while Run runs, want 100", gogc())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if cur := debug.SetGCPercent(77); cur != 77 {
		t.Fatalf("GOGC %d after Run, want the 77 it found", cur)
	}

	t.Setenv("GOGC", "300")
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	Run(ctx, Config{Headroom: 0.05, Floor: 1 << 50, Interval: time.Millisecond}, zaptest.NewLogger(t))
	if cur := debug.SetGCPercent(77); cur != 77 {
		t.Fatalf("GOGC %d with GOGC in the environment, want it left at 77", cur)
	}
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
