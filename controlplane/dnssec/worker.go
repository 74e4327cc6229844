package dnssec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/dnsask"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// WorkerConfig configures the scheduled DNSSEC work.
type WorkerConfig struct {
	Policy Policy
	// Resolver (host:port) is asked for the DS at the parent. Empty: no
	// checks, the statuses that wait for the parent move at once (the
	// immediate mode of `make run`, like the zone lifecycle's).
	Resolver string
	// Timeout bounds one DS question; 0 = 3 s.
	Timeout    time.Duration
	Registerer prometheus.Registerer
}

// Worker runs key rollovers and DS checks. It has no loop of its own: the
// zone lifecycle worker calls Step while it holds its election, so one
// control plane does scheduled work at a time.
type Worker struct {
	st   *store.Store
	ring *keyseal.Ring
	cfg  WorkerConfig
	log  *zap.Logger

	transitions *prometheus.CounterVec
	rolls       prometheus.Counter
	kskRetired  prometheus.Counter
}

// NewWorker returns the worker; ring opens nothing here but seals new keys.
func NewWorker(st *store.Store, ring *keyseal.Ring, cfg WorkerConfig, log *zap.Logger) *Worker {
	if log == nil {
		log = zap.NewNop()
	}
	cfg.Policy = cfg.Policy.WithDefaults()
	w := &Worker{
		st: st, ring: ring, cfg: cfg, log: log,
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_dnssec_transitions_total", Help: "DNSSEC status changes made by the DS checks, by new status.",
		}, []string{"to"}),
		rolls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zonegrid_dnssec_key_steps_total", Help: "Scheduled key steps (rollover starts, retired keys removed) applied.",
		}),
		kskRetired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zonegrid_dnssec_ksk_rollovers_completed_total", Help: "KSK rollovers whose new DS was found at the parent (the old KSK retired).",
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(w.transitions, w.rolls, w.kskRetired)
	}
	return w
}

// Step does the DNSSEC work due at now for every zone that has DNSSEC.
// A zone's failure is logged and does not stop the others.
func (w *Worker) Step(ctx context.Context, now time.Time) error {
	ids, err := w.st.DnssecZones(ctx)
	if err != nil {
		return err
	}
	var failed int
	for _, id := range ids {
		if err := w.zone(ctx, id, now); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed++
			w.log.Warn("dnssec step failed", zap.String("zone_id", id), zap.Error(err))
		}
	}
	if failed > 0 {
		return fmt.Errorf("dnssec step: %d of %d zones failed", failed, len(ids))
	}
	return nil
}

func (w *Worker) zone(ctx context.Context, id string, now time.Time) error {
	st, err := w.st.GetDnssec(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && st == nil) {
		return nil // zone or state gone meanwhile
	}
	if err != nil {
		return err
	}
	if keysDue(st, now) {
		if _, err := w.st.UpdateDnssec(ctx, id, "DnssecKeyMaintenance", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			if cur == nil {
				return nil, nil
			}
			if _, err := Maintain(cur, w.ring, id, z.GetName(), w.cfg.Policy, now); err != nil {
				return nil, err
			}
			return cur, nil
		}); err != nil {
			return fmt.Errorf("key maintenance: %w", err)
		}
		w.rolls.Inc()
	}
	switch st.GetStatus() {
	case dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED:
		return w.check(ctx, id, st, now)
	case dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE:
		if KSKRollWaiting(st) {
			return w.check(ctx, id, st, now)
		}
	}
	return nil
}

// keysDue reports whether Maintain has something to do, without sealing
// anything: most steps find nothing due.
func keysDue(st *dnsv1.DnssecState, now time.Time) bool {
	if !Signed(st) {
		return false
	}
	if d := st.GetNextZskRollOn(); d != nil && !now.Before(d.AsTime()) {
		return true
	}
	for _, k := range st.GetKeys() {
		if r := k.GetRemoveOn(); r != nil && !now.Before(r.AsTime()) {
			return true
		}
	}
	return false
}

// check asks the parent for the DS when due and moves PENDING to ACTIVE
// when the DS of our current KSK is there, PENDING_DISABLED to DISABLED
// when no DS of any of our KSKs is left, and ends a KSK rollover's double
// signature (RetireOldKSKs) once the new KSK's DS is there.
func (w *Worker) check(ctx context.Context, id string, st *dnsv1.DnssecState, now time.Time) error {
	checks, err := w.st.GetDnssecChecks(ctx, id)
	if err != nil {
		return err
	}
	if n := checks.GetNextCheckOn(); n != nil && now.Before(n.AsTime()) && !changedSince(st, checks.GetLastCheckOn()) {
		return nil
	}
	z, err := w.st.GetZone(ctx, id)
	if err != nil {
		return err
	}
	// Immediate mode (no resolver): every DS counts as published, and as
	// gone once disabled.
	present, anyOurs, reason := true, false, ""
	if w.cfg.Resolver != "" {
		present, anyOurs, reason = w.dsAtParent(ctx, z.GetName(), st)
	}
	from := st.GetStatus()
	var to dnsv1.DnssecStatus
	switch {
	case from == dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING && present:
		to = dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE
	case from == dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED && (!anyOurs || w.cfg.Resolver == "") && reason == "":
		to = dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED
	}
	retire := present && KSKRollWaiting(st) && (from == dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING || from == dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE)
	if to != dnsv1.DnssecStatus_DNSSEC_STATUS_UNSPECIFIED || retire {
		newTag := KSK(st).GetKeyTag()
		retired := false
		if _, err := w.st.UpdateDnssec(ctx, id, "DnssecCheck", func(_ *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			retired = false
			if cur == nil || cur.GetStatus() != from || KSK(cur).GetKeyTag() != newTag {
				return cur, nil // changed by the API meanwhile: its change stands
			}
			if to != dnsv1.DnssecStatus_DNSSEC_STATUS_UNSPECIFIED {
				cur.Status, cur.ModifiedOn = to, timestamppb.New(now)
			}
			if retire {
				retired = RetireOldKSKs(cur, w.cfg.Policy.KSKRetiredKeep, now)
			}
			return cur, nil
		}); err != nil {
			return fmt.Errorf("dnssec check of zone %s: %w", id, err)
		}
		if to != dnsv1.DnssecStatus_DNSSEC_STATUS_UNSPECIFIED {
			w.transitions.WithLabelValues(StatusName(to)).Inc()
			w.log.Info("dnssec status changed", zap.String("zone_id", id), zap.String("from", StatusName(from)), zap.String("to", StatusName(to)))
		}
		if retired {
			w.kskRetired.Inc()
			w.log.Info("ksk rollover: new DS at the parent, old KSK retired", zap.String("zone_id", id), zap.Uint32("ksk", newTag),
				zap.Duration("removed_after", w.cfg.Policy.KSKRetiredKeep))
		}
		reason = ""
	} else if reason == "" {
		switch {
		case from == dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED:
			reason = "the DS is still at the parent"
		case KSKRollWaiting(st):
			reason = "the new KSK's DS is not at the parent yet"
		default:
			reason = "the DS is not at the parent yet"
		}
	}
	checks.LastCheckOn, checks.LastResult = timestamppb.New(now), reason
	checks.NextCheckOn = timestamppb.New(now.Add(w.cfg.Policy.CheckInterval))
	checks.Checks++
	return w.st.PutDnssecChecks(ctx, id, checks)
}

// changedSince reports whether the status or the keys changed after the
// last check (a status change, a KSK rollover started): the next check
// then runs at once, not an interval later.
func changedSince(st *dnsv1.DnssecState, last *timestamppb.Timestamp) bool {
	if last == nil {
		return true
	}
	l := last.AsTime()
	if m := st.GetModifiedOn(); m != nil && m.AsTime().After(l) {
		return true
	}
	if k := KSK(st); k != nil && k.GetCreatedOn().AsTime().After(l) {
		return true
	}
	return false
}

// dsAtParent asks the public DNS for the DS set of name and reports
// whether it holds the DS of our current KSK (current) and the DS of any
// of our KSKs (anyOurs). A DS of another key (a multi-signer partner's)
// counts for neither. A failed lookup gives its reason and the answer
// that moves nothing: absent for a pending zone or a rollover, present
// for a pending-disabled one.
func (w *Worker) dsAtParent(ctx context.Context, name string, st *dnsv1.DnssecState) (current, anyOurs bool, reason string) {
	rrs, err := dnsask.Ask(ctx, w.cfg.Resolver, name, dns.TypeDS, true, w.cfg.Timeout)
	if err != nil {
		return false, true, err.Error()
	}
	cur := KSK(st)
	if cur == nil {
		return false, false, "the zone has no KSK"
	}
	for _, k := range KSKs(st) {
		want := KeyDS(name, k)
		for _, rr := range rrs {
			ds, ok := rr.(*dns.DS)
			if ok && ds.KeyTag == want.KeyTag && ds.Algorithm == want.Algorithm && ds.DigestType == want.DigestType && strings.EqualFold(ds.Digest, want.Digest) {
				anyOurs = true
				if k == cur {
					current = true
				}
			}
		}
	}
	return current, anyOurs, ""
}
