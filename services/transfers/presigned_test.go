package transfers_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// dnssec_presigned is stored with the incoming configuration; turning it
// on or off asks for a full transfer (the signatures of every record come
// with the whole zone); a zone signed live cannot be pre-signed too.
func TestPresignedFlagForcesAFullTransfer(t *testing.T) {
	e := newEnv(t, true)
	secondary := e.zone(t, "acme", "sec.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	live := e.zone(t, "acme", "live.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	p := e.peer(t, "acme", "")
	forced := func() bool {
		t.Helper()
		reqs, err := e.st.ForceAxfrRequests(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		_, ok := reqs[secondary]
		return ok
	}
	linked, unlinked := []string{p}, []string(nil)
	steps := []struct {
		name      string
		peers     []string
		presigned bool
		forced    bool
	}{
		{"linked, not pre-signed: nothing forced", linked, false, false},
		{"pre-signed on: a full transfer is asked for", linked, true, true},
		{"unchanged: nothing more", linked, true, false},
		{"pre-signed off: a full transfer is asked for", linked, false, true},
		{"pre-signed on without primaries: nothing to ask", unlinked, true, false},
		{"primaries linked again to the pre-signed zone: a full transfer", linked, true, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			resp, err := e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: secondary, Peers: s.peers, DnssecPresigned: s.presigned})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetIncoming().GetDnssecPresigned() != s.presigned {
				t.Fatalf("response %v", resp.GetIncoming())
			}
			got, err := e.c.GetIncoming(ctx(t), &dnsv1.GetIncomingRequest{ZoneId: secondary})
			if err != nil || got.GetIncoming().GetDnssecPresigned() != s.presigned {
				t.Fatalf("stored %v, %v", got.GetIncoming(), err)
			}
			if forced() != s.forced {
				t.Fatalf("force AXFR requested: %v, want %v", forced(), s.forced)
			}
			if s.forced {
				reqs, _ := e.st.ForceAxfrRequests(ctx(t))
				if err := e.st.ClearForceAxfr(ctx(t), secondary, reqs[secondary]); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	if _, err := e.st.UpdateDnssec(ctx(t), live, "test", func(_ *dnsv1.Zone, _ *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		return &dnsv1.DnssecState{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE}, nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: live, Peers: []string{p}, DnssecPresigned: true})
	wantCode(t, err, codes.FailedPrecondition, "")
}
