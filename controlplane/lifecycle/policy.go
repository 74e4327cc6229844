// Package lifecycle runs a zone's life after creation: the timers that
// delete pending and moved zones and purge deleted ones, and the scheduled
// ownership checks that activate pending zones and move active zones whose
// delegation left the platform. One control plane runs it at a time (an
// etcd election); everything it needs survives in etcd, so a restart or a
// new leader carries on where the last one stopped. docs/ZONE_LIFECYCLE.md
// is the table of statuses and timers.
package lifecycle

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Policy holds the lifecycle's durations. The zero value of a field means
// the documented default (DefaultPolicy).
type Policy struct {
	// PendingDeleteAfter deletes initializing zones, and pending zones on
	// the free plan, that long after they entered the status ("If your
	// domain is on the Free plan, it will be deleted automatically if it
	// is not activated within 28 days"; "Initializing for 28 days").
	PendingDeleteAfter time.Duration
	// MovedDeleteAfter deletes moved zones without a paid plan ("Zones
	// that do not have any active paid subscriptions and have been moved
	// will be deleted automatically after 7 days").
	MovedDeleteAfter time.Duration
	// DeletedPurgeAfter purges deleted zones ("After being deleted for
	// seven days, zones are automatically purged").
	DeletedPurgeAfter time.Duration
	// FirstCheck is when a pending zone is first checked ("The first check
	// occurs after 60 seconds"); later checks wait twice as long as the
	// previous wait, up to MaxCheckInterval ("the following attempts happen
	// at gradually increased intervals").
	FirstCheck       time.Duration
	MaxCheckInterval time.Duration
	// ActiveCheckInterval spaces the checks of active and moved zones;
	// RecheckAfterFailure is the wait after a failed check of an active
	// zone, and FailuresToMove how many consecutive failures move it ("has
	// failed multiple DNS checks").
	ActiveCheckInterval time.Duration
	RecheckAfterFailure time.Duration
	FailuresToMove      int
	// ManualCheckFree and ManualCheckPaid space on-demand checks
	// (ActivationCheck) of one zone: once an hour on the free plan, every
	// five minutes on paid plans, as the provider's API reference states
	// (the documents only link it). Negative: no limit.
	ManualCheckFree time.Duration
	ManualCheckPaid time.Duration
}

// DefaultPolicy is the documented lifecycle.
func DefaultPolicy() Policy {
	return Policy{
		PendingDeleteAfter:  28 * 24 * time.Hour,
		MovedDeleteAfter:    7 * 24 * time.Hour,
		DeletedPurgeAfter:   7 * 24 * time.Hour,
		FirstCheck:          time.Minute,
		MaxCheckInterval:    time.Hour,
		ActiveCheckInterval: time.Hour,
		RecheckAfterFailure: 10 * time.Minute,
		FailuresToMove:      3,
		ManualCheckFree:     time.Hour,
		ManualCheckPaid:     5 * time.Minute,
	}
}

// DemoPolicy is the documented lifecycle in minutes instead of days, for
// demonstrations and manual testing (`controlplane --lifecycle-demo`): a
// zone can be walked from pending to purged in a few minutes. Never for
// production: zones would be deleted within minutes.
func DemoPolicy() Policy {
	return Policy{
		PendingDeleteAfter:  5 * time.Minute,
		MovedDeleteAfter:    time.Minute,
		DeletedPurgeAfter:   time.Minute,
		FirstCheck:          5 * time.Second,
		MaxCheckInterval:    10 * time.Second,
		ActiveCheckInterval: 10 * time.Second,
		RecheckAfterFailure: 5 * time.Second,
		FailuresToMove:      3,
		ManualCheckFree:     -1,
		ManualCheckPaid:     -1,
	}
}

// WithDefaults fills zero fields from DefaultPolicy.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&p.PendingDeleteAfter, d.PendingDeleteAfter)
	set(&p.MovedDeleteAfter, d.MovedDeleteAfter)
	set(&p.DeletedPurgeAfter, d.DeletedPurgeAfter)
	set(&p.FirstCheck, d.FirstCheck)
	set(&p.MaxCheckInterval, d.MaxCheckInterval)
	set(&p.ActiveCheckInterval, d.ActiveCheckInterval)
	set(&p.RecheckAfterFailure, d.RecheckAfterFailure)
	set(&p.ManualCheckFree, d.ManualCheckFree)
	set(&p.ManualCheckPaid, d.ManualCheckPaid)
	if p.FailuresToMove <= 0 {
		p.FailuresToMove = d.FailuresToMove
	}
	return p
}

// since is when z entered its status (zones written before the field
// existed count from their last modification).
func since(z *dnsv1.Zone) time.Time {
	if t := z.GetStatusChangedOn(); t != nil {
		return t.AsTime()
	}
	if t := z.GetModifiedOn(); t != nil {
		return t.AsTime()
	}
	return z.GetCreatedOn().AsTime()
}

func paid(p dnsv1.Plan) bool {
	return p == dnsv1.Plan_PLAN_PRO || p == dnsv1.Plan_PLAN_BUSINESS || p == dnsv1.Plan_PLAN_ENTERPRISE
}

// Timer returns the transition a timer will make on z and when; ok is
// false when none is scheduled (active zones, pending and moved zones on a
// paid plan: "Any pending zone with a paid plan will remain pending until
// the plan is removed, or the domain is activated or removed").
func (p Policy) Timer(z *dnsv1.Zone) (to dnsv1.ZoneStatus, at time.Time, ok bool) {
	p = p.WithDefaults()
	switch z.GetStatus() {
	case dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING:
		return dnsv1.ZoneStatus_ZONE_STATUS_DELETED, since(z).Add(p.PendingDeleteAfter), true
	case dnsv1.ZoneStatus_ZONE_STATUS_PENDING:
		if paid(z.GetPlan()) {
			return 0, time.Time{}, false
		}
		return dnsv1.ZoneStatus_ZONE_STATUS_DELETED, since(z).Add(p.PendingDeleteAfter), true
	case dnsv1.ZoneStatus_ZONE_STATUS_MOVED:
		if paid(z.GetPlan()) {
			return 0, time.Time{}, false
		}
		return dnsv1.ZoneStatus_ZONE_STATUS_DELETED, since(z).Add(p.MovedDeleteAfter), true
	case dnsv1.ZoneStatus_ZONE_STATUS_DELETED:
		return dnsv1.ZoneStatus_ZONE_STATUS_PURGED, since(z).Add(p.DeletedPurgeAfter), true
	}
	return 0, time.Time{}, false
}

// checked tells whether z's status gets scheduled checks: pending zones
// (to activate), active and moved ones (to move, or to come back).
func checked(z *dnsv1.Zone) bool {
	switch z.GetStatus() {
	case dnsv1.ZoneStatus_ZONE_STATUS_PENDING, dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, dnsv1.ZoneStatus_ZONE_STATUS_MOVED:
		return true
	}
	return false
}

// current returns c as it counts for z's present status: checks made
// before the zone entered it do not count.
func current(z *dnsv1.Zone, c *dnsv1.ActivationChecks) *dnsv1.ActivationChecks {
	if c == nil || c.GetLastCheckOn() == nil || c.GetLastCheckOn().AsTime().Before(since(z)) {
		return &dnsv1.ActivationChecks{LastRequestedOn: c.GetLastRequestedOn()}
	}
	return c
}

// NextCheck returns when z is next checked given its check state c (nil:
// none yet); ok is false when its status is not checked.
func (p Policy) NextCheck(z *dnsv1.Zone, c *dnsv1.ActivationChecks) (at time.Time, ok bool) {
	if !checked(z) {
		return time.Time{}, false
	}
	p = p.WithDefaults()
	c = current(z, c)
	if z.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
		if c.GetLastCheckOn() == nil {
			return since(z).Add(p.ActiveCheckInterval), true
		}
		if c.GetConsecutiveFailures() > 0 && z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
			return c.GetLastCheckOn().AsTime().Add(p.RecheckAfterFailure), true
		}
		return c.GetLastCheckOn().AsTime().Add(p.ActiveCheckInterval), true
	}
	if c.GetChecks() == 0 || c.GetLastCheckOn() == nil {
		return since(z).Add(p.FirstCheck), true
	}
	wait := p.FirstCheck
	for i := int32(0); i < c.GetChecks() && wait < p.MaxCheckInterval; i++ {
		wait *= 2
	}
	return c.GetLastCheckOn().AsTime().Add(min(wait, p.MaxCheckInterval)), true
}

// ManualCheckEvery is how often ActivationCheck may check a zone of plan
// (0: no limit).
func (p Policy) ManualCheckEvery(plan dnsv1.Plan) time.Duration {
	p = p.WithDefaults()
	d := p.ManualCheckFree
	if paid(plan) {
		d = p.ManualCheckPaid
	}
	return max(d, 0)
}

// Annotate fills the read-only lifecycle fields of z for API responses:
// the next timer transition and the check state; scheduled tells whether
// checks run on a schedule (not in immediate activation mode).
func (p Policy) Annotate(z *dnsv1.Zone, c *dnsv1.ActivationChecks, scheduled bool) {
	// Derived, never stored: whatever a stored zone carries is stale.
	z.NextStatus, z.NextStatusOn, z.ActivationChecks = 0, nil, nil
	if to, at, ok := p.Timer(z); ok {
		z.NextStatus = to
		z.NextStatusOn = timestamppb.New(at)
	}
	c = current(z, c)
	out := &dnsv1.ActivationChecks{
		LastCheckOn: c.GetLastCheckOn(), LastResult: c.GetLastResult(), Checks: c.GetChecks(),
		ConsecutiveFailures: c.GetConsecutiveFailures(), LastRequestedOn: c.GetLastRequestedOn(),
	}
	if at, ok := p.NextCheck(z, c); ok && scheduled {
		out.NextCheckOn = timestamppb.New(at)
	}
	z.ActivationChecks = out
}
