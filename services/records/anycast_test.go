package records_test

import (
	"net/netip"
	"testing"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

// A and AAAA records may not point at the platform's anycast addresses
// ("DNS record types": "Your origin server address (cannot be a Cloudflare
// IP)"), on create, update, patch and in batches alike.
func TestAnycastAddressesAreRefusedAsContent(t *testing.T) {
	log := zaptest.NewLogger(t)
	st := store.NewWithConfig(etcdCli, store.Config{Prefix: etcdtest.Prefix(t)}, log)
	pools := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterRecordServiceServer(gs, records.New(st, records.Options{Anycast: pools}, log))
	})
	e := &env{st: st, client: dnsv1.NewRecordServiceClient(conn)}
	e.zone = e.newZone(t, "example.com.", dnsv1.Plan_PLAN_FREE)
	zid := e.zone.GetId()

	tests := []struct {
		name string
		in   *dnsv1.Record
	}{
		{"A at a v4 anycast address", &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.10"}},
		{"proxied A at a v4 anycast address", &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.10", Proxied: true}},
		{"AAAA at a v6 anycast address in another notation", &dnsv1.Record{Name: "www", Type: "AAAA", Content: "2001:0db8:0:0::10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: zid, Record: tt.in})
			wantInvalid(t, err, "record.content")
		})
	}
	t.Run("patch onto an anycast address", func(t *testing.T) {
		r := e.create(t, &dnsv1.Record{Name: "origin", Type: "A", Content: "203.0.113.1"})
		_, err := e.client.PatchRecord(ctx(t), &dnsv1.PatchRecordRequest{ZoneId: zid, RecordId: r.GetId(),
			Record: &dnsv1.Record{Content: "192.0.2.10"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"content"}}})
		wantInvalid(t, err, "record.content")
	})
	t.Run("batch post at an anycast address", func(t *testing.T) {
		_, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: zid, Posts: []*dnsv1.Record{
			{Name: "ok", Type: "A", Content: "203.0.113.2"}, {Name: "bad", Type: "A", Content: "192.0.2.10"}}})
		wantInvalid(t, err, "posts[1].content")
	})
	t.Run("a neighbour of the pool is an ordinary address", func(t *testing.T) {
		e.create(t, &dnsv1.Record{Name: "near", Type: "A", Content: "192.0.2.11"})
	})
}
