package xfrin

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// A pre-signed zone keeps the primary's RRSIG, NSEC, NSEC3PARAM and
// DNSKEY records as transferred; without the flag they are skipped, and a
// full transfer after the flag went off deletes those kept.
func TestPresignedZoneKeepsThePrimarysSignatures(t *testing.T) {
	ctx := context.Background()
	p := startPrimary(t, false)
	signed := rrs(t,
		"www.sec.example. 300 IN A 192.0.2.1",
		"www.sec.example. 300 IN RRSIG A 13 3 300 20261231000000 20261101000000 12345 sec.example. dGVzdA==",
		"www.sec.example. 300 IN NSEC sec.example. A RRSIG NSEC",
		"sec.example. 300 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
		"sec.example. 300 IN NSEC3PARAM 1 0 0 -",
	)
	p.set(1, signed)
	pr := Primary{Addr: p.addr}
	tests := []struct {
		name      string
		presigned bool
		want      []string // types held, sorted
		skipped   int
	}{
		{"pre-signed: every record kept", true, []string{"A", "DNSKEY", "NSEC", "NSEC3PARAM", "RRSIG", "SOA"}, 0},
		{"not pre-signed: the signatures skipped, those held deleted", false, []string{"A", "DNSKEY", "SOA"}, 3},
	}
	st, id := newStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := st.UpdateIncomingTransfer(ctx, id, nil, func(_ *dnsv1.Zone, _ *dnsv1.IncomingTransfer, _ []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
				return &dnsv1.IncomingTransfer{ZoneId: id, DnssecPresigned: tt.presigned}, nil
			}); err != nil {
				t.Fatal(err)
			}
			res, err := Fetch(ctx, pr, zone, nil, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			a, err := Apply(ctx, st, id, res, time.Now())
			if err != nil || len(a.Skipped) != tt.skipped {
				t.Fatalf("apply: %+v, %v", a, err)
			}
			recs, err := st.ZoneRecords(ctx, id, 0)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, r := range recs {
				types = append(types, r.GetType())
				if r.GetType() == "RRSIG" && r.GetContent() != "A 13 3 300 20261231000000 20261101000000 12345 sec.example. dGVzdA==" {
					t.Fatalf("RRSIG kept as %q", r.GetContent())
				}
			}
			slices.Sort(types)
			if !slices.Equal(types, tt.want) {
				t.Fatalf("types held %v, want %v (%s)", types, tt.want, strings.Join(served(t, st, id), "; "))
			}
		})
	}
}
