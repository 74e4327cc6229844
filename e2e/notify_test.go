package e2e

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/xfrin/xfrintest"
	"github.com/zonegrid/zonegrid/edge/node"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// NOTIFY end to end (docs/ZONE_TRANSFERS.md, "NOTIFY"): a real primary's
// NOTIFY reaches our edges, which check it against the zone's primaries
// and the account's ACLs (snapshot header) and hand it to the control
// plane, whose transfer worker refreshes the zone at once. Zones refresh
// every day here (auto_refresh_seconds 86400), so only a NOTIFY explains a
// change served within seconds.

const notifyZone = "notified.test."

func notifyZoneFile(serial uint32, extra string) string {
	return fmt.Sprintf(`$ORIGIN notified.test.
$TTL 300
@	IN SOA ns1.primary.test. admin.primary.test. %d 7200 3600 1209600 300
@	IN NS ns1.primary.test.
www	IN A 192.0.2.1
%s`, serial, extra)
}

var notifyKey = xfrintest.Key{Name: "xfr.notified.test.", Secret: "bm90aWZpZWQtdGVzdC1rZXktc2VjcmV0LTAxMjM0NTY3"}

// notifySetup is a cluster of two edges serving notified.test. as a
// secondary zone of primary.
type notifySetup struct {
	c       *cluster
	zone    *dnsv1.Zone
	primary *xfrintest.Primary
	xfr     dnsv1.ZoneTransferServiceClient
	serial  uint32
}

type primaryStarter func(tb testing.TB, zone string, key xfrintest.Key, zoneFile string, n xfrintest.Notify) *xfrintest.Primary

// newNotifySetup starts the cluster, then the primary (start, told to
// NOTIFY the edges' UDP addresses, signed when signed), links it, and
// waits for the first transfer to be served. A nil start runs BIND without
// NOTIFY (the tests send their own).
func newNotifySetup(tb testing.TB, start primaryStarter, signed bool, opts ...clusterOption) *notifySetup {
	tb.Helper()
	c := newCluster(tb, 0, opts...)
	for range 2 {
		addEdgeOnOnePort(c)
	}
	s := &notifySetup{c: c, serial: 2026112801}
	var targets []string
	for _, e := range c.edges {
		targets = append(targets, e.UDPAddr())
	}
	n := xfrintest.Notify{Targets: targets}
	if signed {
		n.Key = &notifyKey
	}
	if start == nil {
		start, n = xfrintest.StartBINDNotify, xfrintest.Notify{}
	}
	s.primary = start(tb, notifyZone, notifyKey, notifyZoneFile(s.serial, ""), n)
	s.primary.WaitSerial(tb, notifyZone, notifyKey, s.serial)

	zr, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "notified.test", Plan: dnsv1.Plan_PLAN_ENTERPRISE, Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY})
	if err != nil {
		tb.Fatal(err)
	}
	s.zone = zr.GetZone()
	s.xfr = dnsv1.NewZoneTransferServiceClient(c.conn)
	tk, err := s.xfr.CreateTsig(c.ctx(), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: notifyKey.Name, Secret: notifyKey.Secret})
	if err != nil {
		tb.Fatal(err)
	}
	host, portText, _ := net.SplitHostPort(s.primary.Addr)
	port, _ := strconv.Atoi(portText)
	peer, err := s.xfr.CreatePeer(c.ctx(), &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{
		Name: "primary", Ip: host, Port: uint32(port), IxfrEnable: true, TsigId: tk.GetTsig().GetId()}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.xfr.UpdateIncoming(c.ctx(), &dnsv1.UpdateIncomingRequest{ZoneId: s.zone.GetId(), AutoRefreshSeconds: 86400, Peers: []string{peer.GetPeer().GetId()}}); err != nil {
		tb.Fatal(err)
	}
	if err := c.cp.RefreshSecondary(c.ctx(), s.zone.GetId()); err != nil {
		tb.Fatal(err)
	}
	c.eventually("first transfer served", answerIs("www.notified.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"))
	return s
}

// addEdgeOnOnePort adds an edge whose UDP and TCP listeners share a port,
// as real name servers do: Knot sends NOTIFY over TCP, to the address it
// was given.
func addEdgeOnOnePort(c *cluster) *node.Node {
	c.tb.Helper()
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.tb.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		n, err := node.New(node.Config{
			UDPAddr: addr, TCPAddr: addr,
			NATSURL:     c.servers.NATSURL(),
			AnycastIPv4: testAnycastV4, AnycastIPv6: testAnycastV6,
			TunnelDomain:          testTunnelDomain,
			SnapshotTrustKeyFiles: []string{c.trustKey},
			NATSNkeySeedFile:      c.servers.Credentials().EdgeNkeySeedFile,
			DNSSECKEKFiles:        []string{c.kekFile},
		}, c.log.Named(fmt.Sprintf("edge%d", len(c.edges))))
		if err != nil {
			c.tb.Fatalf("new edge: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = n.Start(ctx)
		if err != nil && attempt < 5 {
			cancel()
			continue // the port was taken meanwhile
		}
		if err != nil {
			cancel()
			c.tb.Fatalf("start edge: %v", err)
		}
		c.tb.Cleanup(func() { _ = n.Close() })
		select {
		case <-n.Ready():
		case <-ctx.Done():
			c.tb.Fatalf("edge not ready: %v", ctx.Err())
		}
		cancel()
		c.edges = append(c.edges, n)
		return n
	}
}

// change makes a change at the primary (a new serial and a record
// v<serial>) and reloads it; it returns the record's name.
func (s *notifySetup) change(tb testing.TB) string {
	tb.Helper()
	s.serial++
	name := fmt.Sprintf("v%d.notified.test.", s.serial)
	s.primary.Update(tb, notifyZoneFile(s.serial, fmt.Sprintf("v%d\tIN A 192.0.2.77\n", s.serial)))
	return name
}

func (s *notifySetup) lastCheck(t testing.TB) time.Time {
	t.Helper()
	in, err := s.xfr.GetIncoming(s.c.ctx(), &dnsv1.GetIncomingRequest{ZoneId: s.zone.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	return in.GetIncoming().GetStatus().GetLastCheckTime().AsTime()
}

// counter sums a counter of reg whose labels include labels.
func counter(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == k && l.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func (s *notifySetup) notifyRefreshes(t testing.TB) float64 {
	return counter(t, s.c.cp.Registry(), "zonegrid_notifyin_refreshes_total", map[string]string{"result": "ok"})
}

// A change at BIND, Knot or NSD followed by its NOTIFY is served by both
// edges within seconds although the zone refreshes daily; BIND and Knot
// sign their NOTIFY with the zone's key (and check our signed answer), NSD
// sends it unsigned.
func TestNotifyFromRealPrimariesRefreshesAtOnce(t *testing.T) {
	for _, p := range []struct {
		name   string
		start  primaryStarter
		signed bool
	}{
		{"BIND", xfrintest.StartBINDNotify, true},
		{"Knot", xfrintest.StartKnotNotify, true},
		{"NSD", xfrintest.StartNSDNotify, false},
	} {
		t.Run(p.name, func(t *testing.T) {
			s := newNotifySetup(t, p.start, p.signed)
			for range 2 {
				before := s.lastCheck(t)
				start := time.Now()
				name := s.change(t)
				s.c.eventually("the change announced by NOTIFY served", answerIs(name, dns.TypeA, dns.RcodeSuccess, "192.0.2.77"))
				t.Logf("%s: change at the primary served by both edges after %v", p.name, time.Since(start).Round(time.Millisecond))
				// The refresh writes its status (the check's time) after the
				// transferred records, which the edges may serve first.
				for deadline := time.Now().Add(10 * time.Second); !s.lastCheck(t).After(before); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("served without a refresh?")
					}
				}
			}
			accepted := 0.0
			for _, e := range s.c.edges {
				accepted += counter(t, e.Registry(), "zonegrid_edge_notify_received_total", map[string]string{"result": "accepted"})
			}
			if accepted < 2 || s.notifyRefreshes(t) < 2 {
				t.Fatalf("NOTIFY accepted %v times by the edges, %v refreshes: the change came another way", accepted, s.notifyRefreshes(t))
			}
		})
	}
}

// BIND signing its NOTIFY with a key the zone does not link (another
// name): both edges answer NOTAUTH (BADKEY), BIND's NOTIFY refreshes
// nothing, and the change is not served.
func TestNotifyFromBINDWithAnotherKeyIsNotAuth(t *testing.T) {
	other := xfrintest.Key{Name: "other.notified.test.", Secret: "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMDA="}
	start := func(tb testing.TB, zone string, key xfrintest.Key, zoneFile string, n xfrintest.Notify) *xfrintest.Primary {
		n.Key = &other
		return xfrintest.StartBINDNotify(tb, zone, key, zoneFile, n)
	}
	s := newNotifySetup(t, start, false)
	name := s.change(t)
	s.primary.WaitSerial(t, notifyZone, notifyKey, s.serial)
	deadline := time.Now().Add(10 * time.Second)
	for {
		notauth := 0.0
		for _, e := range s.c.edges {
			notauth += counter(t, e.Registry(), "zonegrid_edge_notify_received_total", map[string]string{"result": "notauth"})
		}
		if notauth >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BIND's NOTIFY signed with another key: %v NOTAUTH answers, want one per edge", notauth)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if s.notifyRefreshes(t) != 0 {
		t.Fatal("a NOTIFY signed with another key refreshed the zone")
	}
	onEveryEdge(t, s.c, answerIs(name, dns.TypeA, dns.RcodeNameError))
}

// sendNotify sends one NOTIFY for the zone to addr from the loopback
// address from (UDP or TCP), signed with key when set.
func sendNotify(t *testing.T, addr, from string, tcp bool, key *xfrintest.Key) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetNotify(notifyZone)
	cl := &dns.Client{Timeout: 2 * time.Second}
	if tcp {
		cl.Net = "tcp"
		cl.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	} else {
		cl.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	}
	if key != nil {
		m.SetTsig(key.Name, dns.HmacSHA256, 300, time.Now().Unix())
		cl.TsigSecret = map[string]string{key.Name: key.Secret}
	}
	r, _, err := cl.Exchange(m, addr)
	if err != nil && r == nil {
		t.Fatalf("NOTIFY to %s from %s: %v", addr, from, err)
	}
	return r
}

// NOTIFY from an address that is neither the primary nor in an ACL is
// REFUSED, one signed with another key is NOTAUTH (BADSIG), and neither
// refreshes the zone; an ACL of the account admits that address (and its
// deletion refuses it again), and the primary's own NOTIFY refreshes. A flood of
// NOTIFY from the primary's address costs a few refreshes, and the edges
// keep answering queries throughout.
func TestNotifyRefusedUnauthenticatedAndFlooded(t *testing.T) {
	s := newNotifySetup(t, nil, false)
	c := s.c
	// A change the edges have not heard of.
	name := s.change(t)
	s.primary.WaitSerial(t, notifyZone, notifyKey, s.serial)
	before := s.lastCheck(t)
	wrong := &xfrintest.Key{Name: notifyKey.Name, Secret: "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMDA="}
	for _, e := range c.edges {
		for _, tcp := range []bool{false, true} {
			addr := e.UDPAddr()
			if tcp {
				addr = e.TCPAddr()
			}
			if r := sendNotify(t, addr, "127.0.0.2", tcp, nil); r.Rcode != dns.RcodeRefused || r.Opcode != dns.OpcodeNotify {
				t.Fatalf("NOTIFY from outside the primaries and ACLs (tcp %v): %v", tcp, r)
			}
			r := sendNotify(t, addr, "127.0.0.1", tcp, wrong)
			if r.Rcode != dns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != dns.RcodeBadSig {
				t.Fatalf("NOTIFY signed with the wrong key (tcp %v): %v", tcp, r)
			}
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if !s.lastCheck(t).Equal(before) || s.notifyRefreshes(t) != 0 {
		t.Fatalf("a refused NOTIFY refreshed the zone (last check %v → %v)", before, s.lastCheck(t))
	}
	onEveryEdge(t, c, answerIs(name, dns.TypeA, dns.RcodeNameError))

	// An ACL of the account lets 127.0.0.2 send NOTIFY once the edges
	// hold the zone's new header (the builder rebuilds it on the ACL).
	acl, err := s.xfr.CreateAcl(c.ctx(), &dnsv1.CreateAclRequest{AccountId: "acme", Acl: &dnsv1.Acl{Name: "notifier", IpRange: "127.0.0.2/32"}})
	if err != nil {
		t.Fatal(err)
	}
	c.eventually("NOTIFY from the ACL range accepted", func(edge string) error {
		if r := sendNotify(t, edge, "127.0.0.2", false, nil); r.Rcode != dns.RcodeSuccess || !r.Authoritative {
			return fmt.Errorf("NOTIFY from 127.0.0.2 with the ACL: %s", dns.RcodeToString[r.Rcode])
		}
		return nil
	})
	c.eventually("NOTIFY from the ACL range refreshes", answerIs(name, dns.TypeA, dns.RcodeSuccess, "192.0.2.77"))
	if _, err := s.xfr.DeleteAcl(c.ctx(), &dnsv1.DeleteAclRequest{AccountId: "acme", AclId: acl.GetAcl().GetId()}); err != nil {
		t.Fatal(err)
	}
	c.eventually("NOTIFY from 127.0.0.2 refused again without the ACL", func(edge string) error {
		if r := sendNotify(t, edge, "127.0.0.2", false, nil); r.Rcode != dns.RcodeRefused {
			return fmt.Errorf("NOTIFY from 127.0.0.2 after the ACL's deletion: %s", dns.RcodeToString[r.Rcode])
		}
		return nil
	})

	// The primary's address, unsigned (accepted: see dnsserver/notify.go).
	name = s.change(t)
	s.primary.WaitSerial(t, notifyZone, notifyKey, s.serial)
	if r := sendNotify(t, c.edges[0].UDPAddr(), "127.0.0.1", false, nil); r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		t.Fatalf("NOTIFY from the primary: %v", r)
	}
	c.eventually("NOTIFY from the primary refreshes", answerIs(name, dns.TypeA, dns.RcodeSuccess, "192.0.2.77"))

	// The flood: as fast as one sender goes for 2 s, at both edges, while
	// a client queries the first edge.
	refreshesBefore := s.notifyRefreshes(t)
	soaBefore := counter(t, c.cp.Registry(), "zonegrid_xfrin_attempts_total", map[string]string{"method": "soa"})
	var answered, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if m, err := exchange(c.edges[0].UDPAddr(), "www.notified.test.", dns.TypeA, false); err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) == 1 {
				answered.Add(1)
			} else {
				failed.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	sent := 0
	conns := make([]*net.UDPConn, len(c.edges))
	for i, e := range c.edges {
		ua, _ := net.ResolveUDPAddr("udp", e.UDPAddr())
		conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")}, ua)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns[i] = conn
		go func() { // drain the answers
			buf := make([]byte, 512)
			for {
				if _, err := conn.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	m := new(dns.Msg)
	m.SetNotify(notifyZone)
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		m.Id = dns.Id()
		b, _ := m.Pack()
		_, _ = conns[sent%len(conns)].Write(b)
		sent++
		if sent%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(time.Second) // trailing notices land
	close(stop)
	wg.Wait()
	refreshes := s.notifyRefreshes(t) - refreshesBefore
	soa := counter(t, c.cp.Registry(), "zonegrid_xfrin_attempts_total", map[string]string{"method": "soa"}) - soaBefore
	accepted, coalesced := 0.0, 0.0
	for _, e := range c.edges {
		accepted += counter(t, e.Registry(), "zonegrid_edge_notify_received_total", map[string]string{"result": "accepted"})
		coalesced += counter(t, e.Registry(), "zonegrid_edge_notify_dropped_total", map[string]string{"reason": "coalesced"})
	}
	t.Logf("flood: %d NOTIFY sent in 2 s, %v accepted by the edges, %v coalesced there; %v refreshes (%v SOA queries to the primary); queries answered %d, failed %d",
		sent, accepted, coalesced, refreshes, soa, answered.Load(), failed.Load())
	// Two edges at two notices a second each, for 3 s: about 12 at most.
	if refreshes < 1 || refreshes > 15 || soa > 15 {
		t.Fatalf("a flood of %d NOTIFY caused %v refreshes (%v SOA queries), want a few", sent, refreshes, soa)
	}
	if answered.Load() < 100 || failed.Load() > answered.Load()/50 {
		t.Fatalf("queries during the flood: %d answered, %d failed", answered.Load(), failed.Load())
	}
}

// BenchmarkNotifyPropagation measures the time from a change at a BIND
// primary (zone file rewritten and reloaded; BIND sends NOTIFY at once,
// notify-delay 0) until both edges answer the new record, with the zone
// refreshing daily otherwise, changes a second apart. Run with
// -benchtime=50x for 50 changes; reports p50 and p99 and where the time
// goes (docs/BENCHMARKS.md, "NOTIFY propagation").
func BenchmarkNotifyPropagation(b *testing.B) {
	b.StopTimer()
	s := newNotifySetup(b, xfrintest.StartBINDNotify, true, quiet())
	var lat, reload, received, recorded, transferred []time.Duration
	// Where the time goes, from etcd: when the NOTIFY request is written
	// and when the transfer status reaches the new serial.
	type mark struct {
		at, received time.Time // received: the edge's receipt of the NOTIFY
		notify       bool
		serial       uint32
	}
	marks := make(chan mark, 1024)
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	st := s.c.cp.Store()
	go func() {
		for resp := range st.Client().Watch(wctx, s.c.cpCfg.Prefix+"/xfr/", clientv3.WithPrefix(), clientv3.WithFilterDelete()) {
			now := time.Now()
			for _, ev := range resp.Events {
				k := string(ev.Kv.Key)
				switch {
				case strings.HasPrefix(k, st.NotifyRequestPrefix()):
					ns, _ := strconv.ParseInt(string(ev.Kv.Value), 10, 64)
					marks <- mark{at: now, notify: true, received: time.Unix(0, ns)}
				case strings.HasSuffix(k, "/incoming") && strings.Contains(k, "/xfr/status/"):
					var ts dnsv1.TransferStatus
					if proto.Unmarshal(ev.Kv.Value, &ts) == nil {
						marks <- mark{at: now, serial: ts.GetSerial()}
					}
				}
			}
		}
	}()
	b.StartTimer()
	for i := 0; i < b.N; i++ {
		// Changes a second apart: the notices of the previous change (one
		// per edge, the second held back by the coalescing) are done, so
		// each change is announced by its own NOTIFY. (Back to back, a
		// change may ride on the previous one's late refresh, or wait up
		// to an interval behind it: see docs/ZONE_TRANSFERS.md.)
		b.StopTimer()
		time.Sleep(time.Second)
		b.StartTimer()
	drain:
		for {
			select {
			case <-marks:
			default:
				break drain
			}
		}
		start := time.Now()
		name := s.change(b)
		// How long BIND itself takes to serve the new serial (and so to
		// send its NOTIFY): polled beside, over UDP without TSIG.
		reloaded := make(chan time.Duration, 1)
		go func(serial uint32) {
			q := new(dns.Msg)
			q.SetQuestion(notifyZone, dns.TypeSOA)
			cl := &dns.Client{Timeout: time.Second}
			for time.Since(start) < 30*time.Second {
				if r, _, err := cl.Exchange(q, s.primary.Addr); err == nil && len(r.Answer) == 1 {
					if soa, ok := r.Answer[0].(*dns.SOA); ok && soa.Serial == serial {
						reloaded <- time.Since(start)
						return
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
			reloaded <- 0
		}(s.serial)
		for _, e := range s.c.edges {
			for {
				m, err := exchange(e.UDPAddr(), name, dns.TypeA, false)
				if err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) == 1 {
					break
				}
				if time.Since(start) > 30*time.Second {
					b.Fatalf("change %d not served after 30 s", i)
				}
				time.Sleep(time.Millisecond)
			}
		}
		lat = append(lat, time.Since(start))
		reload = append(reload, <-reloaded)
		var rec, xfr, recv time.Duration
	marks:
		for {
			select {
			case m := <-marks:
				// (a notice of the previous change, held back by the
				// coalescing, may land now: not this one's)
				if m.notify && rec == 0 && m.received.After(start) {
					rec, recv = m.at.Sub(start), m.received.Sub(start)
				}
				if !m.notify && m.serial == s.serial && xfr == 0 {
					xfr = m.at.Sub(start)
				}
			default:
				break marks
			}
		}
		recorded, transferred, received = append(recorded, rec), append(transferred, xfr), append(received, recv)
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lat, 0.50), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(lat, 1), "max-ms")
	b.ReportMetric(pct(reload, 0.50), "bind-serves-new-serial-p50-ms")
	b.ReportMetric(pct(received, 0.50), "edge-receives-notify-p50-ms")
	b.ReportMetric(pct(recorded, 0.50), "notify-request-in-etcd-p50-ms")
	b.ReportMetric(pct(transferred, 0.50), "transfer-status-in-etcd-p50-ms")
	// Where the time goes: from an edge receiving the NOTIFY to the end of
	// the refresh it caused (control plane histogram, mean).
	if mfs, err := s.c.cp.Registry().Gather(); err == nil {
		for _, mf := range mfs {
			if mf.GetName() == "zonegrid_notifyin_notice_to_refresh_seconds" && len(mf.GetMetric()) == 1 {
				h := mf.GetMetric()[0].GetHistogram()
				if h.GetSampleCount() > 0 {
					b.ReportMetric(1000*h.GetSampleSum()/float64(h.GetSampleCount()), "notice-to-refreshed-mean-ms")
				}
			}
		}
	}
	b.ReportMetric(0, "ns/op")
}
