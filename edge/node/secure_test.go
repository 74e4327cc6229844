package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/edge/internal/natstest"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/natsauth"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// An edge with its nkey seed and a trust key follows signed zones on a
// NATS server that requires credentials, and keeps answering with the
// version it holds when a forged value is written into the bucket.
func TestNodeAnswersFromSignedSnapshotsOnly(t *testing.T) {
	srv := natstest.StartSecure(t, t.TempDir())
	t.Cleanup(srv.Stop)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := snapshot.NewSigner(priv)
	dir := t.TempDir()
	pubPEM, err := snapshot.PublicKeyPEM(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	trust := filepath.Join(dir, "trust.pem")
	if err := os.WriteFile(trust, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	pub := natstest.NewPublisher(t, srv.URL(), srv.Users.Option(t, natsauth.ControlPlane))
	pub.Signer = signer
	pub.PutZone(zonetest.Zone(t, zonetest.Header("example.com.", 1), "www IN A 192.0.2.1\n"))

	n, err := New(Config{
		UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
		NATSURL:               srv.URL(),
		NATSNkeySeedFile:      srv.Users.SeedFile(t, dir, natsauth.Edge),
		SnapshotTrustKeyFiles: []string{trust},
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	select {
	case <-n.Ready():
	case <-time.After(wait):
		t.Fatal("node never ready")
	}
	if a := firstA(exchange(t, "udp", n.UDPAddr(), "www.example.com.", dns.TypeA)); a != "192.0.2.1" {
		t.Fatalf("signed zone answered %q", a)
	}

	forged, err := snapshot.MarshalZone(zonetest.Zone(t, zonetest.Header("example.com.", 2), "www IN A 203.0.113.66\n"))
	if err != nil {
		t.Fatal(err)
	}
	pub.PutZoneBytes("example.com", forged)
	natstest.Eventually(t, wait, "forged value rejected", func() bool {
		return strings.Contains(metrics(t, n), `zonegrid_edge_snapshot_rejected_total{bucket="zonegrid-zones",reason="unsigned"} 1`)
	})
	if a := firstA(exchange(t, "udp", n.UDPAddr(), "www.example.com.", dns.TypeA)); a != "192.0.2.1" {
		t.Fatalf("after a forged value: answered %q, want the signed 192.0.2.1", a)
	}
	pub.PutZone(zonetest.Zone(t, zonetest.Header("example.com.", 3), "www IN A 192.0.2.3\n"))
	natstest.Eventually(t, wait, "signed update answered", func() bool {
		return firstA(exchange(t, "udp", n.UDPAddr(), "www.example.com.", dns.TypeA)) == "192.0.2.3"
	})
}

func TestNodeRefusesBadTrustKeys(t *testing.T) {
	_, err := New(Config{UDPAddr: "127.0.0.1:0", NATSURL: "nats://127.0.0.1:1", SnapshotTrustKeyFiles: []string{"/nonexistent.pem"}}, nil)
	if err == nil {
		t.Fatal("missing trust key file accepted")
	}
}

func metrics(t *testing.T, n *Node) string {
	t.Helper()
	resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
