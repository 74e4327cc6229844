// Package xfrintest runs real primary servers from Debian (BIND 9, Knot,
// NSD) for zone-transfer tests: each serves one zone from a file, with
// TSIG (hmac-sha256) required for transfers, on a free loopback port.
// Without the server the test is skipped, unless ZONEGRID_INTEROP=required
// (as .ci/run sets): then it fails.
package xfrintest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Key is the TSIG key the primary requires: its name and base64 secret.
type Key struct{ Name, Secret string }

// FindTool finds a Debian-packaged peer; without it the test is skipped
// unless ZONEGRID_INTEROP=required (as .ci/run sets), then it fails.
func FindTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if os.Getenv("ZONEGRID_INTEROP") == "required" {
		t.Fatalf("%s not found (Debian packages bind9, knot, nsd); ZONEGRID_INTEROP=required", name)
	}
	t.Skipf("%s not found (Debian packages bind9, knot, nsd); set ZONEGRID_INTEROP=required to fail instead", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// freePort returns a loopback port free for TCP and UDP, below the
// kernel's ephemeral range (32768-60999 by default). A port the kernel
// hands out for port 0 comes from that range and may be handed out again,
// to any outgoing connection on the machine, before the peer binds it: NSD
// then failed with "can't bind tcp socket: Address already in use" while a
// benchmark ran beside the tests.
func freePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	t.Fatal("no free loopback port in 20000-31999")
	return 0
}

// Primary is a real primary server from Debian, serving zone from a
// zone file, TSIG required for transfers; reload makes it read the file
// again (and, where it can, serve the difference as IXFR).
type Primary struct {
	// Addr is host:port of the running server.
	Addr      string
	dir       string
	cmd       *exec.Cmd
	reloadCmd func(t testing.TB)
	// waitFor bounds WaitSerial: 15 s, longer for benchmark zones.
	waitFor time.Duration
}

func (b *Primary) Write(t testing.TB, zoneFile string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, "zone.db"), []byte(zoneFile), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (b *Primary) Reload(t testing.TB) {
	t.Helper()
	if b.reloadCmd != nil {
		b.reloadCmd(t)
		return
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// run starts the peer's command in the foreground and stops it at the end
// of the test, showing its log if the test failed.
func (b *Primary) run(t testing.TB, name string, args ...string) {
	t.Helper()
	b.cmd = exec.Command(name, args...)
	log, _ := os.Create(filepath.Join(b.dir, "peer.log"))
	b.cmd.Stdout, b.cmd.Stderr = log, log
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		b.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			b.cmd.Process.Kill()
		}
		if t.Failed() {
			out, _ := os.ReadFile(filepath.Join(b.dir, "peer.log"))
			t.Logf("%s log:\n%s", name, out)
		}
	})
}

// WaitSerial waits until the server answers the zone's SOA with serial
// want (signed with key).
func (b *Primary) WaitSerial(tb testing.TB, zone string, key Key, want uint32) {
	tb.Helper()
	within := b.waitFor
	if within == 0 {
		within = 15 * time.Second
	}
	if last, ok := waitSerial(b.Addr, zone, key, want, within, 50*time.Millisecond); !ok {
		tb.Fatalf("the primary never served serial %d: %s", want, last)
	}
}

// waitSerial asks addr for the zone's SOA (TCP, signed with key) every
// poll until it answers serial want or within has passed; it returns the
// last answer or error seen.
func waitSerial(addr, zone string, key Key, want uint32, within, poll time.Duration) (string, bool) {
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
		m.SetTsig(dns.Fqdn(key.Name), dns.HmacSHA256, 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", Timeout: time.Second, TsigSecret: map[string]string{dns.Fqdn(key.Name): key.Secret}}
		resp, _, err := c.Exchange(m, addr)
		if err == nil && len(resp.Answer) > 0 {
			if soa, ok := resp.Answer[0].(*dns.SOA); ok && soa.Serial == want {
				return "", true
			}
		}
		last = fmt.Sprintf("%v %v", resp, err)
		time.Sleep(poll)
	}
	return last, false
}

func newPeer(t testing.TB, zoneFile string) *Primary {
	b := &Primary{dir: t.TempDir()}
	b.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b.Write(t, zoneFile)
	return b
}

func writeConf(t testing.TB, path, conf string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// startBIND runs named (BIND 9), IXFR from the differences between reloads.
func StartBIND(t *testing.T, zone string, key Key, zoneFile string) *Primary {
	named := FindTool(t, "named")
	b := newPeer(t, zoneFile)
	conf := filepath.Join(b.dir, "named.conf")
	writeConf(t, conf, fmt.Sprintf(`
options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]s { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	ixfr-from-differences yes;
	dnssec-validation no;
};
key "%[3]s" { algorithm hmac-sha256; secret "%[4]s"; };
zone "%[5]s" { type primary; file "%[1]s/zone.db"; allow-transfer { key "%[3]s"; }; };
`, b.dir, portOf(b.Addr), strings.TrimSuffix(key.Name, "."), key.Secret, strings.TrimSuffix(zone, ".")))
	b.run(t, named, "-g", "-c", conf, "-n", "1")
	return b
}

// startKnot runs knotd (Knot DNS), IXFR from zone file differences.
func StartKnot(t *testing.T, zone string, key Key, zoneFile string) *Primary {
	knotd := FindTool(t, "knotd")
	knotc := FindTool(t, "knotc")
	b := newPeer(t, zoneFile)
	conf := filepath.Join(b.dir, "knot.conf")
	writeConf(t, conf, knotPrimaryConf(b, key, zone, "info"))
	b.run(t, knotd, "-c", conf)
	b.reloadCmd = knotReload(knotc, conf, zone)
	return b
}

// startNSD runs nsd (NSD 4.6): it answers IXFR with the whole zone.
func StartNSD(t *testing.T, zone string, key Key, zoneFile string) *Primary {
	nsd := FindTool(t, "nsd")
	b := newPeer(t, zoneFile)
	conf := filepath.Join(b.dir, "nsd.conf")
	writeConf(t, conf, nsdPrimaryConf(b, key, zone))
	b.run(t, nsd, "-d", "-c", conf)
	return b
}

// knotPrimaryConf is knotd's configuration for a primary in b.dir serving
// zone from zone.db, transfers to holders of key only, IXFR from the
// differences between reloads.
func knotPrimaryConf(b *Primary, key Key, zone, logLevel string) string {
	return fmt.Sprintf(`
server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]s
database:
    storage: "%[1]s"
key:
  - id: %[3]s
    algorithm: hmac-sha256
    secret: %[4]s
acl:
  - id: xfr
    key: %[3]s
    action: transfer
zone:
  - domain: %[5]s
    file: "%[1]s/zone.db"
    acl: xfr
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
log:
  - target: stderr
    any: %[6]s
`, b.dir, portOf(b.Addr), strings.TrimSuffix(key.Name, "."), key.Secret, strings.TrimSuffix(zone, "."), logLevel)
}

// nsdPrimaryConf is nsd's configuration for a primary in b.dir serving
// zone from zone.db, transfers to holders of key only.
func nsdPrimaryConf(b *Primary, key Key, zone string) string {
	return fmt.Sprintf(`
server:
    ip-address: 127.0.0.1
    port: %[2]s
    zonesdir: "%[1]s"
    pidfile: "%[1]s/nsd.pid"
    database: ""
    xfrdfile: "%[1]s/xfrd.state"
    zonelistfile: "%[1]s/zone.list"
    username: ""
    chroot: ""
    server-count: 1
    verbosity: 1
key:
    name: "%[3]s"
    algorithm: hmac-sha256
    secret: "%[4]s"
zone:
    name: "%[5]s"
    zonefile: "%[1]s/zone.db"
    provide-xfr: 127.0.0.1 %[3]s
`, b.dir, portOf(b.Addr), strings.TrimSuffix(key.Name, "."), key.Secret, strings.TrimSuffix(zone, "."))
}

// knotReload makes a Knot primary read its zone file again (knotd keeps
// the difference as IXFR).
func knotReload(knotc, conf, zone string) func(testing.TB) {
	return func(tb testing.TB) {
		tb.Helper()
		if out, err := exec.Command(knotc, "-c", conf, "zone-reload", strings.TrimSuffix(zone, ".")).CombinedOutput(); err != nil {
			tb.Fatalf("knotc zone-reload: %v: %s", err, out)
		}
	}
}
