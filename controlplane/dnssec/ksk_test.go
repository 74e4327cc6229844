package dnssec

import (
	"context"
	"errors"
	"flag"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// A KSK rollover by double signature: the new KSK is published and becomes
// the current one (its DS is the one to give the registrar, the old one's
// is still listed), a second roll is refused while one runs, the old KSK
// retires once the new DS is at the parent and is removed after
// KSKRetiredKeep.
func TestKSKRolloverPublishesThenRetiresThenRemovesTheOldKSK(t *testing.T) {
	ring, p := testRing(t), Policy{KSKRetiredKeep: 26 * time.Hour}.WithDefaults()
	st, _ := Enable(nil, ring, "z1", "example.com.", p, t0)
	st.Status = dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE
	old := KSK(st)
	oldDS := dsText(KeyDS("example.com.", old))
	t1 := t0.Add(time.Hour)
	if _, err := RollKSK(st, ring, "z1", "example.com.", t1); err != nil {
		t.Fatal(err)
	}
	if _, err := RollKSK(st, ring, "z1", "example.com.", t1.Add(time.Minute)); !errors.Is(err, ErrKSKRollInProgress) {
		t.Fatalf("second KSK roll during the first: %v", err)
	}
	next := KSK(st)
	if next == old || len(KSKs(st)) != 2 || len(st.GetKeys()) != 3 || !KSKRollWaiting(st) {
		t.Fatalf("after the roll: current %d, keys %v", next.GetKeyTag(), st.GetKeys())
	}
	v := View("example.com.", st, t1)
	newDS := dsText(KeyDS("example.com.", next))
	if v.GetDs() != newDS || v.GetKeyTag() != next.GetKeyTag() || v.GetPublicKey() != next.GetPublicKey() {
		t.Errorf("the DS to give the registrar is not the new KSK's: %s", v.GetDs())
	}
	if ds := v.GetDsRecords(); len(ds) != 2 || ds[0] != newDS || ds[1] != oldDS {
		t.Errorf("ds_records %q, want the new then the old", ds)
	}
	if r := v.GetKskRollover(); r.GetNewKeyTag() != next.GetKeyTag() || r.GetOldKeyTag() != old.GetKeyTag() || r.GetWaitingFor() != "ds" || r.GetRemoveOn() != nil {
		t.Errorf("rollover %v", r)
	}
	for _, k := range v.GetKeys() {
		if k.GetFlags() == FlagsKSK && (k.GetState() != "active" || k.GetDs() == "") {
			t.Errorf("KSK %d during the double signature: state %s, ds %q", k.GetKeyTag(), k.GetState(), k.GetDs())
		}
	}

	t2 := t1.Add(3 * time.Hour)
	if !RetireOldKSKs(st, p.KSKRetiredKeep, t2) || RetireOldKSKs(st, p.KSKRetiredKeep, t2) {
		t.Fatal("retire: want one change, then none")
	}
	if KSK(st) != next || KSKRollWaiting(st) || KeyState(old, t2) != "retired" {
		t.Fatalf("after the retirement: current %d, waiting %v, old %s", KSK(st).GetKeyTag(), KSKRollWaiting(st), KeyState(old, t2))
	}
	if r := View("example.com.", st, t2).GetKskRollover(); r.GetWaitingFor() != "removal" || !r.GetRemoveOn().AsTime().Equal(t2.Add(p.KSKRetiredKeep)) {
		t.Errorf("rollover after the retirement %v", r)
	}
	if changed, err := Maintain(st, ring, "z1", "example.com.", p, t2.Add(p.KSKRetiredKeep-time.Second)); err != nil || changed {
		t.Fatalf("before the removal: changed %v, %v", changed, err)
	}
	if changed, err := Maintain(st, ring, "z1", "example.com.", p, t2.Add(p.KSKRetiredKeep)); err != nil || !changed {
		t.Fatalf("removal: changed %v, %v", changed, err)
	}
	if ks := KSKs(st); len(ks) != 1 || ks[0] != next || len(st.GetKeys()) != 2 {
		t.Fatalf("keys after the removal %v", st.GetKeys())
	}
	v = View("example.com.", st, t2.Add(p.KSKRetiredKeep))
	if v.GetKskRollover() != nil || len(v.GetDsRecords()) != 1 || v.GetDs() != newDS {
		t.Errorf("view after the rollover: %v", v)
	}
	// Another rollover may start now.
	if _, err := RollKSK(st, ring, "z1", "example.com.", t2.Add(p.KSKRetiredKeep)); err != nil {
		t.Fatalf("next KSK roll: %v", err)
	}
}

func TestKSKRolloverOnlyFromPendingOrActive(t *testing.T) {
	ring, p := testRing(t), Policy{}.WithDefaults()
	for _, tc := range []struct {
		from dnsv1.DnssecStatus
		ok   bool
	}{
		{dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, true},
		{dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, true},
		{dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED, false},
		{dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED, false},
	} {
		t.Run(StatusName(tc.from), func(t *testing.T) {
			st, _ := Enable(nil, ring, "z1", "example.com.", p, t0)
			st.Status = tc.from
			_, err := RollKSK(st, ring, "z1", "example.com.", t0.Add(time.Hour))
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrTransition)) {
				t.Fatalf("roll from %s: %v", StatusName(tc.from), err)
			}
		})
	}
	if _, err := RollKSK(nil, ring, "z1", "example.com.", t0); !errors.Is(err, ErrTransition) {
		t.Fatalf("roll without DNSSEC: %v", err)
	}
}

// The DS check worker during a KSK rollover, against a real DNS server
// playing the parent: what the parent serves decides whether the old KSK
// retires and where the status goes.
func TestWorkerFinishesKSKRolloverWhenTheParentHasTheNewDS(t *testing.T) {
	const zone = "example.com."
	tests := []struct {
		name string
		from dnsv1.DnssecStatus
		// parent is what the parent serves: "old", "new", "both", "none",
		// "foreign".
		parent      string
		wantStatus  dnsv1.DnssecStatus
		wantRetired bool
		wantResult  string
	}{
		{"active, parent still has the old DS: double signature goes on", dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, "old",
			dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, false, "the new KSK's DS is not at the parent yet"},
		{"active, parent has a foreign DS only: nothing moves", dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, "foreign",
			dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, false, "the new KSK's DS is not at the parent yet"},
		{"active, registrar replaced the DS: old KSK retires", dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, "new",
			dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, true, ""},
		{"active, registrar added the new DS: old KSK retires", dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, "both",
			dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, true, ""},
		{"pending, the new DS shows: active and the old KSK retires", dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, "new",
			dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, true, ""},
		{"pending, only the old DS: still pending", dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, "old",
			dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING, false, "the new KSK's DS is not at the parent yet"},
		{"pending-disabled, the old DS still there: the DS is not gone", dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED, "old",
			dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED, false, "the DS is still at the parent"},
		{"pending-disabled, no DS of ours: disabled, keys kept", dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED, "foreign",
			dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, id := newStoreWithZone(t, zone)
			par := startParent(t)
			ring := testRing(t)
			p := Policy{CheckInterval: time.Minute, KSKRetiredKeep: 10 * time.Minute}.WithDefaults()
			w := NewWorker(st, ring, WorkerConfig{Policy: p, Resolver: par.addr, Timeout: time.Second}, zaptest.NewLogger(t))
			var oldKSK, newKSK *dnsv1.DnssecKeyState
			if _, err := st.UpdateDnssec(ctx, id, "test", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
				s, err := Enable(cur, ring, id, z.GetName(), p, t0)
				if err != nil {
					return nil, err
				}
				s.Status = dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE
				oldKSK = KSK(s)
				if s, err = RollKSK(s, ring, id, z.GetName(), t0.Add(time.Hour)); err != nil {
					return nil, err
				}
				newKSK = KSK(s)
				s.Status = tc.from
				return s, nil
			}); err != nil {
				t.Fatal(err)
			}
			foreign, _ := Enable(nil, ring, id, zone, p, t0)
			par.set(zone, map[string][]dns.RR{
				"old":     {KeyDS(zone, oldKSK)},
				"new":     {KeyDS(zone, newKSK)},
				"both":    {KeyDS(zone, oldKSK), KeyDS(zone, newKSK)},
				"none":    nil,
				"foreign": {DS(zone, foreign)},
			}[tc.parent]...)
			at := t0.Add(2 * time.Hour)
			if err := w.Step(ctx, at); err != nil {
				t.Fatal(err)
			}
			got, err := st.GetDnssec(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.GetStatus() != tc.wantStatus {
				t.Errorf("status %s, want %s", StatusName(got.GetStatus()), StatusName(tc.wantStatus))
			}
			var gotOld *dnsv1.DnssecKeyState
			for _, k := range got.GetKeys() {
				if k.GetKeyTag() == oldKSK.GetKeyTag() && k.GetFlags() == FlagsKSK {
					gotOld = k
				}
			}
			if retired := gotOld.GetRetireOn() != nil; retired != tc.wantRetired {
				t.Fatalf("old KSK retired %v, want %v", retired, tc.wantRetired)
			}
			if KSK(got).GetKeyTag() != newKSK.GetKeyTag() {
				t.Errorf("current KSK %d, want the new %d", KSK(got).GetKeyTag(), newKSK.GetKeyTag())
			}
			checks, _ := st.GetDnssecChecks(ctx, id)
			if checks.GetLastResult() != tc.wantResult {
				t.Errorf("last check result %q, want %q", checks.GetLastResult(), tc.wantResult)
			}
			if !tc.wantRetired {
				return
			}
			if !gotOld.GetRemoveOn().AsTime().Equal(at.Add(p.KSKRetiredKeep)) {
				t.Errorf("old KSK removed on %v, want %v", gotOld.GetRemoveOn().AsTime(), at.Add(p.KSKRetiredKeep))
			}
			// The old KSK goes after KSKRetiredKeep, not before.
			if err := w.Step(ctx, at.Add(p.KSKRetiredKeep-time.Second)); err != nil {
				t.Fatal(err)
			}
			if s, _ := st.GetDnssec(ctx, id); len(KSKs(s)) != 2 {
				t.Fatalf("old KSK removed early: %v", s.GetKeys())
			}
			if err := w.Step(ctx, at.Add(p.KSKRetiredKeep)); err != nil {
				t.Fatal(err)
			}
			if s, _ := st.GetDnssec(ctx, id); len(KSKs(s)) != 1 || KSK(s).GetKeyTag() != newKSK.GetKeyTag() {
				t.Fatalf("keys after the removal: %v", s.GetKeys())
			}
		})
	}
}

// A rollover started after the last check is checked at the next step,
// not an interval later; then checks wait for their interval.
func TestWorkerChecksAtOnceAfterAKSKRoll(t *testing.T) {
	ctx := context.Background()
	const zone = "example.org."
	st, id := newStoreWithZone(t, zone)
	par := startParent(t)
	ring := testRing(t)
	p := Policy{CheckInterval: time.Hour}.WithDefaults()
	w := NewWorker(st, ring, WorkerConfig{Policy: p, Resolver: par.addr, Timeout: time.Second}, zaptest.NewLogger(t))
	cur, err := st.UpdateDnssec(ctx, id, "test", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		return Enable(cur, ring, id, z.GetName(), p, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	par.set(zone, DS(zone, cur))
	if err := w.Step(ctx, t0); err != nil {
		t.Fatal(err)
	}
	roll := func(at time.Time) *dnsv1.DnssecState {
		s, err := st.UpdateDnssec(ctx, id, "test", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			return RollKSK(cur, ring, id, z.GetName(), at)
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rolled := roll(t0.Add(time.Minute))
	if err := w.Step(ctx, t0.Add(2*time.Minute)); err != nil { // a check ran at t0: not due by the interval
		t.Fatal(err)
	}
	if c, _ := st.GetDnssecChecks(ctx, id); c.GetChecks() != 2 || c.GetLastResult() != "the new KSK's DS is not at the parent yet" {
		t.Fatalf("no check right after the roll: %v", c)
	}
	par.set(zone, DS(zone, rolled))
	if err := w.Step(ctx, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.GetDnssec(ctx, id); !KSKRollWaiting(s) {
		t.Fatal("checked again before the interval")
	}
	if err := w.Step(ctx, t0.Add(2*time.Minute+p.CheckInterval)); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.GetDnssec(ctx, id); KSKRollWaiting(s) {
		t.Fatal("the new DS is at the parent and the interval passed: the old KSK should have retired")
	}
}

func TestPolicyFlagsDefaultToThePolicyDefaultsAndShortenRollovers(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Policy
	}{
		{"defaults", nil, Policy{}.WithDefaults()},
		{"shortened for a test run", []string{"-dnssec-zsk-prepublish=2s", "-dnssec-zsk-retired-keep=3s", "-dnssec-ksk-retired-keep=4s", "-dnssec-check-interval=1s", "-dnssec-zsk-lifetime=1h"},
			Policy{ZSKLifetime: time.Hour, Prepublish: 2 * time.Second, RetiredKeep: 3 * time.Second, KSKRetiredKeep: 4 * time.Second, CheckInterval: time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Policy
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			p.RegisterFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if p != tc.want {
				t.Fatalf("policy %+v, want %+v", p, tc.want)
			}
		})
	}
}
