package jsstall

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// The rule alone, check after check. The consumers it guards are tested on
// a real NATS server where they are used (edge/follow, controlplane/xfrout).
func TestStallNeedsAWholeIntervalBehindAGrowingStream(t *testing.T) {
	w := func(delivered, last uint64) sample { return sample{delivered: delivered, last: last, waiting: true} }
	busy := func(delivered, last uint64) sample { return sample{delivered: delivered, last: last} }
	tests := []struct {
		name    string
		checks  []sample
		stallAt int // index of the check that reports the stall; -1: none
	}{
		{"caught up and idle", []sample{w(5, 5), w(5, 5), w(5, 5), w(5, 5)}, -1},
		{"keeps up with a growing stream", []sample{w(5, 5), w(6, 6), w(8, 8), w(9, 9)}, -1},
		{"a message published just before a check is not yet a stall", []sample{w(5, 5), w(5, 6)}, -1},
		{"a message still undelivered a whole check later is", []sample{w(5, 5), w(5, 6), w(5, 6)}, 2},
		{"growing on while stalled", []sample{w(5, 5), w(5, 6), w(5, 9)}, 2},
		{"delivered meanwhile", []sample{w(5, 5), w(5, 6), w(6, 6)}, -1},
		{"delivered part of it, then stalled", []sample{w(5, 5), w(5, 8), w(6, 8), w(6, 8), w(6, 9), w(6, 9)}, 5},
		{"behind a purged tail without growth", []sample{w(5, 9), w(5, 9), w(5, 9), w(5, 9)}, -1},
		{"busy handling a message is not a stall", []sample{w(5, 5), w(5, 6), busy(5, 6), w(5, 6)}, -1},
		{"busy at the check before does not count", []sample{w(5, 5), busy(5, 6), w(5, 6)}, -1},
		{"stalled again after being busy", []sample{w(5, 5), busy(5, 6), w(5, 7), w(5, 7)}, 3},
		{"ahead of a recreated stream", []sample{w(50, 1), w(50, 2), w(50, 3)}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c checker
			for i, s := range tt.checks {
				st := c.observe(s)
				if (st != nil) != (i == tt.stallAt) {
					t.Fatalf("check %d (%+v): stall %v, want one only at check %d", i, s, st, tt.stallAt)
				}
			}
		})
	}
}

// Run reports the stall with what it saw, and nothing once ctx ended.
func TestRunReportsTheStall(t *testing.T) {
	var last atomic.Uint64
	last.Store(3)
	w := New(10*time.Millisecond, 3, func(context.Context) (uint64, error) { return last.Load(), nil })
	w.Received(3)
	w.Waiting()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	time.Sleep(30 * time.Millisecond)
	last.Store(4)
	err := <-done
	var st *Stall
	if !errors.As(err, &st) || st.Delivered != 3 || st.Behind != 4 || st.Last != 4 {
		t.Fatalf("Run: %v, want a stall past 3 behind 4", err)
	}

	// Ended by ctx: nil.
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		done <- New(10*time.Millisecond, 0, func(context.Context) (uint64, error) { return 0, nil }).Run(ctx)
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after ctx ended: %v", err)
	}
}

// A check whose stream request failed judges nothing: the comparison
// starts over, so requests failing every other time never add up to a
// stall, however far behind the consumer is.
func TestFailedRequestsJudgeNothing(t *testing.T) {
	var calls atomic.Int64
	w := New(5*time.Millisecond, 1, func(context.Context) (uint64, error) {
		n := calls.Add(1)
		if n%2 == 0 {
			return 0, errors.New("nats away")
		}
		return uint64(n), nil // growing, far ahead of 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatalf("Run: %v after %d requests, want no stall", err, calls.Load())
	}
}
