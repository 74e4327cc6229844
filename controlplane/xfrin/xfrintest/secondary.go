package xfrintest

// Real secondaries from Debian (BIND 9, Knot, NSD) of a zone of ours, for
// the outgoing transfer tests (e2e/outgoing_test.go): each transfers the
// zone from an edge's transfer listener, TSIG-signed with key when one is
// given, accepts NOTIFY from 127.0.0.1 (signed with the key too), and
// serves the zone on a free loopback port. Their refresh timer is the SOA's
// (our default REFRESH is 10,000 s), so only a NOTIFY makes them transfer
// during a test.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Secondary is a running secondary server.
type Secondary struct {
	*Primary
	// Name is the implementation ("bind", "knot", "nsd").
	Name string
	zone string
}

// Log returns what the server logged so far.
func (s *Secondary) Log() string {
	out, _ := os.ReadFile(filepath.Join(s.dir, "peer.log"))
	return string(out)
}

// Query asks the secondary name/qtype over UDP (TCP when truncated).
func (s *Secondary) Query(name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	resp, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, s.Addr)
	if err == nil && resp.Truncated {
		resp, _, err = (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(m, s.Addr)
	}
	return resp, err
}

// Serial is the zone's SOA serial the secondary serves, or 0 when it does
// not serve the zone (yet).
func (s *Secondary) Serial() uint32 {
	resp, err := s.Query(s.zone, dns.TypeSOA)
	if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) == 0 {
		return 0
	}
	if soa, ok := resp.Answer[0].(*dns.SOA); ok {
		return soa.Serial
	}
	return 0
}

// WaitSerial waits until the secondary serves the zone at serial want.
func (s *Secondary) WaitSerial(t *testing.T, want uint32, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if s.Serial() == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never served %s at serial %d (serves %d); log:\n%s", s.Name, s.zone, want, s.Serial(), s.Log())
}

// SecondaryStarter starts one implementation as secondary of zone,
// transferring from primary (host:port), with key (nil: no TSIG).
type SecondaryStarter func(t *testing.T, zone, primary string, key *Key) *Secondary

// Secondaries are the three implementations, by name.
var Secondaries = []struct {
	Name  string
	Tool  string
	Start SecondaryStarter
}{
	{"bind", "named", StartBINDSecondary},
	{"knot", "knotd", StartKnotSecondary},
	{"nsd", "nsd", StartNSDSecondary},
}

func newSecondary(t *testing.T, name, zone string) *Secondary {
	b := &Primary{dir: t.TempDir()}
	b.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	return &Secondary{Primary: b, Name: name, zone: dns.Fqdn(zone)}
}

func hostPort(addr string) (string, string) {
	h, p, _ := net.SplitHostPort(addr)
	return h, p
}

// StartBINDSecondary runs named (BIND 9) as secondary: IXFR requested,
// NOTIFY accepted from 127.0.0.1.
func StartBINDSecondary(t *testing.T, zone, primary string, key *Key) *Secondary {
	named := FindTool(t, "named")
	s := newSecondary(t, "bind", zone)
	ph, pp := hostPort(primary)
	keyConf, keyRef := "", ""
	if key != nil {
		keyConf = fmt.Sprintf(`key "%s" { algorithm hmac-sha256; secret "%s"; };`, strings.TrimSuffix(key.Name, "."), key.Secret)
		keyRef = fmt.Sprintf(` key "%s"`, strings.TrimSuffix(key.Name, "."))
	}
	conf := filepath.Join(s.dir, "named.conf")
	writeConf(t, conf, fmt.Sprintf(`
options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]s { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	dnssec-validation no;
	allow-notify { 127.0.0.1; };
	request-ixfr yes;
};
logging { category xfer-in { default_stderr; }; category notify { default_stderr; }; };
%[3]s
zone "%[4]s" { type secondary; file "%[1]s/secondary.db"; masterfile-format text; primaries { %[5]s port %[6]s%[7]s; }; };
`, s.dir, portOf(s.Addr), keyConf, strings.TrimSuffix(zone, "."), ph, pp, keyRef))
	s.run(t, named, "-g", "-c", conf, "-n", "1")
	return s
}

// StartKnotSecondary runs knotd (Knot DNS) as secondary: IXFR by default,
// NOTIFY accepted from 127.0.0.1.
func StartKnotSecondary(t *testing.T, zone, primary string, key *Key) *Secondary {
	knotd := FindTool(t, "knotd")
	s := newSecondary(t, "knot", zone)
	ph, pp := hostPort(primary)
	keyConf, keyRef := "", ""
	if key != nil {
		keyConf = fmt.Sprintf("key:\n  - id: %s\n    algorithm: hmac-sha256\n    secret: %s\n", strings.TrimSuffix(key.Name, "."), key.Secret)
		keyRef = "\n    key: " + strings.TrimSuffix(key.Name, ".")
	}
	conf := filepath.Join(s.dir, "knot.conf")
	writeConf(t, conf, fmt.Sprintf(`
server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]s
database:
    storage: "%[1]s"
%[3]s
remote:
  - id: primary
    address: %[4]s@%[5]s%[6]s
acl:
  - id: notify
    address: 127.0.0.1
    action: notify%[6]s
zone:
  - domain: %[7]s
    file: "%[1]s/secondary.db"
    master: primary
    acl: notify
    semantic-checks: off
    zonefile-sync: -1
log:
  - target: stderr
    any: info
`, s.dir, portOf(s.Addr), keyConf, ph, pp, keyRef, strings.TrimSuffix(zone, ".")))
	s.run(t, knotd, "-c", conf)
	return s
}

// StartNSDSecondary runs nsd (NSD 4) as secondary: IXFR first (AXFR as
// fallback), NOTIFY accepted from 127.0.0.1.
func StartNSDSecondary(t *testing.T, zone, primary string, key *Key) *Secondary {
	nsd := FindTool(t, "nsd")
	s := newSecondary(t, "nsd", zone)
	ph, pp := hostPort(primary)
	keyConf, keyRef := "", "NOKEY"
	if key != nil {
		keyConf = fmt.Sprintf("key:\n    name: \"%s\"\n    algorithm: hmac-sha256\n    secret: \"%s\"\n", strings.TrimSuffix(key.Name, "."), key.Secret)
		keyRef = strings.TrimSuffix(key.Name, ".")
	}
	conf := filepath.Join(s.dir, "nsd.conf")
	writeConf(t, conf, fmt.Sprintf(`
server:
    ip-address: 127.0.0.1
    port: %[2]s
    zonesdir: "%[1]s"
    pidfile: "%[1]s/nsd.pid"
    database: ""
    xfrdfile: "%[1]s/xfrd.state"
    xfrdir: "%[1]s"
    zonelistfile: "%[1]s/zone.list"
    username: ""
    chroot: ""
    server-count: 1
    verbosity: 2
%[3]s
zone:
    name: "%[4]s"
    zonefile: "%[1]s/secondary.db"
    request-xfr: %[5]s@%[6]s %[7]s
    allow-notify: 127.0.0.1 %[7]s
`, s.dir, portOf(s.Addr), keyConf, strings.TrimSuffix(zone, "."), ph, pp, keyRef))
	s.run(t, nsd, "-d", "-c", conf)
	return s
}
