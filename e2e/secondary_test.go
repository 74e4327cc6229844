package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/lifecycle"
	"github.com/zonegrid/zonegrid/controlplane/xfrin/xfrintest"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// secondaryZone is the primary's zone file at a serial, with extra lines.
func secondaryZone(serial string, extra string) string {
	return `$ORIGIN secondary.test.
$TTL 300
@	IN SOA ns1.primary.test. admin.primary.test. ` + serial + ` 7200 3600 1209600 300
@	IN NS ns1.primary.test.
www	IN A 192.0.2.1
@	IN MX 10 mail.secondary.test.
mail	IN A 192.0.2.25
` + extra
}

// A secondary zone from a real BIND 9 primary, end to end: TSIG key, peer
// and incoming configuration through ZoneTransferService; the first
// refresh transfers the zone (AXFR) and every edge answers it; a change at
// the primary (reloaded, BIND computes the IXFR) reaches the edges on the
// next refresh (forced, as a NOTIFY will); transferred records are
// read-only to the record API, which takes no other record of the user's
// than overrides; the status says OK with the primary's serial.
func TestSecondaryZoneFromBIND(t *testing.T) {
	key := xfrintest.Key{Name: "xfr.secondary.test.", Secret: "c2Vjb25kYXJ5LXRlc3Qta2V5LXNlY3JldC0xMjM0NTY="}
	bind := xfrintest.StartBIND(t, "secondary.test.", key, secondaryZone("2026112701", "old\tIN A 192.0.2.9\n"))
	bind.WaitSerial(t, "secondary.test.", key, 2026112701)

	// A short lifecycle step: the transfer worker runs in it (force AXFR).
	c := newCluster(t, 2, withLifecycle(lifecycle.Policy{}, 200*time.Millisecond))
	zr, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "secondary.test", Plan: dnsv1.Plan_PLAN_ENTERPRISE, Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY})
	if err != nil {
		t.Fatal(err)
	}
	zone := zr.GetZone()
	xfr := dnsv1.NewZoneTransferServiceClient(c.conn)
	tk, err := xfr.CreateTsig(c.ctx(), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: key.Name, Secret: key.Secret})
	if err != nil {
		t.Fatal(err)
	}
	host, portText, _ := net.SplitHostPort(bind.Addr)
	port, _ := strconv.Atoi(portText)
	peer, err := xfr.CreatePeer(c.ctx(), &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{
		Name: "bind", Ip: host, Port: uint32(port), IxfrEnable: true, TsigId: tk.GetTsig().GetId()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xfr.UpdateIncoming(c.ctx(), &dnsv1.UpdateIncomingRequest{ZoneId: zone.GetId(), AutoRefreshSeconds: 3600, Peers: []string{peer.GetPeer().GetId()}}); err != nil {
		t.Fatal(err)
	}
	// The first refresh is due at once (no check yet); forcing it keeps
	// the test from waiting for the lifecycle's interval.
	if err := c.cp.RefreshSecondary(c.ctx(), zone.GetId()); err != nil {
		t.Fatal(err)
	}
	c.eventually("transferred zone served", answerIs("www.secondary.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"))
	runEdgeCases(t, c, []edgeCase{
		{"MX transferred", answerIs("secondary.test.", dns.TypeMX, dns.RcodeSuccess, "10 mail.secondary.test.")},
		{"old record transferred", answerIs("old.secondary.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.9")},
	})

	// Transferred records are the primary's: read-only here.
	list, err := c.records.ListRecords(c.ctx(), &dnsv1.ListRecordsRequest{ZoneId: zone.GetId(), Name: "www", Type: "A"})
	if err != nil || len(list.GetRecords()) != 1 {
		t.Fatalf("list: %v, %v", list, err)
	}
	www := list.GetRecords()[0]
	if www.GetMeta().GetManagedBy() != "secondary_dns" {
		t.Fatalf("transferred record meta: %v", www.GetMeta())
	}
	_, err = c.records.PatchRecord(c.ctx(), &dnsv1.PatchRecordRequest{ZoneId: zone.GetId(), RecordId: www.GetId(),
		Record: &dnsv1.Record{Ttl: 600}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ttl"}}})
	if grpcstatus.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("patching a transferred record: %v", err)
	}
	// A record of the user's own is an override or the apex CNAME, nothing
	// else (e2e/secondary_override_test.go): a TXT record is refused.
	if _, err := c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: zone.GetId(),
		Record: &dnsv1.Record{Name: "extra", Type: "TXT", Content: "mine"}}); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("a TXT record of the user's on a secondary zone: %v", err)
	}

	bind.Write(t, secondaryZone("2026112702", "new\tIN A 192.0.2.10\n"))
	bind.Reload(t)
	bind.WaitSerial(t, "secondary.test.", key, 2026112702)
	if err := c.cp.RefreshSecondary(c.ctx(), zone.GetId()); err != nil {
		t.Fatal(err)
	}
	c.eventually("the change reached the edges", answerIs("new.secondary.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.10"))
	runEdgeCases(t, c, []edgeCase{
		{"deleted at the primary, gone here", answerIs("old.secondary.test.", dns.TypeA, dns.RcodeNameError)},
	})

	in, err := xfr.GetIncoming(c.ctx(), &dnsv1.GetIncomingRequest{ZoneId: zone.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	st := in.GetIncoming().GetStatus()
	if st.GetState() != dnsv1.TransferState_TRANSFER_STATE_OK || st.GetSerial() != 2026112702 || st.GetLastTransferTime() == nil ||
		!strings.Contains(st.GetMessage(), "IXFR") {
		t.Fatalf("incoming status: %v", st)
	}

	// Force AXFR: the worker's next step pulls the whole zone although the
	// serial did not change; it finds nothing to rewrite.
	if _, err := xfr.ForceAxfr(c.ctx(), &dnsv1.ForceAxfrRequest{ZoneId: zone.GetId()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		in, err := xfr.GetIncoming(c.ctx(), &dnsv1.GetIncomingRequest{ZoneId: zone.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if m := in.GetIncoming().GetStatus().GetMessage(); strings.Contains(m, "AXFR to serial 2026112702: 0 records written, 0 deleted") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("force AXFR not done: %v", in.GetIncoming().GetStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.eventually("still served after the forced AXFR", answerIs("new.secondary.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.10"))
	// Not a secondary zone: refused.
	full := c.createZone("acme", "primary-only.test", dnsv1.Plan_PLAN_ENTERPRISE)
	if _, err := xfr.ForceAxfr(c.ctx(), &dnsv1.ForceAxfrRequest{ZoneId: full.GetId()}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("force AXFR of a full zone: %v", err)
	}
}
