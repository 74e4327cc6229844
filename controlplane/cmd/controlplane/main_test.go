package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A non-proxiable list that cannot be read or parsed stops the control
// plane before it connects to anything, with an error naming the list.
func TestBadNonProxiableFileStopsTheStart(t *testing.T) {
	dir := t.TempDir()
	malformed := filepath.Join(dir, "malformed.txt")
	if err := os.WriteFile(malformed, []byte("exact dkim.example.net\nwildcard *.example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "absent.txt"), "open non-proxiable list"},
		{"unknown kind", malformed, "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The etcd endpoint is never dialled: the list is read first.
			err := run([]string{"--non-proxiable-file", tc.path, "--grpc-addr", "127.0.0.1:0", "--etcd-endpoints", "127.0.0.1:1"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// A malformed operator token file stops the start, naming the file.
func TestMalformedOperatorTokenStopsTheStart(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.token")
	if err := os.WriteFile(short, []byte("zgt_operator_tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, files, want string }{
		{"missing file", filepath.Join(dir, "absent.token"), "operator token"},
		{"too short", short, "short.token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run([]string{"--operator-token-file", tc.files, "--grpc-addr", "127.0.0.1:0", "--etcd-endpoints", "127.0.0.1:1"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// -h prints flag defaults: the etcd password taken from the environment
// must not be among them.
func TestHelpDoesNotShowTheEtcdPassword(t *testing.T) {
	t.Setenv("ZONEGRID_ETCD_PASSWORD", "hunter2-do-not-print")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	_ = run([]string{"-h"})
	os.Stderr = stderr
	w.Close()
	out, _ := io.ReadAll(r)
	if !strings.Contains(string(out), "-etcd-password") {
		t.Fatalf("no usage printed: %q", out)
	}
	if strings.Contains(string(out), "hunter2") {
		t.Fatal("-h printed the etcd password")
	}
}

// A malformed anycast pool stops the start, naming the flag, like the
// edge's flag of the same name.
func TestBadAnycastPoolStopsTheStart(t *testing.T) {
	for _, tc := range []struct{ name, flag, value string }{
		{"not an address", "--anycast-v4", "192.0.2.10,not-an-ip"},
		{"v6 address in the v4 pool", "--anycast-v4", "2001:db8::1"},
		{"v4 address in the v6 pool", "--anycast-v6", "192.0.2.10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run([]string{tc.flag, tc.value, "--grpc-addr", "127.0.0.1:0", "--etcd-endpoints", "127.0.0.1:1"})
			if err == nil || !strings.Contains(err.Error(), tc.flag) {
				t.Fatalf("run = %v, want an error naming %s", err, tc.flag)
			}
		})
	}
}
