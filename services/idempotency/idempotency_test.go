package idempotency

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// remembered is an in-memory Rememberer: these tests are about Do's
// decisions, not about etcd (the store's tests and
// controlplane/server/idempotency_test.go cover that on a real etcd).
type remembered map[string]*store.Outcome

func (r remembered) Remembered(_ context.Context, scope, id string) (*store.Outcome, error) {
	return r[scope+"/"+id], nil
}

// TestReplayOnlyCallsNeverRunTheWrite: authorization let the call through
// only to replay (its object is invisible or gone). Whatever is or is no
// longer remembered, the write must not run, and anything but the very
// same request gets the refusal authorization held back.
func TestReplayOnlyCallsNeverRunTheWrite(t *testing.T) {
	const method = dnsv1.ZoneService_DeleteZone_FullMethodName
	req := &dnsv1.DeleteZoneRequest{ZoneId: "mine", RequestId: "r1"}
	hash, err := requestHash(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := proto.Marshal(&dnsv1.DeleteZoneResponse{ZoneId: "mine"})
	refusal := grpcstatus.Error(codes.NotFound, "zone theirs: not found")
	c := &caller.Caller{TokenID: "t", AccountID: "b", ReplayOnly: refusal}
	scope := store.IdempotencyScope(caller.With(context.Background(), c))
	outcome := &store.Outcome{Method: method, Hash: hash, Response: resp}
	tests := []struct {
		name     string
		mem      remembered
		req      *dnsv1.DeleteZoneRequest
		wantCode codes.Code
	}{
		{"the same request is answered from its outcome", remembered{scope + "/r1": outcome}, req, codes.OK},
		{"another request under the id gets the refusal", remembered{scope + "/r1": outcome}, &dnsv1.DeleteZoneRequest{ZoneId: "theirs", RequestId: "r1"}, codes.NotFound},
		{"an outcome swept meanwhile gets the refusal", remembered{}, &dnsv1.DeleteZoneRequest{ZoneId: "theirs", RequestId: "r1"}, codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			got, err := Do(caller.With(context.Background(), c), tt.mem, method, tt.req.GetRequestId(), tt.req,
				func(context.Context) (*dnsv1.DeleteZoneResponse, error) {
					ran = true
					return &dnsv1.DeleteZoneResponse{ZoneId: tt.req.GetZoneId()}, nil
				})
			if ran {
				t.Fatal("the write ran for a call authorized only to replay")
			}
			if grpcstatus.Code(err) != tt.wantCode {
				t.Fatalf("code %v (%v), want %v", grpcstatus.Code(err), err, tt.wantCode)
			}
			if tt.wantCode != codes.OK && !errors.Is(err, refusal) {
				t.Fatalf("error %v, want authorization's refusal", err)
			}
			if tt.wantCode == codes.OK && got.GetZoneId() != "mine" {
				t.Fatalf("response %v", got)
			}
		})
	}
}
