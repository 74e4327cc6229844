package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/servicetest"
	"github.com/zonegrid/zonegrid/services/transfers"
)

// `dnsctl transfer events ZONE` lists a zone's transfer events oldest
// first, after an id when asked; -o json gives the response.
func TestTransferEventsCommand(t *testing.T) {
	log := zaptest.NewLogger(t)
	st := store.New(etcdCli, etcdtest.Prefix(t), log)
	ctx := context.Background()
	if _, err := st.CreateZone(ctx, "acct1", "sec.example.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "sec1", AccountId: "acct1", Name: "sec.example.", Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY,
			Plan: dnsv1.Plan_PLAN_ENTERPRISE, Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, CreatedOn: timestamppb.Now()}, nil
	}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i, ev := range []*dnsv1.TransferEvent{
		{Type: dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_ALL_PRIMARIES_FAILING, State: dnsv1.TransferState_TRANSFER_STATE_FAILING, Serial: 7, Message: "peer p1: connection refused"},
		{Type: dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_PRIMARIES_RECOVERED, State: dnsv1.TransferState_TRANSFER_STATE_OK, Serial: 8},
		{Type: dnsv1.TransferEventType_TRANSFER_EVENT_TYPE_SUCCESSFULLY_UPDATED, State: dnsv1.TransferState_TRANSFER_STATE_OK, Serial: 8, Message: "IXFR to serial 8"},
	} {
		if err := st.AppendTransferEvent(ctx, "sec1", ev, at.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.GetId())
	}
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterZoneTransferServiceServer(gs, transfers.New(st, nil, log))
	})
	ep := conn.Target()
	tests := []struct {
		name    string
		args    []string
		code    int
		want    []string // in this order
		wantErr string
	}{
		{"every event, oldest first", []string{"transfer", "events", "sec1"}, 0,
			[]string{"all-primaries-failing  failing", "connection refused", "primaries-recovered", "successfully-updated", "IXFR to serial 8"}, ""},
		{"after an id", []string{"transfer", "events", "sec1", "--after", ids[1]}, 0, []string{"successfully-updated"}, ""},
		{"json", []string{"-o", "json", "transfer", "events", "sec1", "--limit", "1"}, 0, []string{`"TRANSFER_EVENT_TYPE_SUCCESSFULLY_UPDATED"`}, ""},
		{"a bad id", []string{"transfer", "events", "sec1", "--after", "x"}, 1, nil, "after_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := dnsctl(t, ep, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stdout %q lacks %q (in order)", out, w)
				}
				rest = rest[i+len(w):]
			}
			if tt.name == "after an id" && strings.Contains(out, "recovered") {
				t.Fatalf("stdout %q shows events up to the id", out)
			}
		})
	}
}
