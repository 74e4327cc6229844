package devcreds

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestGeneratedOnceThenReused(t *testing.T) {
	dir := t.TempDir()
	tok1, err := OperatorToken(filepath.Join(dir, "c", "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := OperatorToken(filepath.Join(dir, "c", "operator.token"))
	if err != nil || tok1 != tok2 {
		t.Fatalf("token changed across starts: %q %q %v", tok1, tok2, err)
	}
	f1, err := ServerTLS(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	ca1, _ := os.ReadFile(f1.CA)
	f2, err := ServerTLS(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	ca2, _ := os.ReadFile(f2.CA)
	if string(ca1) != string(ca2) {
		t.Fatal("CA regenerated on restart")
	}
	for _, p := range []string{filepath.Join(dir, "c", "operator.token"), f1.Key} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v", p, fi.Mode(), err)
		}
	}
	// The certificate verifies against the CA for 127.0.0.1 and localhost.
	pair, err := tls.LoadX509KeyPair(f1.Cert, f1.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca1)
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("certificate for %s: %v", host, err)
		}
	}
}
