// Package tenants implements dns.v1.TenantService: tenants (groups of
// accounts the platform's operator sets up for a partner) and their custom
// nameservers (the documents' TCNS), sets of names that zones of every
// account in the tenant may use, under the same conditions as account
// custom nameservers.
package tenants

import (
	"context"
	"regexp"
	"slices"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/customns"
	"github.com/zonegrid/zonegrid/services/status"
)

// Service implements dns.v1.TenantService.
type Service struct {
	dnsv1.UnimplementedTenantServiceServer
	st    *store.Store
	addrs *nameservers.Addresses
	now   func() time.Time
	log   *zap.Logger
}

// New returns the service; addrs gives each name its addresses.
func New(st *store.Store, addrs *nameservers.Addresses, log *zap.Logger) *Service {
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{st: st, addrs: addrs, now: time.Now, log: log}
}

var idRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func id(field, v string, optional bool) error {
	if (v == "" && optional) || idRe.MatchString(v) {
		return nil
	}
	return status.InvalidArgument(field, "must be 1-64 characters of letters, digits, '-' and '_'")
}

func (s *Service) fail(op string, err error) error {
	return status.Failed(s.log, "tenant service", op, err)
}

// SetAccountTenant puts an account into a tenant, or takes it out.
func (s *Service) SetAccountTenant(ctx context.Context, req *dnsv1.SetAccountTenantRequest) (*dnsv1.SetAccountTenantResponse, error) {
	if err := id("account_id", req.GetAccountId(), false); err != nil {
		return nil, err
	}
	if err := id("tenant_id", req.GetTenantId(), true); err != nil {
		return nil, err
	}
	if err := s.st.SetAccountTenant(ctx, req.GetAccountId(), req.GetTenantId()); err != nil {
		return nil, s.fail("set_account_tenant", err)
	}
	s.log.Info("account tenant set", zap.String("account_id", req.GetAccountId()), zap.String("tenant_id", req.GetTenantId()))
	return &dnsv1.SetAccountTenantResponse{AccountId: req.GetAccountId(), TenantId: req.GetTenantId()}, nil
}

// GetAccountTenant tells an account its tenant and the nameservers the
// tenant offers.
func (s *Service) GetAccountTenant(ctx context.Context, req *dnsv1.GetAccountTenantRequest) (*dnsv1.GetAccountTenantResponse, error) {
	if err := id("account_id", req.GetAccountId(), false); err != nil {
		return nil, err
	}
	t, err := s.st.AccountTenant(ctx, req.GetAccountId())
	if err != nil {
		return nil, s.fail("get_account_tenant", err)
	}
	out := &dnsv1.GetAccountTenantResponse{TenantId: t}
	if t != "" {
		ns, err := s.st.TenantNameservers(ctx, t)
		if err != nil {
			return nil, s.fail("get_account_tenant", err)
		}
		out.Nameservers = ns.GetNameservers()
	}
	return out, nil
}

// CreateTenantNameserver adds a name to one of the tenant's sets.
func (s *Service) CreateTenantNameserver(ctx context.Context, req *dnsv1.CreateTenantNameserverRequest) (*dnsv1.CreateTenantNameserverResponse, error) {
	if err := id("tenant_id", req.GetTenantId(), false); err != nil {
		return nil, err
	}
	name, err := customns.Name("ns_name", req.GetNsName())
	if err != nil {
		return nil, err
	}
	set, err := customns.Set(req.GetNsSet())
	if err != nil {
		return nil, err
	}
	a := s.addrs.For(name)
	ns := &dnsv1.CustomNameserver{NsName: name, NsSet: set, Ipv4: a.GetIpv4(), Ipv6: a.GetIpv6(), CreatedOn: timestamppb.New(s.now())}
	if _, err := s.st.UpdateTenantNameservers(ctx, req.GetTenantId(), func(cur *dnsv1.AccountCustomNameservers) (*dnsv1.AccountCustomNameservers, error) {
		return customns.Add(cur, ns)
	}); err != nil {
		return nil, s.fail("create_tenant_nameserver", err)
	}
	s.log.Info("tenant custom nameserver created", zap.String("tenant_id", req.GetTenantId()), zap.String("ns_name", name), zap.Uint32("ns_set", set))
	return &dnsv1.CreateTenantNameserverResponse{Nameserver: ns}, nil
}

// ListTenantNameservers lists a tenant's names, set by set.
func (s *Service) ListTenantNameservers(ctx context.Context, req *dnsv1.ListTenantNameserversRequest) (*dnsv1.ListTenantNameserversResponse, error) {
	if err := id("tenant_id", req.GetTenantId(), false); err != nil {
		return nil, err
	}
	cur, err := s.st.TenantNameservers(ctx, req.GetTenantId())
	if err != nil {
		return nil, s.fail("list_tenant_nameservers", err)
	}
	out := slices.Clone(cur.GetNameservers())
	slices.SortStableFunc(out, func(a, b *dnsv1.CustomNameserver) int { return int(a.GetNsSet()) - int(b.GetNsSet()) })
	return &dnsv1.ListTenantNameserversResponse{Nameservers: out}, nil
}

// DeleteTenantNameserver removes a name; zones using its set keep their
// copy of the names.
func (s *Service) DeleteTenantNameserver(ctx context.Context, req *dnsv1.DeleteTenantNameserverRequest) (*dnsv1.DeleteTenantNameserverResponse, error) {
	if err := id("tenant_id", req.GetTenantId(), false); err != nil {
		return nil, err
	}
	name, err := customns.Name("ns_name", req.GetNsName())
	if err != nil {
		return nil, err
	}
	if _, err := s.st.UpdateTenantNameservers(ctx, req.GetTenantId(), func(cur *dnsv1.AccountCustomNameservers) (*dnsv1.AccountCustomNameservers, error) {
		return customns.Remove(cur, name)
	}); err != nil {
		return nil, s.fail("delete_tenant_nameserver", err)
	}
	s.log.Info("tenant custom nameserver deleted", zap.String("tenant_id", req.GetTenantId()), zap.String("ns_name", name))
	return &dnsv1.DeleteTenantNameserverResponse{NsName: name}, nil
}
