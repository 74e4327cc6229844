package builder

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func createTypedZone(t *testing.T, st *store.Store, id, acct, name string, typ dnsv1.ZoneType) {
	t.Helper()
	_, err := st.CreateZone(context.Background(), acct, name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: acct, Name: name, Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, Type: typ,
			NameServers: parentNS, CreatedOn: timestamppb.Now()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// transferOf returns the Transfer the edges would hold for name now: the
// full snapshot's, or the header of the last delta after it.
func (e *env) transferOf(t *testing.T, name string) (*snapshot.Transfer, uint64, error) {
	t.Helper()
	z, err := e.zoneSnapshot(t, name)
	if err != nil {
		return nil, 0, err
	}
	h, v := z.GetHeader(), z.GetHeader().GetVersion()
	if _, err := e.js.Stream(context.Background(), snapshot.DeltaStream); err == nil {
		for _, d := range e.deltas(t, name) {
			if d.GetToVersion() > v {
				v = d.GetToVersion()
				if d.GetHeader() != nil {
					h = d.GetHeader()
				}
			}
		}
	}
	return h.GetTransfer(), v, nil
}

// The builder fills a zone's Transfer header from its transfer
// configuration and the account's peers, ACLs and TSIG keys, at the
// batch's revision, and rebuilds it when any of them changes; the TSIG
// secret goes out sealed as stored, never in the clear.
func TestTransferHeaderFollowsConfigurationPeersACLsAndKeys(t *testing.T) {
	for _, c := range []struct {
		name   string
		deltas bool
	}{
		{"full snapshots", false},
		{"deltas", true},
	} {
		t.Run(c.name, func(t *testing.T) { testTransferHeader(t, c.deltas) })
	}
}

func testTransferHeader(t *testing.T, deltas bool) {
	e := newEnv(t, 0)
	if deltas {
		e.startDeltaBuilder(t, Config{DeltaThreshold: 1})
	} else {
		e.startBuilder(t)
	}
	ctx := context.Background()
	kek, _ := keyseal.Generate()
	ring, _ := keyseal.New(kek)
	secret := []byte("0123456789abcdef0123456789abcdef")
	sealed, err := ring.Seal(secret, keyseal.TSIGContext("acct", "t1"))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.st.CreateTsig(ctx, &dnsv1.StoredTsig{Tsig: &dnsv1.Tsig{Id: "t1", AccountId: "acct", Name: "xfr.example.", Algorithm: "hmac-sha256."}, SealedSecret: sealed}))
	must(e.st.CreatePeer(ctx, &dnsv1.Peer{Id: "p1", AccountId: "acct", Name: "primary", Ip: "192.0.2.1", Port: 53, TsigId: "t1"}))
	must(e.st.CreatePeer(ctx, &dnsv1.Peer{Id: "p2", AccountId: "acct", Name: "primary 2", Ip: "2001:db8::2", Port: 53, TsigId: "t1"}))
	must(e.st.CreatePeer(ctx, &dnsv1.Peer{Id: "p3", AccountId: "acct", Name: "secondary", Ip: "203.0.113.9", Port: 53}))
	must(e.st.CreateACL(ctx, &dnsv1.Acl{Id: "a1", AccountId: "acct", Name: "notifiers", IpRange: "198.51.100.0/24"}))

	createTypedZone(t, e.st, "sec", "acct", "sec.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	createTypedZone(t, e.st, "pri", "acct", "pri.example.", dnsv1.ZoneType_ZONE_TYPE_FULL)
	createTypedZone(t, e.st, "plain", "acct", "plain.example.", dnsv1.ZoneType_ZONE_TYPE_FULL)
	for _, z := range []string{"sec", "pri", "plain"} {
		putRecords(t, e.st, z, &dnsv1.Record{Id: "r1", Name: "www." + z + ".example.", Type: "A", Content: "192.0.2.80", Ttl: 300})
	}
	_, err = e.st.UpdateIncomingTransfer(ctx, "sec", []string{"p1", "p2"}, func(_ *dnsv1.Zone, _ *dnsv1.IncomingTransfer, _ []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
		return &dnsv1.IncomingTransfer{ZoneId: "sec", AutoRefreshSeconds: 86400, Peers: []string{"p1", "p2"}}, nil
	})
	must(err)

	wantTsig := &snapshot.TransferTsig{Id: "t1", AccountId: "acct", Name: "xfr.example.", Algorithm: "hmac-sha256.", SealedSecret: sealed}
	expect := func(name string, want *snapshot.Transfer) {
		t.Helper()
		eventually(t, name+" transfer header", func() (bool, string) {
			got, v, err := e.transferOf(t, name)
			if err != nil {
				return false, err.Error()
			}
			return proto.Equal(got, want), fmt.Sprintf("version %d: %v", v, got)
		})
	}
	expect("sec.example.", &snapshot.Transfer{NotifyFrom: []string{"192.0.2.1/32", "198.51.100.0/24", "2001:db8::2/128"}, Tsig: wantTsig})
	expect("pri.example.", nil) // no outgoing configuration
	expect("plain.example.", nil)

	// An ACL of the account applies to every zone with a configuration.
	must(e.st.CreateACL(ctx, &dnsv1.Acl{Id: "a2", AccountId: "acct", Name: "more", IpRange: "2001:db8:1::/64"}))
	expect("sec.example.", &snapshot.Transfer{NotifyFrom: []string{"192.0.2.1/32", "198.51.100.0/24", "2001:db8:1::/64", "2001:db8::2/128"}, Tsig: wantTsig})

	// A primary moving and losing its key; the other keeps it.
	_, err = e.st.UpdatePeer(ctx, "acct", "p1", func(cur *dnsv1.Peer, _ []store.PeerGroup) (*dnsv1.Peer, error) {
		cur = proto.Clone(cur).(*dnsv1.Peer)
		cur.Ip = "192.0.2.7"
		return cur, nil
	})
	must(err)
	expect("sec.example.", &snapshot.Transfer{NotifyFrom: []string{"192.0.2.7/32", "198.51.100.0/24", "2001:db8:1::/64", "2001:db8::2/128"}, Tsig: wantTsig})

	// Outgoing enabled on the full zone: the peers and ACLs may transfer.
	_, err = e.st.UpdateOutgoingTransfer(ctx, "pri", []string{"p3"}, func(_ *dnsv1.Zone, _ *dnsv1.OutgoingTransfer, _ []*dnsv1.Peer) (*dnsv1.OutgoingTransfer, error) {
		return &dnsv1.OutgoingTransfer{ZoneId: "pri", Enabled: true, Peers: []string{"p3"}}, nil
	})
	must(err)
	expect("pri.example.", &snapshot.Transfer{Outgoing: true, TransferTo: []string{"198.51.100.0/24", "2001:db8:1::/64", "203.0.113.9/32"}})

	// An ACL deleted leaves both zones.
	must(e.st.DeleteACL(ctx, "acct", "a1"))
	expect("sec.example.", &snapshot.Transfer{NotifyFrom: []string{"192.0.2.7/32", "2001:db8:1::/64", "2001:db8::2/128"}, Tsig: wantTsig})
	expect("pri.example.", &snapshot.Transfer{Outgoing: true, TransferTo: []string{"2001:db8:1::/64", "203.0.113.9/32"}})

	// The primaries unlinked: no NOTIFY is taken any more.
	_, err = e.st.UpdateIncomingTransfer(ctx, "sec", nil, func(_ *dnsv1.Zone, _ *dnsv1.IncomingTransfer, _ []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
		return &dnsv1.IncomingTransfer{ZoneId: "sec", AutoRefreshSeconds: 86400}, nil
	})
	must(err)
	expect("sec.example.", nil)
	_, err = e.st.UpdateOutgoingTransfer(ctx, "pri", nil, func(_ *dnsv1.Zone, _ *dnsv1.OutgoingTransfer, _ []*dnsv1.Peer) (*dnsv1.OutgoingTransfer, error) {
		return &dnsv1.OutgoingTransfer{ZoneId: "pri", Enabled: false}, nil
	})
	must(err)
	expect("pri.example.", nil)
	// Untouched zones never got one.
	expect("plain.example.", nil)
	// The full zone's header changes went out as deltas (a secondary zone
	// may always be published whole: its records are merged with the
	// user's overrides at build time).
	if n := len(e.deltas(t, "pri.example.")); deltas && n == 0 {
		t.Fatal("the delta builder published no delta: the header path of deltas was not exercised")
	}

	// Nothing NATS holds carries the secret in the clear (raw or base64).
	leaks := [][]byte{secret, []byte(base64.StdEncoding.EncodeToString(secret))}
	kv, err := e.js.KeyValue(ctx, snapshot.ZonesBucket)
	must(err)
	keys, err := kv.Keys(ctx)
	must(err)
	seen := 0
	for _, k := range keys {
		en, err := kv.Get(ctx, k)
		must(err)
		for _, l := range leaks {
			if bytes.Contains(en.Value(), l) {
				t.Fatalf("zone value %s holds the TSIG secret in the clear", k)
			}
		}
		seen++
	}
	if s, err := e.js.Stream(ctx, snapshot.DeltaStream); err == nil {
		info, err := s.Info(ctx)
		must(err)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue
			}
			for _, l := range leaks {
				if bytes.Contains(m.Data, l) {
					t.Fatalf("delta %d holds the TSIG secret in the clear", seq)
				}
			}
			seen++
		}
	}
	if seen < 3 || !slices.Contains(keys, snapshot.ZoneKey("sec.example.")) {
		t.Fatalf("checked only %d values (%v)", seen, keys)
	}
}
