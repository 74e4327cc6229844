package keyseal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func ring(t *testing.T, keys ...[]byte) *Ring {
	t.Helper()
	r, err := New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealedDataOpensOnlyWithItsKeyAndContext(t *testing.T) {
	plain := []byte("private key bytes")
	r := ring(t, key(1))
	sealed, err := r.Seal(plain, []byte("zone1/key1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed blob holds the plaintext")
	}
	got, err := r.Open(sealed, []byte("zone1/key1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q, %v", got, err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name    string
		r       *Ring
		blob    []byte
		context string
	}{
		{"another context", r, sealed, "zone2/key1"},
		{"another key", ring(t, key(2)), sealed, "zone1/key1"},
		{"altered blob", r, flipped, "zone1/key1"},
		{"truncated blob", r, sealed[:5], "zone1/key1"},
		{"empty blob", r, nil, "zone1/key1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.r.Open(tc.blob, []byte(tc.context)); !errors.Is(err, ErrOpen) {
				t.Fatalf("open = %v, want ErrOpen", err)
			}
		})
	}
}

func TestRotatedRingOpensOldBlobsAndSealsWithTheNewKey(t *testing.T) {
	old := ring(t, key(1))
	blob, _ := old.Seal([]byte("x"), nil)
	rotated := ring(t, key(2), key(1))
	if got, err := rotated.Open(blob, nil); err != nil || string(got) != "x" {
		t.Fatalf("open old blob: %q, %v", got, err)
	}
	fresh, _ := rotated.Seal([]byte("y"), nil)
	if _, err := old.Open(fresh, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("old ring opened a blob of the new key: %v", err)
	}
	if rotated.ID() == old.ID() {
		t.Fatal("ids of different keys are equal")
	}
}

func TestEnsureFileCreatesOnceAndRereads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "kek")
	k1, err := EnsureFile(p)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := EnsureFile(p)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second EnsureFile: %v", err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kek file mode: %v, %v", fi, err)
	}
	if _, err := LoadFiles(p); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("c2hvcnQ=\n"), 0o600)
	if _, err := LoadFiles(bad); err == nil {
		t.Fatal("a short key loaded")
	}
}
