package e2e

// delv (BIND's validator, Debian package bind9-dnsutils) checks the edge's
// signed answers with a second, independent validator: given the zone's
// DS as its only trust anchor (-a, +root=<zone>), it asks the edge
// directly and must report "fully validated".

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// delvTool returns delv's path, skipping (or failing with
// ZONEGRID_INTEROP=required) when it is missing.
func delvTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("delv")
	if err == nil {
		return p
	}
	if os.Getenv("ZONEGRID_INTEROP") == "required" {
		t.Fatal("delv not installed and ZONEGRID_INTEROP=required (Debian: apt-get install bind9-dnsutils)")
	}
	t.Skip("delv not installed (Debian: apt-get install bind9-dnsutils); set ZONEGRID_INTEROP=required to fail instead")
	return ""
}

// delvAnchor writes a BIND trust-anchors file holding ds (a DS record in
// presentation format) as a static DS.
func delvAnchor(t *testing.T, ds string) string {
	t.Helper()
	rr, err := dns.NewRR(ds)
	if err != nil {
		t.Fatalf("DS %q: %v", ds, err)
	}
	d := rr.(*dns.DS)
	path := filepath.Join(t.TempDir(), "anchor.conf")
	body := fmt.Sprintf("trust-anchors {\n  %q static-ds %d %d %d %q;\n};\n", d.Hdr.Name, d.KeyTag, d.Algorithm, d.DigestType, strings.ToUpper(d.Digest))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// delv asks edge for qname/qtype through delv anchored at zone with the
// anchor file and returns its output.
func delv(t *testing.T, bin, edge, anchor, zone, qname string, qtype uint16) string {
	t.Helper()
	host, port, _ := strings.Cut(edge, ":")
	ctxArgs := []string{"@" + host, "-p", port, "-a", anchor, "+root=" + zone, "+nocdflag", qname, dns.TypeToString[qtype]}
	cmd := exec.Command(bin, ctxArgs...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("delv %v: no answer in 15 s", ctxArgs)
	}
	_ = err // delv exits non-zero on validation failures; the output says which
	return string(out)
}
