package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// etcd's own errors reach the store as rpctypes.EtcdError values (the
// client converts the gRPC status): those etcd answers with Unavailable
// during an election or a lost quorum are ErrUnavailable, so the services
// answer Unavailable and clients retry with their request id, not Internal.
func TestClassifyEtcdErrors(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"leader changed", rpctypes.ErrLeaderChanged, true},
		{"leader changed, wrapped", fmt.Errorf("etcd txn: %w", rpctypes.ErrLeaderChanged), true},
		{"no leader", rpctypes.ErrNoLeader, true},
		{"request timed out", rpctypes.ErrTimeout, true},
		{"timed out by leader failure", rpctypes.ErrTimeoutDueToLeaderFail, true},
		{"gRPC Unavailable", grpcstatus.Error(codes.Unavailable, "connection refused"), true},
		{"compacted", rpctypes.ErrCompacted, false},
		{"too many operations", rpctypes.ErrTooManyOps, false},
		{"other", errors.New("boom"), false},
	}
	k := boundedKV{}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := k.classify(ctx, ctx, tc.err)
			if errors.Is(got, ErrUnavailable) != tc.unavailable {
				t.Fatalf("classify(%v) = %v, unavailable %v, want %v", tc.err, got, errors.Is(got, ErrUnavailable), tc.unavailable)
			}
			if !errors.Is(got, tc.err) {
				t.Fatalf("classify(%v) = %v lost the etcd error", tc.err, got)
			}
		})
	}
}
