package e2e

// DNSSEC live signing at the edge (issue 11), checked by a real validating
// resolver: unbound from Debian, given the zone's DS as its trust anchor
// and the edge as the zone's stub server, must set the AD bit on every kind
// of answer the edge makes (records, proxied addresses, a flattened apex,
// the synthesized HTTPS record, a wildcard, the DS or its absence at a
// cut, compact NXDOMAIN and NODATA) and answer SERVFAIL when the trust
// anchor does not match. Skipped without unbound unless
// ZONEGRID_INTEROP=required.

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/edge/node"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// interopTool returns the path of a tool the interoperability tests need,
// skipping the test (or failing it with ZONEGRID_INTEROP=required) when it
// is missing.
func interopTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("ZONEGRID_INTEROP") == "required" {
		t.Fatalf("%s not installed and ZONEGRID_INTEROP=required (Debian: apt-get install unbound)", name)
	}
	t.Skipf("%s not installed (Debian: apt-get install unbound); set ZONEGRID_INTEROP=required to fail instead", name)
	return ""
}

// enableDNSSEC turns DNSSEC on for a zone (denial by NSEC3 with nsec3)
// and returns its DS record.
func (c *cluster) enableDNSSEC(zoneID string, nsec3 bool) string {
	c.tb.Helper()
	paths := []string{"status"}
	if nsec3 {
		paths = append(paths, "dnssec_use_nsec3")
	}
	resp, err := dnsv1.NewDnssecServiceClient(c.conn).UpdateDnssec(c.ctx(), &dnsv1.UpdateDnssecRequest{
		ZoneId:     zoneID,
		Dnssec:     &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, DnssecUseNsec3: nsec3},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
	})
	if err != nil {
		c.tb.Fatalf("enable dnssec on %s: %v", zoneID, err)
	}
	ds := resp.GetDnssec().GetDs()
	if ds == "" {
		c.tb.Fatalf("enable dnssec on %s: no DS in %v", zoneID, resp.GetDnssec())
	}
	return ds
}

// signedDNSKEY checks that the edge serves name's DNSKEY set signed.
func signedDNSKEY(name string) func(string) error {
	return func(addr string) error {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeDNSKEY)
		q.SetEdns0(1232, true)
		m, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(q, addr)
		if err != nil {
			return err
		}
		for _, rr := range m.Answer {
			if rr.Header().Rrtype == dns.TypeRRSIG {
				return nil
			}
		}
		return fmt.Errorf("DNSKEY of %s not signed yet: %v", name, m.Answer)
	}
}

// unbound runs a validating unbound on a free loopback port with the given
// trust anchors, stubbing every zone to edge; it returns its address. A
// port taken between our probe and unbound's bind is retried on another.
func unbound(t *testing.T, edge string, anchors []string, zones ...string) string {
	t.Helper()
	return unboundWith(t, "", edge, anchors, zones...)
}

// unboundWith is unbound with extra lines in its server section (e.g.
// "cache-max-ttl: 1" to scale a rollover's TTLs down to seconds).
func unboundWith(t *testing.T, extra, edge string, anchors []string, zones ...string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr, err := startUnbound(t, edge, anchors, zones, extra)
		if err == nil {
			return addr
		}
		if attempt == 3 || !strings.Contains(err.Error(), "already in use") {
			t.Fatal(err)
		}
	}
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startUnbound(t *testing.T, edge string, anchors, zones []string, extra string) (string, error) {
	t.Helper()
	bin := interopTool(t, "unbound")
	dir := t.TempDir()
	port := freeUDPPort(t)
	var conf strings.Builder
	fmt.Fprintf(&conf, `server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  username: ""
  chroot: ""
  directory: %q
  pidfile: %q
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  qname-minimisation: no
  harden-dnssec-stripped: yes
  aggressive-nsec: yes
  num-threads: 1
  cache-min-ttl: 0
  # unbound answers the RFC 6761 names (test., invalid., ...) itself.
  local-zone: "test." nodefault
`, port, dir, filepath.Join(dir, "unbound.pid"))
	for _, a := range anchors {
		fmt.Fprintf(&conf, "  trust-anchor: \"%s\"\n", strings.Join(strings.Fields(a), " "))
	}
	for _, l := range strings.Split(strings.TrimSpace(extra), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			fmt.Fprintf(&conf, "  %s\n", l)
		}
	}
	host, edgePort, _ := net.SplitHostPort(edge)
	for _, z := range zones {
		fmt.Fprintf(&conf, "stub-zone:\n  name: %q\n  stub-addr: %s@%s\n", z, host, edgePort)
	}
	conf.WriteString("remote-control:\n  control-enable: no\n")
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		return "", fmt.Errorf("write unbound config: %w", err)
	}
	out := &syncBuffer{}
	cmd := exec.Command(bin, "-d", "-c", path)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start unbound: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("unbound config:\n%s\nunbound output:\n%s", conf.String(), out.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		q := new(dns.Msg)
		q.SetQuestion("localhost.", dns.TypeA)
		if _, _, err := (&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(q, addr); err == nil {
			return addr, nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("unbound exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("unbound does not answer on %s: %s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// validated asks the resolver with DO set and returns the answer.
func validated(t *testing.T, resolver, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(4096, true)
	q.RecursionDesired = true
	cl := &dns.Client{Timeout: 5 * time.Second}
	m, _, err := cl.Exchange(q, resolver)
	if err != nil {
		t.Fatalf("ask unbound %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return m
}

func TestDnssecAnswersValidateInUnbound(t *testing.T) {
	interopTool(t, "unbound")
	up := newTestUpstream(t)
	up.set(t, "origin.external.test.", dns.TypeA, "origin.external.test. 60 IN A 198.51.100.77")
	c := newCluster(t, 1, withUpstreams(up.addr))
	// Pro: per-record CNAME flattening.
	z := c.createZone("acme", "signed.test", dnsv1.Plan_PLAN_PRO)
	id := z.GetId()
	for _, r := range []*dnsv1.Record{
		{Name: "www", Type: "A", Content: "203.0.113.1"},
		{Name: "www", Type: "AAAA", Content: "2001:db8:5::1"},
		{Name: "@", Type: "MX", Content: "mail.signed.test", Priority: 10},
		{Name: "mail", Type: "A", Content: "203.0.113.25"},
		{Name: "px", Type: "A", Content: "203.0.113.2", Proxied: true},
		{Name: "px", Type: "AAAA", Content: "2001:db8:5::2", Proxied: true},
		{Name: "@", Type: "CNAME", Content: "origin.signed.test"},
		{Name: "origin", Type: "A", Content: "203.0.113.3"},
		{Name: "*.wild", Type: "A", Content: "203.0.113.4"},
		{Name: "ext", Type: "CNAME", Content: "origin.external.test", Settings: &dnsv1.RecordSettings{FlattenCname: true}},
		{Name: "secure", Type: "NS", Content: "ns.elsewhere.net"},
		{Name: "secure", Type: "DS", Content: "12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"},
		{Name: "insecure", Type: "NS", Content: "ns.elsewhere.net"},
	} {
		c.createRecord(id, r)
	}
	ds := c.enableDNSSEC(id, false)
	// A second signed zone whose trust anchor is wrong: its answers must
	// not validate.
	other := c.createZone("acme", "bogus.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(other.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.9"})
	otherDS := c.enableDNSSEC(other.GetId(), false)
	// NSEC3 (an Enterprise setting): denial generated at answer time.
	n3 := c.createZone("acme", "nsec3.test", dnsv1.Plan_PLAN_ENTERPRISE)
	for _, r := range []*dnsv1.Record{
		{Name: "www", Type: "A", Content: "203.0.113.31"},
		{Name: "*.wild", Type: "A", Content: "203.0.113.32"},
		{Name: "a.b.ent", Type: "A", Content: "203.0.113.33"},
		{Name: "insecure", Type: "NS", Content: "ns.elsewhere.net"},
	} {
		c.createRecord(n3.GetId(), r)
	}
	n3DS := c.enableDNSSEC(n3.GetId(), true)
	c.eventually("signed DNSKEY sets", func(addr string) error {
		for _, z := range []string{"signed.test.", "bogus.test.", "nsec3.test."} {
			if err := signedDNSKEY(z)(addr); err != nil {
				return err
			}
		}
		return nil
	})
	// The same DS with one digest digit changed.
	wrong := strings.Fields(otherDS)
	digest := []byte(wrong[len(wrong)-1])
	if digest[0] == '0' {
		digest[0] = '1'
	} else {
		digest[0] = '0'
	}
	wrong[len(wrong)-1] = string(digest)
	res := unbound(t, c.edges[0].UDPAddr(), []string{ds, strings.Join(wrong, " "), n3DS}, "signed.test", "bogus.test", "nsec3.test")

	v4, v6 := anycastFor(id, testAnycastV4), anycastFor(id, testAnycastV6)
	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		rcode int
		// answer holds RDATA the answer must contain (nil: none, NODATA).
		answer []string
	}{
		{"plain A", "www.signed.test.", dns.TypeA, dns.RcodeSuccess, []string{"203.0.113.1"}},
		{"MX", "signed.test.", dns.TypeMX, dns.RcodeSuccess, []string{"10 mail.signed.test."}},
		{"proxied A", "px.signed.test.", dns.TypeA, dns.RcodeSuccess, v4},
		{"proxied AAAA", "px.signed.test.", dns.TypeAAAA, dns.RcodeSuccess, v6},
		{"flattened apex", "signed.test.", dns.TypeA, dns.RcodeSuccess, []string{"203.0.113.3"}},
		{"flattened CNAME, external target", "ext.signed.test.", dns.TypeA, dns.RcodeSuccess, []string{"198.51.100.77"}},
		{"synthesized HTTPS", "px.signed.test.", dns.TypeHTTPS, dns.RcodeSuccess, []string{syntheticHTTPS(t, v4, v6)}},
		{"wildcard", "anything.wild.signed.test.", dns.TypeA, dns.RcodeSuccess, []string{"203.0.113.4"}},
		{"delegation with DS", "secure.signed.test.", dns.TypeDS, dns.RcodeSuccess,
			[]string{"12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
		{"delegation without DS", "insecure.signed.test.", dns.TypeDS, dns.RcodeSuccess, nil},
		// Compact answers (RFC 9824): a name that does not exist is
		// answered NOERROR with an NSEC denying every type.
		{"NXDOMAIN", "nope.signed.test.", dns.TypeA, dns.RcodeSuccess, nil},
		{"NODATA", "www.signed.test.", dns.TypeTXT, dns.RcodeSuccess, nil},
		{"DNSKEY", "signed.test.", dns.TypeDNSKEY, dns.RcodeSuccess, nil},
		{"NSEC3 zone: plain A", "www.nsec3.test.", dns.TypeA, dns.RcodeSuccess, []string{"203.0.113.31"}},
		{"NSEC3 zone: NXDOMAIN", "nope.nsec3.test.", dns.TypeA, dns.RcodeNameError, nil},
		{"NSEC3 zone: NXDOMAIN below a missing name", "x.nope.nsec3.test.", dns.TypeA, dns.RcodeNameError, nil},
		{"NSEC3 zone: NODATA", "www.nsec3.test.", dns.TypeTXT, dns.RcodeSuccess, nil},
		{"NSEC3 zone: NODATA at an empty non-terminal", "b.ent.nsec3.test.", dns.TypeA, dns.RcodeSuccess, nil},
		{"NSEC3 zone: wildcard", "x.y.wild.nsec3.test.", dns.TypeA, dns.RcodeSuccess, []string{"203.0.113.32"}},
		{"NSEC3 zone: delegation without DS", "insecure.nsec3.test.", dns.TypeDS, dns.RcodeSuccess, nil},
		// Queries for DNSSEC's own types (docs/DNSSEC.md).
		{"NSEC query: the compact NSEC", "www.signed.test.", dns.TypeNSEC, dns.RcodeSuccess, []string{`\000.www.signed.test. A AAAA RRSIG NSEC`}},
		{"NSEC3 zone: NSEC3PARAM at the apex", "nsec3.test.", dns.TypeNSEC3PARAM, dns.RcodeSuccess, []string{"1 0 0 -"}},
		{"NSEC3 zone: NODATA at the apex", "nsec3.test.", dns.TypeSRV, dns.RcodeSuccess, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validated(t, res, tc.qname, tc.qtype)
			if m.Rcode != tc.rcode || !m.AuthenticatedData {
				t.Fatalf("rcode %s AD %v, want %s with AD:\n%v", dns.RcodeToString[m.Rcode], m.AuthenticatedData, dns.RcodeToString[tc.rcode], m)
			}
			got := map[string]bool{}
			for _, rr := range m.Answer {
				if rr.Header().Rrtype == tc.qtype {
					got[strings.ToLower(rdata(rr))] = true
				}
			}
			for _, w := range tc.answer {
				if !got[strings.ToLower(w)] {
					t.Errorf("answer lacks %q: %v", w, m.Answer)
				}
			}
			if tc.answer == nil && tc.qtype != dns.TypeDNSKEY && len(got) != 0 {
				t.Errorf("want no %s, got %v", dns.TypeToString[tc.qtype], m.Answer)
			}
		})
	}
	t.Run("delv validates the same answers at the edge", func(t *testing.T) {
		bin := delvTool(t)
		anchor, n3Anchor := delvAnchor(t, ds), delvAnchor(t, n3DS)
		for _, tc := range []struct {
			anchor, zone, qname string
			qtype               uint16
			// want is a line delv must print besides "fully validated".
			want string
		}{
			{anchor, "signed.test", "www.signed.test.", dns.TypeA, "203.0.113.1"},
			{anchor, "signed.test", "px.signed.test.", dns.TypeAAAA, ""},
			{anchor, "signed.test", "signed.test.", dns.TypeA, "203.0.113.3"},
			{anchor, "signed.test", "px.signed.test.", dns.TypeHTTPS, ""},
			{anchor, "signed.test", "anything.wild.signed.test.", dns.TypeA, "203.0.113.4"},
			{anchor, "signed.test", "nope.signed.test.", dns.TypeA, "; negative response, fully validated"},
			{anchor, "signed.test", "www.signed.test.", dns.TypeTXT, "; negative response, fully validated"},
			{anchor, "signed.test", "insecure.signed.test.", dns.TypeDS, "; negative response, fully validated"},
			{anchor, "signed.test", "signed.test.", dns.TypeDNSKEY, ""},
			{anchor, "signed.test", "www.signed.test.", dns.TypeNSEC, ""},
			{n3Anchor, "nsec3.test", "nope.nsec3.test.", dns.TypeA, "ncache nxdomain"},
			{n3Anchor, "nsec3.test", "x.y.wild.nsec3.test.", dns.TypeA, "203.0.113.32"},
			{n3Anchor, "nsec3.test", "b.ent.nsec3.test.", dns.TypeA, "; negative response, fully validated"},
			{n3Anchor, "nsec3.test", "nsec3.test.", dns.TypeNSEC3PARAM, "1 0 0 -"},
		} {
			t.Run(tc.qname+" "+dns.TypeToString[tc.qtype], func(t *testing.T) {
				out := delv(t, bin, c.edges[0].UDPAddr(), tc.anchor, tc.zone, tc.qname, tc.qtype)
				// Positive answers end in "; fully validated", negative
				// ones in "resolution failed: ncache ..." and "; negative
				// response, fully validated".
				if !strings.Contains(out, "fully validated") || strings.Contains(out, "unsigned answer") || strings.Contains(out, "insecurity proof failed") ||
					(strings.Contains(out, "resolution failed") && !strings.Contains(out, "resolution failed: ncache")) {
					t.Fatalf("delv did not validate:\n%s", out)
				}
				if tc.want != "" && !strings.Contains(out, tc.want) {
					t.Fatalf("delv output lacks %q:\n%s", tc.want, out)
				}
			})
		}
		t.Run("wrong anchor fails", func(t *testing.T) {
			out := delv(t, bin, c.edges[0].UDPAddr(), delvAnchor(t, strings.Join(wrong, " ")), "bogus.test", "www.bogus.test.", dns.TypeA)
			if strings.Contains(out, "fully validated") || !strings.Contains(out, "resolution failed") {
				t.Fatalf("validated with a wrong anchor:\n%s", out)
			}
		})
	})
	t.Run("ZSK rollover started: the next ZSK is published, answers still validate", func(t *testing.T) {
		if _, err := dnsv1.NewDnssecServiceClient(c.conn).RollZsk(c.ctx(), &dnsv1.RollZskRequest{ZoneId: id}); err != nil {
			t.Fatalf("roll ZSK: %v", err)
		}
		c.eventually("three DNSKEYs published", func(addr string) error {
			m := query(t, addr, "signed.test.", dns.TypeDNSKEY, false)
			if len(m.Answer) != 3 {
				return fmt.Errorf("DNSKEY set %v", m.Answer)
			}
			return nil
		})
		for _, q := range []string{"www.signed.test.", "mail.signed.test."} {
			if m := validated(t, res, q, dns.TypeAAAA); !m.AuthenticatedData {
				t.Errorf("%s AAAA during the rollover: rcode %s, no AD", q, dns.RcodeToString[m.Rcode])
			}
		}
		if m := validated(t, res, "signed.test.", dns.TypeDNSKEY); !m.AuthenticatedData || len(m.Answer) < 3 {
			t.Errorf("DNSKEY during the rollover: AD %v, %d records", m.AuthenticatedData, len(m.Answer))
		}
	})
	t.Run("signed child zone validates through the DS its parent serves", func(t *testing.T) {
		// A subdomain setup (Enterprise) under the signed parent, delegated
		// by NS and DS records in the parent; the resolver only trusts the
		// parent. The edge answers the child's names from the child zone and
		// the DS at the child's apex from the parent (RFC 4035 3.1.4.1).
		child := c.createZone("acme", "sub.signed.test", dnsv1.Plan_PLAN_ENTERPRISE)
		c.createRecord(child.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.41"})
		childDS := strings.Fields(c.enableDNSSEC(child.GetId(), false))
		for _, ns := range child.GetNameServers() {
			c.createRecord(id, &dnsv1.Record{Name: "sub", Type: "NS", Content: ns})
		}
		c.createRecord(id, &dnsv1.Record{Name: "sub", Type: "DS", Content: strings.Join(childDS[len(childDS)-4:], " ")})
		c.eventually("child signed and parent's DS served", func(addr string) error {
			if err := signedDNSKEY("sub.signed.test.")(addr); err != nil {
				return err
			}
			m := query(t, addr, "sub.signed.test.", dns.TypeDS, false)
			if len(m.Answer) == 0 {
				return fmt.Errorf("no DS for the child yet: %v", m)
			}
			return nil
		})
		res2 := unbound(t, c.edges[0].UDPAddr(), []string{ds}, "signed.test")
		m := validated(t, res2, "www.sub.signed.test.", dns.TypeA)
		if m.Rcode != dns.RcodeSuccess || !m.AuthenticatedData || len(m.Answer) == 0 {
			t.Fatalf("rcode %s AD %v, want the child's answer validated:\n%v", dns.RcodeToString[m.Rcode], m.AuthenticatedData, m)
		}
	})
	t.Run("wrong trust anchor gives SERVFAIL", func(t *testing.T) {
		if m := validated(t, res, "www.bogus.test.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
			t.Fatalf("rcode %s, want SERVFAIL:\n%v", dns.RcodeToString[m.Rcode], m)
		}
	})
	t.Run("tampered signatures give SERVFAIL", func(t *testing.T) {
		// The proxy itself is sound: relaying untouched, answers validate.
		res1 := unbound(t, relay(t, c.edges[0].UDPAddr(), false), []string{ds}, "signed.test")
		if m := validated(t, res1, "www.signed.test.", dns.TypeA); m.Rcode != dns.RcodeSuccess || !m.AuthenticatedData {
			t.Fatalf("through the relay: rcode %s AD %v", dns.RcodeToString[m.Rcode], m.AuthenticatedData)
		}
		res2 := unbound(t, relay(t, c.edges[0].UDPAddr(), true), []string{ds}, "signed.test")
		if m := validated(t, res2, "www.signed.test.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
			t.Fatalf("rcode %s, want SERVFAIL:\n%v", dns.RcodeToString[m.Rcode], m)
		}
	})
	t.Run("expired signatures give SERVFAIL", func(t *testing.T) {
		// An edge whose clock is ten days behind signs with signatures
		// that expired six days ago.
		e := c.edgeWith(func(cfg *node.Config) {
			cfg.Now = func() time.Time { return time.Now().Add(-10 * 24 * time.Hour) }
		})
		c.eventually("the late edge serves the zone", func(string) error {
			return signedDNSKEY("signed.test.")(e.UDPAddr())
		})
		res2 := unbound(t, e.UDPAddr(), []string{ds}, "signed.test")
		if m := validated(t, res2, "www.signed.test.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
			t.Fatalf("rcode %s, want SERVFAIL:\n%v", dns.RcodeToString[m.Rcode], m)
		}
	})
	t.Run("an edge that cannot open the keys answers unsigned: SERVFAIL", func(t *testing.T) {
		// An edge given another KEK serves the zone (unsigned, counted in
		// zonegrid_edge_dnssec_unsigned_zone_loads_total); a validator
		// holding the DS must reject those answers.
		kek := c.kekFile
		c.kekFile = filepath.Join(t.TempDir(), "other.kek")
		if _, err := keyseal.EnsureFile(c.kekFile); err != nil {
			t.Fatal(err)
		}
		e := c.addEdge(c.ctx())
		c.kekFile = kek
		if m := query(t, e.UDPAddr(), "www.signed.test.", dns.TypeA, false); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
			t.Fatalf("the edge without the keys does not answer the zone: %v", m)
		}
		res2 := unbound(t, e.UDPAddr(), []string{ds}, "signed.test")
		if m := validated(t, res2, "www.signed.test.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
			t.Fatalf("rcode %s, want SERVFAIL:\n%v", dns.RcodeToString[m.Rcode], m)
		}
	})
}

// edgeWith starts one more edge like the harness's, with edit applied to
// its configuration (the harness's addEdge has no such hook); it is not
// added to c.edges.
func (c *cluster) edgeWith(edit func(*node.Config)) *node.Node {
	c.tb.Helper()
	cfg := node.Config{
		UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
		NATSURL:     c.servers.NATSURL(),
		AnycastIPv4: testAnycastV4, AnycastIPv6: testAnycastV6,
		Upstreams:             c.upstreams,
		TunnelDomain:          testTunnelDomain,
		SnapshotTrustKeyFiles: []string{c.trustKey},
		NATSNkeySeedFile:      c.servers.Credentials().EdgeNkeySeedFile,
		DNSSECKEKFiles:        []string{c.kekFile},
	}
	edit(&cfg)
	n, err := node.New(cfg, c.log.Named("edge-custom"))
	if err != nil {
		c.tb.Fatalf("new edge: %v", err)
	}
	ctx := c.ctx()
	if err := n.Start(ctx); err != nil {
		c.tb.Fatalf("start edge: %v", err)
	}
	c.tb.Cleanup(func() { _ = n.Close() })
	select {
	case <-n.Ready():
	case <-ctx.Done():
		c.tb.Fatalf("edge not ready: %v", ctx.Err())
	}
	return n
}

// relay relays UDP queries to edge and, with tamper, flips one bit of
// every RRSIG's signature in the answers; it returns its address.
func relay(t *testing.T, edge string, tamper bool) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			m, _, err := (&dns.Client{Timeout: 2 * time.Second, UDPSize: 4096}).Exchange(q, edge)
			if err != nil {
				continue
			}
			for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
				for _, rr := range sec {
					if s, ok := rr.(*dns.RRSIG); ok && tamper {
						sig, _ := base64.StdEncoding.DecodeString(s.Signature)
						if len(sig) > 0 {
							sig[len(sig)/2] ^= 1
							s.Signature = base64.StdEncoding.EncodeToString(sig)
						}
					}
				}
			}
			if b, err := m.Pack(); err == nil {
				_, _ = pc.WriteTo(b, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}
