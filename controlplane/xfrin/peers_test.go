package xfrin

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zonegrid/zonegrid/controlplane/xfrin/xfrintest"
)

func bindZone(serial int, extra string) string {
	return fmt.Sprintf(`$ORIGIN sec.example.
$TTL 300
@	IN SOA ns1.sec.example. admin.sec.example. %d 7200 3600 1209600 300
@	IN NS ns1.sec.example.
ns1	IN A 192.0.2.53
www	IN A 192.0.2.1
@	IN MX 10 mail.sec.example.
mail	IN A 192.0.2.25
_sip._tcp	IN SRV 10 5 5060 sip.sec.example.
@	IN TXT "v=spf1 -all"
%s`, serial, extra)
}

// Real primaries from Debian — BIND 9, Knot, NSD: AXFR, then after a
// change at the primary an IXFR (incremental from BIND and Knot, which
// compute the difference between zone files; NSD 4.6 answers it with the
// whole zone, which is applied as a full transfer), all TSIG-signed, the
// zone in the store equal to the primary's after each step; a wrong or
// missing TSIG is refused.
func TestTransfersFromRealPrimaries(t *testing.T) {
	peers := []struct {
		name        string
		start       func(*testing.T, string, xfrintest.Key, string) *xfrintest.Primary
		incremental bool
	}{
		{"BIND", xfrintest.StartBIND, true},
		{"Knot", xfrintest.StartKnot, true},
		{"NSD", xfrintest.StartNSD, false},
	}
	for _, peer := range peers {
		t.Run(peer.name, func(t *testing.T) {
			ctx := context.Background()
			key := xfrintest.Key{Name: tsigName, Secret: secret}
			b := peer.start(t, zone, key, bindZone(2026112701, "old\tIN A 192.0.2.9\n"))
			pr := Primary{Addr: b.Addr, IXFR: true, TSIG: &TSIG{Name: tsigName, Secret: secret}}
			b.WaitSerial(t, zone, key, 2026112701)
			st, id := newStore(t)

			res, err := Fetch(ctx, pr, zone, nil, Limits{})
			if err != nil || !res.Full || res.Serial != 2026112701 {
				t.Fatalf("AXFR: %+v, %v", res, err)
			}
			if _, err := Apply(ctx, st, id, res, time.Now()); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(served(t, st, id), "\n")
			for _, want := range []string{"www.sec.example. A 192.0.2.1", "sec.example. MX mail.sec.example.", "_sip._tcp.sec.example. SRV 10 5 5060 sip.sec.example.",
				"old.sec.example. A 192.0.2.9", "sec.example. NS ns1.sec.example."} {
				if !strings.Contains(got, want) {
					t.Errorf("after AXFR the zone lacks %q:\n%s", want, got)
				}
			}

			b.Write(t, bindZone(2026112702, "new\tIN A 192.0.2.10\n"))
			b.Reload(t)
			b.WaitSerial(t, zone, key, 2026112702)
			have := uint32(2026112701)
			res, err = Fetch(ctx, pr, zone, &have, Limits{})
			if err != nil || res.Serial != 2026112702 || res.Full == peer.incremental || (peer.incremental && len(res.Diffs) != 1) {
				t.Fatalf("IXFR: %+v, %v", res, err)
			}
			a, err := Apply(ctx, st, id, res, time.Now())
			if err != nil || a.Put != 1 || a.Deleted != 1 {
				t.Fatalf("apply IXFR: %+v, %v", a, err)
			}
			got = strings.Join(served(t, st, id), "\n")
			if strings.Contains(got, "old.sec.example.") || !strings.Contains(got, "new.sec.example. A 192.0.2.10") {
				t.Fatalf("after IXFR:\n%s", got)
			}

			bad := Primary{Addr: b.Addr, TSIG: &TSIG{Name: tsigName, Secret: "d3Jvbmctc2VjcmV0LWtleS0xMjM0NTY3ODkw"}}
			if _, err := Fetch(ctx, bad, zone, nil, Limits{Timeout: 5 * time.Second}); err == nil {
				t.Error("transferred with a wrong TSIG secret")
			}
			if _, err := Fetch(ctx, Primary{Addr: b.Addr}, zone, nil, Limits{Timeout: 5 * time.Second}); err == nil {
				t.Error("transferred without TSIG")
			}
		})
	}
}
