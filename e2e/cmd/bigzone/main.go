// Command bigzone measures zonegrid with one very large zone (issue 4): edge
// memory and cold start for a zone of about a million records, and the time
// one changed record takes to reach the edge through the real path (gRPC
// PatchRecord → etcd → builder → NATS delta → edge), next to NSD on the same
// zone file.
//
//	make build && go build -o bin/ ./e2e/cmd/benchzone ./e2e/cmd/benchload ./e2e/cmd/bigzone
//	bin/bigzone -names 1000000 -dir .bigzone -changes 200
//
// The zone comes from bin/benchzone (-names 1000000: 1,283,037 records) and
// is loaded with bin/benchload into a control plane running in this process
// with its builder off (resuming after the records committed if etcd times
// out). Then everything runs as its own process, so the edge's RSS is the
// edge's alone: bin/controlplane with embedded etcd and NATS (its builder
// publishes the zone in one full rebuild), bin/edge (-cold-starts times,
// start → /ready), and nsd. -reuse keeps the loaded data of a previous run
// in -dir; -resume finishes an interrupted load; -wait-full=false starts the
// edges without waiting for the full snapshot to catch up with the deltas
// (they replay the deltas after it). -edge-bin times other edge builds (a
// list: the cold starts alternate between them, to compare builds in the
// same minutes of a shared machine); -edge-trace writes an execution trace
// and CPU profile of each edge's start (edge<i>.trace, edge<i>.trace.cpu).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	"github.com/zonegrid/zonegrid/controlplane/embedded"
	"github.com/zonegrid/zonegrid/controlplane/server"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

const zoneName = "bench.test."

type options struct {
	names, changes, coldStarts int
	dir, bin, nsd, trace       string
	edgeMemLimit, edgeBin      string
	edgeTrace                  time.Duration
	reuse, resume, waitFull    bool
	nsdEach                    bool
	gap                        time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.names, "names", 1000000, "owner names in the generated zone (benchzone: about 1.3 records per name)")
	flag.IntVar(&o.changes, "changes", 200, "one-record changes to time")
	flag.IntVar(&o.coldStarts, "cold-starts", 3, "edge starts to time")
	flag.StringVar(&o.dir, "dir", ".bigzone", "working directory (zone file, data of the embedded servers, logs)")
	flag.StringVar(&o.bin, "bin", "bin", "directory with controlplane, edge, benchzone and benchload")
	flag.StringVar(&o.nsd, "nsd", "/usr/sbin/nsd", "NSD binary to compare with (empty: skip)")
	flag.BoolVar(&o.reuse, "reuse", false, "reuse the zone file and loaded data of a previous run in -dir")
	flag.BoolVar(&o.resume, "resume", false, "reuse the zone file of a previous run in -dir and finish loading it")
	flag.BoolVar(&o.waitFull, "wait-full", true, "before starting edges, wait until the zone's full snapshot is as new as its last delta (false: edges replay the deltas after it)")
	flag.StringVar(&o.edgeMemLimit, "edge-memlimit", "", "GOMEMLIMIT of the edge processes only (e.g. 530MiB; empty: none)")
	flag.StringVar(&o.edgeBin, "edge-bin", "", "edge binary to time (empty: edge in -bin); a comma-separated list: the cold starts take them in turn, to compare builds on the same loaded data in the same minutes")
	flag.DurationVar(&o.edgeTrace, "edge-trace", 0, "with a duration: start each edge with --pprof and write an execution trace of its first so long (from its metrics port opening) to edge<i>.trace in -dir (go tool trace), and its CPU profile to edge<i>.trace.cpu")
	flag.BoolVar(&o.nsdEach, "nsd-each", false, "also start NSD cold after each edge cold start (NSD's figures then come from the same minutes as each edge's on a shared machine)")
	flag.DurationVar(&o.gap, "gap", 20*time.Millisecond, "pause between timed changes")
	flag.StringVar(&o.trace, "trace", "", "write one line per timed change to this file: time of the call (UTC), API call → acknowledgement, acknowledgement → edge answers (ms)")
	flag.Parse()
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

// procs remembers the processes started, to stop them on the way out.
type procs []*exec.Cmd

func (p *procs) start(logPath string, name string, args ...string) (*exec.Cmd, error) {
	return p.startEnv(logPath, nil, name, args...)
}

// startEnv is start with variables added to this process's environment.
func (p *procs) startEnv(logPath string, env []string, name string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", logPath, err)
	}
	cmd := exec.Command(name, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	*p = append(*p, cmd)
	return cmd, nil
}

func (p *procs) stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	*p = slices.DeleteFunc(*p, func(c *exec.Cmd) bool { return c == cmd })
}

func (p *procs) stopAll() {
	for len(*p) > 0 {
		p.stop((*p)[len(*p)-1])
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(o options) error {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", o.dir, err)
	}
	var ps procs
	defer ps.stopAll()
	bin := func(n string) string { return filepath.Join(o.bin, n) }
	zoneFile := filepath.Join(o.dir, "zone.db")
	dataDir := filepath.Join(o.dir, "zonegrid")
	if !o.reuse && !o.resume {
		_ = os.RemoveAll(dataDir)
		t := time.Now()
		out, err := exec.Command(bin("benchzone"), "-names", strconv.Itoa(o.names), "-queries", "1000", "-out", o.dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("benchzone: %w: %s", err, out)
		}
		fmt.Printf("zone generated: %d names, %d lines, %s\n", o.names, countLines(zoneFile), time.Since(t).Round(time.Millisecond))
	}

	if !o.reuse {
		if err := load(o, bin("benchload"), dataDir, zoneFile); err != nil {
			return err
		}
	}
	natsPort, grpcAddr := freePort(), fmt.Sprintf("127.0.0.1:%d", freePort())
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	cpProc, err := ps.start(filepath.Join(o.dir, "controlplane.log"), bin("controlplane"), "--embedded", "--data-dir", dataDir,
		"--embedded-nats-port", strconv.Itoa(natsPort), "--grpc-addr", grpcAddr, "--extra-public-suffixes", "test")
	if err != nil {
		return err
	}
	if err := waitTCP(grpcAddr, 10*time.Minute); err != nil {
		return fmt.Errorf("control plane: %w", err)
	}

	// The control plane runs its embedded NATS and etcd locked down; the
	// edge's credential (read-only) is enough to watch the snapshots.
	creds := filepath.Join(dataDir, "credentials")
	seed, err := nats.NkeyOptionFromSeed(filepath.Join(creds, "edge.nk"))
	if err != nil {
		return fmt.Errorf("edge nkey: %w", err)
	}
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), seed)
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	defer nc.Close()
	if o.waitFull {
		t := time.Now()
		verifier, err := snapshot.LoadVerifier(filepath.Join(creds, "snapshot-signing.pub.pem"))
		if err != nil {
			return err
		}
		full, last, err := waitFullSnapshot(nc, verifier, 15*time.Minute)
		if err != nil {
			return err
		}
		fmt.Printf("full snapshot current: version %d (last delta to %d), waited %s\n", full, last, time.Since(t).Round(time.Second))
	}

	cc, err := clientconfig.Load(filepath.Join(dataDir, "dnsctl.json"))
	if err != nil {
		return err
	}
	conn, err := cc.Dial()
	if err != nil {
		return fmt.Errorf("dial control plane: %w", err)
	}
	defer conn.Close()
	zone, rec, err := findRecord(conn)
	if err != nil {
		return err
	}

	var edgeAddr string
	var edge *exec.Cmd
	var colds, nsdColds []time.Duration
	var rssReady, hwmReady, pssReady int
	retries := 0
	for i := 0; i < max(1, o.coldStarts); i++ {
		if edge != nil {
			ps.stop(edge)
		}
		edgeAddr = fmt.Sprintf("127.0.0.1:%d", freePort())
		metrics := fmt.Sprintf("127.0.0.1:%d", freePort())
		start := time.Now()
		cpCPU0 := procCPU(cpProc.Process.Pid)
		var env []string
		if o.edgeMemLimit != "" {
			env = append(env, "GOMEMLIMIT="+o.edgeMemLimit)
		}
		edgeBin := bin("edge")
		if o.edgeBin != "" {
			bins := strings.Split(o.edgeBin, ",")
			edgeBin = bins[i%len(bins)]
		}
		args := []string{"--listen", edgeAddr, "--nats-url", natsURL, "--metrics-addr", metrics,
			"--nats-nkey-seed", filepath.Join(creds, "edge.nk"), "--snapshot-trust-keys", filepath.Join(creds, "snapshot-signing.pub.pem"),
			// It polls one name every 200 µs: response rate limiting off.
			"--rrl-rate", "0"}
		if o.edgeTrace > 0 {
			args = append(args, "--pprof")
		}
		edge, err = ps.startEnv(filepath.Join(o.dir, fmt.Sprintf("edge%d.log", i)), env, edgeBin, args...)
		if err != nil {
			return err
		}
		var traced chan error
		if o.edgeTrace > 0 {
			traced = make(chan error, 1)
			go func(path string) { traced <- fetchTrace(metrics, o.edgeTrace, path) }(filepath.Join(o.dir, fmt.Sprintf("edge%d.trace", i)))
		}
		if err := waitReady(metrics, 5*time.Minute); err != nil {
			return fmt.Errorf("edge: %w", err)
		}
		cold := time.Since(start)
		rssAtReady := procKB(edge.Process.Pid, "VmRSS")
		// CPU time to ready, the edge's and the control plane's (its NATS
		// server sends the zone object) meanwhile: on a shared machine a
		// steadier comparison of builds than the wall time.
		edgeCPU, cpCPU := procCPU(edge.Process.Pid), procCPU(cpProc.Process.Pid)-cpCPU0
		if answerA(edgeAddr, rec.GetName()) == "" && retries < 10 {
			// On a loaded machine the edge's fetch of the zone object can
			// time out (nats: timeout); the edge is then ready without
			// the zone. Not a cold start of the zone: start again, after
			// a pause for the server to drop the last one's consumers.
			retries++
			fmt.Printf("edge cold start %d: ready after %s without the zone (see its log), started again\n", i+1, cold.Round(time.Millisecond))
			ps.stop(edge)
			edge = nil
			time.Sleep(5 * time.Second)
			i--
			continue
		}
		colds = append(colds, cold)
		// Measured like NSD's, after 2 s: the edge returns its load's
		// garbage to the OS right after reporting ready.
		time.Sleep(2 * time.Second)
		rssReady, hwmReady, pssReady = procKB(edge.Process.Pid, "VmRSS"), procKB(edge.Process.Pid, "VmHWM"), pssKB(edge.Process.Pid)
		// And once more 3 s later: the edge returns the load's garbage
		// after reporting ready, which on a loaded machine can take more
		// than 2 s (a full collection of the zone's heap).
		time.Sleep(3 * time.Second)
		rss5 := procKB(edge.Process.Pid, "VmRSS")
		fmt.Printf("edge cold start %d (%s): %s to ready (CPU: edge %.2f s, control plane %.2f s); RSS %.1f MiB at ready, %.1f MiB 2 s after (PSS %.1f MiB), %.1f MiB 5 s after, peak RSS %.1f MiB\n", i+1, edgeBin, cold.Round(time.Millisecond), edgeCPU.Seconds(), cpCPU.Seconds(), mib(rssAtReady), mib(rssReady), mib(pssReady), mib(rss5), mib(hwmReady))
		if traced != nil {
			if err := <-traced; err != nil {
				fmt.Printf("edge cold start %d: trace: %v\n", i+1, err)
			}
		}
		if o.nsdEach && o.nsd != "" {
			cold, rss, pss, err := runNSD(o, &ps, zoneFile)
			if err != nil {
				return fmt.Errorf("nsd: %w", err)
			}
			nsdColds = append(nsdColds, cold)
			fmt.Printf("NSD cold start after edge cold start %d: %s; RSS sum %.1f MiB, PSS sum %.1f MiB\n", i+1, cold.Round(time.Millisecond), mib(rss), mib(pss))
		}
	}
	if got := answerA(edgeAddr, rec.GetName()); got == "" {
		return fmt.Errorf("edge answers %s A %q, want %q", rec.GetName(), got, rec.GetContent())
	} else if got != rec.GetContent() {
		// The published zone is older than etcd's record (a -dir copied
		// while its control plane ran): the timed changes set it anew.
		fmt.Printf("warning: edge answers %s A %q, control plane holds %q\n", rec.GetName(), got, rec.GetContent())
	}

	records := dnsv1.NewRecordServiceClient(conn)
	var fromAck, fromCall, ackTimes []time.Duration
	failed := 0
	var trace *os.File
	if o.trace != "" {
		if trace, err = os.Create(o.trace); err != nil {
			return fmt.Errorf("create trace: %w", err)
		}
		defer trace.Close()
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	for i := range o.changes {
		want := netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)}).String()
		called := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := records.PatchRecord(ctx, &dnsv1.PatchRecordRequest{
			ZoneId: zone.GetId(), RecordId: rec.GetId(), Record: &dnsv1.Record{Content: want},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"content"}},
		})
		cancel()
		acked := time.Now()
		if err != nil {
			// On a loaded shared machine a write may time out (etcd
			// unavailable): count it, it is part of what is measured.
			failed++
			fmt.Printf("change %d failed after %s: %v\n", i, acked.Sub(called).Round(time.Millisecond), err)
			if trace != nil {
				fmt.Fprintf(trace, "%s %s failed\n", called.UTC().Format("15:04:05.000"), ms(acked.Sub(called)))
			}
			time.Sleep(o.gap)
			continue
		}
		ackTimes = append(ackTimes, acked.Sub(called))
		if err := waitAnswer(edgeAddr, rec.GetName(), want, 30*time.Second); err != nil {
			return err
		}
		seen := time.Now()
		fromAck, fromCall = append(fromAck, seen.Sub(acked)), append(fromCall, seen.Sub(called))
		if trace != nil {
			fmt.Fprintf(trace, "%s %s %s\n", called.UTC().Format("15:04:05.000"), ms(acked.Sub(called)), ms(seen.Sub(acked)))
		}
		if (i+1)%50 == 0 {
			fmt.Printf("%d changes: API call → acknowledgement p50 %s max %s\n", i+1, pct(ackTimes, 0.5), pct(ackTimes, 1))
		}
		// Memory after many deltas: each one derives a zone version that
		// shares all but the touched names with the last.
		if i+1 == 200 || (i+1)%1000 == 0 {
			fmt.Printf("%d changes: edge RSS %.1f MiB, PSS %.1f MiB\n", i+1, mib(procKB(edge.Process.Pid, "VmRSS")), mib(pssKB(edge.Process.Pid)))
		}
		time.Sleep(o.gap)
	}
	rssAfter, pssAfter := procKB(edge.Process.Pid, "VmRSS"), pssKB(edge.Process.Pid)

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\n# bigzone %s: %d names, %d records in zone file, machine shared (%d cores, load average %s)\n", time.Now().UTC().Format(time.RFC3339), o.names, countLines(zoneFile)-2, runtime.NumCPU(),
		strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	fmt.Printf("edge cold start (start → /ready): %s\n", durations(colds))
	if len(nsdColds) > 0 {
		fmt.Printf("NSD cold starts between them (start → answers the zone file's last name): %s\n", durations(nsdColds))
	}
	fmt.Printf("edge RSS at ready: %.1f MiB, PSS %.1f MiB (peak RSS during load %.1f MiB); after %d changes: RSS %.1f MiB, PSS %.1f MiB\n",
		mib(rssReady), mib(pssReady), mib(hwmReady), o.changes, mib(rssAfter), mib(pssAfter))
	if len(ackTimes) > 0 {
		fmt.Printf("one-record change, API call → acknowledgement, %d changes (%d failed): p50 %s p99 %s max %s\n",
			len(ackTimes), failed, pct(ackTimes, 0.5), pct(ackTimes, 0.99), pct(ackTimes, 1))
	}
	if len(fromAck) > 0 {
		fmt.Printf("one-record change → edge answers, %d changes: from API ack p50 %s p99 %s max %s; from API call p50 %s p99 %s\n",
			len(fromAck), pct(fromAck, 0.5), pct(fromAck, 0.99), pct(fromAck, 1), pct(fromCall, 0.5), pct(fromCall, 0.99))
	}
	ps.stop(edge)

	if o.nsd != "" {
		cold, rss, pss, err := runNSD(o, &ps, zoneFile)
		if err != nil {
			return fmt.Errorf("nsd: %w", err)
		}
		fmt.Printf("NSD cold start (start → answers the zone file's last name): %s; RSS summed over its processes: %.1f MiB (PSS sum %.1f MiB: its processes share the zone copy-on-write)\n",
			cold.Round(time.Millisecond), mib(rss), mib(pss))
	}
	return nil
}

// load writes the zone file through the real API (bin/benchload, BatchRecords
// of 3,500 records) into a control plane running in this process with its
// builder off: publishing a growing zone while a million records are
// written only slows the load down (and on a shared two-core machine made
// etcd time out). The control plane started next publishes the loaded zone
// in one full rebuild, as a fresh control plane does.
// loadToken is the operator credential of the in-process control plane
// that loads the zone; it lives only as long as that load.
const loadToken = "zgt_operator_bigzone-load"

func load(o options, benchload, dataDir, zoneFile string) error {
	ctx := context.Background()
	log := zap.NewNop()
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: dataDir}, log)
	if err != nil {
		return fmt.Errorf("start embedded servers: %w", err)
	}
	defer srv.Close()
	cp, err := server.New(ctx, server.Config{
		GRPCAddr: "127.0.0.1:0", EtcdEndpoints: srv.EtcdEndpoints(), NATSURL: srv.NATSURL(), DisableBuilder: true,
		ExtraPublicSuffixes: []string{"test"}, // bench.test.
		OperatorTokens:      []string{loadToken},
	}, log)
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	if err := cp.Start(ctx); err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	defer cp.Stop()
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.EtcdEndpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	defer cli.Close()
	lines, err := readLines(zoneFile)
	if err != nil {
		return err
	}
	// benchload skips the $ORIGIN, $TTL, SOA and two apex NS lines: the
	// k-th record it sends is line 5+k.
	const skipped = 5
	total := len(lines) - skipped
	t := time.Now()
	// A BatchRecords call is one etcd transaction, committed whole or not
	// at all; on a failure (etcd timing out on a busy shared machine) the
	// load resumes after the records committed.
	for attempt := 1; ; attempt++ {
		resp, err := cli.Get(ctx, "/zonegrid/data/records/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return fmt.Errorf("count records: %w", err)
		}
		done := int(resp.Count)
		if done >= total {
			break
		}
		part := filepath.Join(filepath.Dir(zoneFile), "rest.db")
		body := strings.Join(lines[:2], "\n") + "\n" + strings.Join(lines[skipped+done:], "\n") + "\n"
		if err := os.WriteFile(part, []byte(body), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", part, err)
		}
		out, err := exec.Command(benchload, "-endpoint", cp.GRPCAddr(), "-token", loadToken, "-zone", zoneName, "-zone-file", part, "-batch", "3500").CombinedOutput()
		if err == nil {
			fmt.Printf("records %d..%d loaded through the API\n%s", done, total, indent(string(out)))
			break
		}
		if attempt == 5 {
			return fmt.Errorf("benchload: %w: %s", err, out)
		}
		fmt.Printf("load interrupted after %d records (%s); resuming\n", done, strings.TrimSpace(string(out)))
	}
	fmt.Printf("zone of %d records loaded in %s\n", total, time.Since(t).Round(time.Second))
	return nil
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n"), nil
}

// waitFullSnapshot waits until the zone's full snapshot (KV value) is at
// least as new as its last delta, so that a starting edge loads one object
// and replays nothing: the steady state the builder's periodic rewrite
// reaches within FullEvery of the last change.
func waitFullSnapshot(nc *nats.Conn, v *snapshot.Verifier, timeout time.Duration) (uint64, uint64, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, 0, fmt.Errorf("jetstream: %w", err)
	}
	deadline := time.Now().Add(timeout)
	var full, last uint64
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		full, last = 0, 0
		if kv, err := js.KeyValue(ctx, snapshot.ZonesBucket); err == nil {
			if e, err := kv.Get(ctx, snapshot.ZoneKey(zoneName)); err == nil {
				if b, err := v.Open(snapshot.ZoneBinding(e.Key()), e.Value()); err == nil {
					if z, err := snapshot.UnmarshalZone(b); err == nil {
						full = z.GetHeader().GetVersion()
					}
				}
			}
		}
		if s, err := js.Stream(ctx, snapshot.DeltaStream); err == nil {
			if m, err := s.GetLastMsgForSubject(ctx, snapshot.DeltaSubject(zoneName)); err == nil {
				if b, err := v.Open(snapshot.DeltaBinding(m.Subject), m.Data); err == nil {
					if d, err := snapshot.UnmarshalDelta(b); err == nil {
						last = d.GetToVersion()
					}
				}
			}
		}
		cancel()
		if full > 0 && full >= last {
			return full, last, nil
		}
		time.Sleep(time.Second)
	}
	return 0, 0, fmt.Errorf("full snapshot of %s at %d never caught up with its deltas (%d)", zoneName, full, last)
}

// findRecord returns the zone and its ns1 A record (benchzone writes it).
func findRecord(conn *grpc.ClientConn) (*dnsv1.Zone, *dnsv1.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zl, err := dnsv1.NewZoneServiceClient(conn).ListZones(ctx, &dnsv1.ListZonesRequest{AccountId: "bench", Name: zoneName})
	if err != nil || len(zl.GetZones()) == 0 {
		return nil, nil, fmt.Errorf("find zone %s: %v", zoneName, err)
	}
	z := zl.GetZones()[0]
	rl, err := dnsv1.NewRecordServiceClient(conn).ListRecords(ctx, &dnsv1.ListRecordsRequest{ZoneId: z.GetId(), Name: "ns1." + zoneName, Type: "A"})
	if err != nil || len(rl.GetRecords()) == 0 {
		return nil, nil, fmt.Errorf("find record ns1.%s A: %v", zoneName, err)
	}
	return z, rl.GetRecords()[0], nil
}

func waitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not listening after %s", addr, timeout)
}

func waitReady(addr string, timeout time.Duration) error {
	cl := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := cl.Get("http://" + addr + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", timeout)
}

// fetchTrace writes an execution trace of the edge's first d (from when its
// metrics port answers) to path: the wall-clock breakdown of a cold start.
func fetchTrace(metrics string, d time.Duration, path string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", metrics, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("metrics port %s: %w", metrics, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// The CPU profile of the same window: the trace then holds its
	// samples too (go tool trace, "Profile").
	profiled := make(chan error, 1)
	go func() {
		profiled <- getTo(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%g", metrics, d.Seconds()), d, path+".cpu")
	}()
	err := getTo(fmt.Sprintf("http://%s/debug/pprof/trace?seconds=%g", metrics, d.Seconds()), d, path)
	return errors.Join(err, <-profiled)
}

// getTo writes what url answers to path.
func getTo(url string, d time.Duration, path string) error {
	cl := &http.Client{Timeout: d + time.Minute}
	resp, err := cl.Get(url)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func answerA(addr, name string) string {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	cl := &dns.Client{Timeout: time.Second}
	m, _, err := cl.Exchange(q, addr)
	if err != nil || len(m.Answer) != 1 {
		return ""
	}
	if a, ok := m.Answer[0].(*dns.A); ok {
		return a.A.String()
	}
	return ""
}

func waitAnswer(addr, name, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if answerA(addr, name) == want {
			return nil
		}
		time.Sleep(200 * time.Microsecond)
	}
	return fmt.Errorf("%s never answered %s A %s", addr, name, want)
}

// runNSD starts NSD on the zone file the way deploy/bench/run.sh does and
// returns its time to answering the file's last A record, and the RSS and
// PSS summed over its processes (it forks a server and a transfer daemon).
func runNSD(o options, ps *procs, zoneFile string) (time.Duration, int, int, error) {
	d, err := filepath.Abs(filepath.Join(o.dir, "nsd"))
	if err != nil {
		return 0, 0, 0, err
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return 0, 0, 0, err
	}
	name, err := lastA(zoneFile)
	if err != nil {
		return 0, 0, 0, err
	}
	zonesDir, _ := filepath.Abs(filepath.Dir(zoneFile))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	conf := fmt.Sprintf(`server:
  ip-address: 127.0.0.1@%s
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "%s"
  database: ""
  zonelistfile: "%s/zone.list"
  xfrdfile: "%s/xfrd.state"
  pidfile: "%s/nsd.pid"
  logfile: "%s/nsd.log"
remote-control:
  control-enable: no
zone:
  name: %s
  zonefile: %s
`, addr[strings.LastIndexByte(addr, ':')+1:], zonesDir, d, d, d, d, zoneName, filepath.Base(zoneFile))
	if err := os.WriteFile(filepath.Join(d, "nsd.conf"), []byte(conf), 0o644); err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	cmd, err := ps.start(filepath.Join(d, "stdout.log"), o.nsd, "-d", "-c", filepath.Join(d, "nsd.conf"))
	if err != nil {
		return 0, 0, 0, err
	}
	defer ps.stop(cmd)
	deadline := start.Add(5 * time.Minute)
	for answerA(addr, name) == "" {
		if time.Now().After(deadline) {
			return 0, 0, 0, errors.New("never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cold := time.Since(start)
	time.Sleep(2 * time.Second) // let the forked processes settle
	rss, pss := 0, 0
	for _, pid := range append([]int{cmd.Process.Pid}, children(cmd.Process.Pid)...) {
		rss += procKB(pid, "VmRSS")
		pss += pssKB(pid)
	}
	return cold, rss, pss, nil
}

// lastA returns the owner of the last A record of a benchzone zone file,
// the name NSD can answer only once it has loaded the whole file.
func lastA(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open zone file: %w", err)
	}
	defer f.Close()
	last := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) == 4 && fs[1] == "IN" && fs[2] == "A" {
			last = fs[0]
		}
	}
	if last == "" {
		return "", fmt.Errorf("no A record in %s", path)
	}
	return last + "." + zoneName, sc.Err()
}

// pssKB is the proportional set size of a process: shared pages count
// once across the processes sharing them.
func pssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

// children returns the descendants of pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			parent[p] = pp
		}
	}
	var out []int
	for p := range parent {
		for a := parent[p]; a > 1; a = parent[a] {
			if a == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// procCPU is the user and system CPU time a process has used
// (/proc/<pid>/stat, in clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ...: utime and stime are the 12th and 13th fields
	// after the comm.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(u+st) * 10 * time.Millisecond
}

// procKB reads a "kB" field (VmRSS, VmHWM) of /proc/<pid>/status.
func procKB(pid int, field string) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

func mib(kb int) float64 { return float64(kb) / 1024 }

func pct(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := max(0, min(int(q*float64(len(s))+0.5)-1, len(s)-1))
	return s[i].Round(10 * time.Microsecond)
}

func durations(d []time.Duration) string {
	var parts []string
	for _, x := range d {
		parts = append(parts, x.Round(time.Millisecond).String())
	}
	return strings.Join(parts, ", ")
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
