// Package xfrout sends DNS NOTIFY (RFC 1996) to the secondaries linked to
// zones with outgoing transfers enabled, on every new published version:
// "When you enable outgoing zone transfers, this will send a DNS NOTIFY
// message to your secondary DNS provider". The secondaries then ask an
// edge's transfer listener (edge/xfrout) for the SOA and an IXFR or AXFR.
//
// It learns of versions from what the edges read: the zones KV bucket (full
// snapshots) and the delta stream (changes of large zones), so a NOTIFY
// follows the publication of the version it announces, never the etcd
// write before it. One control plane sends at a time (its own etcd
// election); a new leader announces every outgoing zone once, which a
// secondary that is up to date answers and ignores.
package xfrout

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/leader"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/jsstall"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Config configures a Worker; zero fields take the defaults named.
type Config struct {
	// OpenTsig opens a stored TSIG key's secret (services/transfers
	// OpenTsigSecret with the KEK ring). nil: peers with a TSIG cannot be
	// notified (reported in their status).
	OpenTsig func(*dnsv1.StoredTsig) ([]byte, error)
	// ID names this control plane in the election.
	ID string
	// SessionTTL is the election lease in seconds (10).
	SessionTTL int
	// Delay is how long after a version is published its NOTIFY goes out
	// (500 ms): the edges load the version in that time, so the secondary's
	// SOA query that follows the NOTIFY sees the new serial.
	Delay time.Duration
	// Timeout bounds one NOTIFY exchange (2 s).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries to a peer
	// that did not acknowledge (1 s doubling up to 5 min); retries go on
	// until it acknowledges, a newer version replaces the NOTIFY, or the
	// zone stops transferring out.
	MinBackoff, MaxBackoff time.Duration
	// StallCheck is how often the zones bucket's watch and the delta
	// consumer are checked for a stall (2 s; pkg/jsstall): nats.go notices
	// a consumer that stopped delivering while the connection stayed up
	// only by missing heartbeats, 10 to 20 s late, and never while the
	// server keeps sending them. When a message the stream held at one
	// check is still not delivered at the next, the watch or consumer
	// starts over from what it handled last. One stream info request a
	// check each.
	StallCheck time.Duration
	Registerer prometheus.Registerer
}

// Worker sends the NOTIFY messages.
type Worker struct {
	st  *store.Store
	nc  *nats.Conn
	cfg Config
	log *zap.Logger

	sent    *prometheus.CounterVec
	pending prometheus.Gauge
	leader  prometheus.Gauge
	stalls  *prometheus.CounterVec

	mu sync.Mutex
	// zones by published name: what the last published version said.
	zones map[string]*zoneInfo
	// jobs by zone id: the NOTIFY of the zone's latest version.
	jobs map[string]*job
	wake chan struct{}
}

// zoneInfo is what the worker knows of a published zone name.
type zoneInfo struct {
	zoneID, accountID string
	outgoing          bool
	version           uint64
	soa               *snapshot.Soa
}

// job is the NOTIFY of one version to a zone's peers.
type job struct {
	zone      string
	zoneID    string
	accountID string
	serial    uint32
	soa       *snapshot.Soa
	due       time.Time
	backoff   time.Duration
	acked     map[string]bool
	running   bool
}

// New returns a worker; Run starts it.
func New(st *store.Store, nc *nats.Conn, cfg Config, log *zap.Logger) *Worker {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 10
	}
	if cfg.Delay <= 0 {
		cfg.Delay = 500 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.StallCheck <= 0 {
		cfg.StallCheck = 2 * time.Second
	}
	w := &Worker{
		st: st, nc: nc, cfg: cfg, log: log,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_xfrout_notify_total",
			Help: "NOTIFY messages sent to the secondaries of zones with outgoing transfers, by result (acked, failed).",
		}, []string{"result"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zonegrid_xfrout_notify_pending",
			Help: "Zone versions whose NOTIFY some linked peer has not acknowledged yet.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zonegrid_xfrout_leader", Help: "1 while this control plane sends the NOTIFY of outgoing transfers.",
		}),
		stalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_xfrout_watch_stalls_total",
			Help: "Times the leader's zones bucket watch or delta consumer was found stalled (a message its stream held went undelivered for a whole StallCheck) and started again, by watch (zones, deltas).",
		}, []string{"watch"}),
		zones: map[string]*zoneInfo{},
		jobs:  map[string]*job{},
		wake:  make(chan struct{}, 1),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(w.sent, w.pending, w.leader, w.stalls)
	}
	return w
}

// ElectionKey is the worker's etcd election.
func (w *Worker) electionKey() string { return w.st.Prefix() + "/meta/xfrout/election" }

// Run campaigns for leadership and, while leader, follows the published
// versions and sends the NOTIFY messages. It returns when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	leader.Run(ctx, leader.Config{
		Client: w.st.Client(), Key: w.electionKey(), ID: w.cfg.ID, TTL: w.cfg.SessionTTL,
		Name: "notify worker", Log: w.log, Leading: w.leader,
	}, w.lead)
	return nil
}

// lead is one term's duties.
func (w *Worker) lead(ctx context.Context, _ *concurrency.Session) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.mu.Lock()
	w.zones, w.jobs = map[string]*zoneInfo{}, map[string]*job{}
	w.mu.Unlock()
	errs := make(chan error, 3)
	loaded := make(chan struct{})
	go func() { errs <- w.watchZones(lctx, loaded) }()
	go func() {
		// Deltas after the values: a delta that leaves the header out is
		// only understood once its zone's value was seen.
		select {
		case <-loaded:
			errs <- w.watchDeltas(lctx)
		case <-lctx.Done():
			errs <- nil
		}
	}()
	go func() { errs <- w.send(lctx) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

// watchZones follows the zones bucket: its current values (a new leader
// announces every outgoing zone; loaded is closed after them) and every
// update. A stalled watch starts over: its listing repeats versions
// already seen, which announce nothing again.
func (w *Worker) watchZones(ctx context.Context, loaded chan struct{}) error {
	js, err := jetstream.New(w.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	kv, err := waitZonesBucket(ctx, js)
	if err != nil || kv == nil {
		return err
	}
	for {
		err := w.followZones(ctx, kv, &loaded)
		if ctx.Err() != nil {
			return nil
		}
		if !w.countStall("zones", err) {
			return err
		}
	}
}

func (w *Worker) followZones(ctx context.Context, kv jetstream.KeyValue, loaded *chan struct{}) error {
	wa, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch zones bucket: %w", err)
	}
	// Stopped in the background, as the edge's watch is: stopping deletes
	// the consumer, a request that goes unanswered for its whole timeout
	// while JetStream elects a stream leader, and the next watch must not
	// wait for it.
	defer func() { go func() { _ = wa.Stop() }() }()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wd := jsstall.New(w.cfg.StallCheck, 0, func(ctx context.Context) (uint64, error) {
		st, err := kv.Status(ctx)
		if err != nil {
			return 0, fmt.Errorf("zones bucket status: %w", err)
		}
		bs, ok := st.(*jetstream.KeyValueBucketStatus)
		if !ok {
			return 0, errors.New("zones bucket status without stream info")
		}
		return bs.StreamInfo().State.LastSeq, nil
	})
	stalled := make(chan error, 1)
	go func() {
		if err := wd.Run(wctx); err != nil {
			stalled <- err
		}
	}()
	for {
		wd.Waiting()
		select {
		case <-ctx.Done():
			return nil
		case err := <-stalled:
			return fmt.Errorf("zones bucket watch: %w", err)
		case e, ok := <-wa.Updates():
			if !ok {
				return errors.New("zones bucket watch closed")
			}
			if e == nil {
				if *loaded != nil {
					close(*loaded)
					*loaded = nil
				}
				continue
			}
			wd.Received(e.Revision())
			if e.Operation() != jetstream.KeyValuePut {
				continue
			}
			z, err := decodeZone(e.Value())
			if err != nil {
				w.log.Warn("zone value not understood", zap.String("key", e.Key()), zap.Error(err))
				continue
			}
			name := snapshot.NameFromKey(e.Key())
			if z.GetTombstone() {
				w.forget(name)
				continue
			}
			h := z.GetHeader()
			w.seen(name, h.GetVersion(), h)
		}
	}
}

// countStall counts and logs a watch (zones, deltas) that ended because
// it stalled, to be started again; false for any other end.
func (w *Worker) countStall(watch string, err error, fields ...zap.Field) bool {
	var st *jsstall.Stall
	if !errors.As(err, &st) {
		return false
	}
	w.stalls.WithLabelValues(watch).Inc()
	w.log.Warn("notify worker's watch stalled; starting it again", append(fields, zap.String("watch", watch),
		zap.Uint64("delivered_sequence", st.Delivered), zap.Uint64("stream_last_sequence", st.Last), zap.Error(err))...)
	return true
}

// waitZonesBucket returns the zones bucket once it exists, or nil when ctx
// ends first. The builder creates it with its first publication; until
// then there is nothing to announce. Waiting here, within the term, keeps
// the election still: returning an error would resign and campaign again,
// two etcd writes per backoff step for as long as nothing is published
// (tests that assert a refused call leaves etcd's revision alone saw them).
func waitZonesBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	delay := 100 * time.Millisecond
	for {
		kv, err := js.KeyValue(ctx, snapshot.ZonesBucket)
		if err == nil {
			return kv, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("zones bucket: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// watchDeltas follows the delta stream from its first message: each delta
// is a new version of a large zone. Deltas not newer than what the zones
// bucket said are skipped, so the replay announces only what is current. A
// stalled consumer starts over after the last delta handled.
func (w *Worker) watchDeltas(ctx context.Context) error {
	js, err := jetstream.New(w.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	s, err := js.Stream(ctx, snapshot.DeltaStream)
	if err != nil {
		return fmt.Errorf("delta stream: %w", err)
	}
	var seq uint64 // the stream sequence of the last delta handled
	for {
		err := w.consumeDeltas(ctx, s, &seq)
		if ctx.Err() != nil {
			return nil
		}
		if !w.countStall("deltas", err, zap.Uint64("after_sequence", seq)) {
			return err
		}
	}
}

func (w *Worker) consumeDeltas(ctx context.Context, s jetstream.Stream, seq *uint64) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{snapshot.DeltaSubjectPrefix + ">"}, DeliverPolicy: jetstream.DeliverAllPolicy}
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
	// Next blocks: the watchdog runs beside it and stops the iterator when
	// the consumer stalled, as the end of ctx (or of this call) does.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wd := jsstall.New(w.cfg.StallCheck, *seq, func(ctx context.Context) (uint64, error) {
		info, err := s.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("delta stream info: %w", err)
		}
		return info.State.LastSeq, nil
	})
	stalled := make(chan error, 1)
	go func() {
		if err := wd.Run(wctx); err != nil {
			stalled <- err
		}
		it.Stop()
	}()
	for {
		wd.Waiting()
		msg, err := it.Next()
		if err != nil {
			select {
			case err := <-stalled:
				return fmt.Errorf("delta consumer: %w", err)
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("delta consumer: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("delta metadata: %w", err)
		}
		wd.Received(md.Sequence.Stream)
		*seq = md.Sequence.Stream
		d, err := decodeDelta(msg.Data())
		if err != nil {
			w.log.Warn("delta not understood", zap.String("subject", msg.Subject()), zap.Error(err))
			continue
		}
		w.seen(d.GetName(), d.GetToVersion(), d.GetHeader())
	}
}

// payload returns a published value's payload: signed values are
// unwrapped without verifying them (the worker only learns that a version
// exists; peers and keys come from etcd).
func payload(data []byte) ([]byte, error) {
	if !snapshot.IsSigned(data) {
		return data, nil
	}
	var s snapshot.Signed
	if err := proto.Unmarshal(data[len(snapshot.SignedMagic):], &s); err != nil {
		return nil, fmt.Errorf("signed envelope: %w", err)
	}
	return s.GetPayload(), nil
}

func decodeZone(data []byte) (*snapshot.Zone, error) {
	p, err := payload(data)
	if err != nil {
		return nil, err
	}
	return snapshot.UnmarshalZone(p)
}

func decodeDelta(data []byte) (*snapshot.ZoneDelta, error) {
	p, err := payload(data)
	if err != nil {
		return nil, err
	}
	return snapshot.UnmarshalDelta(p)
}

// seen records a published version of name (h: its header, nil for a
// delta that left it unchanged) and schedules its NOTIFY when the zone
// transfers out.
func (w *Worker) seen(name string, version uint64, h *snapshot.ZoneHeader) {
	w.mu.Lock()
	defer w.mu.Unlock()
	zi := w.zones[name]
	if zi == nil {
		if h == nil {
			return // a delta of a zone whose full value was not seen: nothing known
		}
		zi = &zoneInfo{}
		w.zones[name] = zi
	}
	if version <= zi.version {
		return
	}
	zi.version = version
	if h != nil {
		zi.zoneID, zi.accountID = h.GetZoneId(), h.GetAccountId()
		zi.outgoing = h.GetTransfer().GetOutgoing() && h.GetServedName() == ""
		zi.soa = h.GetSoa()
	}
	w.log.Debug("version published", zap.String("zone", name), zap.Uint64("version", version), zap.Bool("outgoing", zi.outgoing))
	if !zi.outgoing {
		if j := w.jobs[zi.zoneID]; j != nil {
			delete(w.jobs, zi.zoneID)
		}
		return
	}
	// The serial of every version is its version (builder.ZoneSOA).
	serial := uint32(version)
	if h != nil && h.GetSoa() != nil {
		serial = h.GetSoa().GetSerial()
	}
	j := &job{zone: name, zoneID: zi.zoneID, accountID: zi.accountID, serial: serial, soa: zi.soa,
		due: time.Now().Add(w.cfg.Delay), backoff: w.cfg.MinBackoff, acked: map[string]bool{}}
	if old := w.jobs[zi.zoneID]; old != nil {
		if old.running {
			j.running = true // the round in flight hands over when it ends
		} else if old.due.Before(j.due) {
			// Not sent yet (or waiting to retry): the new version keeps
			// the earlier time, so that a zone changing faster than Delay
			// is still announced.
			j.due = old.due
		}
	}
	w.jobs[zi.zoneID] = j
	w.pending.Set(float64(len(w.jobs)))
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) forget(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if zi := w.zones[name]; zi != nil {
		delete(w.jobs, zi.zoneID)
		delete(w.zones, name)
		w.pending.Set(float64(len(w.jobs)))
	}
}

// send runs the due NOTIFY rounds until ctx ends.
func (w *Worker) send(ctx context.Context) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		now := time.Now()
		w.mu.Lock()
		var due []*job
		for _, j := range w.jobs {
			if !j.running && !now.Before(j.due) {
				j.running = true
				due = append(due, j)
			}
		}
		w.mu.Unlock()
		for _, j := range due {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.round(ctx, j)
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.wake:
		}
	}
}

// round sends one NOTIFY to every linked peer of j's zone that has not
// acknowledged j's serial yet, records the outcome in the zone's outgoing
// status, and schedules the next round when some peer did not answer.
func (w *Worker) round(ctx context.Context, j *job) {
	done, err := w.notifyPeers(ctx, j)
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.jobs[j.zoneID]
	if cur != j {
		if cur != nil {
			cur.running = false // a newer version waited for this round
		}
		return
	}
	j.running = false
	if done {
		delete(w.jobs, j.zoneID)
		w.pending.Set(float64(len(w.jobs)))
		return
	}
	if err != nil && ctx.Err() == nil {
		w.log.Warn("notify round failed", zap.String("zone", j.zone), zap.String("zone_id", j.zoneID), zap.Uint32("serial", j.serial), zap.Error(err))
	}
	j.due = time.Now().Add(j.backoff)
	j.backoff = min(j.backoff*2, w.cfg.MaxBackoff)
}

// notifyPeers is one round; done is true when every linked peer
// acknowledged (or none is linked, or outgoing is off).
func (w *Worker) notifyPeers(ctx context.Context, j *job) (bool, error) {
	cfg, err := w.st.GetOutgoingTransfer(ctx, j.zoneID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("outgoing transfer of %s: %w", j.zoneID, err)
	}
	if !cfg.GetEnabled() || len(cfg.GetPeers()) == 0 {
		return true, nil
	}
	prev, err := w.st.GetTransferStatus(ctx, j.zoneID, store.TransferOutgoing)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("outgoing status of %s: %w", j.zoneID, err)
	}
	now := time.Now()
	type result struct {
		peer string
		err  error
	}
	results := make(chan result, len(cfg.GetPeers()))
	var wg sync.WaitGroup
	for _, pid := range cfg.GetPeers() {
		if j.acked[pid] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- result{pid, w.notifyPeer(ctx, j, pid)}
		}()
	}
	wg.Wait()
	close(results)
	errs := map[string]error{}
	for r := range results {
		if r.err == nil {
			j.acked[r.peer] = true
			w.sent.WithLabelValues("acked").Inc()
			continue
		}
		errs[r.peer] = r.err
		w.sent.WithLabelValues("failed").Inc()
		w.log.Info("notify not acknowledged", zap.String("zone", j.zone), zap.String("peer_id", r.peer),
			zap.Uint32("serial", j.serial), zap.Error(r.err))
	}
	st := status(prev, cfg.GetPeers(), j, errs, now)
	if err := w.st.PutTransferStatus(ctx, j.zoneID, store.TransferOutgoing, st); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return true, nil // the zone is gone
		}
		// Not done even when every peer acknowledged: the round is tried
		// again (acknowledged peers are not sent to again) so that the
		// status catches up. Done, the job was dropped with the error
		// unlogged and the status stayed at the serial before until the
		// zone's next version.
		return false, fmt.Errorf("outgoing status of %s: %w", j.zoneID, err)
	}
	return len(errs) == 0, nil
}

// status is the zone's outgoing status after a round: per peer the last
// acknowledgement (serial, time) or error; OK when every peer acknowledged
// the serial, DEGRADED when some did, FAILING when none did.
func status(prev *dnsv1.TransferStatus, peers []string, j *job, errs map[string]error, now time.Time) *dnsv1.TransferStatus {
	ts := timestamppb.New(now)
	byID := map[string]*dnsv1.PeerTransferStatus{}
	for _, p := range prev.GetPeers() {
		byID[p.GetPeerId()] = p
	}
	st := &dnsv1.TransferStatus{Serial: j.serial, LastCheckTime: ts, UpdatedOn: ts, LastTransferTime: prev.GetLastTransferTime()}
	acked := 0
	for _, pid := range peers {
		ps := proto.Clone(orEmpty(byID[pid], pid)).(*dnsv1.PeerTransferStatus)
		if err, failed := errs[pid]; failed {
			ps.LastError, ps.LastErrorTime = err.Error(), ts
		} else if j.acked[pid] {
			acked++
			if ps.GetSerial() != j.serial || ps.GetLastError() != "" {
				ps.LastSuccessTime = ts
			}
			ps.Serial, ps.LastError = j.serial, ""
		}
		st.Peers = append(st.Peers, ps)
	}
	switch {
	case acked == len(peers):
		st.State = dnsv1.TransferState_TRANSFER_STATE_OK
		st.Message = fmt.Sprintf("NOTIFY of serial %d acknowledged by every peer", j.serial)
		st.LastTransferTime = ts
	case acked > 0:
		st.State = dnsv1.TransferState_TRANSFER_STATE_DEGRADED
		st.Message = fmt.Sprintf("NOTIFY of serial %d acknowledged by %d of %d peers; retrying the others", j.serial, acked, len(peers))
	default:
		st.State = dnsv1.TransferState_TRANSFER_STATE_FAILING
		st.Message = fmt.Sprintf("NOTIFY of serial %d acknowledged by no peer; retrying", j.serial)
	}
	return st
}

func orEmpty(p *dnsv1.PeerTransferStatus, id string) *dnsv1.PeerTransferStatus {
	if p == nil {
		return &dnsv1.PeerTransferStatus{PeerId: id}
	}
	return p
}

// notifyPeer sends one NOTIFY to a peer over UDP, TSIG-signed with the
// peer's key when it has one, and checks the acknowledgement (RFC 1996
// section 4.7: a NOTIFY response, NOERROR, for the zone).
func (w *Worker) notifyPeer(ctx context.Context, j *job, peerID string) error {
	p, err := w.st.GetPeer(ctx, j.accountID, peerID)
	if err != nil {
		return fmt.Errorf("peer %s: %w", peerID, err)
	}
	m := new(dns.Msg)
	m.SetNotify(j.zone)
	m.Authoritative = true
	// The new SOA as a hint (RFC 1996 section 3.7).
	m.Answer = []dns.RR{soaRR(j)}
	c := &dns.Client{Net: "udp", Timeout: w.cfg.Timeout}
	if tid := p.GetTsigId(); tid != "" {
		t, err := w.st.GetTsig(ctx, j.accountID, tid)
		if err != nil {
			return fmt.Errorf("tsig %s: %w", tid, err)
		}
		if w.cfg.OpenTsig == nil {
			return errors.New("tsig secret: no key-encryption key (--dnssec-kek-file)")
		}
		raw, err := w.cfg.OpenTsig(t)
		if err != nil {
			return fmt.Errorf("tsig %s: %w", tid, err)
		}
		name := dns.CanonicalName(t.GetTsig().GetName())
		c.TsigSecret = map[string]string{name: base64.StdEncoding.EncodeToString(raw)}
		m.SetTsig(name, dns.CanonicalName(t.GetTsig().GetAlgorithm()), 300, time.Now().Unix())
	}
	port := p.GetPort()
	if port == 0 {
		port = 53
	}
	addr := net.JoinHostPort(p.GetIp(), strconv.Itoa(int(port)))
	resp, _, err := c.ExchangeContext(ctx, m, addr)
	if err != nil {
		return fmt.Errorf("notify %s: %w", addr, err)
	}
	if resp.Opcode != dns.OpcodeNotify || !resp.Response {
		return fmt.Errorf("notify %s: answer is not a NOTIFY response (opcode %s)", addr, dns.OpcodeToString[resp.Opcode])
	}
	if resp.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("notify %s: %s", addr, dns.RcodeToString[resp.Rcode])
	}
	return nil
}

func soaRR(j *job) *dns.SOA {
	s := j.soa
	mname, rname := s.GetMname(), s.GetRname()
	if mname == "" {
		mname = j.zone
	}
	if rname == "" {
		rname = "hostmaster." + j.zone
	}
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: j.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.GetTtl()},
		Ns:  dns.Fqdn(mname), Mbox: dns.Fqdn(rname), Serial: j.serial,
		Refresh: s.GetRefresh(), Retry: s.GetRetry(), Expire: s.GetExpire(), Minttl: s.GetMinimum(),
	}
}
