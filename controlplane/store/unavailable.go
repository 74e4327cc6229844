package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// ErrUnavailable is wrapped by errors of etcd calls that failed because
// etcd did not answer in time or could not be reached: the write was not
// acknowledged and a retry later may succeed. The services map it to gRPC
// Unavailable.
var ErrUnavailable = errors.New("etcd unavailable")

// UnavailableError says why etcd was unavailable. Reason is safe to show a
// client (it names no address or internal state); Err is the etcd
// client's error, for the server log.
type UnavailableError struct {
	Reason string
	Err    error
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return "etcd unavailable: " + e.Reason
	}
	return "etcd unavailable: " + e.Reason + ": " + e.Err.Error()
}

// Unwrap makes the error match ErrUnavailable and whatever the etcd client
// returned.
func (e *UnavailableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Err}
}

// DefaultCallTimeout bounds one etcd round trip when Config.CallTimeout is
// zero.
const DefaultCallTimeout = 5 * time.Second

// txnTimeoutCalls is how many call timeouts a whole group commit (its
// reads, its commit and its conflict retries) may take by default: 30 s
// with the default call timeout.
const txnTimeoutCalls = 6

// etcdKV is the part of clientv3.KV the store uses.
type etcdKV interface {
	Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error)
	Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (*clientv3.PutResponse, error)
	Delete(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.DeleteResponse, error)
	Txn(ctx context.Context) clientv3.Txn
}

// boundedKV puts a server-side deadline on every etcd call of the store.
// Without one, the etcd client waits for a connection for as long as the
// caller's context allows (forever for a caller without a deadline), and a
// hung etcd hangs every RPC with it. Errors that come from that deadline,
// or from etcd being unreachable, become *UnavailableError; an error from
// the caller's own deadline or cancellation is returned as the client
// made it, so a client's DeadlineExceeded stays its own.
type boundedKV struct {
	kv      clientv3.KV
	timeout time.Duration
}

func (k boundedKV) call(ctx context.Context, fn func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeoutCause(ctx, k.timeout, &UnavailableError{
		Reason: fmt.Sprintf("no answer within %s", k.timeout)})
	defer cancel()
	return k.classify(ctx, cctx, fn(cctx))
}

// classify turns err of a call made with cctx (derived from the caller's
// ctx) into an *UnavailableError when etcd is to blame.
func (k boundedKV) classify(ctx, cctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	if ctx.Err() != nil {
		// The caller's context ended first. It is etcd's fault only if
		// that context is itself a server-side etcd bound (a group
		// commit's, whose cause is an *UnavailableError).
		if errors.As(context.Cause(ctx), &ue) {
			return &UnavailableError{Reason: ue.Reason, Err: err}
		}
		return err
	}
	if cctx.Err() != nil {
		if errors.As(context.Cause(cctx), &ue) {
			return &UnavailableError{Reason: ue.Reason, Err: err}
		}
		return err
	}
	// etcd answered, or its client gave up, with Unavailable: no leader,
	// a request timed out inside etcd, no connection. The client turns
	// etcd's own errors into rpctypes.EtcdError, which has a code but no
	// gRPC status ("etcdserver: leader changed" during an election was
	// answered Internal: the chaos suite).
	var ee rpctypes.EtcdError
	if grpcstatus.Code(err) == codes.Unavailable || (errors.As(err, &ee) && ee.Code() == codes.Unavailable) {
		return &UnavailableError{Reason: "unreachable or without a leader", Err: err}
	}
	return err
}

func (k boundedKV) Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (resp *clientv3.PutResponse, err error) {
	err = k.call(ctx, func(ctx context.Context) error {
		resp, err = k.kv.Put(ctx, key, val, opts...)
		return err
	})
	return resp, err
}

func (k boundedKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (resp *clientv3.GetResponse, err error) {
	err = k.call(ctx, func(ctx context.Context) error {
		resp, err = k.kv.Get(ctx, key, opts...)
		return err
	})
	return resp, err
}

func (k boundedKV) Delete(ctx context.Context, key string, opts ...clientv3.OpOption) (resp *clientv3.DeleteResponse, err error) {
	err = k.call(ctx, func(ctx context.Context) error {
		resp, err = k.kv.Delete(ctx, key, opts...)
		return err
	})
	return resp, err
}

// Txn defers the deadline to Commit: the etcd client's Txn binds the
// context at Txn and uses it only in Commit.
func (k boundedKV) Txn(ctx context.Context) clientv3.Txn {
	return &boundedTxn{k: k, ctx: ctx}
}

type boundedTxn struct {
	k       boundedKV
	ctx     context.Context
	cmps    []clientv3.Cmp
	thenOps []clientv3.Op
	elseOps []clientv3.Op
}

func (t *boundedTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	t.cmps = append(t.cmps, cs...)
	return t
}

func (t *boundedTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	t.thenOps = append(t.thenOps, ops...)
	return t
}

func (t *boundedTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	t.elseOps = append(t.elseOps, ops...)
	return t
}

func (t *boundedTxn) Commit() (resp *clientv3.TxnResponse, err error) {
	err = t.k.call(t.ctx, func(ctx context.Context) error {
		txn := t.k.kv.Txn(ctx)
		if len(t.cmps) > 0 {
			txn = txn.If(t.cmps...)
		}
		if len(t.thenOps) > 0 {
			txn = txn.Then(t.thenOps...)
		}
		if len(t.elseOps) > 0 {
			txn = txn.Else(t.elseOps...)
		}
		resp, err = txn.Commit()
		return err
	})
	return resp, err
}
