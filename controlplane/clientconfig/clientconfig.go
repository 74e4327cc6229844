// Package clientconfig is how API clients (dnsctl, tests, tools) find and
// reach a control plane: the endpoint, the API token and the TLS material,
// from flags, environment variables or a JSON config file, and a gRPC
// connection that sends the token with every call. `controlplane
// --embedded` writes such a file (.data/dnsctl.json under `make run`) so
// that dnsctl works with no setup.
package clientconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Config is what a client needs. File paths in a config file are relative
// to the file.
type Config struct {
	Endpoint string `json:"endpoint,omitempty"`
	// Token is the API token itself; TokenFile a file holding it (the
	// safer choice: config files get shared, token files can stay 0600).
	Token     string `json:"token,omitempty"`
	TokenFile string `json:"token_file,omitempty"`
	// TLS turns TLS on; CAFile verifies the server (system roots when
	// empty); CertFile and KeyFile are a client certificate for mTLS.
	TLS      bool   `json:"tls,omitempty"`
	CAFile   string `json:"ca_file,omitempty"`
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
}

// Environment variables clients read.
const (
	EnvConfig    = "ZONEGRID_CONFIG"
	EnvEndpoint  = "ZONEGRID_ENDPOINT"
	EnvToken     = "ZONEGRID_TOKEN"
	EnvTokenFile = "ZONEGRID_TOKEN_FILE"
	EnvCA        = "ZONEGRID_CA"
)

// LocalFile is where `make run` leaves its config, relative to the
// repository root.
const LocalFile = ".data/dnsctl.json"

// DefaultFiles lists where a config file is looked for when none is named:
// the local development system's first (so `make run` needs no setup),
// then the user's.
func DefaultFiles() []string {
	files := []string{LocalFile}
	if dir, err := os.UserConfigDir(); err == nil {
		files = append(files, filepath.Join(dir, "zonegrid", "dnsctl.json"))
	}
	return files
}

// Load reads a config file; paths in it become absolute.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read client config: %w", err)
	}
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("client config %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&c.TokenFile, &c.CAFile, &c.CertFile, &c.KeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return c, nil
}

// Find loads the named file, else $ZONEGRID_CONFIG, else the first of
// DefaultFiles that exists; with none, the zero Config.
func Find(named string) (Config, error) {
	if named != "" {
		return Load(named)
	}
	if env := os.Getenv(EnvConfig); env != "" {
		return Load(env)
	}
	for _, f := range DefaultFiles() {
		if _, err := os.Stat(f); err == nil {
			return Load(f)
		}
	}
	return Config{}, nil
}

// Save writes c to path (mode 0600).
func Save(path string, c Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode client config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("client config dir: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write client config: %w", err)
	}
	return nil
}

// Merge fills c's empty fields from the environment, then from file:
// flags (already in c) beat the environment, which beats the file.
func (c Config) Merge(file Config) Config {
	pick := func(v *string, env string, fromFile string) {
		if *v == "" && env != "" {
			*v = os.Getenv(env)
		}
		if *v == "" {
			*v = fromFile
		}
	}
	pick(&c.Endpoint, EnvEndpoint, file.Endpoint)
	if c.Token == "" && c.TokenFile == "" {
		c.Token = os.Getenv(EnvToken)
		if c.Token == "" {
			c.TokenFile = os.Getenv(EnvTokenFile)
		}
		if c.Token == "" && c.TokenFile == "" {
			c.Token, c.TokenFile = file.Token, file.TokenFile
		}
	}
	pick(&c.CAFile, EnvCA, file.CAFile)
	if c.CertFile == "" && c.KeyFile == "" {
		c.CertFile, c.KeyFile = file.CertFile, file.KeyFile
	}
	c.TLS = c.TLS || file.TLS || c.CAFile != "" || c.CertFile != ""
	return c
}

// ResolveToken returns the token itself, reading TokenFile if needed.
func (c Config) ResolveToken() (string, error) {
	if c.Token != "" || c.TokenFile == "" {
		return strings.TrimSpace(c.Token), nil
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("read API token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Dial opens a connection that authenticates every call with the token;
// extra options (interceptors) are added to the defaults.
func (c Config) Dial(extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	if c.Endpoint == "" {
		return nil, errors.New("no control plane endpoint")
	}
	tok, err := c.ResolveToken()
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{}
	if c.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read CA: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA %s: no PEM certificate", c.CAFile)
			}
		}
		if c.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if tok != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(Bearer(tok)))
	}
	conn, err := grpc.NewClient(c.Endpoint, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.Endpoint, err)
	}
	return conn, nil
}

// Bearer sends a token as "authorization: Bearer <token>" with every call.
type Bearer string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b Bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials. The
// control plane itself refuses plaintext except on loopback, which is
// where a plaintext client can meet it.
func (Bearer) RequireTransportSecurity() bool { return false }
