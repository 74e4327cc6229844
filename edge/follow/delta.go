package follow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/jsstall"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// deltasKey names the delta stream in the loaded and kick maps and in the
// metrics' bucket label.
const deltasKey = snapshot.DeltaStream

// followDeltas applies the deltas of large zones once the zones bucket is
// listed: an ordered consumer over every delta subject, resumed after the
// last stream sequence seen whenever it has to start again.
func (f *Follower) followDeltas(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-f.zonesListed:
	}
	var seq uint64
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-time.After(f.cfg.RetryWait):
			}
		}
		err := f.consumeDeltas(ctx, &seq)
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			f.restarted(deltasKey, "delta consumer ended; consuming again", err, zap.Uint64("after_sequence", seq))
		}
	}
}

func (f *Follower) consumeDeltas(ctx context.Context, seq *uint64) error {
	s, err := f.js.Stream(ctx, snapshot.DeltaStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		// No zone is large enough for deltas yet: nothing to wait for.
		f.markLoaded(deltasKey)
		return err
	}
	if err != nil {
		return fmt.Errorf("open stream %q: %w", snapshot.DeltaStream, err)
	}
	f.mu.Lock()
	f.stream = s
	f.mu.Unlock()
	st := s.CachedInfo().State
	if st.Msgs == 0 || st.LastSeq <= *seq {
		f.markLoaded(deltasKey)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{snapshot.DeltaSubjectPrefix + ">"}}
	if *seq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, *seq+1
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("delta consumer: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("delta consumer messages: %w", err)
	}
	done := make(chan struct{})
	defer close(done)
	// The iterator's Next blocks: the watchdog runs beside it, and a stall
	// stops the iterator like a reconnect does.
	wctx, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	wd := jsstall.New(f.cfg.StallCheck, *seq, streamLast(s))
	stalled := make(chan error, 1)
	go func() {
		if err := wd.Run(wctx); err != nil {
			stalled <- err
		}
	}()
	stopped := make(chan error, 1)
	go func() {
		select {
		case <-ctx.Done():
			stopped <- ctx.Err()
		case <-f.kick[deltasKey]:
			stopped <- errors.New("nats reconnected")
		case err := <-stalled:
			stopped <- fmt.Errorf("delta consumer: %w", err)
		case <-done:
		}
		it.Stop()
	}()
	for {
		wd.Waiting()
		msg, err := it.Next()
		if err != nil {
			select {
			case why := <-stopped:
				return why
			default:
				return fmt.Errorf("delta consumer: %w", err)
			}
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("delta metadata: %w", err)
		}
		wd.Received(md.Sequence.Stream)
		*seq = md.Sequence.Stream
		f.deltaMu.Lock()
		f.handleDelta(ctx, msg.Subject(), msg.Data(), md.Timestamp)
		f.deltaMu.Unlock()
		if md.NumPending == 0 {
			f.markLoaded(deltasKey)
		}
	}
}

// streamLast is the delta stream's last sequence, for its consumer's
// watchdog.
func streamLast(s jetstream.Stream) jsstall.LastFunc {
	return func(ctx context.Context) (uint64, error) {
		info, err := s.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream %q info: %w", snapshot.DeltaStream, err)
		}
		return info.State.LastSeq, nil
	}
}

// handleDelta applies one delta if it continues the version held, ignores
// it if already held (publishing is at-least-once) or if the zone is not
// held at all (its KV value brings it), and on a gap reloads the zone's
// full snapshot and replays its deltas from there. Callers hold deltaMu.
func (f *Follower) handleDelta(ctx context.Context, subject string, data []byte, published time.Time) {
	start := time.Now()
	data, err := f.cfg.Verifier.Open(snapshot.DeltaBinding(subject), data)
	if err != nil {
		f.rejected(deltasKey, subject, err)
		return
	}
	d, err := snapshot.UnmarshalDelta(data)
	if err == nil && snapshot.DeltaSubject(d.GetName()) != subject {
		err = fmt.Errorf("delta of zone %q on subject %q", d.GetName(), subject)
	}
	if err != nil {
		f.m.updates.WithLabelValues(deltasKey, "failed").Inc()
		f.log.Error("delta not applied", zap.String("subject", subject), zap.Error(err))
		return
	}
	switch res := f.applyDelta(d); res {
	case "gap":
		f.m.updates.WithLabelValues(deltasKey, "gap").Inc()
		name := d.GetName()
		if !f.gapDue(name, start) {
			f.m.updates.WithLabelValues(deltasKey, "gap_paused").Inc()
			return
		}
		f.log.Info("delta gap: reloading zone", zap.String("zone", name),
			zap.Uint64("from", d.GetFromVersion()), zap.Uint64("to", d.GetToVersion()))
		err := f.catchUp(ctx, name)
		f.gapDone(name, start, err)
		if err != nil {
			f.log.Error("zone not caught up after a delta gap; the held version keeps being served",
				zap.String("zone", name), zap.Error(err))
		}
	default:
		f.m.updates.WithLabelValues(deltasKey, res).Inc()
		if res == "applied" {
			f.m.applySeconds.WithLabelValues(deltasKey).Observe(time.Since(start).Seconds())
			f.m.lagSeconds.WithLabelValues(deltasKey).Observe(max(0, time.Since(published).Seconds()))
		}
	}
}

// gapRetry is when a zone whose catch-up failed may try again. A zone
// whose stream lost the deltas after its full snapshot fails every
// catch-up until the builder publishes its next full snapshot; without a
// pause each of its queued deltas (thousands, after a restart) tried again,
// each opening a consumer on the stream, which exhausted the stream's
// consumer limit for the other edges.
type gapRetry struct {
	held uint64 // the version held when the catch-up failed
	next time.Time
	wait time.Duration
}

// gapDue reports whether a gap of zone name may be caught up now: no
// catch-up of it failed, the version held changed since (a full snapshot
// came through the bucket), or the pause is over. Callers hold deltaMu.
func (f *Follower) gapDue(name string, now time.Time) bool {
	g, ok := f.gaps[name]
	return !ok || g.held != f.heldVersion(name) || !now.Before(g.next)
}

// gapDone records how a catch-up of zone name ended: a failure pauses the
// next one, RetryWait doubling up to a minute while the version held stays
// the same. Callers hold deltaMu.
func (f *Follower) gapDone(name string, now time.Time, err error) {
	if err == nil {
		delete(f.gaps, name)
		return
	}
	held := f.heldVersion(name)
	wait := f.cfg.RetryWait
	if g, ok := f.gaps[name]; ok && g.held == held {
		wait = min(2*g.wait, maxRefetchWait)
	}
	if f.gaps == nil {
		f.gaps = map[string]gapRetry{}
	}
	f.gaps[name] = gapRetry{held: held, next: now.Add(wait), wait: wait}
}

// applyDelta installs the version d produces from the zone held and says
// what happened: applied, duplicate, ignored (zone not held, or replaced
// meanwhile by something newer) or gap.
func (f *Follower) applyDelta(d *snapshot.ZoneDelta) string {
	z := f.cfg.Zones.Get(d.GetName())
	switch {
	case z == nil:
		return "ignored"
	case d.GetToVersion() <= z.Version:
		return "duplicate"
	case d.GetFromVersion() > z.Version:
		return "gap"
	}
	nz, err := zonecache.ApplyDelta(z, d)
	if err != nil {
		// Not the zone the held one grew from (another zone now serves
		// the name) or a delta this edge cannot apply: the full snapshot
		// decides.
		f.log.Warn("delta does not apply", zap.String("zone", d.GetName()), zap.Error(err))
		return "gap"
	}
	if !f.cfg.Zones.Put(nz) {
		return "ignored"
	}
	f.m.version.Set(float64(nz.Version))
	return "applied"
}

// catchUp brings a zone up to date after a gap: its full snapshot from the
// zones bucket (if newer than the version held), then every delta of the
// zone still in the stream that continues from there.
func (f *Follower) catchUp(ctx context.Context, name string) error {
	kv, err := f.js.KeyValue(ctx, snapshot.ZonesBucket)
	if err != nil {
		return fmt.Errorf("open kv bucket %q: %w", snapshot.ZonesBucket, err)
	}
	e, err := kv.Get(ctx, snapshot.ZoneKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil // unpublished: the bucket watch drops it
	}
	if err != nil {
		return fmt.Errorf("get zone %q: %w", name, err)
	}
	if err := f.applyZone(ctx, e); err != nil {
		if snapshot.SignatureFailure(err) != "" {
			f.rejected(snapshot.ZonesBucket, e.Key(), err)
		}
		return err
	}
	return f.replay(ctx, name)
}

// replay applies the zone's deltas in the stream that follow the version
// held, reading the zone's subject from its start.
func (f *Follower) replay(ctx context.Context, name string) error {
	f.mu.Lock()
	s := f.stream
	f.mu.Unlock()
	if s == nil {
		return nil
	}
	held, ok := f.cfg.Zones.Version(name)
	if !ok {
		return nil
	}
	subject := snapshot.DeltaSubject(name)
	last, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("last delta of zone %q: %w", name, err)
	}
	if ld, err := f.openDelta(last.Subject, last.Data); err == nil && ld.GetToVersion() <= held {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return fmt.Errorf("replay consumer for zone %q: %w", name, err)
	}
	applied := 0
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("replay deltas of zone %q: %w", name, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("replay delta metadata: %w", err)
			}
			d, err := f.openDelta(msg.Subject(), msg.Data())
			if snapshot.SignatureFailure(err) != "" {
				f.rejected(deltasKey, msg.Subject(), err)
			} else if err != nil || d.GetName() != name {
				f.m.updates.WithLabelValues(deltasKey, "failed").Inc()
			} else if res := f.applyDelta(d); res == "applied" {
				applied++
			} else if res == "gap" {
				// The stream no longer holds the deltas after the full
				// snapshot: the builder's next periodic full snapshot fixes
				// it; until then the held version is served.
				f.m.updates.WithLabelValues(deltasKey, "unrecoverable").Inc()
				return fmt.Errorf("zone %q: deltas after version %d missing from the stream", name, f.heldVersion(name))
			}
			if md.Sequence.Stream >= last.Sequence {
				f.log.Info("zone caught up from deltas", zap.String("zone", name), zap.Int("applied", applied),
					zap.Uint64("version", f.heldVersion(name)))
				return batch.Error()
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("replay deltas of zone %q: %w", name, err)
		}
		if n == 0 {
			return fmt.Errorf("replay deltas of zone %q: stream ended before sequence %d", name, last.Sequence)
		}
	}
}

func (f *Follower) heldVersion(name string) uint64 {
	v, _ := f.cfg.Zones.Version(name)
	return v
}

// checkDeltas replays deltas for zones whose full snapshot the bucket
// watch installed after the delta consumer had passed them.
func (f *Follower) checkDeltas(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-f.deltaChecks:
			f.deltaMu.Lock()
			if err := f.replay(ctx, name); err != nil && ctx.Err() == nil {
				f.log.Warn("replaying deltas after a full snapshot failed", zap.String("zone", name), zap.Error(err))
			}
			f.deltaMu.Unlock()
		}
	}
}

// openDelta checks a delta's signature for the subject it came on and
// decodes it.
func (f *Follower) openDelta(subject string, data []byte) (*snapshot.ZoneDelta, error) {
	data, err := f.cfg.Verifier.Open(snapshot.DeltaBinding(subject), data)
	if err != nil {
		return nil, err
	}
	return snapshot.UnmarshalDelta(data)
}
