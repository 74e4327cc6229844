package builder

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/embedded"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

type env struct {
	st *store.Store
	nc *nats.Conn
	js jetstream.JetStream
}

// newEnv starts real etcd and NATS. maxPayload > 0 starts a separate NATS
// server with that max payload (to exercise the object-store path cheaply).
func newEnv(t *testing.T, maxPayload int32) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := zaptest.NewLogger(t)
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir(), UnsafeNoFsync: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.EtcdEndpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	natsURL := srv.NATSURL()
	if maxPayload > 0 {
		ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
			StoreDir: t.TempDir(), MaxPayload: maxPayload, NoLog: true, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(30 * time.Second) {
			t.Fatal("nats not ready")
		}
		t.Cleanup(ns.Shutdown)
		natsURL = ns.ClientURL()
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: store.New(cli, "/zg", log), nc: nc, js: js}
}

// startBuilder runs a builder until the returned stop is called.
func (e *env) startBuilder(t *testing.T) (*Builder, func()) {
	t.Helper()
	return e.startBuilderWith(t, Config{SOARname: "dns.test.", Coalesce: 5 * time.Millisecond})
}

// startBuilderWith runs a builder of cfg until the test ends (or stop).
func (e *env) startBuilderWith(t *testing.T, cfg Config) (*Builder, func()) {
	t.Helper()
	b, err := New(e.st, e.nc, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Run(ctx)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return b, stop
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: never happened; last state: %s", what, last)
}

func (e *env) zoneSnapshot(t *testing.T, name string) (*snapshot.Zone, error) {
	t.Helper()
	ctx := context.Background()
	kv, err := e.js.KeyValue(ctx, snapshot.ZonesBucket)
	if err != nil {
		return nil, err
	}
	entry, err := kv.Get(ctx, snapshot.ZoneKey(name))
	if err != nil {
		return nil, err
	}
	z, err := snapshot.UnmarshalZone(entry.Value())
	if err != nil {
		return nil, err
	}
	if obj := z.GetRecordsObject(); obj != "" {
		os, err := e.js.ObjectStore(ctx, snapshot.ObjectBucket)
		if err != nil {
			return nil, err
		}
		data, err := os.GetBytes(ctx, obj)
		if err != nil {
			return nil, err
		}
		full, err := snapshot.UnmarshalZone(data)
		if err != nil {
			return nil, err
		}
		full.RecordsObject = obj // let tests see where it came from
		return full, nil
	}
	return z, nil
}

func createZone(t *testing.T, st *store.Store, id, acct, name string, status dnsv1.ZoneStatus) {
	t.Helper()
	_, err := st.CreateZone(context.Background(), acct, name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: acct, Name: name, Status: status,
			NameServers: []string{"ns1.zonegrid.test.", "ns2.zonegrid.test."}, CreatedOn: timestamppb.Now()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func putRecords(t *testing.T, st *store.Store, zid string, rs ...*dnsv1.Record) {
	t.Helper()
	err := st.UpdateRecords(context.Background(), zid, func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
		var ops []store.RecordOp
		for _, r := range rs {
			ops = append(ops, store.RecordOp{Put: r})
		}
		return ops, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func recordIDs(z *snapshot.Zone) map[string]bool {
	ids := map[string]bool{}
	for _, r := range z.GetRecords() {
		ids[r.GetId()] = true
	}
	return ids
}

func TestBuilderPublishesZonesAndResumesAfterRestart(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "zone1", "acct1", "example.com.", dnsv1.ZoneStatus_ZONE_STATUS_PENDING)
	putRecords(t, e.st, "zone1", &dnsv1.Record{Id: "r1", Name: "www.example.com.", Type: "A", Content: "192.0.2.1", Ttl: 1})

	b1, stop1 := e.startBuilder(t)
	var v1 uint64
	eventually(t, "first snapshot", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "example.com.")
		if err != nil {
			return false, err.Error()
		}
		v1 = z.GetHeader().GetVersion()
		return recordIDs(z)["r1"] && z.GetHeader().GetStatus() == snapshot.ZoneStatus_ZONE_STATUS_PENDING, fmt.Sprint(z)
	})
	if n := testutil.ToFloat64(b1.m.fullRebuilds); n != 1 {
		t.Fatalf("first start: %v full rebuilds, want 1", n)
	}

	// A change while running: a new record appears with a higher version.
	putRecords(t, e.st, "zone1", &dnsv1.Record{Id: "r2", Name: "mail.example.com.", Type: "A", Content: "192.0.2.2", Ttl: 60})
	var v2 uint64
	eventually(t, "second record", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "example.com.")
		if err != nil {
			return false, err.Error()
		}
		v2 = z.GetHeader().GetVersion()
		return len(z.GetRecords()) == 2 && v2 > v1, fmt.Sprint(z.GetHeader())
	})

	// Changes made while no builder runs are published by the next one,
	// which resumes from the stored revision instead of rebuilding.
	stop1()
	putRecords(t, e.st, "zone1", &dnsv1.Record{Id: "r3", Name: "ftp.example.com.", Type: "A", Content: "192.0.2.3", Ttl: 60})
	createZone(t, e.st, "zone2", "acct1", "example.org.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	b2, _ := e.startBuilder(t)
	eventually(t, "changes made while stopped", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "example.com.")
		if err != nil {
			return false, err.Error()
		}
		o, err := e.zoneSnapshot(t, "example.org.")
		if err != nil {
			return false, err.Error()
		}
		return recordIDs(z)["r3"] && z.GetHeader().GetVersion() > v2 &&
			o.GetHeader().GetStatus() == snapshot.ZoneStatus_ZONE_STATUS_ACTIVE, fmt.Sprint(z.GetHeader())
	})
	if n := testutil.ToFloat64(b2.m.fullRebuilds); n != 0 {
		t.Fatalf("restart: %v full rebuilds, want 0 (resume from stored revision)", n)
	}

	// Deleting the zone removes its snapshot.
	if _, err := e.st.PurgeZone(context.Background(), "zone2"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted zone unpublished", func() (bool, string) {
		_, err := e.zoneSnapshot(t, "example.org.")
		return errors.Is(err, jetstream.ErrKeyNotFound), fmt.Sprint(err)
	})
}

func TestBuilderServesActiveZoneOfAName(t *testing.T) {
	e := newEnv(t, 0)
	e.startBuilder(t)
	createZone(t, e.st, "older", "acct1", "shared.com.", dnsv1.ZoneStatus_ZONE_STATUS_PENDING)
	createZone(t, e.st, "newer", "acct2", "shared.com.", dnsv1.ZoneStatus_ZONE_STATUS_PENDING)
	served := func(want string) func() (bool, string) {
		return func() (bool, string) {
			z, err := e.zoneSnapshot(t, "shared.com.")
			if err != nil {
				return false, err.Error()
			}
			return z.GetHeader().GetZoneId() == want, z.GetHeader().GetZoneId()
		}
	}
	eventually(t, "earliest pending served", served("older"))
	if _, err := e.st.ActivateZone(context.Background(), "newer", time.Now()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "active zone served", served("newer"))
}

func TestBuilderPublishesAccountSettings(t *testing.T) {
	e := newEnv(t, 0)
	e.startBuilder(t)
	for _, on := range []bool{true, false} {
		if _, err := e.st.UpdateAccountSettings(context.Background(), "acct1", func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) {
			cur.EnforceDnsOnly = on
			return cur, nil
		}); err != nil {
			t.Fatal(err)
		}
		eventually(t, fmt.Sprintf("account enforce_dns_only=%v", on), func() (bool, string) {
			kv, err := e.js.KeyValue(context.Background(), snapshot.AccountsBucket)
			if err != nil {
				return false, err.Error()
			}
			entry, err := kv.Get(context.Background(), "acct1")
			if err != nil {
				return false, err.Error()
			}
			a, err := snapshot.UnmarshalAccount(entry.Value())
			if err != nil {
				return false, err.Error()
			}
			return a.GetEnforceDnsOnly() == on && a.GetVersion() > 0, fmt.Sprint(a)
		})
	}
}

func TestBuilderPutsLargeZonesInObjectStore(t *testing.T) {
	e := newEnv(t, 32<<10)
	createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	var rs []*dnsv1.Record
	for i := range 1000 {
		rs = append(rs, &dnsv1.Record{Id: fmt.Sprintf("r%04d", i), Name: fmt.Sprintf("host%d.big.example.", i),
			Type: "TXT", Content: "\"some text to make this record reasonably large\"", Ttl: 1})
	}
	putRecords(t, e.st, "big", rs...)
	e.startBuilder(t)
	eventually(t, "large zone in object store", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		if err != nil {
			return false, err.Error()
		}
		return z.GetRecordsObject() == "big.example" && len(z.GetRecords()) == 1000,
			fmt.Sprintf("object=%q records=%d", z.GetRecordsObject(), len(z.GetRecords()))
	})
}

func TestOnlyOneBuilderLeadsAndAnotherTakesOver(t *testing.T) {
	e := newEnv(t, 0)
	b1, stop1 := e.startBuilder(t)
	b2, stop2 := e.startBuilder(t)
	leaders := func() (float64, float64) {
		return testutil.ToFloat64(b1.m.leader), testutil.ToFloat64(b2.m.leader)
	}
	eventually(t, "one leader", func() (bool, string) {
		l1, l2 := leaders()
		return l1+l2 == 1, fmt.Sprint(l1, l2)
	})
	l1, _ := leaders()
	standby := b2
	if l1 == 1 {
		stop1()
	} else {
		stop2()
		standby = b1
	}
	createZone(t, e.st, "zone1", "acct1", "failover.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	eventually(t, "standby takes over and publishes", func() (bool, string) {
		_, err := e.zoneSnapshot(t, "failover.example.")
		return err == nil && testutil.ToFloat64(standby.m.leader) == 1, fmt.Sprint(err)
	})
}

func TestCorruptZoneDoesNotStallOthers(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "bad", "acct1", "bad.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	// Garbage where a record should be: the zone cannot compile.
	if _, err := e.st.Client().Put(context.Background(), "/zg/data/records/bad/example.bad./r1", "\xff\xff\xff"); err != nil {
		t.Fatal(err)
	}
	b, _ := e.startBuilder(t)
	createZone(t, e.st, "good", "acct1", "good.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	eventually(t, "good zone published despite the bad one", func() (bool, string) {
		_, err := e.zoneSnapshot(t, "good.example.")
		return err == nil, fmt.Sprint(err)
	})
	// Zones of a batch publish in no fixed order: the bad one may be
	// skipped just after the good one is out.
	eventually(t, "bad zone reported as skipped", func() (bool, string) {
		n := testutil.ToFloat64(b.m.skipped)
		return n > 0, fmt.Sprint(n)
	})
}

func TestCompactedHistoryTriggersFullRebuild(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "zone1", "acct1", "compact.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	_, stop := e.startBuilder(t)
	eventually(t, "first snapshot", func() (bool, string) {
		_, err := e.zoneSnapshot(t, "compact.example.")
		return err == nil, fmt.Sprint(err)
	})
	stop()
	putRecords(t, e.st, "zone1", &dnsv1.Record{Id: "r1", Name: "www.compact.example.", Type: "A", Content: "192.0.2.1", Ttl: 1})
	putRecords(t, e.st, "zone1", &dnsv1.Record{Id: "r2", Name: "ftp.compact.example.", Type: "A", Content: "192.0.2.2", Ttl: 1})
	rev, err := e.st.CurrentRevision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Client().Compact(context.Background(), rev); err != nil {
		t.Fatal(err)
	}
	b, _ := e.startBuilder(t)
	eventually(t, "changes behind the compaction published", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "compact.example.")
		if err != nil {
			return false, err.Error()
		}
		return len(z.GetRecords()) == 2, fmt.Sprint(len(z.GetRecords()))
	})
	if n := testutil.ToFloat64(b.m.fullRebuilds); n != 1 {
		t.Fatalf("full rebuilds = %v, want 1", n)
	}
}
