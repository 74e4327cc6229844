package xfrin

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// The worker records the documented alerts on each change of state (all
// primaries failing, some failing, back to OK) and "successfully updated"
// for each transfer applied; a check that changes nothing records nothing.
func TestWorkerRecordsTransferEventsOnTransitions(t *testing.T) {
	ctx := context.Background()
	st, id := newStore(t)
	good := startPrimary(t, false)
	good.set(1, rrs(t, "www.sec.example. 300 IN A 192.0.2.1"))
	dead := "127.0.0.1:1" // nothing listens: peer0
	linkPrimaries(t, st, id, 60, dead, good.addr)
	w := NewWorker(st, WorkerConfig{Limits: Limits{Timeout: 2 * time.Second}}, zaptest.NewLogger(t))
	link := func(peers ...string) {
		t.Helper()
		if _, err := st.UpdateIncomingTransfer(ctx, id, peers, func(_ *dnsv1.Zone, _ *dnsv1.IncomingTransfer, _ []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
			return &dnsv1.IncomingTransfer{ZoneId: id, AutoRefreshSeconds: 60, Peers: peers}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		typ     dnsv1.TransferEventType
		state   dnsv1.TransferState
		serial  uint32
		failing []string
	}
	const (
		allFailing = dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_ALL_PRIMARIES_FAILING
		failing    = dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_PRIMARIES_FAILING
		updated    = dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_SUCCESSFULLY_UPDATED
		recovered  = dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_PRIMARIES_RECOVERED
		ok         = dnsv1.TransferState_TRANSFER_STATE_OK
		degraded   = dnsv1.TransferState_TRANSFER_STATE_DEGRADED
		failingSt  = dnsv1.TransferState_TRANSFER_STATE_FAILING
	)
	t0 := time.Now()
	steps := []struct {
		name   string
		before func()
		want   []want // oldest first
	}{
		{"first primary down, second transfers: some failing, then updated", nil,
			[]want{{failing, degraded, 1, []string{"peer0"}}, {updated, degraded, 1, []string{"peer0"}}}},
		{"the same again with nothing new: no event", nil, nil},
		{"a new serial while still degraded: updated only", func() { good.set(2, rrs(t, "www.sec.example. 300 IN A 192.0.2.2")) },
			[]want{{updated, degraded, 2, []string{"peer0"}}}},
		{"every primary down: all failing", func() { link("peer0") },
			[]want{{allFailing, failingSt, 2, []string{"peer0"}}}},
		{"still down: no second alert", nil, nil},
		{"a primary answers with a new serial: recovered, then updated", func() {
			good.set(3, rrs(t, "www.sec.example. 300 IN A 192.0.2.3"))
			link("peer1")
		}, []want{{recovered, ok, 3, nil}, {updated, ok, 3, nil}}},
		{"up to date: no event", nil, nil},
	}
	var newest string
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before()
			}
			if err := w.Refresh(ctx, id, t0.Add(time.Duration(i)*time.Minute), true); err != nil {
				t.Fatal(err)
			}
			evs, err := st.TransferEvents(ctx, id, newest, 0)
			if err != nil {
				t.Fatal(err)
			}
			slices.Reverse(evs) // oldest first
			if len(evs) != len(s.want) {
				t.Fatalf("events %v, want %v", evs, s.want)
			}
			for j, ev := range evs {
				wt := s.want[j]
				if ev.GetType() != wt.typ || ev.GetState() != wt.state || ev.GetSerial() != wt.serial ||
					!slices.Equal(ev.GetFailingPeers(), wt.failing) || ev.GetZoneId() != id || ev.GetZoneName() != zone || ev.GetTime() == nil {
					t.Fatalf("event %d: %v, want %+v", j, ev, wt)
				}
				if ev.GetId() <= newest {
					t.Fatalf("event id %s not after %s", ev.GetId(), newest)
				}
				newest = ev.GetId()
			}
		})
	}
}

// A zone keeps its last store.MaxTransferEvents events, with ids that grow
// even when the clock does not; a listing is newest first, bounded, and
// starts after a given id.
func TestTransferEventsAreBoundedAndOrdered(t *testing.T) {
	ctx := context.Background()
	st, id := newStore(t)
	at := time.Unix(1_800_000_000, 0)
	total := store.MaxTransferEvents + 5
	var ids []string
	for i := range total {
		ev := &dnsv1.TransferEvent{Type: dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_SUCCESSFULLY_UPDATED, Serial: uint32(i)}
		if err := st.AppendTransferEvent(ctx, id, ev, at); err != nil { // the same time every time
			t.Fatal(err)
		}
		ids = append(ids, ev.GetId())
	}
	all, err := st.TransferEvents(ctx, id, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != store.MaxTransferEvents || all[0].GetSerial() != uint32(total-1) || all[len(all)-1].GetSerial() != 5 {
		t.Fatalf("%d events kept, newest serial %d, oldest %d", len(all), all[0].GetSerial(), all[len(all)-1].GetSerial())
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != total {
		t.Fatalf("ids not strictly growing: %v", ids)
	}
	page, err := st.TransferEvents(ctx, id, ids[total-4], 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].GetSerial() != uint32(total-1) || page[1].GetSerial() != uint32(total-2) {
		t.Fatalf("after %s, 2: %v", ids[total-4], page)
	}
	if err := st.AppendTransferEvent(ctx, "nozone", &dnsv1.TransferEvent{}, at); err == nil {
		t.Fatal("an event for a zone that does not exist was stored")
	}
}
