// Command benchload loads a zone file into zonegrid through the real API path
// (gRPC → etcd → NATS → edge) and measures control-plane write throughput:
//
//	benchload -endpoint 127.0.0.1:50051 -zone-file .bench/zone.db -edge 127.0.0.1:5300
//	benchload -endpoint 127.0.0.1:50051 -writes 5000 -concurrency 32
//
// Loading creates the zone (account "bench", enterprise plan) and sends the
// records in BatchRecords calls of at most -batch records, timing each; it
// then waits until the edge answers the last record. -writes creates that many
// single records with -concurrency parallel callers and reports writes/s.
// The zone's record quota (3,500 on Enterprise) is raised to -record-quota
// with the operator's override (zone settings), so the reference zone fits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func main() {
	var (
		endpoint    = flag.String("endpoint", "127.0.0.1:50051", "control plane gRPC address")
		zoneFile    = flag.String("zone-file", "", "zone file to load")
		origin      = flag.String("zone", "bench.test.", "zone name")
		account     = flag.String("account", "bench", "account id")
		batch       = flag.Int("batch", 3500, "records per BatchRecords call")
		edge        = flag.String("edge", "", "edge DNS address to wait for (host:port)")
		writes      = flag.Int("writes", 0, "single record creates to time (0 = skip)")
		concurrency = flag.Int("concurrency", 32, "parallel callers for -writes")
		proxied     = flag.Int("proxied-every", 0, "mark every Nth A/AAAA/CNAME record proxied (0 = none)")
		config      = flag.String("config", "", "client config file with the endpoint, API token and CA (as `controlplane --embedded` writes it); -endpoint and -token override it")
		token       = flag.String("token", "", "API token (default: $ZONEGRID_TOKEN or the config file's)")
		quota       = flag.Uint("record-quota", 2_000_000, "set the zone's record quota override to this (operator token needed; 0: keep the plan's quota)")
	)
	flag.Parse()
	file, err := clientconfig.Find(*config)
	if err != nil {
		log.Fatal(err)
	}
	cc := clientconfig.Config{Token: *token}
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "endpoint" {
			cc.Endpoint = *endpoint
		}
	})
	cc = cc.Merge(file)
	if cc.Endpoint == "" {
		cc.Endpoint = *endpoint
	}
	conn, err := cc.Dial()
	if err != nil {
		log.Fatalf("dial %s: %v", cc.Endpoint, err)
	}
	defer conn.Close()
	ctx := context.Background()
	zones := dnsv1.NewZoneServiceClient(conn)
	records := dnsv1.NewRecordServiceClient(conn)

	zone, err := zoneFor(ctx, zones, *account, *origin)
	if err != nil {
		log.Fatal(err)
	}
	if *quota > 0 {
		if _, err := dnsv1.NewSettingsServiceClient(conn).UpdateZoneSettings(ctx, &dnsv1.UpdateZoneSettingsRequest{
			ZoneId:     zone.GetId(),
			Settings:   &dnsv1.ZoneSettings{MaxRecordsOverride: uint32(*quota)},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"max_records_override"}},
		}); err != nil {
			// A server without record quotas refuses the path: go on, the
			// load itself says whether the records fit.
			log.Printf("could not raise the record quota of %s to %d (going on with the plan's): %v", zone.GetName(), *quota, err)
		}
	}
	if *zoneFile != "" {
		if err := load(ctx, records, zone, *zoneFile, *batch, *proxied, *edge); err != nil {
			log.Fatal(err)
		}
	}
	if *writes > 0 {
		if err := singleWrites(ctx, records, zone, *writes, *concurrency); err != nil {
			log.Fatal(err)
		}
	}
}

func zoneFor(ctx context.Context, zones dnsv1.ZoneServiceClient, account, name string) (*dnsv1.Zone, error) {
	resp, err := zones.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: account, Name: name, Plan: dnsv1.Plan_PLAN_ENTERPRISE})
	if err == nil {
		return resp.GetZone(), nil
	}
	list, lerr := zones.ListZones(ctx, &dnsv1.ListZonesRequest{AccountId: account, Name: name})
	if lerr != nil || len(list.GetZones()) == 0 {
		return nil, fmt.Errorf("create zone %s: %w", name, err)
	}
	return list.GetZones()[0], nil
}

// recordsFromFile converts every RR of a zone file but the apex SOA and NS
// (the platform synthesizes those) into API records.
func recordsFromFile(path, origin string, proxiedEvery int) ([]*dnsv1.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open zone file: %w", err)
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, origin, path)
	var out []*dnsv1.Record
	n := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		if h.Rrtype == dns.TypeSOA || (h.Rrtype == dns.TypeNS && strings.EqualFold(h.Name, origin)) {
			continue
		}
		r := &dnsv1.Record{Name: h.Name, Type: dns.TypeToString[h.Rrtype], Ttl: h.Ttl}
		content := strings.TrimPrefix(rr.String(), h.String())
		switch v := rr.(type) {
		case *dns.MX:
			r.Priority = uint32(v.Preference)
			content = v.Mx
		case *dns.TXT:
			content = strings.Join(v.Txt, "")
		}
		r.Content = content
		switch h.Rrtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeCNAME:
			n++
			if proxiedEvery > 0 && n%proxiedEvery == 0 {
				r.Proxied = true
				r.Ttl = 1
			}
		}
		out = append(out, r)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("parse zone file: %w", err)
	}
	return out, nil
}

func load(ctx context.Context, records dnsv1.RecordServiceClient, zone *dnsv1.Zone, path string, batch, proxiedEvery int, edge string) error {
	recs, err := recordsFromFile(path, zone.GetName(), proxiedEvery)
	if err != nil {
		return err
	}
	var durations []time.Duration
	start := time.Now()
	for i := 0; i < len(recs); i += batch {
		chunk := recs[i:min(i+batch, len(recs))]
		t := time.Now()
		if _, err := records.BatchRecords(ctx, &dnsv1.BatchRecordsRequest{ZoneId: zone.GetId(), Posts: chunk}); err != nil {
			return fmt.Errorf("batch %d..%d: %w", i, i+len(chunk), err)
		}
		durations = append(durations, time.Since(t))
	}
	acked := time.Now()
	slices.Sort(durations)
	fmt.Printf("loaded %d records in %d batches of ≤%d: total %v, batch median %v, batch max %v\n",
		len(recs), len(durations), batch, acked.Sub(start).Round(time.Millisecond),
		durations[len(durations)/2].Round(time.Millisecond), durations[len(durations)-1].Round(time.Millisecond))
	if edge == "" {
		return nil
	}
	last := recs[len(recs)-1]
	q := new(dns.Msg)
	q.SetQuestion(last.GetName(), dns.StringToType[last.GetType()])
	cl := &dns.Client{Timeout: time.Second}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		m, _, err := cl.Exchange(q, edge)
		if err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
			fmt.Printf("edge %s answers the last record %v after the last acknowledgement\n", edge, time.Since(acked).Round(time.Millisecond))
			return nil
		}
	}
	return errors.New("edge never answered the last record")
}

func singleWrites(ctx context.Context, records dnsv1.RecordServiceClient, zone *dnsv1.Zone, n, conc int) error {
	var next atomic.Int64
	var failed atomic.Int64
	lat := make([]time.Duration, n) // per write, indexed by i: no lock needed
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	stamp := time.Now().UnixNano()
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t := time.Now()
				_, err := records.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zone.GetId(), Record: &dnsv1.Record{
					Name: fmt.Sprintf("w%x-%d", stamp, i), Type: "A", Content: "198.51.100.7", Ttl: 300,
				}})
				lat[i] = time.Since(t)
				if err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(n-1, int(p*float64(n)))].Round(100 * time.Microsecond) }
	fmt.Printf("single creates: %d in %v with %d callers = %.0f writes/s (%d failed); latency p50 %v p99 %v max %v\n",
		n, el.Round(time.Millisecond), conc, float64(n)/el.Seconds(), failed.Load(), pct(0.5), pct(0.99), lat[n-1].Round(100*time.Microsecond))
	if firstErr != nil {
		return fmt.Errorf("first failure: %w", firstErr)
	}
	return nil
}
