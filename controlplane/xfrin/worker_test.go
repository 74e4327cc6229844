package xfrin

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// linkPrimaries makes a peer per address (no TSIG) and links them to the
// zone's incoming configuration, in order.
func linkPrimaries(t *testing.T, st *store.Store, zoneID string, refresh uint32, addrs ...string) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(port)
		id := "peer" + strconv.Itoa(i)
		if err := st.CreatePeer(ctx, &dnsv1.Peer{Id: id, AccountId: "acct", Name: id, Ip: host, Port: uint32(p)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := st.UpdateIncomingTransfer(ctx, zoneID, ids, func(_ *dnsv1.Zone, cur *dnsv1.IncomingTransfer, _ []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
		return &dnsv1.IncomingTransfer{ZoneId: zoneID, AutoRefreshSeconds: refresh, Peers: ids}, nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// The worker refreshes when the interval has passed (or forced), falls
// over to the next primary when one is down, and reports each primary and
// the zone's state: DEGRADED when a later primary answered, FAILING when
// none did, OK again when the first answers.
func TestWorkerRefreshesAndReportsEachPrimary(t *testing.T) {
	ctx := context.Background()
	st, id := newStore(t)
	good := startPrimary(t, false)
	good.set(1, rrs(t, "www.sec.example. 300 IN A 192.0.2.1"))
	dead := "127.0.0.1:1" // nothing listens: peer0
	linkPrimaries(t, st, id, 60, dead, good.addr)
	w := NewWorker(st, WorkerConfig{Limits: Limits{Timeout: 2 * time.Second}}, zaptest.NewLogger(t))
	status := func() *dnsv1.TransferStatus {
		t.Helper()
		s, err := st.GetTransferStatus(ctx, id, store.TransferIncoming)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t0 := time.Now()
	if err := w.Step(ctx, t0); err != nil {
		t.Fatal(err)
	}
	s := status()
	if s.GetState() != dnsv1.TransferState_TRANSFER_STATE_DEGRADED || s.GetSerial() != 1 || s.GetPeers()[0].GetLastError() == "" ||
		s.GetPeers()[1].GetLastError() != "" || s.GetPeers()[1].GetSerial() != 1 {
		t.Fatalf("after the first step: %v", s)
	}
	if got := strings.Join(served(t, st, id), "\n"); !strings.Contains(got, "www.sec.example. A 192.0.2.1") {
		t.Fatalf("zone after the first step: %s", got)
	}
	// Within the interval nothing is asked, even with a new serial.
	good.set(2, rrs(t, "www.sec.example. 300 IN A 192.0.2.2"))
	if err := w.Step(ctx, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if status().GetSerial() != 1 {
		t.Fatal("refreshed before the interval")
	}
	// Forced (a NOTIFY), it is.
	if err := w.Refresh(ctx, id, t0.Add(31*time.Second), true); err != nil {
		t.Fatal(err)
	}
	if status().GetSerial() != 2 {
		t.Fatalf("forced refresh: %v", status())
	}
	// Every primary down: FAILING, the zone kept.
	if _, err := st.UpdateIncomingTransfer(ctx, id, []string{"peer0"}, func(_ *dnsv1.Zone, _ *dnsv1.IncomingTransfer, _ []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
		return &dnsv1.IncomingTransfer{ZoneId: id, AutoRefreshSeconds: 60, Peers: []string{"peer0"}}, nil // the dead one only
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Step(ctx, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s := status(); s.GetState() != dnsv1.TransferState_TRANSFER_STATE_FAILING || s.GetSerial() != 2 {
		t.Fatalf("all primaries down: %v", s)
	}
	if got := strings.Join(served(t, st, id), "\n"); !strings.Contains(got, "192.0.2.2") {
		t.Fatalf("zone lost while its primaries were down: %s", got)
	}
}
