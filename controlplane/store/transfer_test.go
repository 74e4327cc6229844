package store_test

import (
	"errors"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// The builder rebuilds the Transfer header of a zone when its transfer
// configuration changes, and of the account's zones with a configuration
// when a TSIG key, peer or ACL changes; the peer link index moves only
// with a zone configuration, whose own key says enough.
func TestTransferKeysTellTheBuilderWhichHeadersChange(t *testing.T) {
	s := newStore(t)
	for _, c := range []struct {
		key  string
		want store.DataKey
	}{
		{"transfer/accounts/acme/tsigs/t1", store.DataKey{Kind: store.KindTransferAccount, AccountID: "acme"}},
		{"transfer/accounts/acme/peers/p1", store.DataKey{Kind: store.KindTransferAccount, AccountID: "acme"}},
		{"transfer/accounts/acme/acls/a1", store.DataKey{Kind: store.KindTransferAccount, AccountID: "acme"}},
		{"transfer/accounts/acme/peerlinks/p1/z1/incoming", store.DataKey{}},
		{"transfer/zones/z1/incoming", store.DataKey{Kind: store.KindTransferZone, ZoneID: "z1"}},
		{"transfer/zones/z1/outgoing", store.DataKey{Kind: store.KindTransferZone, ZoneID: "z1"}},
		{"transfer/zones/z1", store.DataKey{}},
	} {
		if dk := s.ParseDataKey(s.DataPrefix() + c.key); dk != c.want {
			t.Errorf("%s: %+v, want %+v", c.key, dk, c.want)
		}
	}
}

// A zone linking a peer and the peer's deletion race: whichever commits
// first, never a configuration linking a deleted peer.
func TestPeerDeleteAndZoneLinkNeverLeaveADanglingLink(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	z := createZone(t, s, "acme", "sec.example.")
	for i := range 10 {
		p := &dnsv1.Peer{Id: "p" + string(rune('a'+i)), AccountId: "acme", Name: "p", Ip: "192.0.2.1", Port: 53}
		if err := s.CreatePeer(ctx, p); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 2)
		go func() { done <- s.DeletePeer(ctx, "acme", p.GetId()) }()
		go func() {
			_, err := s.UpdateIncomingTransfer(ctx, z.GetId(), []string{p.GetId()}, func(_ *dnsv1.Zone, _ *dnsv1.IncomingTransfer, peers []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
				return &dnsv1.IncomingTransfer{ZoneId: z.GetId(), AutoRefreshSeconds: 60, Peers: []string{peers[0].GetId()}}, nil
			})
			done <- err
		}()
		e1, e2 := <-done, <-done
		for _, err := range []error{e1, e2} {
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInUse) {
				t.Fatalf("unexpected error: %v", err)
			}
		}
		in, err := s.GetIncomingTransfer(ctx, z.GetId())
		if err != nil {
			continue // the deletion won before any link
		}
		for _, id := range in.GetPeers() {
			if _, err := s.GetPeer(ctx, "acme", id); err != nil {
				t.Fatalf("round %d: incoming links peer %s: %v", i, id, err)
			}
		}
		// Unlink for the next round.
		if _, err := s.UpdateIncomingTransfer(ctx, z.GetId(), nil, func(*dnsv1.Zone, *dnsv1.IncomingTransfer, []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
			return &dnsv1.IncomingTransfer{ZoneId: z.GetId(), AutoRefreshSeconds: 60}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	links, err := s.Client().Get(ctx, s.DataPrefix()+"transfer/accounts/acme/peerlinks/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || links.Count != 0 {
		t.Fatalf("peer links left after unlinking: %d, %v", links.Count, err)
	}
}
