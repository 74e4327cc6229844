package xfrintest

// BenchPrimary is StartNSD/StartKnot for benchmarks (testing.TB): the same
// configuration, TSIG required for transfers, the process stopped at the
// end of the benchmark. The outgoing transfer benchmark
// (e2e/outgoing_test.go) times AXFR and IXFR from them next to our edge.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchPrimary is a running NSD or Knot primary.
type BenchPrimary struct {
	Addr   string
	dir    string
	reload func() error
	sighup func() error
}

// StartBenchPrimary starts kind ("nsd" or "knot") serving zone from
// zoneFile with transfers allowed to holders of key.
func StartBenchPrimary(tb testing.TB, kind, zone string, key Key, zoneFile string) *BenchPrimary {
	tb.Helper()
	p := &BenchPrimary{dir: tb.TempDir()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.Addr = l.Addr().String()
	l.Close()
	p.Write(tb, zoneFile)
	kn, z := strings.TrimSuffix(key.Name, "."), strings.TrimSuffix(zone, ".")
	var cmd *exec.Cmd
	switch kind {
	case "nsd":
		conf := filepath.Join(p.dir, "nsd.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(`
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
`, p.dir, portOf(p.Addr), kn, key.Secret, z)), 0o644); err != nil {
			tb.Fatal(err)
		}
		cmd = exec.Command(FindTool(tb, "nsd"), "-d", "-c", conf)
	case "knot":
		conf := filepath.Join(p.dir, "knot.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(`
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
    any: notice
`, p.dir, portOf(p.Addr), kn, key.Secret, z)), 0o644); err != nil {
			tb.Fatal(err)
		}
		knotc := FindTool(tb, "knotc")
		cmd = exec.Command(FindTool(tb, "knotd"), "-c", conf)
		p.reload = func() error {
			out, err := exec.Command(knotc, "-c", conf, "zone-reload", z).CombinedOutput()
			if err != nil {
				return fmt.Errorf("knotc zone-reload: %w: %s", err, out)
			}
			return nil
		}
	default:
		tb.Fatalf("unknown primary %q", kind)
	}
	log, _ := os.Create(filepath.Join(p.dir, "peer.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", kind, err)
	}
	p.sighup = func() error { return cmd.Process.Signal(syscall.SIGHUP) }
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	return p
}

// Write replaces the zone file.
func (p *BenchPrimary) Write(tb testing.TB, zoneFile string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, "zone.db"), []byte(zoneFile), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Reload makes the server read the zone file again.
func (p *BenchPrimary) Reload(tb testing.TB) {
	tb.Helper()
	f := p.sighup
	if p.reload != nil {
		f = p.reload
	}
	if err := f(); err != nil {
		tb.Fatal(err)
	}
}

// WaitSerial waits (up to 10 minutes: a large zone loads slowly) until the
// server answers the zone's SOA with serial want.
func (p *BenchPrimary) WaitSerial(tb testing.TB, zone string, key Key, want uint32) {
	tb.Helper()
	if _, ok := waitSerial(p.Addr, zone, key, want, 10*time.Minute, 200*time.Millisecond); !ok {
		out, _ := os.ReadFile(filepath.Join(p.dir, "peer.log"))
		tb.Fatalf("the primary never served serial %d; log:\n%s", want, out)
	}
}
