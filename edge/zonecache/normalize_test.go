package zonecache

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
)

// TestNormalizeAgreesWithDnsname checks the load's fast path against
// dnsname.Normalize: same name or same failure, and the input itself
// returned when it is already normalized.
func TestNormalizeAgreesWithDnsname(t *testing.T) {
	for _, name := range []string{
		"www.example.com.", "WWW.Example.com.", "www.example.com", "*.example.com.", "_srv._tcp.example.com.",
		"a..example.com.", ".example.com.", ".", "", "x.", strings.Repeat("a", 63) + ".com.", strings.Repeat("a", 64) + ".com.",
		`a\000b.example.com.`, "a b.example.com.", strings.Repeat("abcdefghi.", 26) + "com.",
	} {
		got, err := normalize(name)
		want, wantErr := dnsname.Normalize(name)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("normalize(%q) = %q, %v; dnsname.Normalize: %q, %v", name, got, err, want, wantErr)
		}
	}
	if name := "host1.example.com."; !sameString(mustNormalize(t, name), name) {
		t.Error("an already normalized name was copied")
	}
}

func mustNormalize(t *testing.T, name string) string {
	t.Helper()
	n, err := normalize(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sameString reports whether two strings share their bytes.
func sameString(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
