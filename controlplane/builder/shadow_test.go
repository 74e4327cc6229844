package builder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

var (
	parentNS = []string{"ns1.zonegrid.test.", "ns2.zonegrid.test."}
	childNS  = []string{"ns3.zonegrid.test.", "ns4.zonegrid.test."}
)

func createZoneNS(t *testing.T, st *store.Store, id, acct, name string, status dnsv1.ZoneStatus, ns []string) {
	t.Helper()
	_, err := st.CreateZone(context.Background(), acct, name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: acct, Name: name, Status: status, NameServers: ns, CreatedOn: timestamppb.Now()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func deleteRecords(t *testing.T, st *store.Store, zid string, ids ...string) {
	t.Helper()
	err := st.UpdateRecords(context.Background(), zid, func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
		var ops []store.RecordOp
		for _, id := range ids {
			ops = append(ops, store.RecordOp{DeleteID: id})
		}
		return ops, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// servedBy returns the id of the zone published for name, "" if none.
func (e *env) servedBy(t *testing.T, name string) string {
	t.Helper()
	z, err := e.zoneSnapshot(t, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return "" // (no bucket: the builder has not started publishing yet)
	}
	if err != nil {
		t.Fatalf("read snapshot of %s: %v", name, err)
	}
	return z.GetHeader().GetZoneId()
}

// settle waits until everything written so far is published. Batches are
// published in revision order but the names of one batch (or of a full
// rebuild) in parallel, so one marker can show up before its batch-mates:
// a second marker, written only once the first is visible, lands in a
// later batch, and that batch starts only after the first one finished.
func (e *env) settle(t *testing.T) {
	t.Helper()
	for range 2 {
		id := fmt.Sprintf("marker%d", time.Now().UnixNano())
		name := id + ".example."
		createZoneNS(t, e.st, id, "markers", name, dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, parentNS)
		eventually(t, "marker published", func() (bool, string) {
			got := e.servedBy(t, name)
			return got == id, got
		})
	}
}

func (e *env) expectServed(t *testing.T, name, want string) {
	t.Helper()
	e.settle(t)
	if got := e.servedBy(t, name); got != want {
		t.Fatalf("%s served by %q, want %q", name, got, want)
	}
}

func nsRecord(id, name, target string) *dnsv1.Record {
	return &dnsv1.Record{Id: id, Name: name, Type: "NS", Content: target, Ttl: 3600}
}

// The builder never publishes a zone that shadows another account's active
// zone unless that zone delegates to it, and keeps the decision right as
// the parent, its NS records and the child change.
func TestBuilderServesAnotherAccountsChildOnlyWhenDelegated(t *testing.T) {
	e := newEnv(t, 0)
	e.startBuilder(t)
	active, pending := dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, dnsv1.ZoneStatus_ZONE_STATUS_PENDING

	createZoneNS(t, e.st, "bank", "alice", "bank.example.", active, parentNS)
	putRecords(t, e.st, "bank", &dnsv1.Record{Id: "wwwA", Name: "www.bank.example.", Type: "A", Content: "192.0.2.1", Ttl: 1})
	createZoneNS(t, e.st, "hijack", "mallory", "www.bank.example.", active, childNS)
	e.expectServed(t, "bank.example.", "bank")
	e.expectServed(t, "www.bank.example.", "")

	// The parent delegates www to the child's nameservers: served. (Its
	// address record must go first, as the delegation rule demands.)
	deleteRecords(t, e.st, "bank", "wwwA")
	putRecords(t, e.st, "bank", nsRecord("ns3", "www.bank.example.", "NS3.zonegrid.test"), nsRecord("ns4", "www.bank.example.", "ns4.zonegrid.test."))
	e.expectServed(t, "www.bank.example.", "hijack")

	// Half a delegation, or one to other nameservers, is none.
	deleteRecords(t, e.st, "bank", "ns4")
	e.expectServed(t, "www.bank.example.", "")
	putRecords(t, e.st, "bank", nsRecord("ns4", "www.bank.example.", "ns1.elsewhere.example."))
	e.expectServed(t, "www.bank.example.", "")
	putRecords(t, e.st, "bank", nsRecord("ns4", "www.bank.example.", "ns4.zonegrid.test."))
	e.expectServed(t, "www.bank.example.", "hijack")

	// A zone below a delegated child is governed by the child.
	createZoneNS(t, e.st, "deep", "mallory", "api.www.bank.example.", active, childNS)
	e.expectServed(t, "api.www.bank.example.", "deep")

	// The parent goes: nothing is shadowed any more.
	if _, err := e.st.PurgeZone(context.Background(), "bank"); err != nil {
		t.Fatal(err)
	}
	e.expectServed(t, "www.bank.example.", "hijack")

	// The parent comes back (created after the child), without delegation:
	// the child and the zone below it stop being served.
	createZoneNS(t, e.st, "bank2", "alice", "bank.example.", active, parentNS)
	e.expectServed(t, "bank.example.", "bank2")
	e.expectServed(t, "www.bank.example.", "")
	e.expectServed(t, "api.www.bank.example.", "")

	// The parent's own account may split off a subdomain; a pending zone
	// never shadows anything, whoever holds it.
	createZoneNS(t, e.st, "docs", "alice", "docs.bank.example.", active, childNS)
	createZoneNS(t, e.st, "pend", "alice", "pend.bank.example.", pending, childNS)
	createZoneNS(t, e.st, "pend2", "mallory", "pend2.bank.example.", pending, childNS)
	e.expectServed(t, "docs.bank.example.", "docs")
	e.expectServed(t, "pend.bank.example.", "")
	e.expectServed(t, "pend2.bank.example.", "")

	// A pending parent does not take names from an active zone below it,
	// and a pending zone is served where nothing above is active.
	createZoneNS(t, e.st, "top", "mallory", "top.example.", active, childNS)
	createZoneNS(t, e.st, "topparent", "alice", "example.", pending, parentNS) // (the builder does not check registrability)
	e.expectServed(t, "top.example.", "top")
	e.expectServed(t, "example.", "topparent")
}

// A builder resuming from its stored revision knows the zones below a name
// (the tree is loaded at that revision), so a delegation made while it was
// stopped is applied.
func TestBuilderAppliesDelegationMadeWhileStopped(t *testing.T) {
	e := newEnv(t, 0)
	_, stop := e.startBuilder(t)
	active := dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE
	createZoneNS(t, e.st, "bank", "alice", "bank.example.", active, parentNS)
	createZoneNS(t, e.st, "child", "bob", "www.bank.example.", active, childNS)
	e.expectServed(t, "www.bank.example.", "")
	stop()

	putRecords(t, e.st, "bank", nsRecord("ns3", "www.bank.example.", "ns3.zonegrid.test."), nsRecord("ns4", "www.bank.example.", "ns4.zonegrid.test."))
	e.startBuilder(t)
	e.expectServed(t, "www.bank.example.", "child")
}

func TestNameTreeFindsZonesAtAndBelowAName(t *testing.T) {
	tr := newNameTree()
	tr.add("bank.example.", "a")
	tr.add("www.bank.example.", "b")
	tr.add("www.bank.example.", "c")
	tr.add("api.www.bank.example.", "b")
	tr.add("other.example.", "a")
	tests := []struct {
		name      string
		at        string
		inclusive bool
		want      []string
	}{
		{"strictly below a zone", "bank.example.", false, []string{"api.www.bank.example.", "www.bank.example."}},
		{"at and below", "www.bank.example.", true, []string{"api.www.bank.example.", "www.bank.example."}},
		{"a name without zones below", "mail.bank.example.", true, nil},
		{"an empty intermediate name", "example.", false, []string{"api.www.bank.example.", "bank.example.", "other.example.", "www.bank.example."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tr.under(tt.at, tt.inclusive)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("under(%s, %v) = %v, want %v", tt.at, tt.inclusive, got, tt.want)
			}
		})
	}
	// One account of two leaving keeps the name; the last one prunes it.
	tr.remove("www.bank.example.", "b")
	if !tr.has("www.bank.example.") {
		t.Fatal("name gone while account c still holds it")
	}
	tr.remove("www.bank.example.", "c")
	tr.remove("api.www.bank.example.", "b")
	if tr.has("www.bank.example.") || len(tr.under("bank.example.", false)) != 0 {
		t.Fatalf("names left after removal: %v", tr.under("bank.example.", false))
	}
	if _, ok := tr.root.children["example"].children["bank"].children["www"]; ok {
		t.Fatal("empty nodes not pruned")
	}
}
