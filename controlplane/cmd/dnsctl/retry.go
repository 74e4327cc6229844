package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Retries of a call answered Unavailable (the control plane restarting,
// etcd away): bounded, with exponential backoff, within --timeout.
const retryAttempts = 6

// Backoff bounds (variables so tests need not wait).
var (
	retryFirst = 200 * time.Millisecond
	retryMax   = 3 * time.Second
)

// requestIDField is the idempotency key of every mutating request.
const requestIDField protoreflect.Name = "request_id"

// retrying is the client interceptor of dnsctl: it gives every request
// that has a request_id field and none set a fresh random one, and retries
// calls answered Unavailable with the same request, so that a write whose
// reply was lost is not applied twice (the server answers the retry from
// what it remembered). Calls without request_id are retried only when
// they are reads: a write without one (CreateToken, whose secret is never
// remembered) may have committed.
func retrying(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	safe := isRead(method)
	if m, ok := req.(proto.Message); ok {
		if setRequestID(m) {
			safe = true
		}
	}
	wait := retryFirst
	for attempt := 1; ; attempt++ {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err == nil || !safe || grpcstatus.Code(err) != codes.Unavailable || attempt == retryAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

// setRequestID sets a fresh request id on m if m has the field; it
// reports whether m carries one (set here or by the caller).
func setRequestID(m proto.Message) bool {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(requestIDField)
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return false
	}
	if r.Get(fd).String() == "" {
		r.Set(fd, protoreflect.ValueOfString(newRequestID()))
	}
	return true
}

// newRequestID is "dnsctl-" and 32 random hex digits.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return "dnsctl-" + hex.EncodeToString(b[:])
}

// isRead reports whether method (/pkg.Service/Name) only reads.
func isRead(method string) bool {
	name := method[strings.LastIndexByte(method, '/')+1:]
	for _, p := range []string{"Get", "List", "Verify", "Export"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
