package dnssec

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Policy times the keys' lives.
type Policy struct {
	// ZSKLifetime is how long a ZSK signs before the next scheduled
	// rollover starts (default 90 days).
	ZSKLifetime time.Duration
	// Prepublish is how long a new ZSK is published before it signs: the
	// DNSKEY TTL plus the time for every edge to load it (default 2 h).
	Prepublish time.Duration
	// RetiredKeep is how long a retired ZSK stays published after it
	// stopped signing: its signatures live in caches for as long as the
	// longest record TTL (a day) (default 26 h).
	RetiredKeep time.Duration
	// CheckInterval is how often the DS at the parent is checked while
	// the status (or a KSK rollover) waits for it to appear or go
	// (default 1 h; the first check runs at once).
	CheckInterval time.Duration
	// KSKRetiredKeep is how long the old KSK of a KSK rollover keeps
	// being published and signing the key sets once the new DS was seen
	// at the parent: resolvers may hold the old DS for the parent's DS
	// TTL (a day at most common TLDs) (default 26 h).
	KSKRetiredKeep time.Duration
}

// WithDefaults fills the zero fields.
func (p Policy) WithDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&p.ZSKLifetime, 90*24*time.Hour)
	def(&p.Prepublish, 2*time.Hour)
	def(&p.RetiredKeep, 26*time.Hour)
	def(&p.CheckInterval, time.Hour)
	def(&p.KSKRetiredKeep, 26*time.Hour)
	return p
}

// ErrTransition is a status change the documents do not allow.
var ErrTransition = errors.New("dnssec: transition not allowed")

// ErrRollInProgress is a rollover asked while one runs.
var ErrRollInProgress = errors.New("dnssec: a ZSK rollover is in progress")

// ErrKSKRollInProgress is a KSK rollover asked while one runs.
var ErrKSKRollInProgress = errors.New("dnssec: a KSK rollover is in progress")

func status(st *dnsv1.DnssecState) dnsv1.DnssecStatus {
	if st == nil {
		return dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED
	}
	return st.GetStatus()
}

// Signed reports whether the edges sign the zone: every status but
// DELETED ("In deleted state, Cloudflare does not sign the zone").
func Signed(st *dnsv1.DnssecState) bool {
	s := status(st)
	return s != dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED && s != dnsv1.DnssecStatus_DNSSEC_STATUS_UNSPECIFIED
}

// Enable turns DNSSEC on: keys are generated when the zone has none, and
// the zone waits in PENDING for the DS to show at the parent (the DS check
// makes it ACTIVE). Enabling an enabled zone changes nothing.
func Enable(st *dnsv1.DnssecState, ring *keyseal.Ring, zoneID, zoneName string, p Policy, now time.Time) (*dnsv1.DnssecState, error) {
	switch status(st) {
	case dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE:
		return st, nil
	case dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED, dnsv1.DnssecStatus_DNSSEC_STATUS_UNSPECIFIED:
		ksk, err := NewKey(ring, zoneID, zoneName, FlagsKSK, now)
		if err != nil {
			return nil, err
		}
		zsk, err := NewKey(ring, zoneID, zoneName, FlagsZSK, now)
		if err != nil {
			return nil, err
		}
		var ms, n3 bool
		if st != nil {
			ms, n3 = st.GetMultiSigner(), st.GetUseNsec3()
		}
		st = &dnsv1.DnssecState{
			MultiSigner: ms, UseNsec3: n3,
			Keys:          []*dnsv1.DnssecKeyState{ksk, zsk},
			NextZskRollOn: timestamppb.New(now.Add(p.ZSKLifetime)),
		}
	}
	// DISABLED and PENDING_DISABLED keep their keys: the DS at the parent,
	// if any, still matches.
	st.Status, st.ModifiedOn = dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, timestamppb.New(now)
	return st, nil
}

// Disable turns DNSSEC off: the zone stays signed, CDS and CDNSKEY turn to
// the delete values, and it waits in PENDING_DISABLED until the DS is gone
// from the parent (the DS check makes it DISABLED). A zone whose DS never
// showed still waits for one check: the DS may have been added since the
// last one. Disabling a disabled zone (or one never enabled) changes
// nothing.
func Disable(st *dnsv1.DnssecState, now time.Time) (*dnsv1.DnssecState, error) {
	switch status(st) {
	case dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE:
		st.Status, st.ModifiedOn = dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED, timestamppb.New(now)
	}
	return st, nil
}

// Delete removes the keys ("Cloudflare prevents you from deleting DNSSEC
// records before removing the DS record from the registrar"): only a
// DISABLED zone, or one without DNSSEC, may be deleted.
func Delete(st *dnsv1.DnssecState) error {
	switch status(st) {
	case dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED, dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED, dnsv1.DnssecStatus_DNSSEC_STATUS_UNSPECIFIED:
		return nil
	}
	return fmt.Errorf("%w: DNSSEC is %s; disable it and wait until the DS is gone from the parent (status disabled) before deleting it", ErrTransition, StatusName(status(st)))
}

// StatusName is the documents' name of a status.
func StatusName(s dnsv1.DnssecStatus) string {
	switch s {
	case dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING:
		return "pending"
	case dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE:
		return "active"
	case dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED:
		return "pending-disabled"
	case dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED:
		return "disabled"
	}
	return "deleted"
}

// RollZSK starts a ZSK rollover by pre-publication: a new ZSK is published
// now and signs from now+Prepublish, when the current one retires; the
// retired one stays published for RetiredKeep.
func RollZSK(st *dnsv1.DnssecState, ring *keyseal.Ring, zoneID, zoneName string, p Policy, now time.Time) (*dnsv1.DnssecState, error) {
	if !Signed(st) {
		return nil, fmt.Errorf("%w: DNSSEC is %s", ErrTransition, StatusName(status(st)))
	}
	var cur *dnsv1.DnssecKeyState
	for _, k := range st.GetKeys() {
		if k.GetFlags() != FlagsZSK {
			continue
		}
		if KeyState(k, now) == "published" || (KeyState(k, now) == "active" && cur != nil) {
			return nil, ErrRollInProgress
		}
		if KeyState(k, now) == "active" {
			cur = k
		}
	}
	next, err := NewKey(ring, zoneID, zoneName, FlagsZSK, now)
	if err != nil {
		return nil, err
	}
	switchAt := now.Add(p.Prepublish)
	next.ActivateOn = timestamppb.New(switchAt)
	if cur != nil {
		cur.RetireOn = timestamppb.New(switchAt)
		cur.RemoveOn = timestamppb.New(switchAt.Add(p.RetiredKeep))
	}
	st.Keys = append(st.Keys, next)
	st.NextZskRollOn = timestamppb.New(switchAt.Add(p.ZSKLifetime))
	return st, nil
}

// Maintain runs the scheduled key steps due at now: retired keys past
// their removal go, and the scheduled ZSK rollover starts. It reports
// whether st changed.
func Maintain(st *dnsv1.DnssecState, ring *keyseal.Ring, zoneID, zoneName string, p Policy, now time.Time) (bool, error) {
	if !Signed(st) {
		return false, nil
	}
	changed := false
	keys := st.Keys[:0]
	for _, k := range st.GetKeys() {
		if k.GetRemoveOn() != nil && !now.Before(k.GetRemoveOn().AsTime()) {
			changed = true
			continue
		}
		keys = append(keys, k)
	}
	st.Keys = keys
	if due := st.GetNextZskRollOn(); due != nil && !now.Before(due.AsTime()) {
		if _, err := RollZSK(st, ring, zoneID, zoneName, p, now); err != nil && !errors.Is(err, ErrRollInProgress) {
			return changed, err
		} else if err == nil {
			changed = true
		}
	}
	return changed, nil
}

// RollKSK starts a KSK rollover by double signature (RFC 6781 4.1.2): a new
// KSK is published now and signs the DNSKEY, CDS and CDNSKEY sets next to
// the current one (the edges sign those sets with every KSK they are
// given), and becomes the zone's current KSK: its DS is the one the API
// shows and CDS/CDNSKEY advertise. The old KSK retires once the DS check
// finds the new DS at the parent (RetireOldKSKs). Only a pending or active
// zone rolls its KSK: a disabled one asks the parent to drop its DS.
func RollKSK(st *dnsv1.DnssecState, ring *keyseal.Ring, zoneID, zoneName string, now time.Time) (*dnsv1.DnssecState, error) {
	switch status(st) {
	case dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE:
	default:
		return nil, fmt.Errorf("%w: DNSSEC is %s", ErrTransition, StatusName(status(st)))
	}
	if len(KSKs(st)) > 1 {
		return nil, ErrKSKRollInProgress
	}
	next, err := NewKey(ring, zoneID, zoneName, FlagsKSK, now)
	if err != nil {
		return nil, err
	}
	st.Keys = append(st.Keys, next)
	return st, nil
}

// KSKRollWaiting reports whether a KSK rollover waits for the new DS at the
// parent: an old KSK is still there and not yet scheduled for removal.
func KSKRollWaiting(st *dnsv1.DnssecState) bool {
	cur := KSK(st)
	for _, k := range KSKs(st) {
		if k != cur && k.GetRemoveOn() == nil {
			return true
		}
	}
	return false
}

// RetireOldKSKs ends the double signature once the parent serves the new
// KSK's DS: every other KSK retires now and is removed after keep, time
// for the old DS to leave resolvers' caches (it keeps signing the key sets
// until then). It reports whether st changed.
func RetireOldKSKs(st *dnsv1.DnssecState, keep time.Duration, now time.Time) bool {
	cur := KSK(st)
	changed := false
	for _, k := range KSKs(st) {
		if k == cur || k.GetRemoveOn() != nil {
			continue
		}
		k.RetireOn, k.RemoveOn = timestamppb.New(now), timestamppb.New(now.Add(keep))
		changed = true
	}
	return changed
}

// RegisterFlags adds the policy's durations to fs as --dnssec-* flags,
// with the defaults as values: a deployment (or a test) shortens a
// rollover without a code change.
func (p *Policy) RegisterFlags(fs *flag.FlagSet) {
	d := Policy{}.WithDefaults()
	fs.DurationVar(&p.ZSKLifetime, "dnssec-zsk-lifetime", d.ZSKLifetime, "how long a ZSK signs before the next scheduled ZSK rollover starts")
	fs.DurationVar(&p.Prepublish, "dnssec-zsk-prepublish", d.Prepublish, "how long a new ZSK is published before it signs (at least the DNSKEY TTL, 1h, plus the time for every edge to load it)")
	fs.DurationVar(&p.RetiredKeep, "dnssec-zsk-retired-keep", d.RetiredKeep, "how long a retired ZSK stays published after it stopped signing (at least the longest record TTL)")
	fs.DurationVar(&p.KSKRetiredKeep, "dnssec-ksk-retired-keep", d.KSKRetiredKeep, "how long the old KSK of a KSK rollover keeps signing once the new DS is at the parent (at least the parent's DS TTL)")
	fs.DurationVar(&p.CheckInterval, "dnssec-check-interval", d.CheckInterval, "how often the DS at the parent is checked while a status or a KSK rollover waits for it")
}
