// Package jsstall notices a JetStream consumer that stopped delivering while
// its stream moved on and the connection stayed up, so that its owner can
// start it over from the last message it handled.
//
// nats.go's consumers notice a lost pull request or a lost consumer by
// missing heartbeats, 10 to 20 s late, and not at all when the server keeps
// sending heartbeats for a consumer that delivers nothing (a paused or
// wedged consumer); a KV watch or an ordered consumer then stays silent
// with nothing logged. The control plane's NOTIFY worker and the edge's
// follower both follow streams that way, and both use this check.
//
// The rule: between two checks the consumer was waiting for its next
// message at both, delivered nothing, and at the first it was behind a
// stream that had grown since the check before. The growth is required
// because a stream's last message may be gone (purged, expired), which a
// live consumer never delivers; a message that arrived before one check
// and is still not delivered at the next was waiting a whole interval,
// which a consumer that is merely slow does not take. A consumer busy
// handling a message at a check is not judged at that check.
package jsstall

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// LastFunc returns the last sequence of the stream the consumer reads.
type LastFunc func(ctx context.Context) (uint64, error)

// Stall is the error Run returns when the consumer stalled.
type Stall struct {
	// Delivered is the last stream sequence the consumer delivered.
	Delivered uint64
	// Behind is the stream's last sequence one check earlier: the
	// consumer had it to deliver for at least an interval.
	Behind uint64
	// Last is the stream's last sequence now.
	Last uint64
}

func (s *Stall) Error() string {
	return fmt.Sprintf("consumer stalled: delivered nothing past sequence %d for a whole check while the stream held up to %d (now %d)",
		s.Delivered, s.Behind, s.Last)
}

// Watchdog checks one consumer. The consumer reports Received and Waiting
// from its own goroutine while Run checks from another.
type Watchdog struct {
	interval  time.Duration
	last      LastFunc
	delivered atomic.Uint64
	busy      atomic.Bool
}

// New returns a watchdog checking every interval against last, for a
// consumer that has delivered up to stream sequence delivered (0: nothing
// yet). It starts waiting.
func New(interval time.Duration, delivered uint64, last LastFunc) *Watchdog {
	w := &Watchdog{interval: interval, last: last}
	w.delivered.Store(delivered)
	return w
}

// Received records that the consumer delivered the message at stream
// sequence seq and is handling it until Waiting.
func (w *Watchdog) Received(seq uint64) {
	w.busy.Store(true)
	if seq > w.delivered.Load() {
		w.delivered.Store(seq) // only the consumer's goroutine writes
	}
}

// Busy records that the consumer is doing something else than waiting for
// its next message until Waiting.
func (w *Watchdog) Busy() { w.busy.Store(true) }

// Waiting records that the consumer waits for its next message.
func (w *Watchdog) Waiting() { w.busy.Store(false) }

// Run checks at once and then every interval until ctx ends (nil) or the
// consumer stalled (a *Stall). The first check is where growth is counted
// from: start Run with the consumer, so that a message published after it
// and never delivered is found without waiting for another one. A check
// whose stream request fails (NATS away, bounded by the interval) judges
// nothing and starts the comparison over: reconnects are the client's
// business.
func (w *Watchdog) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	var c checker
	for {
		cctx, cancel := context.WithTimeout(ctx, w.interval)
		last, err := w.last(cctx)
		cancel()
		if err != nil {
			c = checker{}
		} else {
			// Read after the stream: a message delivered while the
			// request was out counts as progress, never as a stall.
			s := sample{last: last, waiting: !w.busy.Load(), delivered: w.delivered.Load()}
			if st := c.observe(s); st != nil {
				return st
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sample is what one check saw.
type sample struct {
	delivered, last uint64
	waiting         bool
}

// checker compares each check with the one before.
type checker struct {
	prev sample
	have bool // prev is set
	grew bool // the stream grew between the check before prev and prev
}

func (c *checker) observe(s sample) *Stall {
	var st *Stall
	if c.have && c.grew && c.prev.waiting && s.waiting && s.delivered == c.prev.delivered && c.prev.last > s.delivered {
		st = &Stall{Delivered: s.delivered, Behind: c.prev.last, Last: s.last}
	}
	c.grew = c.have && s.last > c.prev.last
	c.prev, c.have = s, true
	return st
}
