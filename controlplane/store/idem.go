package store

// Idempotency keys: a client-supplied request id makes a mutating RPC safe
// to retry when its reply was lost. The outcome (method, a hash of the
// request, the response bytes) is put in the same etcd transaction as the
// change, guarded by a compare that the key is absent, so a crash between
// the commit and the remembering cannot happen and two concurrent retries
// cannot both apply.
//
// Keys (outside <p>/data/, so they never wake the builder):
//
//	<p>/idem/keys/<scope>/<request_id>             the outcome (encodeIdem)
//	<p>/idem/due/<time>/<scope>/<request_id>      "" (SweepIdempotency deletes the pair after Config.IdempotencyRetention)
//
// scope is the caller's account (the ids of one account's clients never
// meet another's), "_operator" for the operator and "_internal" without a
// caller.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/caller"
)

// DefaultIdempotencyRetention is how long a request id is remembered when
// Config.IdempotencyRetention is zero: far longer than any client retries.
const DefaultIdempotencyRetention = 24 * time.Hour

// MaxRequestIDLen bounds a request id.
const MaxRequestIDLen = 128

// ErrIdempotentReplay is returned by a write whose request id was remembered
// by the time it ran (a concurrent retry committed first): the caller reads
// the outcome with Remembered and answers from it.
var ErrIdempotentReplay = errors.New("request id already used")

// ValidRequestID reports whether id may be a request id: 1 to 128 of
// A-Z a-z 0-9 . _ : - (no "/", which would leave its key's segment).
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// IdempotencyScope is the scope of the request ids of the caller in ctx.
func IdempotencyScope(ctx context.Context) string {
	switch c := caller.From(ctx); {
	case c == nil:
		return "_internal"
	case c.Operator || c.AccountID == "":
		return "_operator"
	default:
		return c.AccountID
	}
}

// RequestHash is the hash a request is remembered by: SHA-256 of its
// deterministic encoding, taken by the caller with the request id cleared.
func RequestHash(m proto.Message) ([32]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return [32]byte{}, fmt.Errorf("hash request: %w", err)
	}
	return sha256.Sum256(b), nil
}

// Idempotency is the request id of one write, carried in its context
// (WithIdempotency). The service sets the response (SetResponse) inside the
// store callback, on every attempt, so the store can put it in the
// transaction that commits the change.
type Idempotency struct {
	Scope, RequestID, Method string
	Hash                     [32]byte

	response []byte
	set      bool
}

// SetResponse records m as the response the write answers with.
func (i *Idempotency) SetResponse(m proto.Message) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("remember response of request %s: %w", i.RequestID, err)
	}
	i.response, i.set = b, true
	return nil
}

type idemKey struct{}

// WithIdempotency returns ctx carrying i.
func WithIdempotency(ctx context.Context, i *Idempotency) context.Context {
	return context.WithValue(ctx, idemKey{}, i)
}

// IdempotencyFrom returns the request id ctx carries, or nil.
func IdempotencyFrom(ctx context.Context) *Idempotency {
	i, _ := ctx.Value(idemKey{}).(*Idempotency)
	return i
}

// Outcome is a remembered write.
type Outcome struct {
	Method   string
	Hash     [32]byte
	Response []byte
	Time     time.Time
}

func (s *Store) idemKey(scope, id string) string { return s.prefix + "/idem/keys/" + scope + "/" + id }
func (s *Store) idemDuePrefix() string           { return s.prefix + "/idem/due/" }

// IdempotencyPrefix is the prefix of every idempotency key (outside DataPrefix).
func (s *Store) IdempotencyPrefix() string { return s.prefix + "/idem/" }

// Remembered returns the outcome remembered for the request id in scope,
// or nil. An id stays remembered from its commit until a sweep after
// Config.IdempotencyRetention: the retention is a minimum.
func (s *Store) Remembered(ctx context.Context, scope, id string) (*Outcome, error) {
	resp, err := s.kv.Get(ctx, s.idemKey(scope, id))
	if err != nil {
		return nil, fmt.Errorf("etcd read request id %s: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	o, err := decodeIdem(resp.Kvs[0].Value)
	if err != nil {
		return nil, fmt.Errorf("request id %s: %w", id, err)
	}
	return o, nil
}

// idemOps returns the compare (the key is absent) and the puts remembering
// i at now. The response must have been set.
func (s *Store) idemOps(i *Idempotency, now time.Time) (clientv3.Cmp, []clientv3.Op, error) {
	if !i.set {
		return clientv3.Cmp{}, nil, fmt.Errorf("request id %s: no response set for %s", i.RequestID, i.Method)
	}
	key := s.idemKey(i.Scope, i.RequestID)
	v := encodeIdem(&Outcome{Method: i.Method, Hash: i.Hash, Response: i.response, Time: now})
	return clientv3.Compare(clientv3.CreateRevision(key), "=", 0), []clientv3.Op{
		clientv3.OpPut(key, string(v)),
		clientv3.OpPut(s.idemDuePrefix()+timeHex(now)+"/"+i.Scope+"/"+i.RequestID, ""),
	}, nil
}

// idemSize estimates what idemOps cost in a transaction request.
func idemSize(i *Idempotency) int {
	return 2*(len(i.Scope)+len(i.RequestID)+64) + len(i.Method) + len(i.response) + 64
}

// The outcome's encoding: protobuf wire fields 1 method, 2 hash, 3
// response, 4 time (Unix ns), without a message type in the API.
func encodeIdem(o *Outcome) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, o.Method)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, o.Hash[:])
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, o.Response)
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(o.Time.UnixNano()))
	return b
}

func decodeIdem(b []byte) (*Outcome, error) {
	o := &Outcome{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("decode outcome: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				return nil, fmt.Errorf("decode outcome method: %w", protowire.ParseError(n))
			}
			o.Method, b = v, b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || len(v) != len(o.Hash) {
				return nil, errors.New("decode outcome hash: malformed")
			}
			copy(o.Hash[:], v)
			b = b[n:]
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("decode outcome response: %w", protowire.ParseError(n))
			}
			o.Response, b = append([]byte(nil), v...), b[n:]
		case num == 4 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("decode outcome time: %w", protowire.ParseError(n))
			}
			o.Time, b = time.Unix(0, int64(v)), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, fmt.Errorf("decode outcome: %w", protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return o, nil
}

// SweepIdempotency deletes the request ids remembered before now minus
// Config.IdempotencyRetention and returns how many. It reads only the due
// markers of expired ids (they sort by time), in batches of at most
// sweepBatch/2 pairs per delete transaction. Several control planes may
// sweep at once: deletes are idempotent.
func (s *Store) SweepIdempotency(ctx context.Context, now time.Time) (int, error) {
	if s.cfg.IdempotencyRetention < 0 {
		return 0, nil
	}
	prefix := s.idemDuePrefix()
	end := prefix + timeHex(now.Add(-s.cfg.IdempotencyRetention))
	deleted := 0
	for {
		resp, err := s.kv.Get(ctx, prefix, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(64))
		if err != nil {
			return deleted, fmt.Errorf("etcd read request id due markers: %w", err)
		}
		if len(resp.Kvs) == 0 {
			return deleted, nil
		}
		ops := make([]clientv3.Op, 0, 2*len(resp.Kvs))
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			ops = append(ops, clientv3.OpDelete(k))
			// <time>/<scope>/<request_id>: drop the time.
			if _, rest, ok := strings.Cut(strings.TrimPrefix(k, prefix), "/"); ok {
				ops = append(ops, clientv3.OpDelete(s.prefix+"/idem/keys/"+rest))
			}
		}
		if _, err := s.kv.Txn(ctx).Then(ops...).Commit(); err != nil {
			return deleted, fmt.Errorf("etcd delete expired request ids: %w", err)
		}
		deleted += len(resp.Kvs)
		if !resp.More {
			return deleted, nil
		}
	}
}

// IdempotencyRetention is how long request ids are remembered at least
// (negative: forever).
func (s *Store) IdempotencyRetention() time.Duration { return s.cfg.IdempotencyRetention }

// idemAttempt starts attempt n (from 0) of a non-grouped write carrying a
// request id in ctx: from the second attempt on it fails with
// ErrIdempotentReplay when the id got remembered meanwhile (a concurrent
// retry committed, which is what made the previous attempt's compare
// fail); the service checked before the first. A callback sets the
// response again on every attempt; a write without callback (DeleteZone)
// sets it once before the store call.
func (s *Store) idemAttempt(ctx context.Context, n int) error {
	i := IdempotencyFrom(ctx)
	if i == nil {
		return nil
	}
	if n > 0 {
		o, err := s.Remembered(ctx, i.Scope, i.RequestID)
		if err != nil {
			return err
		}
		if o != nil {
			return fmt.Errorf("request id %s: %w", i.RequestID, ErrIdempotentReplay)
		}
	}
	return nil
}

// commitWrite commits one non-grouped write (its compares and ops, the
// audit entry among them) together with what the request id in ctx adds:
// the compare that the id is not remembered yet and the puts remembering
// it. Every such write goes through here, so none can forget the id.
func (s *Store) commitWrite(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op) (*clientv3.TxnResponse, error) {
	if i := IdempotencyFrom(ctx); i != nil {
		cmp, iops, err := s.idemOps(i, time.Now())
		if err != nil {
			return nil, err
		}
		cmps, ops = append(cmps, cmp), append(ops, iops...)
	}
	return s.kv.Txn(ctx).If(cmps...).Then(ops...).Commit()
}
