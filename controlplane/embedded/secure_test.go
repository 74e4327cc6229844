package embedded

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// A Secure start locks both servers: etcd refuses a client without the
// control plane's credentials, NATS refuses a client without an nkey, the
// edge's nkey may read but not publish, and a restart reuses the same
// credentials.
func TestSecureServersRequireCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	s, err := Start(ctx, Config{DataDir: dir, UnsafeNoFsync: true, Secure: true}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Credentials()
	for _, f := range []string{c.ControlPlaneNkeySeedFile, c.EdgeNkeySeedFile, filepath.Join(c.Dir, "etcd-root.password")} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("credential %s: mode %v, %v; want 0600", f, st.Mode(), err)
		}
	}

	etcdCases := []struct {
		name     string
		user, pw string
		ok       bool
	}{
		{"etcd refuses a client without credentials", "", "", false},
		{"etcd refuses a wrong password", c.EtcdUsername, "wrong", false},
		{"etcd admits the control plane", c.EtcdUsername, c.EtcdPassword, true},
	}
	for _, tc := range etcdCases {
		t.Run(tc.name, func(t *testing.T) {
			cli, err := clientv3.New(clientv3.Config{Endpoints: s.EtcdEndpoints(), DialTimeout: 5 * time.Second,
				Username: tc.user, Password: tc.pw})
			if err == nil {
				defer cli.Close()
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				_, err = cli.Put(ctx, "/zonegrid/k", "v")
			}
			if (err == nil) != tc.ok {
				t.Fatalf("put: %v, want ok=%v", err, tc.ok)
			}
		})
	}

	if nc, err := nats.Connect(s.NATSURL()); err == nil {
		nc.Close()
		t.Fatal("NATS admitted a client without credentials")
	}
	connect := func(seed string) jetstream.JetStream {
		t.Helper()
		opt, err := nats.NkeyOptionFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(s.NATSURL(), opt)
		if err != nil {
			t.Fatalf("connect with %s: %v", seed, err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	cp := connect(c.ControlPlaneNkeySeedFile)
	kv, err := cp.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: snapshot.ZonesBucket})
	if err != nil {
		t.Fatalf("control plane creates the zones bucket: %v", err)
	}
	if _, err := kv.Put(ctx, "example.com", []byte("v1")); err != nil {
		t.Fatalf("control plane publishes: %v", err)
	}
	// A refused request is never answered: a short deadline ends it.
	octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
	defer ocancel()
	if _, err := cp.CreateKeyValue(octx, jetstream.KeyValueConfig{Bucket: "other"}); err == nil {
		t.Fatal("control plane created a bucket outside its permissions")
	}
	edge := connect(c.EdgeNkeySeedFile)
	ekv, err := edge.KeyValue(ctx, snapshot.ZonesBucket)
	if err != nil {
		t.Fatalf("edge opens the zones bucket: %v", err)
	}
	if e, err := ekv.Get(ctx, "example.com"); err != nil || string(e.Value()) != "v1" {
		t.Fatalf("edge reads: %v", err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	defer pcancel()
	if _, err := ekv.Put(pctx, "example.com", []byte("forged")); err == nil {
		t.Fatal("edge published a snapshot")
	}

	// Restart: the same credentials still work, none is regenerated.
	seed, _ := os.ReadFile(c.EdgeNkeySeedFile)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Start(ctx, Config{DataDir: dir, UnsafeNoFsync: true, Secure: true}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer s2.Close()
	if s2.Credentials() != c {
		t.Fatalf("credentials changed across a restart")
	}
	if again, _ := os.ReadFile(c.EdgeNkeySeedFile); string(again) != string(seed) {
		t.Fatal("edge seed regenerated on restart")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: s2.EtcdEndpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Get(ctx, "/zonegrid/k"); err == nil {
		t.Fatal("etcd admitted a client without credentials after a restart")
	}
}
