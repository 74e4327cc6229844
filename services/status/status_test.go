package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/controlplane/store"
)

func TestInvalidArgumentNamesTheField(t *testing.T) {
	err := InvalidArguments(
		FieldViolation{Field: "name", Description: "must have two labels"},
		FieldViolation{Field: "account_id", Description: "required"},
	)
	st := grpcstatus.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v, want InvalidArgument", st.Code())
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if len(fields) != 2 || fields[0] != "name" || fields[1] != "account_id" {
		t.Fatalf("field violations = %v, want [name account_id]", fields)
	}
}

func TestFromStoreMapsErrors(t *testing.T) {
	passthrough := InvalidArgument("ttl", "too small")
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"nil stays nil", nil, codes.OK},
		{"not found", fmt.Errorf("zone z1: %w", store.ErrNotFound), codes.NotFound},
		{"already exists", fmt.Errorf("zone x.: %w", store.ErrAlreadyExists), codes.AlreadyExists},
		{"bad page token", fmt.Errorf("list: %w", store.ErrBadPageToken), codes.InvalidArgument},
		{"conflict", fmt.Errorf("update: %w", store.ErrConflict), codes.Aborted},
		{"canceled", fmt.Errorf("get: %w", context.Canceled), codes.Canceled},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{"status passes through", passthrough, codes.InvalidArgument},
		{"wrapped etcd status unavailable", fmt.Errorf("get: %w", grpcstatus.Error(codes.Unavailable, "etcdserver: no leader")), codes.Unavailable},
		{"server-side etcd deadline is unavailable", fmt.Errorf("etcd get /k: %w", &store.UnavailableError{Reason: "no answer within 5s", Err: context.DeadlineExceeded}), codes.Unavailable},
		{"etcd unreachable is unavailable", fmt.Errorf("txn: %w", &store.UnavailableError{Reason: "unreachable or without a leader", Err: grpcstatus.Error(codes.Unavailable, "connection refused")}), codes.Unavailable},
		{"client deadline stays deadline exceeded", fmt.Errorf("etcd get /k: %w", grpcstatus.Error(codes.DeadlineExceeded, "context deadline exceeded")), codes.DeadlineExceeded},
		{"unknown is internal", errors.New("disk on fire at /var/x"), codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromStore(tt.err)
			if tt.err == nil {
				if got != nil {
					t.Fatalf("FromStore(nil) = %v", got)
				}
				return
			}
			st := grpcstatus.Convert(got)
			if st.Code() != tt.want {
				t.Fatalf("code = %v, want %v", st.Code(), tt.want)
			}
			if tt.want == codes.Unavailable && !strings.HasPrefix(st.Message(), "etcd unavailable") {
				t.Fatalf("unavailable message %q does not name etcd", st.Message())
			}
			if tt.want == codes.Internal && st.Message() != "internal error" {
				t.Fatalf("internal message leaks: %q", st.Message())
			}
		})
	}
}
