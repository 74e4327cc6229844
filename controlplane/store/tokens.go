package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// API tokens live outside <p>/data/ so that creating or revoking one does
// not wake the zone builder. A token's value is its SHA-256 secret hash
// followed by the binary dns.v1.Token: the secret itself is never stored.
// Secrets are 256 random bits, so a plain SHA-256 is as good as a slow
// password hash here: there is no dictionary to try.

// TokenHashSize is the length of a stored token hash.
const TokenHashSize = sha256.Size

// StoredToken is a token as the store keeps it.
type StoredToken struct {
	Token *dnsv1.Token
	Hash  [TokenHashSize]byte
}

func (s *Store) tokensPrefix() string { return s.prefix + "/auth/tokens/" }

// TokensPrefix is the prefix every token key lives under; the verifier
// watches it.
func (s *Store) TokensPrefix() string { return s.tokensPrefix() }

func (s *Store) tokenKey(id string) string { return s.tokensPrefix() + id }
func (s *Store) accountTokensPrefix(acct string) string {
	return s.prefix + "/auth/accounttokens/" + acct + "/"
}

// DecodeToken parses a token value as stored under TokensPrefix.
func DecodeToken(b []byte) (StoredToken, error) {
	if len(b) < TokenHashSize {
		return StoredToken{}, fmt.Errorf("token value: %d bytes, shorter than its hash", len(b))
	}
	t, err := unmarshal(b[TokenHashSize:], &dnsv1.Token{}, "token")
	if err != nil {
		return StoredToken{}, err
	}
	st := StoredToken{Token: t}
	copy(st.Hash[:], b[:TokenHashSize])
	return st, nil
}

func encodeStoredToken(t StoredToken) (string, error) {
	v, err := marshal(t.Token, "token "+t.Token.GetId())
	if err != nil {
		return "", err
	}
	return string(t.Hash[:]) + v, nil
}

// CreateToken stores a new token. ErrAlreadyExists if its id is taken.
func (s *Store) CreateToken(ctx context.Context, t StoredToken) error {
	id, acct := t.Token.GetId(), t.Token.GetAccountId()
	if !validID(id) || !validID(acct) {
		return fmt.Errorf("token %q of account %q: invalid id", id, acct)
	}
	v, err := encodeStoredToken(t)
	if err != nil {
		return err
	}
	ops := []clientv3.Op{
		clientv3.OpPut(s.tokenKey(id), v),
		clientv3.OpPut(s.accountTokensPrefix(acct)+id, ""),
	}
	ops, err = s.tokenAudit(ctx, ops, acct, id, nil, t.Token)
	if err != nil {
		return err
	}
	// commitWrite: a request id in ctx is remembered in this transaction.
	tr, err := s.commitWrite(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.tokenKey(id)), "=", 0)}, ops)
	if err != nil {
		return fmt.Errorf("create token %s: etcd txn: %w", id, err)
	}
	if !tr.Succeeded {
		return fmt.Errorf("token %s: %w", id, ErrAlreadyExists)
	}
	return nil
}

// GetToken reads a token by id.
func (s *Store) GetToken(ctx context.Context, id string) (StoredToken, error) {
	if !validID(id) {
		return StoredToken{}, fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	resp, err := s.getAt(ctx, s.tokenKey(id), 0)
	if err != nil {
		return StoredToken{}, err
	}
	if len(resp.Kvs) == 0 {
		return StoredToken{}, fmt.Errorf("token %s: %w", id, ErrNotFound)
	}
	return DecodeToken(resp.Kvs[0].Value)
}

// RevokeToken deletes a token and returns it as it was.
func (s *Store) RevokeToken(ctx context.Context, id string) (*dnsv1.Token, error) {
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		resp, err := s.getAt(ctx, s.tokenKey(id), 0)
		if err != nil {
			return nil, err
		}
		if len(resp.Kvs) == 0 {
			return nil, fmt.Errorf("token %s: %w", id, ErrNotFound)
		}
		t, err := DecodeToken(resp.Kvs[0].Value)
		if err != nil {
			return nil, err
		}
		acct := t.Token.GetAccountId()
		ops := []clientv3.Op{
			clientv3.OpDelete(s.tokenKey(id)),
			clientv3.OpDelete(s.accountTokensPrefix(acct) + id),
		}
		ops, err = s.tokenAudit(ctx, ops, acct, id, t.Token, nil)
		if err != nil {
			return nil, err
		}
		tr, err := s.commitWrite(ctx,
			[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.tokenKey(id)), "=", resp.Kvs[0].ModRevision)}, ops)
		if err != nil {
			return nil, fmt.Errorf("revoke token %s: etcd txn: %w", id, err)
		}
		if tr.Succeeded {
			return t.Token, nil
		}
	}
	return nil, fmt.Errorf("revoke token %s: %w", id, ErrConflict)
}

// ListTokens lists an account's tokens by id, a page at a time.
func (s *Store) ListTokens(ctx context.Context, accountID string, pageSize int, pageToken string) ([]*dnsv1.Token, string, error) {
	if !validID(accountID) {
		return nil, "", nil
	}
	prefix := s.accountTokensPrefix(accountID)
	resp, kvs, next, err := s.page(ctx, prefix, pageSize, pageToken, clientv3.WithKeysOnly())
	if err != nil {
		return nil, "", err
	}
	if len(kvs) == 0 {
		return nil, next, nil
	}
	gets := make([]clientv3.Op, len(kvs))
	for i, kv := range kvs {
		gets[i] = clientv3.OpGet(s.tokenKey(strings.TrimPrefix(string(kv.Key), prefix)), clientv3.WithRev(resp.Header.Revision))
	}
	got, err := s.readMany(ctx, gets, "tokens of account "+accountID)
	if err != nil {
		return nil, "", err
	}
	out := make([]*dnsv1.Token, 0, len(got))
	for _, g := range got {
		for _, kv := range g {
			t, err := DecodeToken(kv.Value)
			if err != nil {
				return nil, "", err
			}
			out = append(out, t.Token)
		}
	}
	return out, next, nil
}

// AllTokens reads every token with the revision of the read, for the
// verifier's cache, which then watches from that revision.
func (s *Store) AllTokens(ctx context.Context) ([]StoredToken, int64, error) {
	resp, err := s.kv.Get(ctx, s.tokensPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("read tokens: %w", err)
	}
	out := make([]StoredToken, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		t, err := DecodeToken(kv.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("token key %s: %w", kv.Key, err)
		}
		out = append(out, t)
	}
	return out, resp.Header.Revision, nil
}

// TokenIDFromKey returns the id a key under TokensPrefix names.
func (s *Store) TokenIDFromKey(kv *mvccpb.KeyValue) string {
	return strings.TrimPrefix(string(kv.Key), s.tokensPrefix())
}

// tokenAudit appends the audit entry of a token change to ops. Tokens are
// recorded as the dns.v1.Token, which carries no secret and no hash.
func (s *Store) tokenAudit(ctx context.Context, ops []clientv3.Op, acct, id string, before, after *dnsv1.Token) ([]clientv3.Op, error) {
	op := "CreateToken"
	if after == nil {
		op = "RevokeToken"
	}
	ch, err := auditChange(AuditToken, id, before, after)
	if err != nil {
		return nil, err
	}
	aops, err := s.auditPut(ctx, auditInput{AccountID: acct, Op: op, Changes: []*dnsv1.AuditChange{ch}})
	if err != nil {
		return nil, err
	}
	return append(ops, aops...), nil
}
