// Package embedded runs a real single-node etcd and a real NATS server with
// JetStream inside the current process, for `make run`, demos and tests.
// They are the same servers production uses, not fakes, so code exercised
// against them behaves as it will in a deployment.
//
// With Config.Secure (what `controlplane --embedded` uses) neither server
// is open: NATS admits only the control plane's and the edge's nkey users,
// with the permissions of pkg/natsauth, and etcd has auth enabled with a
// root user only the control plane knows (credentials.go). The zero
// Config runs both without authentication, for test harnesses.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// MaxPayload is the NATS max message size: large enough that most zones fit
// one KV value, the rest go to the object store.
const MaxPayload = 8 << 20

// Limits of the embedded etcd, raised so that the largest single record
// write fits one transaction: an import of a 256 KiB zone file (at most
// records.MaxImportRecords, 20,000 records) is about two puts per record
// plus the audit entry, ~600 bytes per record in all (store README,
// "Limits"). A production etcd needs --max-txn-ops and --max-request-bytes
// set alike.
const (
	MaxTxnOps       = 65536
	MaxRequestBytes = 32 << 20
	// SlowRequestWarning is etcd's --warning-apply-duration and
	// --warning-unary-request-duration (default 100 ms and 300 ms).
	SlowRequestWarning = 5 * time.Second
)

// Config says where the servers keep their data and listen.
type Config struct {
	// DataDir holds etcd/ and nats/ subdirectories; created if missing.
	DataDir string
	// Host to listen on; default 127.0.0.1.
	Host string
	// Ports; 0 picks a free port.
	EtcdClientPort int
	EtcdPeerPort   int
	NATSPort       int
	// UnsafeNoFsync skips etcd fsyncs; for tests only.
	UnsafeNoFsync bool
	// Secure turns authentication on: credentials are generated once under
	// DataDir/credentials (mode 0600) and reused on restart; see
	// Servers.Credentials.
	Secure bool
}

// Servers are the running embedded servers.
type Servers struct {
	etcd    *embed.Etcd
	nats    *natsserver.Server
	etcdURL string
	creds   Credentials
	// etcdLevel gates etcd's own logs; raised on Close, where etcd reports
	// its listeners closing as errors.
	etcdLevel zap.AtomicLevel
}

// startTimeout bounds how long the servers may take to become ready.
const startTimeout = 60 * time.Second

// Start starts etcd and NATS and waits until both accept clients.
func Start(ctx context.Context, cfg Config, log *zap.Logger) (*Servers, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("embedded: data dir is required")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	var creds Credentials
	var users []*natsserver.NkeyUser
	if cfg.Secure {
		var err error
		if creds, users, err = ensureCredentials(filepath.Join(cfg.DataDir, "credentials")); err != nil {
			return nil, err
		}
	}
	level := zap.NewAtomicLevelAt(zapcore.WarnLevel)
	e, etcdURL, err := startEtcd(ctx, cfg, log, level)
	if err != nil {
		return nil, err
	}
	if cfg.Secure {
		if err := enableEtcdAuth(ctx, etcdURL, creds, log); err != nil {
			e.Close()
			return nil, err
		}
	}
	ns, err := startNATS(cfg, users, log)
	if err != nil {
		e.Close()
		return nil, err
	}
	s := &Servers{etcd: e, nats: ns, etcdURL: etcdURL, etcdLevel: level, creds: creds}
	log.Info("embedded servers started",
		zap.String("etcd", etcdURL), zap.String("nats", ns.ClientURL()), zap.String("data_dir", cfg.DataDir),
		zap.Bool("authentication", cfg.Secure))
	return s, nil
}

// EtcdEndpoints are the client URLs of the embedded etcd.
func (s *Servers) EtcdEndpoints() []string { return []string{s.etcdURL} }

// NATSURL is the client URL of the embedded NATS server.
func (s *Servers) NATSURL() string { return s.nats.ClientURL() }

// Close stops both servers and waits for them to exit.
func (s *Servers) Close() error {
	s.nats.Shutdown()
	s.nats.WaitForShutdown()
	s.etcdLevel.SetLevel(zapcore.FatalLevel)
	s.etcd.Close()
	return nil
}

// freePort asks the kernel for a free port. Another process could take it
// before etcd binds it; startEtcd retries for that reason.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startEtcd(ctx context.Context, cfg Config, log *zap.Logger, level zap.AtomicLevel) (*embed.Etcd, string, error) {
	const attempts = 5
	var lastErr error
	for range attempts {
		clientPort, peerPort := cfg.EtcdClientPort, cfg.EtcdPeerPort
		var err error
		if clientPort == 0 {
			if clientPort, err = freePort(cfg.Host); err != nil {
				return nil, "", err
			}
		}
		if peerPort == 0 {
			if peerPort, err = freePort(cfg.Host); err != nil {
				return nil, "", err
			}
		}
		e, u, err := tryStartEtcd(ctx, cfg, log, level, clientPort, peerPort)
		if err == nil {
			return e, u, nil
		}
		lastErr = err
		if cfg.EtcdClientPort != 0 && cfg.EtcdPeerPort != 0 {
			break // fixed ports: retrying cannot help
		}
	}
	return nil, "", lastErr
}

func tryStartEtcd(ctx context.Context, cfg Config, log *zap.Logger, level zap.AtomicLevel, clientPort, peerPort int) (*embed.Etcd, string, error) {
	ec := embed.NewConfig()
	ec.Name = "zonegrid"
	ec.Dir = filepath.Join(cfg.DataDir, "etcd")
	cu := url.URL{Scheme: "http", Host: net.JoinHostPort(cfg.Host, strconv.Itoa(clientPort))}
	pu := url.URL{Scheme: "http", Host: net.JoinHostPort(cfg.Host, strconv.Itoa(peerPort))}
	ec.ListenClientUrls = []url.URL{cu}
	ec.AdvertiseClientUrls = []url.URL{cu}
	ec.ListenPeerUrls = []url.URL{pu}
	ec.AdvertisePeerUrls = []url.URL{pu}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	// A batch of record changes is one transaction; etcd's default of 128
	// operations and 1.5 MiB per request is too small for large batches.
	ec.MaxTxnOps = MaxTxnOps
	ec.MaxRequestBytes = MaxRequestBytes
	// etcd renders a whole request as text for its slow-request warnings
	// (eagerly, whatever the log level): for a 256 KiB import, a 12 MB
	// transaction, that costs as much as applying it. Warn only past the
	// store's call timeout, when the store has already failed and logged
	// the call.
	ec.WarningApplyDuration = SlowRequestWarning
	ec.WarningUnaryRequestDuration = SlowRequestWarning
	// etcd's own info logging drowns ours; keep its warnings and errors.
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(
		log.Named("etcd").WithOptions(zap.IncreaseLevel(level)))
	ec.LogLevel = "warn"

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, "", fmt.Errorf("start embedded etcd on %s: %w", cu.String(), err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, "", fmt.Errorf("embedded etcd on %s: %w", cu.String(), err)
	case <-time.After(startTimeout):
		e.Close()
		return nil, "", fmt.Errorf("embedded etcd on %s: not ready after %s", cu.String(), startTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, "", fmt.Errorf("start embedded etcd: %w", ctx.Err())
	}
	return e, cu.String(), nil
}

func startNATS(cfg Config, users []*natsserver.NkeyUser, log *zap.Logger) (*natsserver.Server, error) {
	port := cfg.NATSPort
	if port == 0 {
		port = natsserver.RANDOM_PORT
	}
	opts := &natsserver.Options{
		ServerName: "zonegrid",
		Host:       cfg.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "nats"),
		MaxPayload: MaxPayload,
		NoSigs:     true,
		NoLog:      true,
		Nkeys:      users,
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configure embedded nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(startTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats on %s:%d: not ready after %s", cfg.Host, cfg.NATSPort, startTimeout)
	}
	log.Debug("embedded nats ready", zap.String("url", ns.ClientURL()))
	return ns, nil
}
