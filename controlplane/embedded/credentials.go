package embedded

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zonegrid/zonegrid/pkg/natsauth"
)

// EtcdUser is the etcd user the control plane connects as when Secure.
const EtcdUser = "root"

// Credentials of the secured embedded servers. Secrets live in the files;
// only EtcdPassword is held in memory, for the control plane's client.
type Credentials struct {
	// Dir holds every file below (DataDir/credentials).
	Dir string
	// EtcdUsername and EtcdPassword: the control plane's etcd login; the
	// password is also in Dir/etcd-root.password.
	EtcdUsername, EtcdPassword string
	// ControlPlaneNkeySeedFile and EdgeNkeySeedFile hold the nkey seeds
	// of the two NATS users (controlplane.nk, edge.nk).
	ControlPlaneNkeySeedFile, EdgeNkeySeedFile string
}

// Credentials are those of a Secure start; zero otherwise.
func (s *Servers) Credentials() Credentials { return s.creds }

// ensureCredentials loads the credentials in dir, generating the missing
// ones, and returns the NATS users to configure.
func ensureCredentials(dir string) (Credentials, []*natsserver.NkeyUser, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Credentials{}, nil, fmt.Errorf("create credentials dir %s: %w", dir, err)
	}
	c := Credentials{
		Dir:                      dir,
		EtcdUsername:             EtcdUser,
		ControlPlaneNkeySeedFile: filepath.Join(dir, "controlplane.nk"),
		EdgeNkeySeedFile:         filepath.Join(dir, "edge.nk"),
	}
	pw, err := ensureSecret(filepath.Join(dir, "etcd-root.password"), func() ([]byte, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return []byte(base64.RawURLEncoding.EncodeToString(b)), nil
	})
	if err != nil {
		return Credentials{}, nil, err
	}
	c.EtcdPassword = strings.TrimSpace(string(pw))
	var users []*natsserver.NkeyUser
	for _, u := range []struct {
		role natsauth.Role
		file string
	}{{natsauth.ControlPlane, c.ControlPlaneNkeySeedFile}, {natsauth.Edge, c.EdgeNkeySeedFile}} {
		seed, err := ensureSecret(u.file, func() ([]byte, error) {
			kp, err := nkeys.CreateUser()
			if err != nil {
				return nil, err
			}
			return kp.Seed()
		})
		if err != nil {
			return Credentials{}, nil, err
		}
		kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
		if err != nil {
			return Credentials{}, nil, fmt.Errorf("nkey seed %s: %w", u.file, err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return Credentials{}, nil, fmt.Errorf("nkey seed %s: %w", u.file, err)
		}
		p, err := natsauth.For(u.role)
		if err != nil {
			return Credentials{}, nil, err
		}
		users = append(users, &natsserver.NkeyUser{Nkey: pub, Permissions: &natsserver.Permissions{
			Publish:   &natsserver.SubjectPermission{Allow: p.PublishAllow},
			Subscribe: &natsserver.SubjectPermission{Allow: p.SubscribeAllow},
		}})
	}
	return c, users, nil
}

// ensureSecret reads path, or writes it (mode 0600) with gen's output if it
// does not exist yet.
func ensureSecret(path string, gen func() ([]byte, error)) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read credential %s: %w", path, err)
	}
	if b, err = gen(); err != nil {
		return nil, fmt.Errorf("generate credential %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create credential %s: %w", path, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return nil, fmt.Errorf("write credential %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write credential %s: %w", path, err)
	}
	return b, nil
}

// enableEtcdAuth makes the root user with the generated password and turns
// etcd's authentication on, once: a restarted etcd has it on already, and
// the password must still log in.
func enableEtcdAuth(ctx context.Context, endpoint string, c Credentials, log *zap.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	quiet := log.Named("etcd-client").WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel))
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: quiet})
	if err != nil {
		return fmt.Errorf("embedded etcd auth: connect: %w", err)
	}
	defer cli.Close()
	st, err := cli.AuthStatus(ctx)
	if err != nil {
		return fmt.Errorf("embedded etcd auth: status: %w", err)
	}
	if !st.Enabled {
		if _, err := cli.RoleAdd(ctx, "root"); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
			return fmt.Errorf("embedded etcd auth: add role root: %w", err)
		}
		if _, err := cli.UserAdd(ctx, c.EtcdUsername, c.EtcdPassword); errors.Is(err, rpctypes.ErrUserAlreadyExist) {
			_, err = cli.UserChangePassword(ctx, c.EtcdUsername, c.EtcdPassword)
			if err != nil {
				return fmt.Errorf("embedded etcd auth: set password of %s: %w", c.EtcdUsername, err)
			}
		} else if err != nil {
			return fmt.Errorf("embedded etcd auth: add user %s: %w", c.EtcdUsername, err)
		}
		if _, err := cli.UserGrantRole(ctx, c.EtcdUsername, "root"); err != nil {
			return fmt.Errorf("embedded etcd auth: grant root to %s: %w", c.EtcdUsername, err)
		}
		if _, err := cli.AuthEnable(ctx); err != nil {
			return fmt.Errorf("embedded etcd auth: enable: %w", err)
		}
		log.Info("embedded etcd authentication enabled", zap.String("user", c.EtcdUsername))
	}
	// Prove the stored password logs in, so a mismatch fails the start
	// with a clear error rather than every request later.
	auth, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second,
		Username: c.EtcdUsername, Password: c.EtcdPassword, Logger: quiet})
	if err != nil {
		return fmt.Errorf("embedded etcd auth: log in as %s: %w", c.EtcdUsername, err)
	}
	defer auth.Close()
	if _, err := auth.Get(ctx, "/"); err != nil {
		return fmt.Errorf("embedded etcd auth: log in as %s with %s: %w", c.EtcdUsername,
			filepath.Join(c.Dir, "etcd-root.password"), err)
	}
	return nil
}
