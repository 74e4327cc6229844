package xfrin

import (
	"context"
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

// findTool finds a Debian-packaged peer; without it the test is skipped
// unless ZONEGRID_INTEROP=required (as .ci/run sets), then it fails.
func findTool(t *testing.T, name string) string {
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
		t.Fatalf("%s not found (Debian package bind9); ZONEGRID_INTEROP=required", name)
	}
	t.Skipf("%s not found (Debian package bind9); set ZONEGRID_INTEROP=required to fail instead", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// bindPrimary runs a real BIND 9 (named) as the primary of zone, TSIG
// required for transfers, computing IXFR from the differences between
// reloads of its zone file.
type bindPrimary struct {
	addr, dir string
	cmd       *exec.Cmd
}

func startBIND(t *testing.T, zoneFile string) *bindPrimary {
	t.Helper()
	named := findTool(t, "named")
	dir := t.TempDir()
	port := freePort(t)
	conf := fmt.Sprintf(`
options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	ixfr-from-differences yes;
	dnssec-validation no;
};
key "%[3]s" { algorithm hmac-sha256; secret "%[4]s"; };
zone "%[5]s" { type primary; file "%[1]s/zone.db"; allow-transfer { key "%[3]s"; }; };
`, dir, port, strings.TrimSuffix(tsigName, "."), secret, strings.TrimSuffix(zone, "."))
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &bindPrimary{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
	b.write(t, zoneFile)
	b.cmd = exec.Command(named, "-g", "-c", filepath.Join(dir, "named.conf"), "-n", "1")
	log, _ := os.Create(filepath.Join(dir, "named.log"))
	b.cmd.Stdout, b.cmd.Stderr = log, log
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start named: %v", err)
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
			out, _ := os.ReadFile(filepath.Join(dir, "named.log"))
			t.Logf("named log:\n%s", out)
		}
	})
	return b
}

func (b *bindPrimary) write(t *testing.T, zoneFile string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, "zone.db"), []byte(zoneFile), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reload makes named read its zone file again (SIGHUP).
func (b *bindPrimary) reload(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

func (b *bindPrimary) waitSerial(t *testing.T, p Primary, want uint32) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		s, err := SerialOf(context.Background(), p, zone)
		if err == nil && s == want {
			return
		}
		last = fmt.Errorf("serial %d: %v", s, err)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("BIND never served serial %d: %v", want, last)
}

func bindZone(serial int, extra string) string {
	return fmt.Sprintf(`$ORIGIN sec.example.
$TTL 300
@	IN SOA ns1.sec.example. admin.sec.example. %d 7200 3600 1209600 300
@	IN NS ns1.sec.example.
ns1	IN A 192.0.2.53
www	IN A 192.0.2.1
@	IN MX 10 mail.sec.example.
mail	IN A 192.0.2.25
_sip._tcp	IN SRV 10 5 5060 sip.sec.example.
@	IN TXT "v=spf1 -all"
%s`, serial, extra)
}

// A real BIND 9 primary: AXFR and then IXFR (after a change BIND computes
// as a difference), both TSIG-signed, applied to the store; the wrong key
// is refused.
func TestTransfersFromBIND(t *testing.T) {
	ctx := context.Background()
	b := startBIND(t, bindZone(2026112701, "old\tIN A 192.0.2.9\n"))
	pr := Primary{Addr: b.addr, IXFR: true, TSIG: &TSIG{Name: tsigName, Secret: secret}}
	b.waitSerial(t, pr, 2026112701)
	st, id := newStore(t)

	res, err := Fetch(ctx, pr, zone, nil, Limits{})
	if err != nil || !res.Full || res.Serial != 2026112701 {
		t.Fatalf("AXFR from BIND: %+v, %v", res, err)
	}
	if _, err := Apply(ctx, st, id, res, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(served(t, st, id), "\n")
	for _, want := range []string{"www.sec.example. A 192.0.2.1", "sec.example. MX mail.sec.example.", "_sip._tcp.sec.example. SRV 10 5 5060 sip.sec.example.",
		"old.sec.example. A 192.0.2.9", "sec.example. NS ns1.sec.example."} {
		if !strings.Contains(got, want) {
			t.Errorf("after AXFR the zone lacks %q:\n%s", want, got)
		}
	}

	b.write(t, bindZone(2026112702, "new\tIN A 192.0.2.10\n"))
	b.reload(t)
	b.waitSerial(t, pr, 2026112702)
	have := uint32(2026112701)
	res, err = Fetch(ctx, pr, zone, &have, Limits{})
	if err != nil || res.Full || len(res.Diffs) != 1 || res.Serial != 2026112702 {
		t.Fatalf("IXFR from BIND: %+v, %v", res, err)
	}
	a, err := Apply(ctx, st, id, res, time.Now())
	if err != nil || a.Put != 1 || a.Deleted != 1 {
		t.Fatalf("apply IXFR: %+v, %v", a, err)
	}
	got = strings.Join(served(t, st, id), "\n")
	if strings.Contains(got, "old.sec.example.") || !strings.Contains(got, "new.sec.example. A 192.0.2.10") {
		t.Fatalf("after IXFR:\n%s", got)
	}

	bad := Primary{Addr: b.addr, TSIG: &TSIG{Name: tsigName, Secret: "d3Jvbmctc2VjcmV0LWtleS0xMjM0NTY3ODkw"}}
	if _, err := Fetch(ctx, bad, zone, nil, Limits{Timeout: 5 * time.Second}); err == nil {
		t.Fatal("BIND transferred with a wrong TSIG secret")
	}
	if _, err := Fetch(ctx, Primary{Addr: b.addr}, zone, nil, Limits{Timeout: 5 * time.Second}); err == nil {
		t.Fatal("BIND transferred without TSIG")
	}
}
