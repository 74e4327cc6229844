package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/xfrin/xfrintest"
	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/node"
	"github.com/zonegrid/zonegrid/edge/xfrauth"
	"github.com/zonegrid/zonegrid/edge/xfrout"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Outgoing zone transfers to real secondaries from Debian (BIND 9, Knot,
// NSD), end to end: real etcd and NATS, a control plane, an edge with its
// transfer listener (--xfr-listen). For each secondary a zone of ours gets
// a proxied name, an apex CNAME (flattened when it goes out), a CNAME below
// the apex and an apex NS of the other provider (multi-provider DNS); the
// secondary is linked as a peer with a TSIG key and outgoing transfers are
// enabled. Our NOTIFY makes it transfer (its SOA refresh is 10,000 s: no
// transfer happens without one); it then answers what our edge answers.
// Record changes through our API (a new name, a name turning proxied, the
// apex CNAME's target moving) reach it by IXFR after our next NOTIFY (the
// edge's metrics count IXFR replies). Transfers without the key, with a
// wrong key, or from outside the ACL are refused. The outgoing status
// shows the peer's acknowledged serial. Changes reach the edge as deltas.
func TestOutgoingTransfersToRealSecondaries(t *testing.T) {
	c := newCluster(t, 1)
	// Every change after a zone's first snapshot travels as a delta, the
	// path of large zones: the edge's history derives versions from shared
	// nodes and the NOTIFY worker learns of them from the delta stream.
	c.cpCfg.DeltaThreshold = 1
	c.restartControlPlane()
	xe := c.edgeWith(func(cfg *node.Config) { cfg.XFRAddr = "127.0.0.1:0" })
	xfr := dnsv1.NewZoneTransferServiceClient(c.conn)
	key := xfrintest.Key{Name: "xfr-out.acme.test.", Secret: "b3V0Z29pbmctdHJhbnNmZXItdGVzdC1rZXktMTIzNDU2"}
	tk, err := xfr.CreateTsig(c.ctx(), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: key.Name, Secret: key.Secret})
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range xfrintest.Secondaries {
		t.Run(impl.Name, func(t *testing.T) {
			xfrintest.FindTool(t, impl.Tool)
			zoneName := "out-" + impl.Name + ".test."
			outgoingToSecondary(t, c, xe, xfr, tk.GetTsig().GetId(), key, zoneName, impl.Start)
		})
	}
}

func outgoingToSecondary(t *testing.T, c *cluster, xe *node.Node, xfr dnsv1.ZoneTransferServiceClient, tsigID string, key xfrintest.Key, zoneName string, start xfrintest.SecondaryStarter) {
	zone := c.createZone("acme", strings.TrimSuffix(zoneName, "."), dnsv1.Plan_PLAN_ENTERPRISE)
	if _, err := c.settings.UpdateZoneSettings(c.ctx(), &dnsv1.UpdateZoneSettingsRequest{ZoneId: zone.GetId(),
		Settings: &dnsv1.ZoneSettings{MultiProvider: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"multi_provider"}}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*dnsv1.Record{
		{Name: "www", Type: "A", Content: "198.51.100.7", Proxied: true},
		{Name: "www", Type: "TXT", Content: "hello"},
		{Name: "@", Type: "CNAME", Content: "origin." + zoneName},
		{Name: "origin", Type: "A", Content: "198.51.100.1"},
		{Name: "origin", Type: "AAAA", Content: "2001:db8:1::1"},
		{Name: "@", Type: "MX", Content: "mail." + zoneName, Priority: 10},
		{Name: "mail", Type: "A", Content: "198.51.100.25"},
		{Name: "alias", Type: "CNAME", Content: "mail." + zoneName},
		{Name: "@", Type: "NS", Content: "ns1.other-provider.test."},
	} {
		r.Name = strings.TrimSuffix(strings.Replace(r.Name+"."+zoneName, "@.", "", 1), ".")
		c.createRecord(zone.GetId(), r)
	}
	sec := start(t, zoneName, xe.XFRAddr(), &key)
	host, portText, _ := net.SplitHostPort(sec.Addr)
	port, _ := strconv.Atoi(portText)
	peer, err := xfr.CreatePeer(c.ctx(), &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{
		Name: "secondary", Ip: host, Port: uint32(port), TsigId: tsigID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xfr.UpdateOutgoing(c.ctx(), &dnsv1.UpdateOutgoingRequest{ZoneId: zone.GetId(), Enabled: true, Peers: []string{peer.GetPeer().GetId()}}); err != nil {
		t.Fatal(err)
	}

	// The NOTIFY of the version with outgoing on makes it transfer (AXFR).
	serial := waitXFRSerial(t, xe, zoneName, key, 0)
	// Generous: a secondary whose first attempt came before outgoing
	// transfers were on (REFUSED) may be in its retry back-off when the
	// NOTIFY arrives.
	sec.WaitSerial(t, serial, 60*time.Second)
	names := []string{"", "www.", "origin.", "mail.", "alias.", "new.", "nothere."}
	compareServed(t, sec, xe, zoneName, names)
	www := query(t, xe.UDPAddr(), "www."+zoneName, dns.TypeA, false)
	if len(www.Answer) != 2 || strings.Contains(www.String(), "198.51.100.7") {
		t.Fatalf("proxied name at the edge: %v", www)
	}
	if apex, _ := sec.Query(zoneName, dns.TypeA); apex == nil || !strings.Contains(apex.String(), "198.51.100.1") || strings.Contains(apex.String(), "CNAME") {
		t.Fatalf("the apex CNAME went out unflattened: %v", apex)
	}
	if ns, _ := sec.Query(zoneName, dns.TypeNS); ns == nil || !strings.Contains(ns.String(), "ns1.other-provider.test.") || !strings.Contains(ns.String(), ".zonegrid.test.") {
		t.Fatalf("apex NS at the secondary (multi-provider): %v", ns)
	}
	ixfrBefore := xfrCounter(t, xe, "zonegrid_edge_xfr_requests_total", map[string]string{"type": "ixfr", "result": "ixfr"})

	// Changes through our API: a new name, mail turning proxied, the apex
	// CNAME's target moving. Each is a version; the secondary catches up
	// from the last NOTIFY by IXFR.
	c.createRecord(zone.GetId(), &dnsv1.Record{Name: "new." + strings.TrimSuffix(zoneName, "."), Type: "A", Content: "198.51.100.77"})
	patch(t, c, zone.GetId(), "mail."+strings.TrimSuffix(zoneName, "."), "A", &dnsv1.Record{Proxied: true}, "proxied")
	patch(t, c, zone.GetId(), "origin."+strings.TrimSuffix(zoneName, "."), "A", &dnsv1.Record{Content: "198.51.100.2"}, "content")
	waitEdgeAnswer(t, xe, "origin."+zoneName, "198.51.100.2")
	serial2 := waitXFRSerial(t, xe, zoneName, key, serial)
	sec.WaitSerial(t, serial2, 20*time.Second)
	compareServed(t, sec, xe, zoneName, names)
	if got := xfrCounter(t, xe, "zonegrid_edge_snapshot_updates_total", map[string]string{"bucket": "zonegrid-deltas", "result": "applied"}); got == 0 {
		t.Fatal("the edge applied no delta: the test did not take the path of large zones")
	}
	if got := xfrCounter(t, xe, "zonegrid_edge_xfr_requests_total", map[string]string{"type": "ixfr", "result": "ixfr"}); got <= ixfrBefore {
		t.Fatalf("%s caught up without an IXFR from the history (ixfr replies %v → %v); log:\n%s", sec.Name, ixfrBefore, got, sec.Log())
	}

	// Refused: no key, a wrong key, outside the ACL (127.0.0.2 is not the
	// peer, and the account has no ACL).
	for _, tt := range []struct {
		name   string
		secret string
		local  string
		rcode  int
	}{
		{"unsigned", "", "127.0.0.1", dns.RcodeRefused},
		{"wrong key", "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=", "127.0.0.1", dns.RcodeNotAuth},
		{"outside the ACL", key.Secret, "127.0.0.2", dns.RcodeRefused},
	} {
		if got := axfrRcode(t, xe.XFRAddr(), zoneName, key.Name, tt.secret, tt.local); got != tt.rcode {
			t.Errorf("AXFR %s: rcode %s, want %s", tt.name, dns.RcodeToString[got], dns.RcodeToString[tt.rcode])
		}
	}

	// The status shows the acknowledged NOTIFY.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := xfr.GetOutgoing(c.ctx(), &dnsv1.GetOutgoingRequest{ZoneId: zone.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		st := out.GetOutgoing().GetStatus()
		if st.GetState() == dnsv1.TransferState_TRANSFER_STATE_OK && st.GetSerial() == serial2 &&
			len(st.GetPeers()) == 1 && st.GetPeers()[0].GetSerial() == serial2 && st.GetPeers()[0].GetLastSuccessTime() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outgoing status: %v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitXFRSerial waits until the edge's transfer listener serves zone (to
// the holder of key) at a serial above after, and returns it.
func waitXFRSerial(t *testing.T, e *node.Node, zone string, key xfrintest.Key, after uint32) uint32 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m := new(dns.Msg)
		m.SetQuestion(zone, dns.TypeSOA)
		m.SetTsig(key.Name, dns.HmacSHA256, 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", Timeout: time.Second, TsigSecret: map[string]string{key.Name: key.Secret}}
		if resp, _, err := c.Exchange(m, e.XFRAddr()); err == nil && resp.Rcode == dns.RcodeSuccess && len(resp.Answer) == 1 {
			if s := resp.Answer[0].(*dns.SOA).Serial; s > after {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the transfer listener never served %s above serial %d", zone, after)
	return 0
}

// waitEdgeSerial waits until the edge serves zone at a serial above after
// and returns it.
func waitEdgeSerial(t *testing.T, e *node.Node, zone string, after uint32) uint32 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := exchange(e.UDPAddr(), zone, dns.TypeSOA, false); err == nil && len(m.Answer) == 1 {
			if s := m.Answer[0].(*dns.SOA).Serial; s > after {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("edge never served %s above serial %d", zone, after)
	return 0
}

// waitEdgeAnswer waits until the edge answers name A with addr and returns
// the zone's serial then.
func waitEdgeAnswer(t *testing.T, e *node.Node, name, addr string) uint32 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := exchange(e.UDPAddr(), name, dns.TypeA, false); err == nil && strings.Contains(m.String(), addr) {
			zone := name[strings.Index(name, ".")+1:]
			return waitEdgeSerial(t, e, zone, 0)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("edge never answered %s A %s", name, addr)
	return 0
}

func patch(t *testing.T, c *cluster, zoneID, name, typ string, r *dnsv1.Record, path string) {
	t.Helper()
	list, err := c.records.ListRecords(c.ctx(), &dnsv1.ListRecordsRequest{ZoneId: zoneID, Name: name, Type: typ})
	if err != nil || len(list.GetRecords()) != 1 {
		t.Fatalf("list %s %s: %v, %v", name, typ, list, err)
	}
	if _, err := c.records.PatchRecord(c.ctx(), &dnsv1.PatchRecordRequest{ZoneId: zoneID, RecordId: list.GetRecords()[0].GetId(),
		Record: r, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{path}}}); err != nil {
		t.Fatalf("patch %s %s: %v", name, typ, err)
	}
}

// compareServed checks that the secondary answers like the edge for each
// name (relative to zone) and type: rcode and answer section (owner, TTL,
// data), in any order.
func compareServed(t *testing.T, sec *xfrintest.Secondary, e *node.Node, zone string, names []string) {
	t.Helper()
	for _, n := range names {
		name := n + zone
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeNS, dns.TypeCNAME} {
			if qt == dns.TypeNS && n != "" {
				continue
			}
			if qt == dns.TypeCNAME && n == "" {
				// The one difference by design: asked for the CNAME type,
				// the edge shows the apex CNAME it flattens; a transfer
				// carries only the flattened addresses (a zone cannot hold
				// both).
				continue
			}
			ours := query(t, e.UDPAddr(), name, qt, false)
			theirs, err := sec.Query(name, qt)
			if err != nil {
				t.Fatalf("%s: %s %s: %v", sec.Name, name, dns.TypeToString[qt], err)
			}
			if ours.Rcode != theirs.Rcode || !slices.Equal(answerTexts(ours), answerTexts(theirs)) {
				t.Errorf("%s %s: edge %s %q, %s %s %q", name, dns.TypeToString[qt],
					dns.RcodeToString[ours.Rcode], answerTexts(ours), sec.Name, dns.RcodeToString[theirs.Rcode], answerTexts(theirs))
			}
		}
	}
}

func answerTexts(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		h := rr.Header()
		out = append(out, fmt.Sprintf("%s %d %s %s", strings.ToLower(h.Name), h.Ttl, dns.TypeToString[h.Rrtype],
			strings.TrimPrefix(rr.String(), h.String())))
	}
	slices.Sort(out)
	return out
}

// axfrRcode sends an AXFR from local (signed with secret unless empty)
// and returns the first reply's rcode.
func axfrRcode(t *testing.T, addr, zone, keyName, secret, local string) int {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeAXFR)
	c := &dns.Client{Net: "tcp", Timeout: 3 * time.Second,
		Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 3 * time.Second}}
	if secret != "" {
		m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
		c.TsigSecret = map[string]string{keyName: secret}
	}
	resp, _, err := c.ExchangeContext(context.Background(), m, addr)
	if resp == nil {
		t.Fatalf("AXFR from %s: %v", local, err)
	}
	return resp.Rcode
}

// xfrCounter reads a counter of the node's registry with these labels (0
// when absent).
func xfrCounter(t *testing.T, n *node.Node, name string, labels map[string]string) float64 {
	t.Helper()
	return xfrGather(t, n.Registry(), name, labels)
}

func xfrGather(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// BenchmarkOutgoingAXFR times an AXFR of the reference zone
// (e2e/cmd/benchzone, ZONEGRID_XFR_BENCH_NAMES names, 100,000 by default;
// the reference is 1,000,000) from the edge's transfer listener
// (edge/xfrout on the edge's zone index, in this process) and from NSD and
// Knot serving the same zone file (their own processes), in the same run,
// TSIG-signed everywhere; then an IXFR of one changed record from ours and
// from Knot (NSD answers IXFR with the whole zone). Reported per server in
// seconds (AXFR) and milliseconds (IXFR). docs/BENCHMARKS.md, "Outgoing
// transfers".
//
//	cd e2e && ZONEGRID_XFR_BENCH_NAMES=1000000 go test -run X -bench OutgoingAXFR -benchtime 3x -timeout 60m .
func BenchmarkOutgoingAXFR(b *testing.B) {
	names := 100000
	if v := os.Getenv("ZONEGRID_XFR_BENCH_NAMES"); v != "" {
		var err error
		if names, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	key := xfrintest.Key{Name: "bench.xfr.", Secret: "YmVuY2gtdHJhbnNmZXIta2V5LXNlY3JldC0wMTIzNDU2Nzg5"}
	dir := b.TempDir()
	if out, err := exec.Command("go", "run", "./cmd/benchzone", "-names", strconv.Itoa(names), "-queries", "1", "-out", dir).CombinedOutput(); err != nil {
		b.Fatalf("benchzone: %v: %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "zone.db"))
	if err != nil {
		b.Fatal(err)
	}
	zoneFile := string(raw)
	const zone = "bench.test."
	edgeAddr, change := benchEdge(b, zone, key, zoneFile)
	type server struct {
		name string
		addr string
		p    *xfrintest.Primary
	}
	servers := []server{{name: "edge", addr: edgeAddr}}
	for _, kind := range []string{"nsd", "knot"} {
		p := xfrintest.StartBenchPrimary(b, kind, zone, key, zoneFile)
		p.WaitSerial(b, zone, key, 1)
		servers = append(servers, server{kind, p.Addr, p})
	}
	// A verifying transfer first (every message unpacked, its TSIG checked),
	// then the timed ones with a client that only counts records: unpacking
	// 1.3 million records in this process would time our garbage collector
	// scanning the edge's zone heap, not the servers.
	counts := map[string]int{}
	for _, s := range servers {
		counts[s.name] = benchXFR(b, s.addr, zone, key, dns.TypeAXFR, 0)
		if counts[s.name] != counts["edge"] {
			b.Fatalf("%s sent %d records, the edge %d", s.name, counts[s.name], counts["edge"])
		}
	}
	totals := map[string]time.Duration{}
	b.ResetTimer()
	for range b.N {
		for _, s := range servers {
			start := time.Now()
			rawXFR(b, s.addr, zone, key, dns.TypeAXFR, 0, counts["edge"])
			totals[s.name] += time.Since(start)
		}
	}
	b.StopTimer()
	for _, s := range servers {
		b.ReportMetric(totals[s.name].Seconds()/float64(b.N), s.name+"-axfr-s")
	}
	b.ReportMetric(float64(counts["edge"]), "records")

	// One changed record (ns1's address), serial 1 → 2, then IXFR from 1.
	change()
	changed := strings.Replace(zoneFile, "hostmaster."+zone+" 1 ", "hostmaster."+zone+" 2 ", 1)
	changed = strings.Replace(changed, "ns1 IN A 192.0.2.53", "ns1 IN A 192.0.2.153", 1)
	for _, s := range servers {
		if s.name == "nsd" {
			continue
		}
		if s.p != nil {
			s.p.Write(b, changed)
			s.p.Reload(b)
			s.p.WaitSerial(b, zone, key, 2)
		}
		if n := benchXFR(b, s.addr, zone, key, dns.TypeIXFR, 1); n != 6 {
			b.Fatalf("%s: IXFR of %d records, want 6 (SOA, SOA, old, SOA, new, SOA)", s.name, n)
		}
		const rounds = 20
		var total time.Duration
		for range rounds {
			start := time.Now()
			rawXFR(b, s.addr, zone, key, dns.TypeIXFR, 1, 6)
			total += time.Since(start)
		}
		b.ReportMetric(float64(total.Microseconds())/rounds/1000, s.name+"-ixfr-ms")
	}
}

// benchEdge serves zoneFile (SOA serial 1) from an edge transfer listener
// in this process, as an edge holds it: a zone index built from its
// snapshot, outgoing transfers to 127.0.0.0/8 with key. It returns the
// listener's address and a function installing serial 2 with ns1's
// address changed (a delta, as a one-record change reaches an edge).
func benchEdge(b *testing.B, zone string, key xfrintest.Key, zoneFile string) (string, func()) {
	b.Helper()
	kek, _ := keyseal.Generate()
	ring, _ := keyseal.New(kek)
	secret, _ := base64.StdEncoding.DecodeString(key.Secret)
	sealed, err := ring.Seal(secret, keyseal.TSIGContext("acct", "t1"))
	if err != nil {
		b.Fatal(err)
	}
	h := &snapshot.ZoneHeader{
		Format: snapshot.FormatVersion, ZoneId: "bench", AccountId: "acct", Name: zone, Version: 1,
		Status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE, NameServers: []string{"ns1." + zone, "ns2." + zone}, NsTtl: 86400,
		Soa: &snapshot.Soa{Mname: "ns1." + zone, Rname: "hostmaster." + zone, Serial: 1, Refresh: 10000, Retry: 2400, Expire: 604800, Minimum: 1800, Ttl: 3600},
		Transfer: &snapshot.Transfer{Outgoing: true, TransferTo: []string{"127.0.0.0/8"},
			Tsig: &snapshot.TransferTsig{Id: "t1", AccountId: "acct", Name: key.Name, Algorithm: dns.HmacSHA256, SealedSecret: sealed}},
	}
	snap := &snapshot.Zone{Header: h}
	zp := dns.NewZoneParser(strings.NewReader(zoneFile), zone, "")
	buf := make([]byte, dns.MaxMsgSize)
	nsID := ""
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if t := rr.Header().Rrtype; t == dns.TypeSOA || (t == dns.TypeNS && rr.Header().Name == zone) {
			continue // from the header, as the builder does
		}
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			b.Fatal(err)
		}
		id := fmt.Sprintf("%032x", len(snap.Records))
		if rr.Header().Name == "ns1."+zone && rr.Header().Rrtype == dns.TypeA {
			nsID = id
		}
		snap.Records = append(snap.Records, &snapshot.Record{Id: id, Rr: append([]byte(nil), buf[:n]...)})
	}
	if err := zp.Err(); err != nil {
		b.Fatal(err)
	}
	zones := zonecache.NewSet()
	engine := answer.New(answer.Config{Zones: zones})
	srv, err := xfrout.New(xfrout.Config{Addr: "127.0.0.1:0", Engine: engine, Zones: zones})
	if err != nil {
		b.Fatal(err)
	}
	zones.SetInstalled(srv.Installed)
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	put := func(z *zonecache.Zone) {
		if z.Transfer, err = xfrauth.Prepare(z.Header.GetTransfer(), ring); err != nil {
			b.Fatal(err)
		}
		zones.Put(z)
	}
	z, err := zonecache.Build(snap)
	if err != nil {
		b.Fatal(err)
	}
	snap = nil
	put(z)
	waitXFR := func(serial uint32) {
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			m := new(dns.Msg)
			m.SetQuestion(zone, dns.TypeSOA)
			m.SetTsig(key.Name, dns.HmacSHA256, 300, time.Now().Unix())
			c := &dns.Client{Net: "tcp", Timeout: time.Second, TsigSecret: map[string]string{key.Name: key.Secret}}
			if resp, _, err := c.Exchange(m, srv.Addr()); err == nil && len(resp.Answer) == 1 && resp.Answer[0].(*dns.SOA).Serial == serial {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.Fatalf("the edge never served serial %d", serial)
	}
	waitXFR(1)
	return srv.Addr(), func() {
		rr, _ := dns.NewRR("ns1." + zone + " 300 IN A 192.0.2.153")
		n, _ := dns.PackRR(rr, buf, 0, nil, false)
		nz, err := zonecache.ApplyDelta(z, &snapshot.ZoneDelta{Name: zone, ZoneId: "bench", FromVersion: 1, ToVersion: 2,
			Upserts: []*snapshot.Record{{Id: nsID, Rr: append([]byte(nil), buf[:n]...)}}})
		if err != nil {
			b.Fatal(err)
		}
		put(nz)
		waitXFR(2)
	}
}

// benchXFR runs one TSIG-signed AXFR (or IXFR from serial) and returns the
// number of records received.
func benchXFR(b *testing.B, addr, zone string, key xfrintest.Key, qtype uint16, serial uint32) int {
	b.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, qtype)
	if qtype == dns.TypeIXFR {
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET},
			Ns: "ns1." + zone, Mbox: "hostmaster." + zone, Serial: serial}}
	}
	m.SetTsig(key.Name, dns.HmacSHA256, 300, time.Now().Unix())
	tr := &dns.Transfer{TsigSecret: map[string]string{key.Name: key.Secret}, ReadTimeout: time.Minute}
	ch, err := tr.In(m, addr)
	if err != nil {
		b.Fatalf("%s from %s: %v", dns.TypeToString[qtype], addr, err)
	}
	n := 0
	for env := range ch {
		if env.Error != nil {
			b.Fatalf("%s from %s: %v", dns.TypeToString[qtype], addr, env.Error)
		}
		n += len(env.RR)
	}
	return n
}

// rawXFR sends a TSIG-signed AXFR (or IXFR from serial) over TCP and reads
// the reply's messages until want records came, checking each message's
// rcode and counting its answers without unpacking them (nor verifying
// their TSIG: benchXFR did).
func rawXFR(b *testing.B, addr, zone string, key xfrintest.Key, qtype uint16, serial uint32, want int) {
	b.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, qtype)
	if qtype == dns.TypeIXFR {
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET},
			Ns: "ns1." + zone, Mbox: "hostmaster." + zone, Serial: serial}}
	}
	m.SetTsig(key.Name, dns.HmacSHA256, 300, time.Now().Unix())
	req, _, err := dns.TsigGenerate(m, key.Secret, "", false)
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(req))), req...)); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReaderSize(c, 256<<10)
	buf := make([]byte, dns.MaxMsgSize)
	for n := 0; n < want; {
		if _, err := io.ReadFull(r, buf[:2]); err != nil {
			b.Fatalf("%s from %s after %d records: %v", dns.TypeToString[qtype], addr, n, err)
		}
		l := int(binary.BigEndian.Uint16(buf))
		if _, err := io.ReadFull(r, buf[:l]); err != nil || l < 12 {
			b.Fatalf("%s from %s: %v", dns.TypeToString[qtype], addr, err)
		}
		if rcode := buf[3] & 0x0f; rcode != 0 {
			b.Fatalf("%s from %s: %s", dns.TypeToString[qtype], addr, dns.RcodeToString[int(rcode)])
		}
		n += int(binary.BigEndian.Uint16(buf[6:]))
	}
}
