// Command soakwriter is the writer of the soak run (deploy/soak): one record
// write every -interval through the gRPC API, for -duration, cycling within a
// bounded set of -slots names so the zone's size stays stable:
//
//	soakwriter -config .bench/soak/zonegrid/dnsctl.json -zone bench.test. -edge 127.0.0.1:5310 -duration 10m
//
// Slot i of the set is the name soak-NNN in the zone; each visit to a slot
// moves it one step along create → update (new address) → delete → create …
// Visits go round the slots, so at most -slots records exist at once. A write
// starts on every tick whether or not the previous ones have returned (the
// writes to one slot are serialized, and a slot comes round again only after
// -slots ticks), so the rate holds while the API is slow; the summary says how
// many were made and how long they took.
//
// Every acknowledged write is then followed on the edge: a goroutine asks
// the edge for the name until it is answered as written (present with the new
// address, or gone), and the time from the API's acknowledgement is recorded;
// a write not shown before the name's next write starts (-slots × -interval
// after it started) is "unseen". At the end the writer
// checks every slot against the edge once more (a deleted name must be
// NXDOMAIN or have no A record) and times how long after its acknowledgement
// the edge answered the last write, which is always a create or an update.
// A write is lost when the API acknowledged it but the edge never showed it.
// The summary is one line of key=value pairs; the exit status is 1 when a
// write failed, went unseen or was lost.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func main() {
	var (
		config   = flag.String("config", "", "client config file with the endpoint, API token and CA (as `controlplane --embedded` writes it)")
		endpoint = flag.String("endpoint", "", "control plane gRPC address (overrides the config file's)")
		origin   = flag.String("zone", "bench.test.", "zone to write into (must exist)")
		account  = flag.String("account", "bench", "account id of the zone")
		edge     = flag.String("edge", "127.0.0.1:5310", "edge DNS address (host:port) to check the writes against")
		interval = flag.Duration("interval", 100*time.Millisecond, "one write every interval")
		duration = flag.Duration("duration", 10*time.Minute, "how long to write")
		slots    = flag.Int("slots", 100, "names the writes cycle through (the zone's size varies by at most this)")
		timeout  = flag.Duration("timeout", 5*time.Second, "per-write deadline")
		settle   = flag.Duration("settle", 10*time.Second, "how long the edge may take to show the final state")
	)
	flag.Parse()
	if *slots < 1 || *interval <= 0 {
		log.Fatal("-slots must be ≥ 1 and -interval > 0")
	}
	file, err := clientconfig.Find(*config)
	if err != nil {
		log.Fatal(err)
	}
	cc := clientconfig.Config{Endpoint: *endpoint}.Merge(file)
	conn, err := cc.Dial()
	if err != nil {
		log.Fatalf("dial %s: %v", cc.Endpoint, err)
	}
	defer conn.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	list, err := dnsv1.NewZoneServiceClient(conn).ListZones(ctx, &dnsv1.ListZonesRequest{AccountId: *account, Name: *origin})
	if err != nil || len(list.GetZones()) == 0 {
		log.Fatalf("zone %s of account %s: %v (not found?)", *origin, *account, err)
	}
	w := &writer{
		records: dnsv1.NewRecordServiceClient(conn),
		zone:    list.GetZones()[0],
		slots:   make([]slot, *slots),
		locks:   make([]sync.Mutex, *slots),
		timeout: *timeout,
		edge:    *edge,
		window:  time.Duration(*slots) * *interval,
	}
	for i := range w.slots {
		w.slots[i].name = fmt.Sprintf("soak-%03d.%s", i, w.zone.GetName())
	}
	if err := w.adopt(ctx); err != nil {
		log.Fatal(err)
	}

	start := time.Now()
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	end := time.After(*duration)
	var inflight sync.WaitGroup
	next := 0
	issue := func() {
		i := next
		next = (next + 1) % len(w.slots)
		w.last = i
		w.issued++
		n := w.issued
		started := time.Now()
		inflight.Go(func() { w.step(ctx, i, n, started) })
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tick.C:
			issue()
		}
	}
	inflight.Wait()
	// The last write shows on the edge: after a delete, create the name
	// again (once the delete's own check is done).
	if !w.slots[w.last].present {
		w.verifyWG.Wait()
		w.issued++
		w.step(ctx, w.last, w.issued, time.Now())
	}
	elapsed := time.Since(start)
	lastAcked := w.slots[w.last].ackedAt
	w.verifyWG.Wait()

	lost, lastSeen := w.check(*edge, *settle, lastAcked)
	slices.Sort(w.lat)
	slices.Sort(w.seen)
	pct := func(l []time.Duration, p float64) time.Duration {
		if len(l) == 0 {
			return 0
		}
		return l[min(len(l)-1, int(p*float64(len(l))))].Round(100 * time.Microsecond)
	}
	last := "never"
	if lastSeen >= 0 {
		last = lastSeen.Round(time.Millisecond).String()
	}
	fmt.Printf("writes=%d acked=%d failed=%d unseen=%d lost_at_end=%d creates=%d updates=%d deletes=%d elapsed=%s rate=%.2f/s "+
		"api_latency_p50=%s api_latency_p99=%s api_latency_max=%s ack_to_edge_p50=%s ack_to_edge_p99=%s ack_to_edge_max=%s "+
		"last_write=%s last_write_on_edge_after_ack=%s\n",
		w.writes, w.acked, w.failed, w.unseen, lost, w.ops[opCreate], w.ops[opUpdate], w.ops[opDelete],
		elapsed.Round(time.Millisecond), float64(w.writes)/elapsed.Seconds(),
		pct(w.lat, 0.5), pct(w.lat, 0.99), pct(w.lat, 1), pct(w.seen, 0.5), pct(w.seen, 0.99), pct(w.seen, 1),
		w.slots[w.last].name, last)
	if w.firstErr != nil {
		fmt.Fprintf(os.Stderr, "first failed write: %v\n", w.firstErr)
	}
	if w.failed > 0 || w.unseen > 0 || lost > 0 || lastSeen < 0 {
		os.Exit(1)
	}
}

type op int

const (
	opCreate op = iota
	opUpdate
	opDelete
)

type slot struct {
	name    string
	id      string // record id while present
	present bool
	updated bool   // updated since its create: the next visit deletes
	content string // the address it should have while present
	ackedAt time.Time
}

type writer struct {
	records dnsv1.RecordServiceClient
	zone    *dnsv1.Zone
	slots   []slot
	timeout time.Duration
	locks   []sync.Mutex // one per slot: its writes in order
	last    int          // slot of the last write
	issued  int          // writes started (the main goroutine's)

	// Under mu:
	writes   int
	acked    int
	failed   int
	ops      [3]int
	lat      []time.Duration
	firstErr error

	// Every acknowledged write is followed on the edge by its own goroutine.
	edge     string
	window   time.Duration // a write's name is written again this long after it started
	verifyWG sync.WaitGroup
	mu       sync.Mutex
	seen     []time.Duration // acknowledgement → edge answers it
	unseen   int             // acknowledged, never answered before the name's next write
}

// adopt reads the slots' current records (from an earlier run on the same
// data), so a rerun continues the cycle instead of failing on duplicates.
func (w *writer) adopt(ctx context.Context) error {
	for i := range w.slots {
		if err := w.resync(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// resync sets slot i from what the API holds for its name (after a failed
// write, whose outcome is unknown). Extra records under the name are deleted.
func (w *writer) resync(ctx context.Context, i int) error {
	s := &w.slots[i]
	c, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	resp, err := w.records.ListRecords(c, &dnsv1.ListRecordsRequest{ZoneId: w.zone.GetId(), Name: s.name, Type: "A"})
	if err != nil {
		return fmt.Errorf("list %s: %w", s.name, err)
	}
	s.present, s.id, s.updated = false, "", false
	for j, r := range resp.GetRecords() {
		if j == 0 {
			s.present, s.id, s.content = true, r.GetId(), r.GetContent()
			continue
		}
		if _, err := w.records.DeleteRecord(c, &dnsv1.DeleteRecordRequest{ZoneId: w.zone.GetId(), RecordId: r.GetId()}); err != nil {
			return fmt.Errorf("delete extra %s: %w", s.name, err)
		}
	}
	return nil
}

// step makes write number n, started at started: the next move of slot i.
func (w *writer) step(ctx context.Context, i, n int, started time.Time) {
	w.locks[i].Lock()
	defer w.locks[i].Unlock()
	s := &w.slots[i]
	content := fmt.Sprintf("198.51.%d.%d", 100+n/250%3, n%250+1)
	c, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	t := time.Now()
	var err error
	var kind op
	switch {
	case !s.present:
		kind = opCreate
		var resp *dnsv1.CreateRecordResponse
		resp, err = w.records.CreateRecord(c, &dnsv1.CreateRecordRequest{ZoneId: w.zone.GetId(), Record: &dnsv1.Record{
			Name: s.name, Type: "A", Content: content, Ttl: 60,
		}})
		if err == nil {
			s.present, s.id, s.content, s.updated = true, resp.GetRecord().GetId(), content, false
		}
	case !s.updated:
		kind = opUpdate
		_, err = w.records.PatchRecord(c, &dnsv1.PatchRecordRequest{
			ZoneId: w.zone.GetId(), RecordId: s.id,
			Record:     &dnsv1.Record{Content: content},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"content"}},
		})
		if err == nil {
			s.content, s.updated = content, true
		}
	default:
		kind = opDelete
		_, err = w.records.DeleteRecord(c, &dnsv1.DeleteRecordRequest{ZoneId: w.zone.GetId(), RecordId: s.id})
		if err == nil {
			s.present, s.id, s.updated = false, "", false
		}
	}
	took := time.Since(t)
	w.mu.Lock()
	w.writes++
	w.lat = append(w.lat, took)
	w.ops[kind]++
	if err != nil {
		w.failed++
		if w.firstErr == nil {
			w.firstErr = fmt.Errorf("%s: %w", s.name, err)
		}
	} else {
		w.acked++
	}
	w.mu.Unlock()
	if err != nil {
		log.Printf("write %d (%s) failed: %v", n, s.name, err)
		if rerr := w.resync(ctx, i); rerr != nil {
			log.Printf("resync %s: %v", s.name, rerr)
		}
		return
	}
	s.ackedAt = time.Now()
	w.verifyWG.Add(1)
	go w.verify(*s, s.ackedAt, started.Add(w.window))
}

// verify polls the edge until it answers slot s as it was just written, and
// records how long after the acknowledgement that was.
// It stops at deadline, when the name's next write starts. It polls every
// tenth of the time waited so far (2 to 50 ms), so slow propagation does not
// turn the pollers into load of their own.
func (w *writer) verify(s slot, acked, deadline time.Time) {
	defer w.verifyWG.Done()
	cl := &dns.Client{Timeout: time.Second}
	for ; time.Now().Before(deadline); time.Sleep(min(max(time.Since(acked)/10, 2*time.Millisecond), 50*time.Millisecond)) {
		if matches(cl, w.edge, s) {
			d := time.Since(acked)
			w.mu.Lock()
			w.seen = append(w.seen, d)
			w.mu.Unlock()
			return
		}
	}
	w.mu.Lock()
	w.unseen++
	w.mu.Unlock()
	log.Printf("edge %s never showed the write of %s (present=%v content=%s) before its next write", w.edge, s.name, s.present, s.content)
}

// check first polls the edge until it answers the last write (how long
// after its acknowledgement, or -1 when it never did within settle), then
// compares every slot with the edge's answers until they all match or settle
// passes. It returns how many slots still differ: writes lost.
func (w *writer) check(edge string, settle time.Duration, lastAck time.Time) (lost int, lastSeen time.Duration) {
	cl := &dns.Client{Timeout: time.Second}
	lastSeen = -1
	deadline := time.Now().Add(settle)
	for ; time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if matches(cl, edge, w.slots[w.last]) {
			lastSeen = time.Since(lastAck)
			break
		}
	}
	for {
		lost = 0
		var bad []string
		for i := range w.slots {
			if !matches(cl, edge, w.slots[i]) {
				lost++
				bad = append(bad, w.slots[i].name)
			}
		}
		if lost == 0 || time.Now().After(deadline) {
			if lost > 0 {
				log.Printf("edge %s disagrees with the API on %d names: %s", edge, lost, strings.Join(bad, " "))
			}
			return lost, lastSeen
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// matches reports whether the edge answers slot s's name as s has it.
func matches(cl *dns.Client, edge string, s slot) bool {
	q := new(dns.Msg)
	q.SetQuestion(s.name, dns.TypeA)
	m, _, err := cl.Exchange(q, edge)
	if err != nil {
		return false
	}
	if !s.present {
		return m.Rcode == dns.RcodeNameError || (m.Rcode == dns.RcodeSuccess && !hasA(m))
	}
	if m.Rcode != dns.RcodeSuccess {
		return false
	}
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok && a.A.String() == s.content {
			return true
		}
	}
	return false
}

func hasA(m *dns.Msg) bool {
	return slices.ContainsFunc(m.Answer, func(rr dns.RR) bool { _, ok := rr.(*dns.A); return ok })
}
