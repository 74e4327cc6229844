package notify

import (
	"sync"
	"time"
)

// Coalescer passes on at most one item per key per Interval: the first at
// once (leading edge: a single NOTIFY is not delayed), and of those that
// arrive within the interval only the last, when the interval ends
// (trailing edge). Dropping the later ones outright would lose a change:
// a primary that changes again just after its first NOTIFY was forwarded
// sends a second one, and the refresh the first caused may have read the
// older serial. Memory is one small entry per key seen within the last
// few intervals.
type Coalescer[T any] struct {
	// Interval is the least time between two items passed on for a key.
	Interval time.Duration
	// Emit receives what is passed on; it runs on the caller's goroutine
	// for the leading item and on a timer's for a trailing one.
	Emit func(key string, v T)

	mu    sync.Mutex
	slots map[string]*slot[T]
	swept time.Time
}

type slot[T any] struct {
	last    time.Time
	pending *T
}

// Outcome is what Offer did with an item.
type Outcome int

// Outcomes of Offer.
const (
	// Passed: emitted at once.
	Passed Outcome = iota
	// Deferred: waits for the end of the key's interval.
	Deferred
	// Replaced: took the place of an item already waiting, which is
	// dropped (the newer one stands for both).
	Replaced
)

// Offer hands v over for key. It never blocks on Emit of another key.
func (c *Coalescer[T]) Offer(key string, v T) Outcome {
	now := time.Now()
	c.mu.Lock()
	if c.slots == nil {
		c.slots = map[string]*slot[T]{}
	}
	c.sweepLocked(now)
	s := c.slots[key]
	if s == nil {
		s = &slot[T]{}
		c.slots[key] = s
	}
	if s.pending == nil && now.Sub(s.last) >= c.Interval {
		s.last = now
		c.mu.Unlock()
		c.Emit(key, v)
		return Passed
	}
	if s.pending != nil {
		*s.pending = v // the newest wins: it carries the latest serial
		c.mu.Unlock()
		return Replaced
	}
	s.pending = &v
	wait := s.last.Add(c.Interval).Sub(now)
	c.mu.Unlock()
	time.AfterFunc(wait, func() { c.flush(key) })
	return Deferred
}

func (c *Coalescer[T]) flush(key string) {
	c.mu.Lock()
	s := c.slots[key]
	if s == nil || s.pending == nil {
		c.mu.Unlock()
		return
	}
	v := *s.pending
	s.pending, s.last = nil, time.Now()
	c.mu.Unlock()
	c.Emit(key, v)
}

// sweepLocked forgets keys idle for ten intervals, at most once an
// interval, so that a stream of distinct keys does not grow the map.
func (c *Coalescer[T]) sweepLocked(now time.Time) {
	if now.Sub(c.swept) < max(c.Interval, time.Second) {
		return
	}
	c.swept = now
	for k, s := range c.slots {
		if s.pending == nil && now.Sub(s.last) > 10*c.Interval {
			delete(c.slots, k)
		}
	}
}

// Len is the number of keys held (for tests).
func (c *Coalescer[T]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.slots)
}
