package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestRetryingKeepsOneRequestIDAcrossUnavailable(t *testing.T) {
	first, maxWait := retryFirst, retryMax
	retryFirst, retryMax = time.Millisecond, 2*time.Millisecond
	t.Cleanup(func() { retryFirst, retryMax = first, maxWait })
	tests := []struct {
		name      string
		method    string
		req       any
		failures  int // Unavailable answers before success
		wantCalls int
		wantErr   codes.Code
	}{
		{"write with request_id retried until it succeeds", dnsv1.RecordService_CreateRecord_FullMethodName, &dnsv1.CreateRecordRequest{ZoneId: "z"}, 2, 3, codes.OK},
		{"write retried a bounded number of times", dnsv1.ZoneService_DeleteZone_FullMethodName, &dnsv1.DeleteZoneRequest{ZoneId: "z"}, 100, retryAttempts, codes.Unavailable},
		{"read retried", dnsv1.ZoneService_GetZone_FullMethodName, &dnsv1.GetZoneRequest{ZoneId: "z"}, 1, 2, codes.OK},
		{"write without request_id not retried", dnsv1.ZoneService_CreateZoneHold_FullMethodName, &dnsv1.CreateZoneHoldRequest{ZoneId: "z"}, 1, 1, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			var ids []string
			invoker := func(_ context.Context, _ string, req, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				calls++
				if r, ok := req.(interface{ GetRequestId() string }); ok {
					ids = append(ids, r.GetRequestId())
				}
				if calls <= tt.failures {
					return grpcstatus.Error(codes.Unavailable, "etcd away")
				}
				return nil
			}
			err := retrying(context.Background(), tt.method, tt.req, nil, nil, invoker)
			if grpcstatus.Code(err) != tt.wantErr || calls != tt.wantCalls {
				t.Fatalf("err %v after %d calls, want %v after %d", err, calls, tt.wantErr, tt.wantCalls)
			}
			for _, id := range ids {
				if !strings.HasPrefix(id, "dnsctl-") || id != ids[0] {
					t.Fatalf("request ids %q: want one dnsctl- id on every attempt", ids)
				}
			}
		})
	}
}

func TestRetryingKeepsACallersRequestID(t *testing.T) {
	req := &dnsv1.DeleteRecordRequest{ZoneId: "z", RecordId: "r", RequestId: "mine"}
	err := retrying(context.Background(), dnsv1.RecordService_DeleteRecord_FullMethodName, req, nil, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil })
	if err != nil || req.GetRequestId() != "mine" {
		t.Fatalf("err %v, request id %q", err, req.GetRequestId())
	}
}
