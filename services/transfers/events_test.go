package transfers_test

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// ListTransferEvents answers a zone's events newest first, after a given
// id and bounded; a zone without events answers none; bad cursors name
// their field; another account's or a missing zone is NotFound at the
// service too (the permission table checks the caller first:
// controlplane/server's authorization matrix); the purge takes them away.
func TestListTransferEvents(t *testing.T) {
	e := newEnv(t, false)
	secondary := e.zone(t, "acme", "sec.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	quiet := e.zone(t, "acme", "quiet.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	at := time.Unix(1_800_000_000, 0)
	var ids []string
	for i, typ := range []dnsv1.TransferEventType{
		dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_PRIMARIES_FAILING,
		dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_ALL_PRIMARIES_FAILING,
		dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_PRIMARIES_RECOVERED,
		dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_SUCCESSFULLY_UPDATED,
	} {
		ev := &dnsv1.TransferEvent{Type: typ, Serial: uint32(i)}
		if err := e.st.AppendTransferEvent(ctx(t), secondary, ev, at.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.GetId())
	}
	tests := []struct {
		name  string
		req   *dnsv1.ListTransferEventsRequest
		code  codes.Code
		field string
		want  []uint32 // serials, in order
	}{
		{"every event, newest first", &dnsv1.ListTransferEventsRequest{ZoneId: secondary}, codes.OK, "", []uint32{3, 2, 1, 0}},
		{"after an id", &dnsv1.ListTransferEventsRequest{ZoneId: secondary, AfterId: ids[1]}, codes.OK, "", []uint32{3, 2}},
		{"the newest only", &dnsv1.ListTransferEventsRequest{ZoneId: secondary, PageSize: 1}, codes.OK, "", []uint32{3}},
		{"nothing after the newest", &dnsv1.ListTransferEventsRequest{ZoneId: secondary, AfterId: ids[3]}, codes.OK, "", nil},
		{"a zone without events", &dnsv1.ListTransferEventsRequest{ZoneId: quiet}, codes.OK, "", nil},
		{"a bad cursor", &dnsv1.ListTransferEventsRequest{ZoneId: secondary, AfterId: "x"}, codes.InvalidArgument, "after_id", nil},
		{"a negative page size", &dnsv1.ListTransferEventsRequest{ZoneId: secondary, PageSize: -1}, codes.InvalidArgument, "page_size", nil},
		{"no zone id", &dnsv1.ListTransferEventsRequest{}, codes.InvalidArgument, "zone_id", nil},
		{"a zone that does not exist", &dnsv1.ListTransferEventsRequest{ZoneId: "nosuchzone"}, codes.NotFound, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.c.ListTransferEvents(ctx(t), tt.req)
			if tt.code != codes.OK {
				wantCode(t, err, tt.code, tt.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []uint32
			for _, ev := range resp.GetEvents() {
				if ev.GetZoneId() != tt.req.GetZoneId() {
					t.Fatalf("event of zone %s in a listing of %s", ev.GetZoneId(), tt.req.GetZoneId())
				}
				got = append(got, ev.GetSerial())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("serials %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("serials %v, want %v", got, tt.want)
				}
			}
		})
	}
	if _, err := e.st.PurgeZone(ctx(t), secondary); err != nil {
		t.Fatal(err)
	}
	r, err := etcdCli.Get(ctx(t), e.prefix+"/xfr/status/"+secondary+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || r.Count != 0 {
		t.Fatalf("events after the purge: %d keys, %v", r.Count, err)
	}
}
