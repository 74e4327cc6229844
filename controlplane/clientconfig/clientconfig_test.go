package clientconfig

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMergePrecedence(t *testing.T) {
	file := Config{Endpoint: "file:1", TokenFile: "/file/token", CAFile: "/file/ca.pem"}
	tests := []struct {
		name  string
		flags Config
		env   map[string]string
		want  Config
	}{
		{"file alone", Config{}, nil, Config{Endpoint: "file:1", TokenFile: "/file/token", CAFile: "/file/ca.pem", TLS: true}},
		{"environment beats the file", Config{}, map[string]string{EnvEndpoint: "env:1", EnvToken: "zgt_e_x"},
			Config{Endpoint: "env:1", Token: "zgt_e_x", CAFile: "/file/ca.pem", TLS: true}},
		{"token file from the environment", Config{}, map[string]string{EnvTokenFile: "/env/token"},
			Config{Endpoint: "file:1", TokenFile: "/env/token", CAFile: "/file/ca.pem", TLS: true}},
		{"flags beat both", Config{Endpoint: "flag:1", Token: "zgt_f_x"}, map[string]string{EnvEndpoint: "env:1", EnvToken: "zgt_e_x"},
			Config{Endpoint: "flag:1", Token: "zgt_f_x", CAFile: "/file/ca.pem", TLS: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{EnvEndpoint, EnvToken, EnvTokenFile, EnvCA} {
				t.Setenv(k, tt.env[k])
			}
			if got := tt.flags.Merge(file); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSaveLoadResolvesPathsAgainstTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "dnsctl.json")
	if err := Save(path, Config{Endpoint: "h:1", TokenFile: "op.token", CAFile: "/abs/ca.pem"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode %v, %v", fi.Mode(), err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenFile != filepath.Join(dir, "sub", "op.token") || c.CAFile != "/abs/ca.pem" {
		t.Fatalf("paths %q %q", c.TokenFile, c.CAFile)
	}
	os.WriteFile(c.TokenFile, []byte("zgt_a_b\n"), 0o600)
	if tok, err := c.ResolveToken(); err != nil || tok != "zgt_a_b" {
		t.Fatalf("token %q, %v", tok, err)
	}
	os.WriteFile(path, []byte(`{"endpoint":"h:1","tokn":"typo"}`), 0o600)
	if _, err := Load(path); err == nil {
		t.Fatal("a misspelt field was accepted")
	}
}
