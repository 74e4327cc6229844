package xfrin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Events are the alerts of "Alerts for Secondary DNS", recorded per zone
// (store.AppendTransferEvent, the last 100) and listed by
// ZoneTransferService.ListTransferEvents:
//
//   - "Secondary DNS all Primaries Failing" when the state becomes FAILING
//     (every primary failed);
//   - "Secondary DNS Primaries Failing" when it becomes DEGRADED ("at least
//     one of their primary nameservers is failing while transfers from at
//     least one other primary are still successful");
//   - "Secondary DNS Successfully Updated" for each transfer applied;
//   - and the way back to OK after a failure, which the documents do not
//     name, so that a watcher learns that the failure ended.
//
// A failure alert is raised on the change of state, not on every check
// that fails again: with a refresh every minute a dead primary would
// otherwise bury the zone's history under copies of one alert.

// eventsOf returns the events of one check: st is the zone's status after
// it (LastCheckTime set to its time), prev the state before it.
func eventsOf(z *dnsv1.Zone, prev dnsv1.TransferState, st *dnsv1.TransferStatus) []*dnsv1.TransferEvent {
	check := st.GetLastCheckTime()
	var failing []string
	for _, p := range st.GetPeers() {
		if p.GetLastError() != "" && p.GetLastErrorTime().AsTime().Equal(check.AsTime()) {
			failing = append(failing, p.GetPeerId())
		}
	}
	event := func(t dnsv1.TransferEventType) *dnsv1.TransferEvent {
		return &dnsv1.TransferEvent{ZoneName: z.GetName(), Type: t, State: st.GetState(), PreviousState: prev,
			Serial: st.GetSerial(), Message: st.GetMessage(), FailingPeers: failing, Time: check}
	}
	var out []*dnsv1.TransferEvent
	if st.GetState() != prev {
		switch st.GetState() {
		case dnsv1.TransferState_TRANSFER_STATE_FAILING:
			out = append(out, event(dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_ALL_PRIMARIES_FAILING))
		case dnsv1.TransferState_TRANSFER_STATE_DEGRADED:
			out = append(out, event(dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_PRIMARIES_FAILING))
		case dnsv1.TransferState_TRANSFER_STATE_OK:
			if prev == dnsv1.TransferState_TRANSFER_STATE_FAILING || prev == dnsv1.TransferState_TRANSFER_STATE_DEGRADED {
				out = append(out, event(dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_PRIMARIES_RECOVERED))
			}
		}
	}
	if t := st.GetLastTransferTime(); t != nil && check != nil && t.AsTime().Equal(check.AsTime()) {
		out = append(out, event(dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_SUCCESSFULLY_UPDATED))
	}
	return out
}

// emit records the events of one check before its status is stored: if
// the status write fails, the next check sees the old state and raises
// them again (at least once) rather than never.
func (w *Worker) emit(ctx context.Context, z *dnsv1.Zone, prev dnsv1.TransferState, st *dnsv1.TransferStatus, now time.Time) error {
	for _, ev := range eventsOf(z, prev, st) {
		if err := w.st.AppendTransferEvent(ctx, z.GetId(), ev, now); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil // the zone was purged meanwhile
			}
			return fmt.Errorf("record %s of zone %s: %w", ev.GetType(), z.GetName(), err)
		}
		w.log.Info("secondary zone transfer event", zap.String("zone", z.GetName()), zap.String("zone_id", z.GetId()),
			zap.Stringer("type", ev.GetType()), zap.Stringer("state", ev.GetState()), zap.Stringer("previous_state", prev),
			zap.Uint32("serial", ev.GetSerial()), zap.Strings("failing_peers", ev.GetFailingPeers()))
	}
	return nil
}
