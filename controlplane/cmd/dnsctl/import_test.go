package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records"
	"github.com/zonegrid/zonegrid/services/records/zonefile"
	"github.com/zonegrid/zonegrid/services/servicetest"
	"github.com/zonegrid/zonegrid/services/zones"
)

// serveBig serves the record and zone services with one Enterprise zone
// of the given name whose record quota is raised (max_records_override).
func serveBig(t *testing.T, name string) (string, string, *store.Store) {
	t.Helper()
	log := zaptest.NewLogger(t)
	st := store.New(etcdCli, etcdtest.Prefix(t), log)
	zs, err := zones.New(st, zones.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterRecordServiceServer(gs, records.New(st, records.Options{}, log))
		dnsv1.RegisterZoneServiceServer(gs, zs)
	})
	z, err := st.CreateZoneWith(t.Context(), "acct1", name, &dnsv1.ZoneSettings{MaxRecordsOverride: 100000}, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "big" + fmt.Sprint(len(name)), AccountId: "acct1", Name: name, Plan: dnsv1.Plan_PLAN_ENTERPRISE,
			Type: dnsv1.ZoneType_ZONE_TYPE_FULL, NameServers: []string{"ada.ns.zonegrid.test.", "bob.ns.zonegrid.test."}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return conn.Target(), z.GetId(), st
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportAndExportCommands(t *testing.T) {
	ep, zone := serve(t)
	good := writeFile(t, "good.zone", []byte(`$TTL 3600
@	IN SOA ns1.example.net. admin.example.com. 1 7200 3600 1209600 3600
@	IN NS ns1.example.net.
@	IN MX 10 mx1.example.net.
www	IN A 192.0.2.1 ; front door cf_tags=cf-proxied:true
api	300 IN AAAA 2001:db8::1
@	IN TXT "v=spf1 -all"
_u._tcp	IN URI 10 1 "https://example.com/"
`))
	code, out, errOut := dnsctl(t, ep, "record", "import", zone, good)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "5 records added (7 read, 2 skipped)") || !strings.Contains(errOut, "skipped line 2: SOA") || !strings.Contains(errOut, "skipped line 3: NS") {
		t.Fatalf("import output %q / %q", out, errOut)
	}
	_, out, _ = dnsctl(t, ep, "record", "list", zone, "--proxied=true")
	if !strings.Contains(out, "www.example.com.") || strings.Count(out, "\n") != 2 {
		t.Errorf("cf-proxied:true not honoured, proxied records: %q", out)
	}

	// Every bad line is reported with its line; nothing lands.
	bad := writeFile(t, "bad.zone", []byte("$ORIGIN example.com.\nok IN A 192.0.2.9\nwww IN CNAME other.example.net.\nx IN A 1.2.3\n"))
	code, _, errOut = dnsctl(t, ep, "record", "import", zone, bad)
	if code != 1 || !strings.Contains(errOut, "line 4: ") {
		t.Fatalf("bad file: exit %d, %q", code, errOut)
	}
	bad = writeFile(t, "bad.zone", []byte("$ORIGIN example.com.\nok IN A 192.0.2.9\nwww IN CNAME other.example.net.\n"))
	code, _, errOut = dnsctl(t, ep, "record", "import", zone, bad)
	if code != 1 || !strings.Contains(errOut, "line 3: ") {
		t.Fatalf("conflicting import: exit %d, %q", code, errOut)
	}
	_, out, _ = dnsctl(t, ep, "record", "list", zone, "--name", "ok")
	if strings.Contains(out, "192.0.2.9") {
		t.Fatalf("part of a rejected import was written: %q", out)
	}

	// Export, to stdout and to a file.
	code, out, errOut = dnsctl(t, ep, "record", "export", zone)
	if code != 0 || !strings.HasPrefix(out, "$ORIGIN example.com.\n") || !strings.Contains(out, "; front door cf_tags=cf-proxied:true") {
		t.Fatalf("export: exit %d, %q %q", code, out, errOut)
	}
	file := filepath.Join(t.TempDir(), "out.zone")
	code, _, errOut = dnsctl(t, ep, "record", "export", zone, "--file", file)
	if code != 0 || !strings.Contains(errOut, "5 records exported to "+file) {
		t.Fatalf("export --file: exit %d, %q", code, errOut)
	}
	if b, _ := os.ReadFile(file); string(b) != out {
		t.Fatalf("export --file wrote %q, stdout had %q", b, out)
	}
}

// bigFile is a zone file of about size bytes: n distinct records.
func bigFile(size int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString("$TTL 300\n")
	n := 0
	for i := 0; b.Len() < size; i++ {
		switch i % 3 {
		case 0, 1:
			fmt.Fprintf(&b, "host%05d IN A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
		default:
			fmt.Fprintf(&b, "txt%05d IN TXT \"record %d\" ; note cf_tags=team:dns\n", i, i)
		}
		n++
	}
	return b.Bytes(), n
}

func TestAFileAbove256KiBIsImportedInPartsWithProgress(t *testing.T) {
	ep, zone, st := serveBig(t, "parts.example.")
	data, n := bigFile(600 << 10)
	path := writeFile(t, "big.zone", data)
	code, out, errOut := dnsctl(t, ep, "record", "import", zone, path)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	t.Log(errOut)
	// Written back with full names the records take more room than in
	// the file: 600 KiB makes 3 or 4 parts.
	m := regexp.MustCompile(`importing ([0-9,]+) records in (\d) parts`).FindStringSubmatch(errOut)
	if m == nil || m[1] != thousands(n) || (m[2] != "3" && m[2] != "4") {
		t.Fatalf("stderr lacks the plan of parts:\n%s", errOut)
	}
	for _, want := range []string{"Each part is atomic on its own; the whole file is not", "part 1/" + m[2] + ": ", "part " + m[2] + "/" + m[2] + ": "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, thousands(n)+" records added") {
		t.Fatalf("stdout %q, want %d records added", out, n)
	}
	recs, err := st.ZoneRecords(t.Context(), zone, 0)
	if err != nil || len(recs) != n {
		t.Fatalf("zone holds %d records (%v), want %d", len(recs), err, n)
	}
}

func TestAPartRefusedNamesTheFileLine(t *testing.T) {
	ep, zone, _ := serveBig(t, "refused.example.")
	data, n := bigFile(300 << 10)
	// The last record conflicts with the first (CNAME beside an A): the
	// second part fails, its error names the line of the file.
	data = append(data, []byte("host00000 IN CNAME elsewhere.example.net.\n")...)
	path := writeFile(t, "big.zone", data)
	code, _, errOut := dnsctl(t, ep, "record", "import", zone, path)
	want := fmt.Sprintf("%s line %d:", path, n+2)
	if code != 1 || !strings.Contains(errOut, "part 2/2 failed") || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, stderr %q; want part 2/2 failed naming %q", code, errOut, want)
	}
}

// A zone file written by BIND (named-compilezone -s full) of about 256 KiB,
// some 5,300 records (BIND pads its lines), is one command and one atomic import.
func TestABINDWritten256KiBFileImportsInOneCommand(t *testing.T) {
	bin, err := exec.LookPath("named-compilezone")
	if err != nil {
		if os.Getenv("ZONEGRID_INTEROP") == "required" {
			t.Fatal("named-compilezone not found and ZONEGRID_INTEROP=required (install bind9-utils)")
		}
		t.Skip("named-compilezone not found (bind9-utils); set ZONEGRID_INTEROP=required to fail instead")
	}
	ep, zone, st := serveBig(t, "bind.example.")
	var b bytes.Buffer
	for i := range 8000 {
		fmt.Fprintf(&b, "h%d 300 IN A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
	}
	src := append([]byte("$ORIGIN bind.example.\n@ 3600 IN SOA ns1.bind.example. hostmaster.bind.example. 1 7200 3600 1209600 300\n@ IN NS ns1.bind.example.\nns1 IN A 192.0.2.53\n"), b.Bytes()...)
	in := writeFile(t, "in.db", src)
	outPath := filepath.Join(t.TempDir(), "out.db")
	if out, err := exec.Command(bin, "-s", "full", "-o", outPath, "bind.example", in).CombinedOutput(); err != nil {
		t.Fatalf("named-compilezone: %v\n%s", err, out)
	}
	compiled, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	// Cut BIND's file at a line end to the 256 KiB of one import.
	if len(compiled) > zonefile.MaxSize {
		compiled = compiled[:bytes.LastIndexByte(compiled[:zonefile.MaxSize], '\n')+1]
	}
	res := zonefile.Read(compiled, "bind.example.")
	if len(res.Errors) > 0 {
		t.Fatalf("BIND's file reads with errors: %v", res.Errors[0])
	}
	path := writeFile(t, "bind.zone", compiled)
	code, out, errOut := dnsctl(t, ep, "record", "import", zone, path)
	if code != 0 || strings.Contains(errOut, "parts") {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	// The file's apex NS is BIND's own nameserver: a zone without
	// multi-provider DNS skips it.
	want := 0
	for _, e := range res.Entries {
		if !e.ApexNS {
			want++
		}
	}
	recs, err := st.ZoneRecords(t.Context(), zone, 0)
	if err != nil || len(recs) != want || len(recs) < 5000 {
		t.Fatalf("zone holds %d records (%v), want the file's %d", len(recs), err, want)
	}
	t.Logf("%d bytes, %d records: %s", len(compiled), len(recs), strings.TrimSpace(out))
}

// A 256 KiB file of about 7,000 records (A, AAAA and TXT with comments
// and tags) is one command and one atomic import.
func TestA256KiBFileIsOneImportCommand(t *testing.T) {
	ep, zone, st := serveBig(t, "one.example.")
	var b bytes.Buffer
	b.WriteString("$TTL 300\n")
	n := 0
	for i := 0; ; i++ {
		var line string
		switch i % 4 {
		case 0, 1:
			line = fmt.Sprintf("host%d IN A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
		case 2:
			line = fmt.Sprintf("v6-%d IN AAAA 2001:db8::%x ; cf_tags=team:edge\n", i, i)
		default:
			line = fmt.Sprintf("txt%d IN TXT \"record %d\" ; imported\n", i, i)
		}
		if b.Len()+len(line) > zonefile.MaxSize {
			break
		}
		b.WriteString(line)
		n++
	}
	path := writeFile(t, "one.zone", b.Bytes())
	code, out, errOut := dnsctl(t, ep, "record", "import", zone, path)
	if code != 0 || strings.Contains(errOut, "parts") || !strings.Contains(out, thousands(n)+" records added") {
		t.Fatalf("import: exit %d: %q %q", code, out, errOut)
	}
	if recs, err := st.ZoneRecords(t.Context(), zone, 0); err != nil || len(recs) != n || n < 7000 {
		t.Fatalf("zone holds %d records (%v), want %d (about 7,000)", len(recs), err, n)
	}
}

// The benchmark's reference zone (e2e/cmd/benchzone: 12,799 records,
// 395 KB) is imported by one dnsctl command, in parts of at most 256 KiB.
func TestTheBenchZoneImportsInPartsInOneCommand(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH: cannot generate the bench zone")
	}
	dir := t.TempDir()
	gen := exec.Command(gobin, "run", "./cmd/benchzone", "-out", dir, "-queries", "1")
	gen.Dir = filepath.Join("..", "..", "..", "e2e")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("benchzone: %v\n%s", err, out)
	}
	ep, zone, st := serveBig(t, "bench.test.")
	start := time.Now()
	code, out, errOut := dnsctl(t, ep, "record", "import", zone, filepath.Join(dir, "zone.db"))
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	t.Logf("%s\n%s(%s)", errOut, out, time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "12,799 records added") || !strings.Contains(errOut, "Each part is atomic on its own") || !strings.Contains(errOut, "part 2/") {
		t.Fatalf("stdout %q, stderr %q", out, errOut)
	}
	if recs, err := st.ZoneRecords(t.Context(), zone, 0); err != nil || len(recs) != 12799 {
		t.Fatalf("zone holds %d records (%v), want 12,799", len(recs), err)
	}
}
