package dnssec_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/dnssec"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

var etcdCli *clientv3.Client

func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

var seq atomic.Int64

type env struct {
	st     *store.Store
	ring   *keyseal.Ring
	client dnsv1.DnssecServiceClient
	prefix string
}

func newEnv(t *testing.T, withKEK bool) *env {
	t.Helper()
	log := zaptest.NewLogger(t)
	prefix := etcdtest.Prefix(t)
	st := store.NewWithConfig(etcdCli, store.Config{Prefix: prefix}, log)
	var ring *keyseal.Ring
	if withKEK {
		k, _ := keyseal.Generate()
		ring, _ = keyseal.New(k)
	}
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterDnssecServiceServer(gs, dnssec.New(st, ring, cpdnssec.Policy{}, log))
	})
	return &env{st: st, ring: ring, client: dnsv1.NewDnssecServiceClient(conn), prefix: prefix}
}

func (e *env) zone(t *testing.T, name string, plan dnsv1.Plan) string {
	t.Helper()
	id := "z" + strings.ReplaceAll(name, ".", "") + string(rune('a'+seq.Add(1)%26))
	_, err := e.st.CreateZone(context.Background(), "acct", name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: "acct", Name: name, Plan: plan, Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, CreatedOn: timestamppb.Now()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func (e *env) update(t *testing.T, id string, d *dnsv1.Dnssec, paths ...string) (*dnsv1.Dnssec, error) {
	t.Helper()
	r, err := e.client.UpdateDnssec(ctx(t), &dnsv1.UpdateDnssecRequest{ZoneId: id, Dnssec: d, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	return r.GetDnssec(), err
}

var (
	active   = &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE}
	disabled = &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED}
)

// setStatus plays the DS check's part (controlplane/dnssec tests it).
func (e *env) setStatus(t *testing.T, id string, s dnsv1.DnssecStatus) {
	t.Helper()
	if _, err := e.st.UpdateDnssec(ctx(t), id, "test", func(_ *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		cur.Status = s
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestDnssecLifecycleThroughTheAPI(t *testing.T) {
	e := newEnv(t, true)
	id := e.zone(t, "example.com.", dnsv1.Plan_PLAN_FREE)
	g, err := e.client.GetDnssec(ctx(t), &dnsv1.GetDnssecRequest{ZoneId: id})
	if err != nil || g.GetDnssec().GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED || g.GetDnssec().GetModifiedOn() != nil {
		t.Fatalf("never enabled: %v, %v", g, err)
	}
	d, err := e.update(t, id, active, "status")
	if err != nil || d.GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING || d.GetFlags() != 257 || d.GetAlgorithm() != 13 ||
		d.GetDigestType() != 2 || d.GetDs() == "" || d.GetKeyTag() == 0 || len(d.GetKeys()) != 2 {
		t.Fatalf("enable: %v, %v", d, err)
	}
	ds := d.GetDs()
	// Enabling again changes nothing (same keys, same DS).
	if d2, err := e.update(t, id, active, "status"); err != nil || d2.GetDs() != ds {
		t.Fatalf("enable twice: %v, %v", d2, err)
	}
	// Active cannot go straight to deleted.
	e.setStatus(t, id, dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE)
	_, err = e.client.DeleteDnssec(ctx(t), &dnsv1.DeleteDnssecRequest{ZoneId: id})
	if grpcstatus.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "active") {
		t.Fatalf("delete while active: %v", err)
	}
	d, err = e.update(t, id, disabled, "status")
	if err != nil || d.GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED || d.GetDs() != ds {
		t.Fatalf("disable: %v, %v", d, err)
	}
	if _, err = e.client.DeleteDnssec(ctx(t), &dnsv1.DeleteDnssecRequest{ZoneId: id}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("delete while pending-disabled: %v", err)
	}
	e.setStatus(t, id, dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED)
	if r, err := e.client.DeleteDnssec(ctx(t), &dnsv1.DeleteDnssecRequest{ZoneId: id}); err != nil || r.GetDnssec().GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED {
		t.Fatalf("delete when disabled: %v, %v", r, err)
	}
	if s, _ := e.st.GetDnssec(ctx(t), id); s != nil {
		t.Fatalf("state after delete: %v", s)
	}
	// Enabled again after a delete: new keys, a new DS.
	if d, err = e.update(t, id, active, "status"); err != nil || d.GetDs() == ds {
		t.Fatalf("re-enable after delete: %v, %v", d, err)
	}
}

func TestDnssecSettingsAndRequests(t *testing.T) {
	e := newEnv(t, true)
	free := e.zone(t, "free.example.", dnsv1.Plan_PLAN_FREE)
	ent := e.zone(t, "ent.example.", dnsv1.Plan_PLAN_ENTERPRISE)
	tests := []struct {
		name  string
		zone  string
		d     *dnsv1.Dnssec
		paths []string
		code  codes.Code
		check func(*dnsv1.Dnssec) bool
	}{
		{"no mask", free, active, nil, codes.InvalidArgument, nil},
		{"unknown path", free, active, []string{"digest"}, codes.InvalidArgument, nil},
		{"pending is not requestable", free, &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING}, []string{"status"}, codes.InvalidArgument, nil},
		{"settings before enabling", free, &dnsv1.Dnssec{DnssecMultiSigner: true}, []string{"dnssec_multi_signer"}, codes.FailedPrecondition, nil},
		{"nsec3 on free refused", free, &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, DnssecUseNsec3: true}, []string{"status", "dnssec_use_nsec3"}, codes.InvalidArgument, nil},
		{"multi-signer with enable", free, &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, DnssecMultiSigner: true}, []string{"status", "dnssec_multi_signer"}, codes.OK,
			func(d *dnsv1.Dnssec) bool { return d.GetDnssecMultiSigner() && !d.GetDnssecUseNsec3() }},
		{"nsec3 on enterprise", ent, &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, DnssecUseNsec3: true}, []string{"status", "dnssec_use_nsec3"}, codes.OK,
			func(d *dnsv1.Dnssec) bool { return d.GetDnssecUseNsec3() }},
		{"disabling a DNSSEC never enabled changes nothing", e.zone(t, "never.example.", dnsv1.Plan_PLAN_FREE), disabled, []string{"status"}, codes.OK,
			func(d *dnsv1.Dnssec) bool {
				return d.GetStatus() == dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED && d.GetModifiedOn() == nil
			}},
		{"unknown zone", "nosuchzone", active, []string{"status"}, codes.NotFound, nil},
		{"bad zone id", "bad id!", active, []string{"status"}, codes.InvalidArgument, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.update(t, tc.zone, tc.d, tc.paths...)
			if grpcstatus.Code(err) != tc.code {
				t.Fatalf("code %v (%v), want %v", grpcstatus.Code(err), err, tc.code)
			}
			if tc.check != nil && !tc.check(d) {
				t.Fatalf("result %v", d)
			}
		})
	}
}

func TestRollZskOnDemand(t *testing.T) {
	e := newEnv(t, true)
	id := e.zone(t, "roll.example.", dnsv1.Plan_PLAN_PRO)
	if _, err := e.client.RollZsk(ctx(t), &dnsv1.RollZskRequest{ZoneId: id}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("roll without dnssec: %v", err)
	}
	before, _ := e.update(t, id, active, "status")
	r, err := e.client.RollZsk(ctx(t), &dnsv1.RollZskRequest{ZoneId: id})
	if err != nil || len(r.GetDnssec().GetKeys()) != 3 || r.GetDnssec().GetDs() != before.GetDs() {
		t.Fatalf("roll: %v, %v", r, err)
	}
	states := map[string]int{}
	for _, k := range r.GetDnssec().GetKeys() {
		states[k.GetState()]++
	}
	if states["active"] != 2 || states["published"] != 1 {
		t.Fatalf("key states during the roll: %v (the KSK and the old ZSK sign, the new one waits)", states)
	}
	if _, err := e.client.RollZsk(ctx(t), &dnsv1.RollZskRequest{ZoneId: id}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("second roll: %v", err)
	}
}

// RollKsk publishes a new KSK next to the current one and answers its DS
// (the one to give the registrar) with both DS records listed; refused
// without DNSSEC, while one runs, once disabled, and retried under the
// same request id it answers the same.
func TestRollKskOnDemand(t *testing.T) {
	e := newEnv(t, true)
	id := e.zone(t, "rollksk.example.", dnsv1.Plan_PLAN_FREE)
	if _, err := e.client.RollKsk(ctx(t), &dnsv1.RollKskRequest{ZoneId: id}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("roll without dnssec: %v", err)
	}
	before, _ := e.update(t, id, active, "status")
	r, err := e.client.RollKsk(ctx(t), &dnsv1.RollKskRequest{ZoneId: id, RequestId: "roll-1"})
	if err != nil {
		t.Fatal(err)
	}
	d := r.GetDnssec()
	if d.GetDs() == before.GetDs() || len(d.GetDsRecords()) != 2 || d.GetDsRecords()[0] != d.GetDs() || d.GetDsRecords()[1] != before.GetDs() {
		t.Fatalf("DS after the roll %q, records %q; before %q", d.GetDs(), d.GetDsRecords(), before.GetDs())
	}
	if ro := d.GetKskRollover(); ro.GetWaitingFor() != "ds" || ro.GetNewKeyTag() != d.GetKeyTag() || ro.GetOldKeyTag() != before.GetKeyTag() {
		t.Fatalf("rollover %v", ro)
	}
	ksks := 0
	for _, k := range d.GetKeys() {
		if k.GetFlags() == 257 {
			ksks++
			if k.GetState() != "active" || k.GetDs() == "" {
				t.Errorf("KSK %d: state %s ds %q", k.GetKeyTag(), k.GetState(), k.GetDs())
			}
		}
	}
	if ksks != 2 || len(d.GetKeys()) != 3 {
		t.Fatalf("keys %v", d.GetKeys())
	}
	again, err := e.client.RollKsk(ctx(t), &dnsv1.RollKskRequest{ZoneId: id, RequestId: "roll-1"})
	if err != nil || again.GetDnssec().GetDs() != d.GetDs() {
		t.Fatalf("retry of the same request: %v, %v", again, err)
	}
	if _, err := e.client.RollKsk(ctx(t), &dnsv1.RollKskRequest{ZoneId: id}); grpcstatus.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "already in progress") {
		t.Fatalf("second roll: %v", err)
	}
	g, err := e.client.GetDnssec(ctx(t), &dnsv1.GetDnssecRequest{ZoneId: id})
	if err != nil || g.GetDnssec().GetDs() != d.GetDs() || len(g.GetDnssec().GetDsRecords()) != 2 {
		t.Fatalf("get during the roll: %v, %v", g, err)
	}
	other := e.zone(t, "rollksk-disabled.example.", dnsv1.Plan_PLAN_FREE)
	e.update(t, other, active, "status")
	e.update(t, other, &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED}, "status")
	if _, err := e.client.RollKsk(ctx(t), &dnsv1.RollKskRequest{ZoneId: other}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("roll of a disabled zone: %v", err)
	}
}

func TestWithoutKEKDnssecCannotBeEnabled(t *testing.T) {
	e := newEnv(t, false)
	id := e.zone(t, "nokek.example.", dnsv1.Plan_PLAN_FREE)
	if _, err := e.update(t, id, active, "status"); grpcstatus.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "key-encryption key") {
		t.Fatalf("enable without a KEK: %v", err)
	}
	if g, err := e.client.GetDnssec(ctx(t), &dnsv1.GetDnssecRequest{ZoneId: id}); err != nil || g.GetDnssec().GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED {
		t.Fatalf("get without a KEK: %v, %v", g, err)
	}
}

// No private key appears in plaintext in etcd, and no sealed one in a
// response or the audit log.
func TestPrivateKeysStaySealed(t *testing.T) {
	e := newEnv(t, true)
	id := e.zone(t, "secret.example.", dnsv1.Plan_PLAN_FREE)
	if _, err := e.update(t, id, active, "status"); err != nil {
		t.Fatal(err)
	}
	// Keys made by both rollovers too: four keys, each checked below.
	if _, err := e.client.RollZsk(ctx(t), &dnsv1.RollZskRequest{ZoneId: id}); err != nil {
		t.Fatal(err)
	}
	r, err := e.client.RollKsk(ctx(t), &dnsv1.RollKskRequest{ZoneId: id})
	if err != nil {
		t.Fatal(err)
	}
	d := r.GetDnssec()
	st, err := e.st.GetDnssec(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	all, err := etcdCli.Get(ctx(t), e.prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := protojson.Marshal(d)
	if len(st.GetKeys()) != 4 {
		t.Fatalf("%d keys, want 2 KSKs and 2 ZSKs", len(st.GetKeys()))
	}
	for _, k := range st.GetKeys() {
		priv, err := cpdnssec.OpenKey(e.ring, id, k)
		if err != nil {
			t.Fatal(err)
		}
		scalar := string(priv.D.Bytes())
		for _, kv := range all.Kvs {
			if strings.Contains(string(kv.Value), scalar) {
				t.Fatalf("private key %d in plaintext at %s", k.GetKeyTag(), kv.Key)
			}
			if strings.Contains(string(kv.Key), "/audit/") && strings.Contains(string(kv.Value), string(k.GetSealedPrivateKey())) {
				t.Fatalf("sealed key %d in the audit log", k.GetKeyTag())
			}
		}
		if strings.Contains(string(resp), scalar) || strings.Contains(string(resp), string(k.GetSealedPrivateKey())) {
			t.Fatal("a private key in the response")
		}
	}
}

// Disabling or deleting a DNSSEC never enabled answers "deleted" and writes
// nothing, not even an audit entry.
func TestNoOpWritesNothing(t *testing.T) {
	e := newEnv(t, true)
	id := e.zone(t, "never.example.", dnsv1.Plan_PLAN_FREE)
	count := func() int64 {
		r, err := etcdCli.Get(ctx(t), e.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return r.Count
	}
	before := count()
	d, err := e.update(t, id, disabled, "status")
	if err != nil || d.GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED || d.GetModifiedOn() != nil {
		t.Fatalf("disable: %v, %v", d, err)
	}
	if _, err := e.client.DeleteDnssec(ctx(t), &dnsv1.DeleteDnssecRequest{ZoneId: id}); err != nil {
		t.Fatal(err)
	}
	if after := count(); after != before {
		t.Fatalf("%d keys written by requests that change nothing", after-before)
	}
}

// "Pre-signed: Your primary DNS provider signs records ... Cloudflare then
// serves these records and signatures as is, without doing any signing":
// live signing is refused while the zone's incoming transfers are marked
// pre-signed, and allowed again once the mark is gone. (The transfer
// service refuses the mark while the zone is signed live.)
func TestEnablingIsRefusedOnAPresignedZone(t *testing.T) {
	e := newEnv(t, true)
	id := e.zone(t, "presigned.example.", dnsv1.Plan_PLAN_ENTERPRISE)
	mark := func(on bool) {
		t.Helper()
		if _, err := e.st.UpdateIncomingTransfer(ctx(t), id, nil, func(z *dnsv1.Zone, _ *dnsv1.IncomingTransfer, _ []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
			return &dnsv1.IncomingTransfer{ZoneId: z.GetId(), AutoRefreshSeconds: 3600, DnssecPresigned: on}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	mark(true)
	for _, tc := range []struct {
		name  string
		d     *dnsv1.Dnssec
		paths []string
	}{
		{"enable", active, []string{"status"}},
		{"enable with NSEC3", &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, DnssecUseNsec3: true}, []string{"status", "dnssec_use_nsec3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.update(t, id, tc.d, tc.paths...)
			if grpcstatus.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "dnssec_presigned") {
				t.Fatalf("enabling live signing on a pre-signed zone: %v, want FailedPrecondition naming dnssec_presigned", err)
			}
		})
	}
	g, err := e.client.GetDnssec(ctx(t), &dnsv1.GetDnssecRequest{ZoneId: id})
	if err != nil || g.GetDnssec().GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED {
		t.Fatalf("after the refusals: %v, %v (want nothing generated)", g, err)
	}
	// Disabling is never refused: it moves away from live signing.
	if _, err := e.update(t, id, disabled, "status"); err != nil {
		t.Errorf("disable on a pre-signed zone: %v", err)
	}
	mark(false)
	if d, err := e.update(t, id, active, "status"); err != nil || d.GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING {
		t.Fatalf("enable once dnssec_presigned is off: %v, %v", d, err)
	}
}
