package main

import (
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
