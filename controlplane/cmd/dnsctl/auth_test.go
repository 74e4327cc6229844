package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	"github.com/zonegrid/zonegrid/controlplane/devcreds"
	"github.com/zonegrid/zonegrid/controlplane/server"
)

// TestCommandsAuthenticate runs dnsctl against a control plane with
// authorization and TLS on, as `make run` starts it: the config file
// supplies endpoint, token and CA; flags and the environment override it.
func TestCommandsAuthenticate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	opFile := filepath.Join(dir, "credentials", "operator.token")
	op, err := devcreds.OperatorToken(opFile)
	if err != nil {
		t.Fatal(err)
	}
	tlsFiles, err := devcreds.ServerTLS(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(ctx, server.Config{
		GRPCAddr: "127.0.0.1:0", EtcdEndpoints: etcdCli.Endpoints(), DisableBuilder: true,
		Prefix: "/dnsctl-auth-" + strings.ReplaceAll(t.Name(), "/", "_"), OperatorTokens: []string{op},
		TLS: server.ServerTLS{CertFile: tlsFiles.Cert, KeyFile: tlsFiles.Key},
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	cfgFile := filepath.Join(dir, "dnsctl.json")
	if err := clientconfig.Save(cfgFile, clientconfig.Config{Endpoint: s.GRPCAddr(), TokenFile: opFile, TLS: true, CAFile: tlsFiles.CA}); err != nil {
		t.Fatal(err)
	}
	run := func(env map[string]string, args ...string) (int, string, string) {
		for k, v := range env {
			t.Setenv(k, v)
		}
		var out, errOut bytes.Buffer
		code := run(ctx, args, strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	withConfig := map[string]string{clientconfig.EnvConfig: cfgFile}

	code, out, errOut := run(withConfig, "zone", "create", "authed.com", "--account", "acme")
	if code != 0 || !strings.Contains(out, "authed.com.") {
		t.Fatalf("zone create with the config file: exit %d %q %q", code, out, errOut)
	}
	code, out, errOut = run(withConfig, "token", "create", "--account", "acme", "--name", "reader", "--permission", "DNS Read", "--permission", "zone-read")
	if code != 0 {
		t.Fatalf("token create: exit %d %q", code, errOut)
	}
	reader := strings.SplitN(out, "\n", 2)[0]
	if !strings.HasPrefix(reader, "zgt_") || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("token create printed %q / %q", out, errOut)
	}

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no config, no token: plaintext to a TLS listener fails", map[string]string{clientconfig.EnvConfig: filepath.Join(dir, "missing.json")}, []string{"zone", "list"}, 1, "", "read client config"},
		{"TLS but no token", map[string]string{clientconfig.EnvConfig: ""}, []string{"--endpoint", s.GRPCAddr(), "--ca-file", tlsFiles.CA, "zone", "list"}, 1, "", "Unauthenticated"},
		{"token from the environment beats the file", map[string]string{clientconfig.EnvConfig: cfgFile, clientconfig.EnvToken: reader}, []string{"zone", "create", "nope.com", "--account", "acme"}, 1, "", "PermissionDenied"},
		{"token flag beats the environment", map[string]string{clientconfig.EnvConfig: cfgFile, clientconfig.EnvToken: "zgt_x_y"}, []string{"--token", reader, "zone", "list"}, 0, "authed.com.", ""},
		{"bad token", map[string]string{clientconfig.EnvConfig: cfgFile, clientconfig.EnvToken: "zgt_x_y"}, []string{"zone", "list"}, 1, "", "Unauthenticated"},
		{"verify", map[string]string{clientconfig.EnvConfig: cfgFile, clientconfig.EnvToken: reader}, []string{"token", "verify"}, 0, "DNS Read, Zone Read", ""},
		{"operator verify", map[string]string{clientconfig.EnvConfig: cfgFile, clientconfig.EnvToken: ""}, []string{"token", "verify"}, 0, "operator", ""},
		{"token list", withConfig, []string{"token", "list", "--account", "acme"}, 0, "reader", ""},
		{"audit list", withConfig, []string{"audit", "list", "--account", "acme", "--since", "-1h"}, 0, "/dns.v1.ZoneService/CreateZone", ""},
		{"unknown permission", withConfig, []string{"token", "create", "--account", "acme", "--name", "x", "--permission", "DNS Admin"}, 1, "", "--permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(clientconfig.EnvToken, "")
			code, out, errOut := run(tt.env, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
					code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}
