package e2e

import (
	"crypto/ecdsa"
	"fmt"
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

// overrideZone is the BIND primary's zone file at a serial.
func overrideZone(serial, mail string) string {
	return `$ORIGIN override.test.
$TTL 300
@	IN SOA ns1.primary.test. admin.primary.test. ` + serial + ` 7200 3600 1209600 300
@	IN NS ns1.primary.test.
@	IN A 192.0.2.1
@	IN AAAA 2001:db8::1
@	IN MX 10 mail.override.test.
www	IN A 192.0.2.2
www	IN A 192.0.2.3
www	IN AAAA 2001:db8::2
www	IN TXT "web"
mail	IN A ` + mail + `
`
}

// Secondary DNS override end to end, on a zone transferred from a real
// BIND 9 primary: a proxied override at www answers the anycast addresses
// for every A and AAAA there (other types as transferred), a CNAME at the
// apex is flattened and hides the transferred apex A/AAAA, other names are
// served as transferred, the SOA is the primary's; a later transfer (a
// change at BIND, then a refresh) keeps the overrides and moves the serial;
// each transfer is a "successfully updated" event.
func TestSecondaryOverrideOnAZoneFromBIND(t *testing.T) {
	key := xfrintest.Key{Name: "xfr.override.test.", Secret: "b3ZlcnJpZGUtdGVzdC1rZXktc2VjcmV0LTEyMzQ1Njc4"}
	bind := xfrintest.StartBIND(t, "override.test.", key, overrideZone("2026112801", "192.0.2.25"))
	bind.WaitSerial(t, "override.test.", key, 2026112801)

	c := newCluster(t, 2, withLifecycle(lifecycle.Policy{}, 200*time.Millisecond))
	// The apex CNAME's target, in a zone the edges serve (flattened from
	// memory, F4).
	target := c.createZone("acme", "target.test", dnsv1.Plan_PLAN_ENTERPRISE)
	c.createRecord(target.GetId(), &dnsv1.Record{Name: "app", Type: "A", Content: "198.51.100.20", Ttl: 120})

	zr, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "override.test", Plan: dnsv1.Plan_PLAN_ENTERPRISE, Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY})
	if err != nil {
		t.Fatal(err)
	}
	zone := zr.GetZone()
	if zone.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("secondary zone status %s: proxying needs an active zone", zone.GetStatus())
	}
	if _, err := c.settings.UpdateZoneSettings(c.ctx(), &dnsv1.UpdateZoneSettingsRequest{ZoneId: zone.GetId(),
		Settings: &dnsv1.ZoneSettings{SecondaryOverrides: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"secondary_overrides"}}}); err != nil {
		t.Fatal(err)
	}
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
	if err := c.cp.RefreshSecondary(c.ctx(), zone.GetId()); err != nil {
		t.Fatal(err)
	}
	c.eventually("transferred zone served", answerIs("www.override.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.2", "192.0.2.3"))
	primarySOA := func(serial string) func(string) error {
		return answerIs("override.test.", dns.TypeSOA, dns.RcodeSuccess, "ns1.primary.test. admin.primary.test. "+serial+" 7200 3600 1209600 300")
	}
	runEdgeCases(t, c, []edgeCase{
		{"before overrides: the apex A as transferred", answerIs("override.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1")},
		{"the served SOA is the primary's", primarySOA("2026112801")},
	})

	// The overrides: one proxied A record at www (its content is not
	// served: www answers the anycast addresses only) and a DNS-only CNAME
	// at the apex.
	c.createRecord(zone.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "198.51.100.7", Proxied: true})
	c.createRecord(zone.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "app.target.test"})

	v4, v6 := anycastFor(zone.GetId(), testAnycastV4), anycastFor(zone.GetId(), testAnycastV6)
	c.eventually("the override proxies www", answerWith("www.override.test.", dns.TypeA, 300, v4...))
	merged := []edgeCase{
		{"every AAAA at the overridden name is proxied too", answerWith("www.override.test.", dns.TypeAAAA, 300, v6...)},
		{"other types at the overridden name as transferred", answerIs("www.override.test.", dns.TypeTXT, dns.RcodeSuccess, `"web"`)},
		{"the apex CNAME is flattened over the transferred apex A", answerIs("override.test.", dns.TypeA, dns.RcodeSuccess, "198.51.100.20")},
		{"the transferred apex AAAA is hidden by the apex CNAME", answerIs("override.test.", dns.TypeAAAA, dns.RcodeSuccess)},
		{"the apex MX as transferred", answerIs("override.test.", dns.TypeMX, dns.RcodeSuccess, "10 mail.override.test.")},
	}
	c.eventually("the apex CNAME is flattened", answerIs("override.test.", dns.TypeA, dns.RcodeSuccess, "198.51.100.20"))
	runEdgeCases(t, c, append(merged,
		edgeCase{"another name as transferred", answerIs("mail.override.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.25")},
		edgeCase{"overrides do not move the primary's serial", primarySOA("2026112801")},
	))

	// A change at the primary, picked up by IXFR: the overrides stay.
	bind.Write(t, overrideZone("2026112802", "192.0.2.26"))
	bind.Reload(t)
	bind.WaitSerial(t, "override.test.", key, 2026112802)
	if err := c.cp.RefreshSecondary(c.ctx(), zone.GetId()); err != nil {
		t.Fatal(err)
	}
	c.eventually("the change reached the edges", answerIs("mail.override.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.26"))
	runEdgeCases(t, c, append(merged, edgeCase{"the served SOA follows the primary", primarySOA("2026112802")}))

	// Each applied transfer is a "Secondary DNS Successfully Updated"
	// event, newest first.
	evs, err := xfr.ListTransferEvents(c.ctx(), &dnsv1.ListTransferEventsRequest{ZoneId: zone.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	var updates []uint32
	for _, ev := range evs.GetEvents() {
		if ev.GetType() == dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_SUCCESSFULLY_UPDATED {
			updates = append(updates, ev.GetSerial())
		}
	}
	if len(updates) != 2 || updates[0] != 2026112802 || updates[1] != 2026112801 {
		t.Fatalf("successfully-updated events: serials %v, want [2026112802 2026112801] (%v)", updates, evs.GetEvents())
	}

	// Overrides off (the zone setting): the zone is served as transferred.
	if _, err := c.settings.UpdateZoneSettings(c.ctx(), &dnsv1.UpdateZoneSettingsRequest{ZoneId: zone.GetId(),
		Settings: &dnsv1.ZoneSettings{SecondaryOverrides: false}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"secondary_overrides"}}}); err != nil {
		t.Fatal(err)
	}
	c.eventually("overrides off: www as transferred", answerIs("www.override.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.2", "192.0.2.3"))
	runEdgeCases(t, c, []edgeCase{
		{"overrides off: the apex A as transferred", answerIs("override.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1")},
	})
}

// signedZone is a zone file holding its own signatures (an ECDSA P-256 key
// made here): what a primary that signs transfers out.
func signedZone(t *testing.T, serial uint32) (string, *dns.DNSKEY) {
	t.Helper()
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "presigned.test.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 300},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := key.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	var sets [][]dns.RR
	for _, lines := range [][]string{
		{fmt.Sprintf("presigned.test. 300 IN SOA ns1.primary.test. admin.primary.test. %d 7200 3600 1209600 300", serial)},
		{"presigned.test. 300 IN NS ns1.primary.test."},
		{"presigned.test. 300 IN A 192.0.2.1"},
		{"www.presigned.test. 300 IN A 192.0.2.2", "www.presigned.test. 300 IN A 192.0.2.3"},
		{"presigned.test. 300 IN NSEC www.presigned.test. A NS SOA RRSIG NSEC DNSKEY"},
		{"www.presigned.test. 300 IN NSEC presigned.test. A RRSIG NSEC"},
	} {
		var set []dns.RR
		for _, l := range lines {
			rr, err := dns.NewRR(l)
			if err != nil {
				t.Fatal(err)
			}
			set = append(set, rr)
		}
		sets = append(sets, set)
	}
	sets = append(sets, []dns.RR{key})
	var b strings.Builder
	now := time.Now()
	for _, set := range sets {
		sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: set[0].Header().Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 300},
			KeyTag: key.KeyTag(), SignerName: "presigned.test.", Algorithm: dns.ECDSAP256SHA256,
			Inception: uint32(now.Add(-time.Hour).Unix()), Expiration: uint32(now.Add(48 * time.Hour).Unix())}
		if err := sig.Sign(priv.(*ecdsa.PrivateKey), set); err != nil {
			t.Fatal(err)
		}
		for _, rr := range append(set, sig) {
			b.WriteString(rr.String() + "\n")
		}
	}
	return b.String(), key
}

// Pre-signed DNSSEC, the control plane's part, on a zone signed at a real
// BIND 9 primary: with dnssec_presigned the primary's RRSIG, NSEC and
// DNSKEY records are kept as transferred and published; what the edges
// answer (the records, the SOA, the DNSKEY) verifies with the primary's
// signatures as the edges hand them out; an override is refused. (The
// answers asked with DO, validated by unbound: secondary_presigned_test.go.)
func TestSecondaryPresignedZoneFromBIND(t *testing.T) {
	key := xfrintest.Key{Name: "xfr.presigned.test.", Secret: "cHJlc2lnbmVkLXRlc3Qta2V5LXNlY3JldC0xMjM0NTY3OA=="}
	file, dnskey := signedZone(t, 2026112801)
	bind := xfrintest.StartBIND(t, "presigned.test.", key, "$ORIGIN presigned.test.\n"+file)
	bind.WaitSerial(t, "presigned.test.", key, 2026112801)

	c := newCluster(t, 2, withLifecycle(lifecycle.Policy{}, 200*time.Millisecond))
	zr, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "presigned.test", Plan: dnsv1.Plan_PLAN_ENTERPRISE, Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY})
	if err != nil {
		t.Fatal(err)
	}
	zone := zr.GetZone()
	if _, err := c.settings.UpdateZoneSettings(c.ctx(), &dnsv1.UpdateZoneSettingsRequest{ZoneId: zone.GetId(),
		Settings: &dnsv1.ZoneSettings{SecondaryOverrides: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"secondary_overrides"}}}); err != nil {
		t.Fatal(err)
	}
	xfr := dnsv1.NewZoneTransferServiceClient(c.conn)
	tk, err := xfr.CreateTsig(c.ctx(), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: key.Name, Secret: key.Secret})
	if err != nil {
		t.Fatal(err)
	}
	host, portText, _ := net.SplitHostPort(bind.Addr)
	port, _ := strconv.Atoi(portText)
	peer, err := xfr.CreatePeer(c.ctx(), &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{
		Name: "bind", Ip: host, Port: uint32(port), TsigId: tk.GetTsig().GetId()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xfr.UpdateIncoming(c.ctx(), &dnsv1.UpdateIncomingRequest{ZoneId: zone.GetId(), AutoRefreshSeconds: 3600,
		Peers: []string{peer.GetPeer().GetId()}, DnssecPresigned: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.cp.RefreshSecondary(c.ctx(), zone.GetId()); err != nil {
		t.Fatal(err)
	}
	c.eventually("transferred zone served", answerIs("www.presigned.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.2", "192.0.2.3"))

	// verified checks that the RRset the edge answers for name/qtype
	// verifies with the primary's RRSIG for it, as the edge gives it.
	verified := func(name string, qtype uint16) func(string) error {
		return func(addr string) error {
			set, err := exchange(addr, name, qtype, false)
			if err != nil {
				return err
			}
			sigs, err := exchange(addr, name, dns.TypeRRSIG, false)
			if err != nil {
				return err
			}
			for _, rr := range sigs.Answer {
				if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == qtype {
					if err := sig.Verify(dnskey, set.Answer); err != nil {
						return fmt.Errorf("%s %s: the primary's signature does not verify what the edge answers (%v): %w", name, dns.TypeToString[qtype], set.Answer, err)
					}
					return nil
				}
			}
			return fmt.Errorf("%s: no RRSIG covering %s among %v", name, dns.TypeToString[qtype], sigs.Answer)
		}
	}
	runEdgeCases(t, c, []edgeCase{
		{"the addresses verify with the primary's signature", verified("www.presigned.test.", dns.TypeA)},
		{"the apex address verifies", verified("presigned.test.", dns.TypeA)},
		{"the served SOA is the primary's, byte for byte: it verifies", verified("presigned.test.", dns.TypeSOA)},
		{"the primary's DNSKEY is served and verifies", verified("presigned.test.", dns.TypeDNSKEY)},
		{"the primary's NSEC is kept", answerIs("www.presigned.test.", dns.TypeNSEC, dns.RcodeSuccess, "presigned.test. A RRSIG NSEC")},
	})
	// "Pre-signed DNSSEC does not support Secondary DNS Overrides".
	_, err = c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: zone.GetId(),
		Record: &dnsv1.Record{Name: "www", Type: "A", Content: "198.51.100.7", Proxied: true}})
	if grpcstatus.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "pre-signed") {
		t.Fatalf("an override on a pre-signed zone: %v", err)
	}
}
