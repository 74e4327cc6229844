package builder

import (
	"bytes"
	"context"
	"testing"
	"time"

	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// A zone's DNSSEC reaches the edges in its snapshot header: keys with
// their private parts still sealed, signing windows, and CDS delete once
// disabled; deleting DNSSEC removes it.
func TestBuilderPublishesDnssecKeysSealed(t *testing.T) {
	e := newEnv(t, 0)
	e.startBuilder(t)
	ctx := context.Background()
	createZoneNS(t, e.st, "signed", "acct", "signed.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, parentNS)
	k, _ := keyseal.Generate()
	ring, _ := keyseal.New(k)
	now := time.Now()
	update := func(fn func(cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error)) {
		t.Helper()
		if _, err := e.st.UpdateDnssec(ctx, "signed", "test", func(_ *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) { return fn(cur) }); err != nil {
			t.Fatal(err)
		}
	}
	update(func(cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		return cpdnssec.Enable(cur, ring, "signed", "signed.example.", cpdnssec.Policy{}.WithDefaults(), now)
	})
	header := func(ok func(h *snapshot.Dnssec) bool) *snapshot.Dnssec {
		t.Helper()
		var got *snapshot.Dnssec
		eventually(t, "dnssec header published", func() (bool, string) {
			z, err := e.zoneSnapshot(t, "signed.example.")
			if err != nil {
				return false, err.Error()
			}
			got = z.GetHeader().GetDnssec()
			return ok(got), got.String()
		})
		return got
	}
	h := header(func(h *snapshot.Dnssec) bool { return len(h.GetKeys()) == 2 })
	st, _ := e.st.GetDnssec(ctx, "signed")
	for i, k := range h.GetKeys() {
		want := st.GetKeys()[i]
		if k.GetFlags() != want.GetFlags() || k.GetKeyTag() != want.GetKeyTag() || k.GetPublicKey() != want.GetPublicKey() ||
			!bytes.Equal(k.GetSealedPrivateKey(), want.GetSealedPrivateKey()) || k.GetActivateUnix() != now.Unix() || h.GetCdsDelete() {
			t.Fatalf("key %d: %v", i, k)
		}
		priv, err := cpdnssec.OpenKey(ring, "signed", want)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(k.GetSealedPrivateKey(), priv.D.Bytes()) {
			t.Fatal("the snapshot holds a private key in the clear")
		}
	}
	update(func(cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) { return cpdnssec.Disable(cur, now) })
	header(func(h *snapshot.Dnssec) bool { return h.GetCdsDelete() && len(h.GetKeys()) == 2 })
	update(func(cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		cur.Status = dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED
		return cur, nil
	})
	update(func(*dnsv1.DnssecState) (*dnsv1.DnssecState, error) { return nil, nil })
	header(func(h *snapshot.Dnssec) bool { return h == nil })
}
