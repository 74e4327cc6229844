//go:build linux

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// chaosWriter writes records into one zone at a steady pace, as dnsctl
// does: every write carries a request id and is retried with the same id,
// on the other control plane, until it is acknowledged (or 60 s pass). It
// remembers every acknowledged write.
type chaosWriter struct {
	id       int
	zoneID   string
	zoneName string // FQDN
	clients  []dnsv1.RecordServiceClient
	runID    string

	acked, failed, retries atomic.Int64
	// phase is the fault under way (0: none); a write counts in the phase
	// it started in.
	phase atomic.Int64

	mu       sync.Mutex
	seq      int
	names    []string            // created and acknowledged, in order
	recID    map[string]string   // name -> record id
	contents map[string][]string // name -> acknowledged contents, in order
	// unknown holds, per name, contents of updates never acknowledged:
	// they may or may not have been applied.
	unknown    map[string][]string
	unexpected []error // errors no retry should meet
	retryCodes map[codes.Code]int
	lastAck    chaosAck
	phases     map[int64]*writePhase
}

// writePhase is what the writes started during one phase did.
type writePhase struct {
	acked, failed, retries int64
	maxLatency             time.Duration
}

func (w *chaosWriter) phaseStats(phase int) writePhase {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.phases[int64(phase)]; p != nil {
		return *p
	}
	return writePhase{}
}

// chaosAck is one acknowledged write: the name and the content it set, and
// its index in the name's history.
type chaosAck struct {
	name    string
	content string
	index   int
}

func newChaosWriter(id int, zoneID, zoneName string, clients []dnsv1.RecordServiceClient) *chaosWriter {
	return &chaosWriter{
		id: id, zoneID: zoneID, zoneName: zoneName, clients: clients,
		runID:      fmt.Sprintf("chaos-%d", time.Now().UnixNano()),
		recID:      map[string]string{},
		contents:   map[string][]string{},
		unknown:    map[string][]string{},
		retryCodes: map[codes.Code]int{},
		phases:     map[int64]*writePhase{},
	}
}

// run writes one record every interval until ctx ends.
func (w *chaosWriter) run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.writeOne(ctx)
	}
}

func (w *chaosWriter) writeOne(ctx context.Context) {
	w.mu.Lock()
	w.seq++
	seq := w.seq
	var target string
	// Updates three writes in ten, and only updates once the zone nears
	// its plan's record quota (3,500 on Enterprise).
	if len(w.names) >= 5 && (rand.IntN(10) < 3 || len(w.names) >= 3000) {
		target = w.names[rand.IntN(len(w.names))]
	}
	recordID := w.recID[target]
	w.mu.Unlock()
	phase, started := w.phase.Load(), time.Now()

	content := fmt.Sprintf("10.%d.%d.%d", w.id, (seq>>8)&0xff, seq&0xff)
	reqID := fmt.Sprintf("%s-w%d-%d", w.runID, w.id, seq)
	name := target
	if target == "" {
		name = fmt.Sprintf("r%d", seq)
	}
	rec := &dnsv1.Record{Name: name, Type: "A", Content: content, Ttl: 60}
	ok, retries := w.retrying(ctx, seq, func(ctx context.Context, cl dnsv1.RecordServiceClient) error {
		if target == "" {
			resp, err := cl.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: w.zoneID, Record: rec, RequestId: reqID})
			if err == nil {
				recordID = resp.GetRecord().GetId()
			}
			return err
		}
		_, err := cl.UpdateRecord(ctx, &dnsv1.UpdateRecordRequest{ZoneId: w.zoneID, RecordId: recordID, Record: rec, RequestId: reqID})
		return err
	})

	w.mu.Lock()
	defer w.mu.Unlock()
	ps := w.phases[phase]
	if ps == nil {
		ps = &writePhase{}
		w.phases[phase] = ps
	}
	ps.retries += int64(retries)
	if !ok {
		ps.failed++
		w.failed.Add(1)
		if target != "" {
			w.unknown[name] = append(w.unknown[name], content)
		}
		return
	}
	w.acked.Add(1)
	ps.acked++
	ps.maxLatency = max(ps.maxLatency, time.Since(started))
	if target == "" {
		w.names = append(w.names, name)
		w.recID[name] = recordID
	}
	w.contents[name] = append(w.contents[name], content)
	w.lastAck = chaosAck{name: name, content: content, index: len(w.contents[name]) - 1}
}

// retrying calls op on the control planes in turn until it succeeds, the
// error is one a retry cannot change, or 60 s pass.
func (w *chaosWriter) retrying(ctx context.Context, seq int, op func(context.Context, dnsv1.RecordServiceClient) error) (bool, int) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := op(actx, w.clients[(seq+attempt)%len(w.clients)])
		cancel()
		if err == nil {
			return true, attempt
		}
		code := grpcstatus.Code(err)
		switch code {
		case codes.InvalidArgument, codes.AlreadyExists, codes.ResourceExhausted, codes.NotFound, codes.PermissionDenied,
			codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented:
			w.mu.Lock()
			w.unexpected = append(w.unexpected, fmt.Errorf("write %d attempt %d: %w", seq, attempt, err))
			w.mu.Unlock()
			return false, attempt
		}
		w.retries.Add(1)
		w.mu.Lock()
		w.retryCodes[code]++
		w.mu.Unlock()
		if time.Since(start) > 60*time.Second {
			return false, attempt + 1
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// last returns the last acknowledged write.
func (w *chaosWriter) last() chaosAck {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastAck
}

// accepts reports whether content is what name may hold once ack was
// acknowledged: ack's content or a later acknowledged (or unknown) one.
func (w *chaosWriter) acceptsAfter(ack chaosAck, content string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.contents[ack.name]
	if ack.index < len(h) && slices.Contains(h[ack.index:], content) {
		return true
	}
	return slices.Contains(w.unknown[ack.name], content)
}

// expected returns every acknowledged name with the contents it may hold
// now: its last acknowledged content, or any unacknowledged update made
// after it.
func (w *chaosWriter) expected() map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string][]string, len(w.names))
	for _, n := range w.names {
		h := w.contents[n]
		out[n] = append([]string{h[len(h)-1]}, w.unknown[n]...)
	}
	return out
}

// chaosQuerier sends a steady query load to every edge: the SOA of each
// zone (whose serial is the zone's version) and a fixed record, each query
// with a 1 s timeout. It checks that no edge serves a zone version lower
// than one it served before the query was sent.
type chaosQuerier struct {
	edges        []string
	zones        []string // FQDNs
	probe        string   // FQDN of an A record that never changes
	probeContent string

	sent, answered atomic.Int64
	perEdge        []edgeCounts
	// phase is the fault under way (0: none); a query counts in the phase
	// it was sent in.
	phase atomic.Int64

	mu         sync.Mutex
	maxSeen    []map[string]uint32 // per edge, per zone: highest serial received
	violations []string
	phases     map[int64]*[2]int64 // sent, unanswered
}

// phaseCounts returns the queries sent during phase and how many of them
// were not answered.
func (q *chaosQuerier) phaseCounts(phase int) (sent, unanswered int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p := q.phases[int64(phase)]; p != nil {
		return p[0], p[1]
	}
	return 0, 0
}

type edgeCounts struct {
	sent, answered, timeout, servfail, refused, other atomic.Int64
}

func newChaosQuerier(edges, zones []string, probe, probeContent string) *chaosQuerier {
	q := &chaosQuerier{edges: edges, zones: zones, probe: probe, probeContent: probeContent,
		perEdge: make([]edgeCounts, len(edges)), maxSeen: make([]map[string]uint32, len(edges)),
		phases: map[int64]*[2]int64{}}
	for i := range q.maxSeen {
		q.maxSeen[i] = map[string]uint32{}
	}
	return q
}

// run sends perEdge queries a second to every edge until ctx ends.
func (q *chaosQuerier) run(ctx context.Context, perEdge int) {
	tick := time.NewTicker(time.Second / time.Duration(perEdge))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for e := range q.edges {
			wg.Add(1)
			go func() { defer wg.Done(); q.one(e, n) }()
		}
	}
}

func (q *chaosQuerier) one(e, n int) {
	kind := n % (len(q.zones) + 1)
	name, qtype := q.probe, dns.TypeA
	if kind < len(q.zones) {
		name, qtype = q.zones[kind], dns.TypeSOA
	}
	phase := q.phase.Load()
	q.mu.Lock()
	floor := q.maxSeen[e][name]
	ph := q.phases[phase]
	if ph == nil {
		ph = &[2]int64{}
		q.phases[phase] = ph
	}
	ph[0]++
	q.mu.Unlock()
	answered := false
	defer func() {
		if !answered {
			q.mu.Lock()
			ph[1]++
			q.mu.Unlock()
		}
	}()

	c := &q.perEdge[e]
	q.sent.Add(1)
	c.sent.Add(1)
	m, err := exchangeTimeout(q.edges[e], name, qtype, time.Second)
	switch {
	case err != nil:
		c.timeout.Add(1)
		return
	case m.Rcode == dns.RcodeServerFailure:
		c.servfail.Add(1)
		return
	case m.Rcode == dns.RcodeRefused:
		c.refused.Add(1)
		return
	case m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0:
		c.other.Add(1)
		return
	}
	if qtype == dns.TypeA {
		if a, ok := m.Answer[0].(*dns.A); !ok || a.A.String() != q.probeContent {
			c.other.Add(1)
			return
		}
	} else {
		soa, ok := m.Answer[0].(*dns.SOA)
		if !ok {
			c.other.Add(1)
			return
		}
		q.mu.Lock()
		if soa.Serial < floor {
			q.violations = append(q.violations, fmt.Sprintf("%s edge%d %s: served serial %d after it had served %d",
				time.Now().Format("15:04:05.000"), e, name, soa.Serial, floor))
		}
		if soa.Serial > q.maxSeen[e][name] {
			q.maxSeen[e][name] = soa.Serial
		}
		q.mu.Unlock()
	}
	answered = true
	q.answered.Add(1)
	c.answered.Add(1)
}

func exchangeTimeout(addr, name string, qtype uint16, timeout time.Duration) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(1232, false)
	cl := &dns.Client{Timeout: timeout}
	m, _, err := cl.Exchange(q, addr)
	return m, err
}

// soaSerial asks an edge for a zone's SOA serial.
func soaSerial(addr, zone string) (uint32, error) {
	m, err := exchangeTimeout(addr, zone, dns.TypeSOA, time.Second)
	if err != nil {
		return 0, err
	}
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
		return 0, fmt.Errorf("SOA %s: rcode %s, %d answers", zone, dns.RcodeToString[m.Rcode], len(m.Answer))
	}
	soa, ok := m.Answer[0].(*dns.SOA)
	if !ok {
		return 0, fmt.Errorf("SOA %s: answer %v", zone, m.Answer[0])
	}
	return soa.Serial, nil
}

// aContents asks an edge for name's A records.
func aContents(addr, name string) ([]string, error) {
	m, err := exchangeTimeout(addr, name, dns.TypeA, time.Second)
	if err != nil {
		return nil, err
	}
	if m.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("A %s: rcode %s", name, dns.RcodeToString[m.Rcode])
	}
	var out []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

// converged checks once that every edge answers each writer's last
// acknowledged write (acks, captured when the fault ended) and that all
// edges serve the same SOA serial for each zone. The error tells what each
// edge lacks: all of them lacking a write points at the publisher.
func converged(edges []string, writers []*chaosWriter, acks []chaosAck) error {
	for i, w := range writers {
		serials := make([]uint32, len(edges))
		var lacking []string
		for e, addr := range edges {
			s, err := soaSerial(addr, w.zoneName)
			if err != nil {
				lacking = append(lacking, fmt.Sprintf("edge%d: %v", e, err))
				continue
			}
			serials[e] = s
			if acks[i].name == "" {
				continue
			}
			fqdn := acks[i].name + "." + w.zoneName
			got, err := aContents(addr, fqdn)
			if err != nil {
				lacking = append(lacking, fmt.Sprintf("edge%d (serial %d): %v", e, s, err))
			} else if len(got) != 1 || !w.acceptsAfter(acks[i], got[0]) {
				lacking = append(lacking, fmt.Sprintf("edge%d (serial %d): %s A %v, want %s or later", e, s, fqdn, got, acks[i].content))
			}
		}
		if len(lacking) > 0 {
			return fmt.Errorf("%d of %d edges lack what was acknowledged: %s", len(lacking), len(edges), strings.Join(lacking, "; "))
		}
		for e := 1; e < len(edges); e++ {
			if serials[e] != serials[0] {
				return fmt.Errorf("%s: edges serve serials %v", w.zoneName, serials)
			}
		}
	}
	return nil
}

// listAll lists a zone's records through the API: name (relative) -> contents.
func listAll(ctx context.Context, cl dnsv1.RecordServiceClient, zoneID, zoneName string) (map[string][]string, error) {
	out := map[string][]string{}
	token := ""
	for {
		resp, err := cl.ListRecords(ctx, &dnsv1.ListRecordsRequest{ZoneId: zoneID, Type: "A", PageSize: 5000, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list records of %s: %w", zoneName, err)
		}
		for _, r := range resp.GetRecords() {
			n := dns.Fqdn(r.GetName())
			rel := n
			if dns.IsSubDomain(zoneName, n) && n != zoneName {
				rel = n[:len(n)-len(zoneName)-1]
			}
			out[rel] = append(out[rel], r.GetContent())
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}
