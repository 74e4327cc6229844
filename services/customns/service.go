// Package customns implements dns.v1.CustomNameserverService: account
// custom nameservers (the documents' ACNS), names of the account's choosing
// in up to five sets that its new zones get instead of the platform's pool
// when the account's zone defaults ask for them. Each name gets an IPv4
// and an IPv6 address; a zone of the account that contains the name
// answers them as read-only A/AAAA records.
package customns

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/plans"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

// Limits of the documents' "Configuration conditions".
const (
	MaxSets       = 5
	MaxNamesInSet = 5
)

// Service implements dns.v1.CustomNameserverService.
type Service struct {
	dnsv1.UnimplementedCustomNameserverServiceServer
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

var accountIDRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func account(id string) error {
	if !accountIDRe.MatchString(id) {
		return status.InvalidArgument("account_id", "must be 1-64 characters of letters, digits, '-' and '_'")
	}
	return nil
}

// Name validates and normalizes a custom nameserver name given in field.
func Name(field, n string) (string, error) {
	if n == "" {
		return "", status.InvalidArgument(field, "is required")
	}
	nn, err := dnsname.Normalize(n)
	if err != nil {
		return "", status.InvalidArgument(field, err.Error())
	}
	if strings.Contains(nn, "*") || dnsname.CountLabels(nn) < 2 {
		return "", status.InvalidArgument(field, "must be a host name such as ns1.example.com")
	}
	return nn, nil
}

// Set validates a set number (0 means 1).
func Set(n uint32) (uint32, error) {
	if n == 0 {
		n = 1
	}
	if n > MaxSets {
		return 0, status.InvalidArgument("ns_set", fmt.Sprintf("must be 1 to %d", MaxSets))
	}
	return n, nil
}

// Add returns cur with ns added, or the error the API answers: a name
// belongs to one set, a set holds MaxNamesInSet names at most (the
// documents' "Configuration conditions", the same for tenants).
func Add(cur *dnsv1.AccountCustomNameservers, ns *dnsv1.CustomNameserver) (*dnsv1.AccountCustomNameservers, error) {
	for _, o := range cur.GetNameservers() {
		if o.GetNsName() == ns.GetNsName() {
			return nil, grpcstatus.Errorf(codes.AlreadyExists, "ns_name: %s is already in set %d (a name belongs to one set)", ns.GetNsName(), o.GetNsSet())
		}
	}
	if len(nameservers.CustomSet(cur.GetNameservers(), ns.GetNsSet())) >= MaxNamesInSet {
		return nil, status.InvalidArgument("ns_set", fmt.Sprintf("set %d already has %d names, the most a set may hold", ns.GetNsSet(), MaxNamesInSet))
	}
	return &dnsv1.AccountCustomNameservers{Nameservers: append(slices.Clone(cur.GetNameservers()), ns)}, nil
}

// Remove returns cur without the name, or NotFound.
func Remove(cur *dnsv1.AccountCustomNameservers, name string) (*dnsv1.AccountCustomNameservers, error) {
	next := slices.DeleteFunc(slices.Clone(cur.GetNameservers()), func(o *dnsv1.CustomNameserver) bool { return o.GetNsName() == name })
	if len(next) == len(cur.GetNameservers()) {
		return nil, grpcstatus.Errorf(codes.NotFound, "ns_name: %s is not one of the custom nameservers", name)
	}
	return &dnsv1.AccountCustomNameservers{Nameservers: next}, nil
}

// available tells whether the account may use custom nameservers: it holds
// a zone on a plan that offers them ("available for customers on Business
// ... or Enterprise plans"; plans are per zone here), or the operator
// asks.
func available(ctx context.Context, zones []*dnsv1.Zone) bool {
	if c := caller.From(ctx); c == nil || c.Operator {
		return true
	}
	return slices.ContainsFunc(zones, func(z *dnsv1.Zone) bool { return plans.For(z.GetPlan()).AccountCustomNameservers })
}

// rehost recomputes the hosted_nameservers of the account's zones for the
// list acns and returns the zones whose value changed.
func rehost(zones []*dnsv1.Zone, acns []*dnsv1.CustomNameserver) []*dnsv1.Zone {
	var changed []*dnsv1.Zone
	for _, z := range zones {
		h := nameservers.Hosted(z, zones, acns)
		if slices.EqualFunc(h, z.GetHostedNameservers(), func(a, b *dnsv1.NameserverAddresses) bool {
			return a.GetName() == b.GetName() && a.GetIpv4() == b.GetIpv4() && a.GetIpv6() == b.GetIpv6()
		}) {
			continue
		}
		c := z
		c.HostedNameservers = h
		changed = append(changed, c)
	}
	return changed
}

// CreateCustomNameserver adds a name to a set (1 when not given).
func (s *Service) CreateCustomNameserver(ctx context.Context, req *dnsv1.CreateCustomNameserverRequest) (*dnsv1.CreateCustomNameserverResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	name, err := Name("ns_name", req.GetNsName())
	if err != nil {
		return nil, err
	}
	set, err := Set(req.GetNsSet())
	if err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.CustomNameserverService_CreateCustomNameserver_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.CreateCustomNameserverResponse, error) {
		a := s.addrs.For(name)
		ns := &dnsv1.CustomNameserver{NsName: name, NsSet: set, Ipv4: a.GetIpv4(), Ipv6: a.GetIpv6(), CreatedOn: timestamppb.New(s.now())}
		resp := &dnsv1.CreateCustomNameserverResponse{Nameserver: ns}
		_, err := s.st.UpdateCustomNameservers(ctx, "CreateCustomNameserver", req.GetAccountId(), func(cur *dnsv1.AccountCustomNameservers, zones []*dnsv1.Zone) (*dnsv1.AccountCustomNameservers, []*dnsv1.Zone, error) {
			if !available(ctx, zones) {
				return nil, nil, plans.NewFeature("account_custom_nameservers", "account_id", dnsv1.Plan_PLAN_FREE, "account custom nameservers need a zone on the Business or Enterprise plan in the account")
			}
			next, err := Add(cur, ns)
			if err != nil {
				return nil, nil, err
			}
			return next, rehost(zones, next.GetNameservers()), idempotency.Respond(ctx, resp)
		})
		if err != nil {
			return nil, s.fail("create", err)
		}
		s.log.Info("custom nameserver created", zap.String("account_id", req.GetAccountId()), zap.String("ns_name", name), zap.Uint32("ns_set", set))
		return resp, nil
	})
}

// ListCustomNameservers lists the account's names, set by set.
func (s *Service) ListCustomNameservers(ctx context.Context, req *dnsv1.ListCustomNameserversRequest) (*dnsv1.ListCustomNameserversResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	cur, err := s.st.CustomNameservers(ctx, req.GetAccountId())
	if err != nil {
		return nil, s.fail("list", err)
	}
	out := slices.Clone(cur.GetNameservers())
	slices.SortStableFunc(out, func(a, b *dnsv1.CustomNameserver) int { return int(a.GetNsSet()) - int(b.GetNsSet()) })
	return &dnsv1.ListCustomNameserversResponse{Nameservers: out}, nil
}

// DeleteCustomNameserver removes a name; zones that use its set keep
// their nameservers (the documents: first move them off, then delete).
func (s *Service) DeleteCustomNameserver(ctx context.Context, req *dnsv1.DeleteCustomNameserverRequest) (*dnsv1.DeleteCustomNameserverResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	name, err := Name("ns_name", req.GetNsName())
	if err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.CustomNameserverService_DeleteCustomNameserver_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.DeleteCustomNameserverResponse, error) {
		resp := &dnsv1.DeleteCustomNameserverResponse{NsName: name}
		_, err := s.st.UpdateCustomNameservers(ctx, "DeleteCustomNameserver", req.GetAccountId(), func(cur *dnsv1.AccountCustomNameservers, zones []*dnsv1.Zone) (*dnsv1.AccountCustomNameservers, []*dnsv1.Zone, error) {
			l, err := Remove(cur, name)
			if err != nil {
				return nil, nil, err
			}
			return l, rehost(zones, l.GetNameservers()), idempotency.Respond(ctx, resp)
		})
		if err != nil {
			return nil, s.fail("delete", err)
		}
		s.log.Info("custom nameserver deleted", zap.String("account_id", req.GetAccountId()), zap.String("ns_name", name))
		return resp, nil
	})
}

// fail maps an error to the client's status (status.Failed).
func (s *Service) fail(op string, err error) error {
	return status.Failed(s.log, "custom nameserver service", op, err)
}
