package builder

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Every value an edge acts on is signed for the key or subject it is
// published under: zone values (inline, pointer, tombstone), zone objects,
// account values and deltas.
func TestSignedBuilderSignsEverythingItPublishes(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := snapshot.NewSigner(priv)
	v, err := snapshot.NewVerifier(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, 32<<10) // small max payload: the big zone goes to the object store
	ctx := context.Background()
	createZone(t, e.st, "small", "acct1", "small.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	putRecords(t, e.st, "small", &dnsv1.Record{Id: "r1", Name: "www.small.example.", Type: "A", Content: "192.0.2.1", Ttl: 60})
	createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	var rs []*dnsv1.Record
	for i := range 1000 {
		rs = append(rs, &dnsv1.Record{Id: fmt.Sprintf("r%04d", i), Name: fmt.Sprintf("host%d.big.example.", i),
			Type: "TXT", Content: "\"some text to make this record reasonably large\"", Ttl: 1})
	}
	putRecords(t, e.st, "big", rs...)
	e.startDeltaBuilder(t, Config{Signer: signer})

	var zones jetstream.KeyValue
	eventually(t, "zones bucket created", func() (bool, string) {
		var err error
		zones, err = e.js.KeyValue(ctx, snapshot.ZonesBucket)
		return err == nil, fmt.Sprint(err)
	})
	zoneValue := func(name string) (*snapshot.Zone, error) {
		key := snapshot.ZoneKey(name)
		en, err := zones.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		data, err := v.Open(snapshot.ZoneBinding(key), en.Value())
		if err != nil {
			return nil, err
		}
		return snapshot.UnmarshalZone(data)
	}
	eventually(t, "small zone signed", func() (bool, string) {
		z, err := zoneValue("small.example.")
		return err == nil && len(z.GetRecords()) == 1, fmt.Sprint(err)
	})
	eventually(t, "big zone pointer and object signed", func() (bool, string) {
		z, err := zoneValue("big.example.")
		if err != nil || z.GetRecordsObject() == "" {
			return false, fmt.Sprint(err)
		}
		objs, err := e.js.ObjectStore(ctx, snapshot.ObjectBucket)
		if err != nil {
			return false, err.Error()
		}
		raw, err := objs.GetBytes(ctx, z.GetRecordsObject())
		if err != nil {
			return false, err.Error()
		}
		data, err := v.Open(snapshot.ObjectBinding(z.GetRecordsObject()), raw)
		if err != nil {
			return false, err.Error()
		}
		full, err := snapshot.UnmarshalZone(data)
		return err == nil && len(full.GetRecords()) == 1000, fmt.Sprint(err)
	})

	// A change of the big zone travels as a signed delta.
	updateRecords(t, e.st, "big", store.RecordOp{Put: &dnsv1.Record{Id: "r0000", Name: "host0.big.example.",
		Type: "TXT", Content: "\"changed\"", Ttl: 1}})
	eventually(t, "signed delta", func() (bool, string) {
		s, err := e.js.Stream(ctx, snapshot.DeltaStream)
		if err != nil {
			return false, err.Error()
		}
		m, err := s.GetLastMsgForSubject(ctx, snapshot.DeltaSubject("big.example."))
		if err != nil {
			return false, err.Error()
		}
		if !snapshot.IsSigned(m.Data) {
			return false, "delta not signed"
		}
		data, err := v.Open(snapshot.DeltaBinding(m.Subject), m.Data)
		if err != nil {
			return false, err.Error()
		}
		d, err := snapshot.UnmarshalDelta(data)
		return err == nil && len(d.GetUpserts()) == 1, fmt.Sprint(err)
	})

	// Account settings.
	if _, err := e.st.UpdateAccountSettings(ctx, "acct1", func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) {
		cur.EnforceDnsOnly = true
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "signed account", func() (bool, string) {
		kv, err := e.js.KeyValue(ctx, snapshot.AccountsBucket)
		if err != nil {
			return false, err.Error()
		}
		en, err := kv.Get(ctx, "acct1")
		if err != nil {
			return false, err.Error()
		}
		data, err := v.Open(snapshot.AccountBinding("acct1"), en.Value())
		if err != nil {
			return false, err.Error()
		}
		a, err := snapshot.UnmarshalAccount(data)
		return err == nil && a.GetEnforceDnsOnly(), fmt.Sprint(err)
	})

	// Deleting a zone puts a signed tombstone, not a bare delete.
	if _, err := e.st.PurgeZone(ctx, "small"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "signed tombstone", func() (bool, string) {
		z, err := zoneValue("small.example.")
		if err != nil {
			return false, err.Error()
		}
		return z.GetTombstone() && z.GetHeader().GetVersion() > 0, fmt.Sprint(z)
	})
	en, err := zones.Get(ctx, snapshot.ZoneKey("small.example."))
	if err != nil || en.Operation() != jetstream.KeyValuePut {
		t.Fatalf("tombstone entry: %v %v", en, err)
	}
}
