package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Tenants group accounts (the operator's doing); a tenant's custom
// nameservers are one value like an account's. Neither key wakes the
// builder: what the edges serve of them is in the zones that use them.
// Tenant changes are the operator's and belong to no account, so they are
// not in any account's audit log.
func (s *Store) accountTenantKey(acct string) string {
	return s.prefix + "/data/accounts/" + acct + "/tenant"
}
func (s *Store) tenantNSKey(tenant string) string {
	return s.prefix + "/data/tenants/" + tenant + "/customns"
}

// AccountTenant returns the tenant of an account ("" when none).
func (s *Store) AccountTenant(ctx context.Context, accountID string) (string, error) {
	if !validID(accountID) {
		return "", nil
	}
	resp, err := s.getAt(ctx, s.accountTenantKey(accountID), 0)
	if err != nil || len(resp.Kvs) == 0 {
		return "", err
	}
	return string(resp.Kvs[0].Value), nil
}

// SetAccountTenant puts the account into tenant ("" takes it out).
func (s *Store) SetAccountTenant(ctx context.Context, accountID, tenant string) error {
	if !validID(accountID) || (tenant != "" && !validID(tenant)) {
		return fmt.Errorf("account %q, tenant %q: invalid id", accountID, tenant)
	}
	op := clientv3.OpPut(s.accountTenantKey(accountID), tenant)
	if tenant == "" {
		op = clientv3.OpDelete(s.accountTenantKey(accountID))
	}
	if _, err := s.commitWrite(ctx, nil, []clientv3.Op{op}); err != nil {
		return fmt.Errorf("set tenant of account %s: etcd txn: %w", accountID, err)
	}
	return nil
}

// TenantNameservers returns a tenant's custom nameservers (empty when none).
func (s *Store) TenantNameservers(ctx context.Context, tenant string) (*dnsv1.AccountCustomNameservers, error) {
	if !validID(tenant) {
		return &dnsv1.AccountCustomNameservers{}, nil
	}
	return s.nameserverList(ctx, s.tenantNSKey(tenant), "custom nameservers of tenant "+tenant)
}

// UpdateTenantNameservers applies fn to the tenant's custom nameservers
// and stores the result if they did not change meanwhile (else fn runs
// again). An error from fn is returned as is.
func (s *Store) UpdateTenantNameservers(ctx context.Context, tenant string, fn func(cur *dnsv1.AccountCustomNameservers) (*dnsv1.AccountCustomNameservers, error)) (*dnsv1.AccountCustomNameservers, error) {
	if !validID(tenant) {
		return nil, fmt.Errorf("tenant %q: invalid id", tenant)
	}
	key := s.tenantNSKey(tenant)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		resp, err := s.getAt(ctx, key, 0)
		if err != nil {
			return nil, err
		}
		cur := &dnsv1.AccountCustomNameservers{}
		var modRev int64
		if len(resp.Kvs) > 0 {
			modRev = resp.Kvs[0].ModRevision
			if cur, err = unmarshal(resp.Kvs[0].Value, &dnsv1.AccountCustomNameservers{}, "custom nameservers of tenant "+tenant); err != nil {
				return nil, err
			}
		}
		next, err := fn(cur)
		if err != nil {
			return nil, err
		}
		v, err := marshal(next, "custom nameservers of tenant "+tenant)
		if err != nil {
			return nil, err
		}
		tr, err := s.commitWrite(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", modRev)}, []clientv3.Op{clientv3.OpPut(key, v)})
		if err != nil {
			return nil, fmt.Errorf("custom nameservers of tenant %s: etcd txn: %w", tenant, err)
		}
		if tr.Succeeded {
			return next, nil
		}
	}
	return nil, fmt.Errorf("custom nameservers of tenant %s: %w", tenant, ErrConflict)
}
