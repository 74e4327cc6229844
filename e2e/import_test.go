package e2e

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// importFile is a zone file of at most size bytes of distinct A records
// host0, host1, ... (with comments and tags on some), and its record count.
func importFile(size int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString("$TTL 300\n")
	n := 0
	for i := 0; ; i++ {
		line := fmt.Sprintf("host%d IN A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
		if i%5 == 0 {
			line = fmt.Sprintf("host%d IN A 10.%d.%d.%d ; bulk cf_tags=batch:e2e\n", i, i>>16&255, i>>8&255, i&255)
		}
		if b.Len()+len(line) > size {
			return b.Bytes(), n
		}
		b.WriteString(line)
		n++
	}
}

// A 256 KiB zone file (about 7,000-8,700 records) imported through the API
// is one change on every edge: polled with a real DNS client all along,
// each edge answers none of the sampled names, then all of them, never
// some (within one version of the zone, told by its SOA serial).
func TestImportIsServedAllAtOnce(t *testing.T) {
	c := newCluster(t, 2)
	z := c.createZone("acme", "bulk-import.test", dnsv1.Plan_PLAN_ENTERPRISE)
	if _, err := c.settings.UpdateZoneSettings(c.ctx(), &dnsv1.UpdateZoneSettingsRequest{ZoneId: z.GetId(),
		Settings:   &dnsv1.ZoneSettings{MaxRecordsOverride: 20000},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"max_records_override"}}}); err != nil {
		t.Fatalf("raise the record quota: %v", err)
	}
	file, n := importFile(256 << 10)
	if n < 7000 {
		t.Fatalf("test file holds %d records, want about 7,000", n)
	}
	// Sample names across the file: first, last and evenly between.
	var sample []string
	for i := 0; i < n; i += n / 40 {
		sample = append(sample, fmt.Sprintf("host%d.bulk-import.test.", i))
	}
	sample = append(sample, fmt.Sprintf("host%d.bulk-import.test.", n-1))
	c.eventually("zone served, empty", func(addr string) error {
		m, err := exchange(addr, "bulk-import.test.", dns.TypeSOA, false)
		if err != nil {
			return err
		}
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
			return fmt.Errorf("SOA: rcode %s, %d answers", dns.RcodeToString[m.Rcode], len(m.Answer))
		}
		return nil
	})

	// served counts how many sampled names an edge answers, in one round
	// against one version of the zone: the SOA serial (the zone's
	// revision) is read before and after the round, and a round that
	// straddles a new version is not counted (ok false).
	serial := func(addr string) (uint32, error) {
		m, err := exchange(addr, "bulk-import.test.", dns.TypeSOA, false)
		if err != nil {
			return 0, err
		}
		if len(m.Answer) != 1 {
			return 0, fmt.Errorf("SOA: %d answers", len(m.Answer))
		}
		return m.Answer[0].(*dns.SOA).Serial, nil
	}
	served := func(addr string) (got int, ok bool, err error) {
		before, err := serial(addr)
		if err != nil {
			return 0, false, err
		}
		for _, name := range sample {
			m, err := exchange(addr, name, dns.TypeA, false)
			if err != nil {
				return 0, false, err
			}
			if m.Rcode == dns.RcodeSuccess && len(m.Answer) == 1 {
				got++
			}
		}
		after, err := serial(addr)
		return got, err == nil && after == before, err
	}
	var (
		stop            atomic.Bool
		wg              sync.WaitGroup
		mu              sync.Mutex
		partial         []string
		sawNone, sawAll = map[string]bool{}, map[string]bool{}
	)
	for _, e := range c.edges {
		addr := e.UDPAddr()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				got, ok, err := served(addr)
				mu.Lock()
				switch {
				case err != nil || !ok:
				case got == 0:
					sawNone[addr] = true
				case got == len(sample):
					sawAll[addr] = true
				default:
					partial = append(partial, fmt.Sprintf("edge %s served %d of %d sampled names", addr, got, len(sample)))
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // a few rounds of "none" first
	start := time.Now()
	resp, err := c.records.ImportRecords(c.ctx(), &dnsv1.ImportRecordsRequest{ZoneId: z.GetId(), ZoneFile: file})
	if err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatalf("import: %v", err)
	}
	acked := time.Since(start)
	if int(resp.GetRecsAdded()) != n {
		t.Errorf("%d records added, want %d", resp.GetRecsAdded(), n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		done := len(sawAll) == len(c.edges)
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	served1 := time.Since(start)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d records (%d bytes): import acknowledged after %s, served by every edge after %s", n, len(file), acked.Round(time.Millisecond), served1.Round(time.Millisecond))
	if len(partial) > 0 {
		t.Fatalf("an edge served part of the import: %v", partial[0])
	}
	for _, e := range c.edges {
		if !sawNone[e.UDPAddr()] || !sawAll[e.UDPAddr()] {
			t.Fatalf("edge %s: saw none %v, saw all %v; want both", e.UDPAddr(), sawNone[e.UDPAddr()], sawAll[e.UDPAddr()])
		}
	}
	// Every record, not only the sample, is there.
	c.eventually("last record answered", answerIs(fmt.Sprintf("host%d.bulk-import.test.", n-2), dns.TypeA, dns.RcodeSuccess, fmt.Sprintf("10.%d.%d.%d", (n-2)>>16&255, (n-2)>>8&255, (n-2)&255)))
}
