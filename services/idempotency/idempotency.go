// Package idempotency makes a mutating RPC safe to retry: a request carrying
// a request_id is looked up before any work (one etcd read) and, when
// remembered, answered from the remembered response; otherwise the write
// runs with the id in its context and the store puts the outcome in the
// same transaction as the change (controlplane/store/idem.go).
package idempotency

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/services/status"
)

// Field is the name of the request id field in every mutating request.
const Field = "request_id"

// Rememberer reads remembered outcomes (*store.Store).
type Rememberer interface {
	Remembered(ctx context.Context, scope, id string) (*store.Outcome, error)
}

// Do runs the write run for req of method, honouring requestID: empty runs
// run as is; otherwise an invalid id is InvalidArgument, a remembered id
// with the same method and request returns the remembered response
// (decoded into a new R) without running run, and one used for another
// request is InvalidArgument naming request_id; when run fails and a
// concurrent request with the same id and request committed meanwhile,
// its response is returned. run must call Respond with
// its response inside the store callback that makes the change.
func Do[R proto.Message](ctx context.Context, st Rememberer, method, requestID string, req proto.Message, run func(ctx context.Context) (R, error)) (R, error) {
	var zero R
	if requestID == "" {
		return run(ctx)
	}
	if !store.ValidRequestID(requestID) {
		return zero, status.InvalidArgument(Field, fmt.Sprintf("must be 1 to %d characters of A-Z a-z 0-9 . _ : -", store.MaxRequestIDLen))
	}
	hash, err := requestHash(req)
	if err != nil {
		return zero, grpcstatus.Error(codes.Internal, err.Error())
	}
	in := &store.Idempotency{Scope: store.IdempotencyScope(ctx), RequestID: requestID, Method: method, Hash: hash}
	out, done, err := replay[R](ctx, st, in)
	if c := caller.From(ctx); c != nil && c.ReplayOnly != nil {
		// Authorized only to replay (controlplane/authz): the outcome of
		// this very request, or the refusal authorization held back.
		if done && err == nil {
			return out, nil
		}
		return zero, c.ReplayOnly
	}
	if done {
		return out, err
	}
	out, err = run(store.WithIdempotency(ctx, in))
	if err == nil {
		return out, nil
	}
	// A concurrent request with this id may have committed after the
	// check above, failing this one (ErrIdempotentReplay, or through what
	// it changed: AlreadyExists of the zone it created, NotFound of the
	// record it deleted). Then its response is the answer.
	if r, done, rerr := replay[R](ctx, st, in); done {
		if rerr == nil {
			return r, nil
		}
		if errors.Is(err, store.ErrIdempotentReplay) {
			return zero, rerr // e.g. the id now holds another request
		}
	}
	if errors.Is(err, store.ErrIdempotentReplay) {
		return zero, grpcstatus.Errorf(codes.Aborted, "%s: a request with this id is in progress; retry", Field)
	}
	return out, err
}

// Respond records resp as the response of the write in ctx, if it has a
// request id. Call it inside the store callback, after the change is
// decided, on every attempt.
func Respond(ctx context.Context, resp proto.Message) error {
	if in := store.IdempotencyFrom(ctx); in != nil {
		return in.SetResponse(resp)
	}
	return nil
}

// replay answers from the outcome remembered for in, if any (done).
func replay[R proto.Message](ctx context.Context, st Rememberer, in *store.Idempotency) (R, bool, error) {
	var zero R
	o, err := st.Remembered(ctx, in.Scope, in.RequestID)
	if err != nil {
		return zero, true, status.FromStore(err)
	}
	if o == nil {
		return zero, false, nil
	}
	if o.Method != in.Method || o.Hash != in.Hash {
		return zero, true, status.InvalidArgument(Field, fmt.Sprintf("%q was used for another request (%s); use a new id for a new request", in.RequestID, o.Method))
	}
	out := zero.ProtoReflect().New().Interface().(R)
	if err := proto.Unmarshal(o.Response, out); err != nil {
		return zero, true, grpcstatus.Errorf(codes.Internal, "remembered response of %s: %v", in.RequestID, err)
	}
	return out, true, nil
}

// requestHash hashes req without its request id, so that the id itself is
// not part of what must match.
func requestHash(req proto.Message) ([32]byte, error) {
	c := proto.Clone(req)
	m := c.ProtoReflect()
	if fd := m.Descriptor().Fields().ByName(Field); fd != nil {
		m.Clear(fd)
	}
	return store.RequestHash(c)
}
