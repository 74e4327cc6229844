// Package etcdtest runs one real embedded etcd for a package's tests (never
// a mock: the tests that use it cover etcd's behaviour too). Each test works
// under its own key prefix, so tests share the server but not their data.
package etcdtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/controlplane/embedded"
)

// Run starts a real embedded etcd (fsync off: test data need not survive a
// crash), points *cli at it, runs the package's tests and exits with their
// status. Call it from TestMain.
func Run(m *testing.M, cli **clientv3.Client) {
	os.Exit(run(m, cli))
}

func run(m *testing.M, cli **clientv3.Client) int {
	dir, err := os.MkdirTemp("", "etcdtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdtest: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(context.Background(), embedded.Config{DataDir: dir, UnsafeNoFsync: true}, zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdtest: start etcd:", err)
		return 1
	}
	defer srv.Close()
	c, err := clientv3.New(clientv3.Config{Endpoints: srv.EtcdEndpoints(), DialTimeout: 5 * time.Second,
		// As the server's client: a whole zone-file import is one request.
		MaxCallSendMsgSize: embedded.MaxRequestBytes})
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdtest: client:", err)
		return 1
	}
	defer c.Close()
	*cli = c
	return m.Run()
}

// prefixes remembers the prefix of each running test, so that a test that
// asks twice gets the same one while a repeated run (go test -count=N) of
// the same test gets a fresh one and does not see the data of the last run.
var (
	prefixes sync.Map // testing.TB → string
	runs     atomic.Uint64
)

// Prefix is a key prefix of its own for the calling test: the same for every
// call within one run of the test, different across runs.
func Prefix(t testing.TB) string {
	if p, ok := prefixes.Load(t); ok {
		return p.(string)
	}
	p := fmt.Sprintf("/test/%s/%d", strings.ReplaceAll(t.Name(), "/", "_"), runs.Add(1))
	if actual, loaded := prefixes.LoadOrStore(t, p); loaded {
		return actual.(string)
	}
	t.Cleanup(func() { prefixes.Delete(t) })
	return p
}
