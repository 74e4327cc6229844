package xfrin

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/controlplane/store"
)

// A NOTIFY request left in etcd (controlplane/notifyin records it; no
// control plane acted on it at once) makes the worker's next step refresh
// the zone although its refresh is not due, and is cleared; without one
// the step leaves the zone alone.
func TestStepTakesNotifyRequestsLeftInEtcd(t *testing.T) {
	ctx := context.Background()
	st, id := newStore(t)
	p := startPrimary(t, false)
	p.set(1, rrs(t, "www.sec.example. 300 IN A 192.0.2.1"))
	linkPrimaries(t, st, id, 3600, p.addr)
	w := NewWorker(st, WorkerConfig{Limits: Limits{Timeout: 2 * time.Second}}, zaptest.NewLogger(t))
	serial := func() uint32 {
		t.Helper()
		s, err := st.GetTransferStatus(ctx, id, store.TransferIncoming)
		if err != nil {
			t.Fatal(err)
		}
		return s.GetSerial()
	}
	t0 := time.Now()
	if err := w.Step(ctx, t0); err != nil || serial() != 1 {
		t.Fatalf("first step: %v, serial %d", err, serial())
	}
	p.set(2, rrs(t, "www.sec.example. 300 IN A 192.0.2.2"))
	if err := w.Step(ctx, t0.Add(time.Minute)); err != nil || serial() != 1 {
		t.Fatalf("step before the refresh is due: %v, serial %d", err, serial())
	}
	if err := st.RequestNotifyRefresh(ctx, id, t0); err != nil {
		t.Fatal(err)
	}
	if err := w.Step(ctx, t0.Add(2*time.Minute)); err != nil || serial() != 2 {
		t.Fatalf("step with a NOTIFY request: %v, serial %d", err, serial())
	}
	if reqs, err := st.NotifyRequests(ctx); err != nil || len(reqs) != 0 {
		t.Fatalf("request not cleared: %v %v", reqs, err)
	}
	// A request for a zone that does not exist is refused.
	if err := st.RequestNotifyRefresh(ctx, "nozone", t0); err == nil {
		t.Fatal("request recorded for a missing zone")
	}
}
