// Package zones implements dns.v1.ZoneService: creating zones (validated,
// with nameservers assigned), reading, listing, deleting, and activation.
// How a zone becomes active is pluggable; see README.md.
package zones

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/lifecycle"
	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/plans"
	"github.com/zonegrid/zonegrid/controlplane/quickscan"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

// Page sizes of ListZones.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Activation modes.
const (
	// ModeImmediate activates a zone at creation unless another account's
	// zone of the same name is already active.
	ModeImmediate = "immediate"
	// ModeDelegation activates a zone when the public DNS delegates its
	// name to exactly the assigned nameservers.
	ModeDelegation = "delegation"
)

// Options configure the service.
type Options struct {
	// Pool assigns nameservers; nil means nameservers.DefaultPool.
	Pool *nameservers.Pool
	// ActivationMode is ModeImmediate (default) or ModeDelegation.
	ActivationMode string
	// Resolver is the host:port asked for NS records in delegation mode.
	Resolver string
	// ResolverTimeout bounds one delegation query; default 3s.
	ResolverTimeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// ExtraSuffixes are public suffixes added to the Public Suffix List,
	// e.g. "test" or "internal" for private or testing TLDs; without them a
	// name under a TLD the list does not know is refused.
	ExtraSuffixes []string
	// SOARname is the platform's SOA contact; its domain is reserved like
	// the nameservers' domains. "" means DefaultSOARname, the builder's
	// default.
	SOARname string
	// PartialSuffix is the suffix partial setups point hostnames at; its
	// registrable domain is reserved. "" means DefaultPartialSuffix.
	PartialSuffix string
	// Lifecycle runs on-demand checks in delegation mode and gives the
	// timers the API reports; nil means a worker with the default policy
	// (built from Resolver).
	Lifecycle *lifecycle.Worker
	// Policy is the lifecycle policy reported in responses and used for
	// the on-demand check's rate limit; zero fields are the defaults.
	Policy lifecycle.Policy
	// AdvancedDomains are the three domains of advanced nameservers; nil
	// means nameservers.DefaultAdvancedDomains.
	AdvancedDomains []string
	// NameserverIPv4 and NameserverIPv6 are the addresses custom
	// nameserver names answer on (the edges' anycast addresses); nil means
	// nameservers.DefaultAddresses.
	NameserverIPv4, NameserverIPv6 []string
	// Scanner runs the records quick scan (nil: ScanRecords is refused);
	// Records imports what it finds.
	Scanner *quickscan.Scanner
	Records RecordBatcher
}

// Service implements dns.v1.ZoneService.
type Service struct {
	dnsv1.UnimplementedZoneServiceServer
	st   *store.Store
	pool *nameservers.Pool
	act  activator
	now  func() time.Time
	log  *zap.Logger
	// names decides which names may become zones (ownership.go).
	names *nameRules
	// life checks zones on demand; policy annotates responses.
	life      *lifecycle.Worker
	policy    lifecycle.Policy
	scheduled bool
	// adv assigns advanced nameservers; presets looks up a name's current
	// delegation (delegation mode only) so that a preset pair is avoided.
	adv     *nameservers.Advanced
	presets *lifecycle.DNSChecker
	scanner *quickscan.Scanner
	records RecordBatcher
	nsAddrs *nameservers.Addresses
}

// New returns the zone service.
func New(st *store.Store, opts Options, log *zap.Logger) (*Service, error) {
	if log == nil {
		log = zap.NewNop()
	}
	pool := opts.Pool
	if pool == nil {
		var err error
		if pool, err = nameservers.NewPool(nameservers.DefaultPool()); err != nil {
			return nil, err
		}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var act activator
	life := opts.Lifecycle
	switch opts.ActivationMode {
	case "", ModeImmediate:
		act = immediate{}
		life = nil // no external proof: ActivationCheck decides alone
	case ModeDelegation:
		if opts.Resolver == "" && life == nil {
			return nil, errors.New("zones: delegation activation needs a resolver address")
		}
		if life == nil {
			life = lifecycle.New(st, lifecycle.Config{Policy: opts.Policy, Checker: &lifecycle.DNSChecker{Resolver: opts.Resolver, Timeout: opts.ResolverTimeout}}, log)
		}
		act = delegation{}
	default:
		return nil, fmt.Errorf("zones: unknown activation mode %q", opts.ActivationMode)
	}
	partial := opts.PartialSuffix
	if partial == "" {
		partial = DefaultPartialSuffix
	}
	rname := opts.SOARname
	if rname == "" {
		rname = DefaultSOARname
	}
	advDomains := opts.AdvancedDomains
	if advDomains == nil {
		advDomains = nameservers.DefaultAdvancedDomains()
	}
	adv, err := nameservers.NewAdvanced(advDomains)
	if err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	v4, v6 := nameservers.DefaultAddresses()
	if opts.NameserverIPv4 != nil {
		v4 = opts.NameserverIPv4
	}
	if opts.NameserverIPv6 != nil {
		v6 = opts.NameserverIPv6
	}
	nsAddrs, err := nameservers.NewAddresses(v4, v6)
	if err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	reserved := append(pool.Names(), adv.Assign(nameservers.Request{})...)
	names, err := newNameRules(opts.ExtraSuffixes, reserved, rname, partial)
	if err != nil {
		return nil, err
	}
	svc := &Service{st: st, pool: pool, act: act, now: now, log: log, names: names, adv: adv,
		scanner: opts.Scanner, records: opts.Records, nsAddrs: nsAddrs,
		life: life, policy: opts.Policy.WithDefaults(), scheduled: opts.ActivationMode == ModeDelegation}
	if opts.ActivationMode == ModeDelegation && opts.Resolver != "" {
		svc.presets = &lifecycle.DNSChecker{Resolver: opts.Resolver, Timeout: 2 * time.Second}
	}
	return svc, nil
}

var accountIDRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// validZoneID accepts what newZoneID makes, so that malformed ids fail
// fast as InvalidArgument rather than as a lookup.
func validZoneID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	return accountIDRe.MatchString(id)
}

func newZoneID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate zone id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// zoneName validates and normalizes a zone name given in field.
func zoneName(field, name string) (string, error) {
	if name == "" {
		return "", status.InvalidArgument(field, "is required")
	}
	n, err := dnsname.Normalize(name)
	if err != nil {
		return "", status.InvalidArgument(field, err.Error())
	}
	if strings.Contains(n, "*") {
		return "", status.InvalidArgument(field, "must not contain \"*\"")
	}
	if dnsname.CountLabels(n) < 2 {
		return "", status.InvalidArgument(field, "must have at least two labels (a registrable domain or below)")
	}
	return n, nil
}

// fail maps an error to the client's status (status.Failed).
func (s *Service) fail(op string, err error) error {
	return status.Failed(s.log, "zone service", op, err)
}

// CreateZone adds a zone to an account.
func (s *Service) CreateZone(ctx context.Context, req *dnsv1.CreateZoneRequest) (*dnsv1.CreateZoneResponse, error) {
	var violations []status.FieldViolation
	if !accountIDRe.MatchString(req.GetAccountId()) {
		violations = append(violations, status.FieldViolation{Field: "account_id", Description: "must be 1-64 characters of letters, digits, '-' and '_'"})
	}
	name, err := zoneName("name", req.GetName())
	if err != nil {
		violations = append(violations, status.FieldViolation{Field: "name", Description: statusMessage(err)})
	}
	typ := req.GetType()
	if typ == dnsv1.ZoneType_ZONE_TYPE_UNSPECIFIED {
		typ = dnsv1.ZoneType_ZONE_TYPE_FULL
	}
	if _, ok := dnsv1.ZoneType_name[int32(typ)]; !ok {
		violations = append(violations, status.FieldViolation{Field: "type", Description: "unknown zone type"})
	}
	plan := req.GetPlan()
	switch {
	case req.GetDeferPlan() && plan != dnsv1.Plan_PLAN_UNSPECIFIED:
		violations = append(violations, status.FieldViolation{Field: "plan", Description: "must be empty with defer_plan (the plan is chosen later with UpdateZone)"})
	case plan == dnsv1.Plan_PLAN_UNSPECIFIED && !req.GetDeferPlan():
		plan = dnsv1.Plan_PLAN_FREE
	}
	if _, ok := dnsv1.Plan_name[int32(plan)]; !ok {
		violations = append(violations, status.FieldViolation{Field: "plan", Description: "unknown plan"})
	}
	if len(violations) > 0 {
		return nil, status.InvalidArguments(violations...)
	}
	// The setup must be on the plan ("Partial setup": Business and above;
	// secondary: Enterprise; controlplane/plans).
	if !req.GetDeferPlan() && !plans.For(plan).AllowsSetup(typ) {
		return nil, plans.NewFeature("setup", "type", plan, "a %s setup is not available on the %s plan",
			strings.ToLower(strings.TrimPrefix(typ.String(), "ZONE_TYPE_")), strings.ToLower(strings.TrimPrefix(plan.String(), "PLAN_")))
	}
	// Who may hold the name: registrable domains only, subdomain setups on
	// Enterprise, never the platform's own names (ownership.go).
	if v := s.names.check(name, max(plan, dnsv1.Plan_PLAN_FREE)); v != nil {
		s.log.Info("zone refused", zap.String("zone", name), zap.String("account_id", req.GetAccountId()),
			zap.String("reason", v.Reason), zap.Int("code", v.Code))
		return nil, status.InvalidArgumentCoded(*v)
	}
	id, err := newZoneID()
	if err != nil {
		return nil, s.fail("create", err)
	}
	now := timestamppb.New(s.now())
	return idempotency.Do(ctx, s.st, dnsv1.ZoneService_CreateZone_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.CreateZoneResponse, error) {
		defaults, err := s.st.ZoneDefaultsFor(ctx, req.GetAccountId())
		if err != nil {
			return nil, s.fail("create", err)
		}
		acns, err := s.st.CustomNameservers(ctx, req.GetAccountId())
		if err != nil {
			return nil, s.fail("create", err)
		}
		tcns, err := s.tenantNameservers(ctx, req.GetAccountId())
		if err != nil {
			return nil, s.fail("create", err)
		}
		return s.createZone(ctx, req, id, name, typ, plan, now, defaults, acns.GetNameservers(), tcns, s.presetPairs(ctx, name))
	})
}

// presetPairs are the pool pairs the public DNS already delegates name to
// (delegation mode): a new zone never gets one of them, so that nobody can
// preset the platform's nameservers at a registrar and wait for a victim
// to add the name ("To prevent domain hijacking ... your domain will be
// assigned a new pair of nameservers"). A failed lookup avoids nothing.
func (s *Service) presetPairs(ctx context.Context, name string) [][]string {
	if s.presets == nil {
		return nil
	}
	ns, err := s.presets.NS(ctx, name)
	if err != nil {
		s.log.Debug("preset delegation lookup failed", zap.String("zone", name), zap.Error(err))
		return nil
	}
	return s.pool.PairsWithin(ns)
}

// assign picks the nameservers of a new zone by the account's method
// (its DNS zone defaults).
func (s *Service) assign(defaults *dnsv1.AccountZoneDefaults, acns, tcns []*dnsv1.CustomNameserver, plan dnsv1.Plan, r nameservers.Request) ([]string, error) {
	switch defaults.GetNameserverMethod() {
	case dnsv1.NameserverMethod_NAMESERVER_METHOD_UNSPECIFIED, dnsv1.NameserverMethod_NAMESERVER_METHOD_STANDARD:
		return s.pool.Assign(r), nil
	case dnsv1.NameserverMethod_NAMESERVER_METHOD_STANDARD_RANDOMIZED:
		return s.pool.AssignRandom(r), nil
	case dnsv1.NameserverMethod_NAMESERVER_METHOD_ADVANCED:
		if plan != dnsv1.Plan_PLAN_ENTERPRISE {
			return s.pool.Assign(r), nil // advanced nameservers are an Enterprise feature
		}
		return s.adv.Assign(r), nil
	case dnsv1.NameserverMethod_NAMESERVER_METHOD_ACCOUNT_CUSTOM:
		if ns, ok := nameservers.AssignCustom(acns, defaults.GetNameserverSet(), r); ok {
			return ns, nil
		}
		return nil, status.FailedPrecondition("NAMESERVER_METHOD", "nameserver_set",
			"the account's zone defaults ask for account custom nameservers, but no set of two names or more is free for this zone (a parent or child zone uses it): add names with CreateCustomNameserver")
	case dnsv1.NameserverMethod_NAMESERVER_METHOD_TENANT_CUSTOM:
		if ns, ok := nameservers.AssignCustom(tcns, defaults.GetNameserverSet(), r); ok {
			return ns, nil
		}
		return nil, status.FailedPrecondition("NAMESERVER_METHOD", "nameserver_set",
			"the account's zone defaults ask for tenant custom nameservers, but the account is in no tenant or no set of two names or more is free for this zone")
	}
	return nil, status.InvalidArgument("nameserver_method", "unknown nameserver method")
}

// tenantNameservers returns the custom nameservers of the account's tenant
// (none when it is in no tenant).
func (s *Service) tenantNameservers(ctx context.Context, accountID string) ([]*dnsv1.CustomNameserver, error) {
	t, err := s.st.AccountTenant(ctx, accountID)
	if err != nil || t == "" {
		return nil, err
	}
	ns, err := s.st.TenantNameservers(ctx, t)
	if err != nil {
		return nil, err
	}
	return ns.GetNameservers(), nil
}

// createZone is the write of CreateZone.
func (s *Service) createZone(ctx context.Context, req *dnsv1.CreateZoneRequest, id, name string, typ dnsv1.ZoneType, plan dnsv1.Plan, now *timestamppb.Timestamp, defaults *dnsv1.AccountZoneDefaults, acns, tcns []*dnsv1.CustomNameserver, preset [][]string) (*dnsv1.CreateZoneResponse, error) {
	settings := store.InitialZoneSettings(defaults, typ, plan)
	z, err := s.st.CreateZoneWith(ctx, req.GetAccountId(), name, settings, func(c store.ZoneCreation) (*dnsv1.Zone, error) {
		r := nameservers.Request{AccountID: req.GetAccountId(), Preferred: c.PreferredNameservers, Taken: preset}
		for _, o := range append(append([]*dnsv1.Zone{}, c.SameName...), c.Related...) {
			r.Taken = append(r.Taken, o.GetNameServers())
		}
		if err := heldByOthers(name, req.GetAccountId(), now.AsTime(), c.SameName, c.Related); err != nil {
			return nil, err
		}
		var z *dnsv1.Zone
		if c.Restoring != nil {
			// Adding a deleted zone's name again restores it: same id,
			// nameservers, records and settings ("re-add the domain").
			z = c.Restoring
			z.ModifiedOn = now
			if req.GetPlan() != dnsv1.Plan_PLAN_UNSPECIFIED {
				z.Plan = plan
			}
			if z.GetType() == dnsv1.ZoneType_ZONE_TYPE_PARTIAL && z.GetVerification() == nil {
				v, err := lifecycle.NewVerification(name)
				if err != nil {
					return nil, err
				}
				z.Verification = v
			}
		} else {
			ns, err := s.assign(defaults, acns, tcns, plan, r)
			if err != nil {
				return nil, err
			}
			z = &dnsv1.Zone{
				Id: id, AccountId: req.GetAccountId(), Name: name, Type: typ, Plan: plan,
				NameServers: ns,
				CreatedOn:   now, ModifiedOn: now,
			}
			if typ == dnsv1.ZoneType_ZONE_TYPE_PARTIAL {
				v, err := lifecycle.NewVerification(name)
				if err != nil {
					return nil, err
				}
				z.Verification = v
			}
		}
		if err := partialBelowFull(z.GetType(), name, c.Related); err != nil {
			return nil, err
		}
		// The account's custom nameserver names inside the zone are
		// answered by it, unless a deeper zone of the account holds them.
		var own []*dnsv1.Zone
		for _, o := range c.Related {
			if o.GetAccountId() == z.GetAccountId() {
				own = append(own, o)
			}
		}
		z.HostedNameservers = nameservers.Hosted(z, own, acns)
		z.StatusChangedOn = now
		z.ActivatedOn = nil
		switch {
		case z.GetPlan() == dnsv1.Plan_PLAN_UNSPECIFIED:
			z.Status = dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING
		case s.act.activateOnCreate(c.SameName):
			z.Status = dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE
			z.ActivatedOn = now
		default:
			z.Status = dnsv1.ZoneStatus_ZONE_STATUS_PENDING
		}
		// The response carries the derived fields; the stored zone does not.
		resp := &dnsv1.CreateZoneResponse{Zone: s.annotated(proto.Clone(z).(*dnsv1.Zone), nil)}
		return z, idempotency.Respond(ctx, resp)
	})
	if err != nil {
		return nil, s.fail("create", err)
	}
	s.log.Info("zone created", zap.String("zone_id", z.GetId()), zap.String("zone", z.GetName()),
		zap.String("account_id", z.GetAccountId()), zap.Stringer("status", z.GetStatus()), zap.Strings("name_servers", z.GetNameServers()))
	return &dnsv1.CreateZoneResponse{Zone: s.annotated(z, nil)}, nil
}

func statusMessage(err error) string {
	st := grpcstatus.Convert(err)
	msg := st.Message()
	if i := strings.Index(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func (s *Service) zoneID(id string) error {
	if id == "" {
		return status.InvalidArgument("zone_id", "is required")
	}
	if !validZoneID(id) {
		return status.InvalidArgument("zone_id", "is not a valid id")
	}
	return nil
}

// GetZone returns a zone.
func (s *Service) GetZone(ctx context.Context, req *dnsv1.GetZoneRequest) (*dnsv1.GetZoneResponse, error) {
	if err := s.zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	z, err := s.st.GetZone(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.fail("get", err)
	}
	checks, err := s.st.ZoneChecks(ctx, z.GetId())
	if err != nil {
		return nil, s.fail("get", err)
	}
	return &dnsv1.GetZoneResponse{Zone: s.annotated(z, checks)}, nil
}

// ListZones lists zones by account and/or name.
func (s *Service) ListZones(ctx context.Context, req *dnsv1.ListZonesRequest) (*dnsv1.ListZonesResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, status.InvalidArgument("page_size", "must not be negative")
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	f := store.ZoneFilter{AccountID: req.GetAccountId()}
	if f.AccountID != "" && !accountIDRe.MatchString(f.AccountID) {
		return nil, status.InvalidArgument("account_id", "must be 1-64 characters of letters, digits, '-' and '_'")
	}
	if req.GetName() != "" {
		n, err := dnsname.Normalize(req.GetName())
		if err != nil {
			return nil, status.InvalidArgument("name", err.Error())
		}
		f.Name = n
	}
	// A caller sees its own account only (authz refused any other), and a
	// zone-scoped token only its zones.
	if c := caller.From(ctx); c != nil && !c.Operator {
		f.AccountID = c.AccountID
		if len(c.ZoneIDs) > 0 {
			return s.listOwnZones(ctx, c.ZoneIDs, f.Name)
		}
	}
	zs, next, err := s.st.ListZones(ctx, f, size, req.GetPageToken())
	if errors.Is(err, store.ErrBadPageToken) {
		return nil, status.InvalidArgument("page_token", "is not a token of this listing")
	}
	if err != nil {
		return nil, s.fail("list", err)
	}
	for _, z := range zs {
		s.annotated(z, nil)
	}
	return &dnsv1.ListZonesResponse{Zones: zs, NextPageToken: next}, nil
}

// deletable are the statuses DeleteZone moves to DELETED.
var deletable = []dnsv1.ZoneStatus{
	dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING, dnsv1.ZoneStatus_ZONE_STATUS_PENDING,
	dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, dnsv1.ZoneStatus_ZONE_STATUS_MOVED,
}

// DeleteZone deletes a zone softly: status DELETED, records and settings
// kept until the purge timer (docs/ZONE_LIFECYCLE.md).
func (s *Service) DeleteZone(ctx context.Context, req *dnsv1.DeleteZoneRequest) (*dnsv1.DeleteZoneResponse, error) {
	if err := s.zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneService_DeleteZone_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.DeleteZoneResponse, error) {
		resp := &dnsv1.DeleteZoneResponse{ZoneId: req.GetZoneId()}
		// Known before the write: no callback needed.
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, s.fail("delete", err)
		}
		z, changed, err := s.st.SetZoneStatus(ctx, "DeleteZone", req.GetZoneId(), deletable, dnsv1.ZoneStatus_ZONE_STATUS_DELETED, s.now())
		if err != nil {
			return nil, s.fail("delete", err)
		}
		if !changed {
			return nil, grpcstatus.Errorf(codes.NotFound, "zone %s: already deleted", req.GetZoneId())
		}
		s.log.Info("zone deleted", zap.String("zone_id", z.GetId()), zap.String("zone", z.GetName()), zap.String("account_id", z.GetAccountId()))
		return resp, nil
	})
}

// listOwnZones lists the zones a zone-scoped token names (at most
// tokens.MaxZones, so one page), optionally only those named name.
func (s *Service) listOwnZones(ctx context.Context, ids []string, name string) (*dnsv1.ListZonesResponse, error) {
	out := &dnsv1.ListZonesResponse{}
	for _, id := range ids {
		z, err := s.st.GetZone(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the token was made
		}
		if err != nil {
			return nil, s.fail("list", err)
		}
		if name == "" || z.GetName() == name {
			out.Zones = append(out.Zones, s.annotated(z, nil))
		}
	}
	return out, nil
}

// partialBelowFull refuses a partial (CNAME) setup below an active full or
// secondary zone: the documents' "Subdomain delegation and available
// setups" table lists a Partial child of a Full or Secondary parent as not
// available (a partial zone is not delegated, so it would answer for names
// the parent's nameservers own).
func partialBelowFull(typ dnsv1.ZoneType, name string, related []*dnsv1.Zone) error {
	if typ != dnsv1.ZoneType_ZONE_TYPE_PARTIAL {
		return nil
	}
	for _, p := range related {
		if p.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE || p.GetName() == name || !dnsname.IsSubdomain(name, p.GetName()) {
			continue
		}
		if t := p.GetType(); t == dnsv1.ZoneType_ZONE_TYPE_FULL || t == dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
			return status.InvalidArgument("type", fmt.Sprintf("a partial setup is not available below %s, a %s setup zone; use a full or secondary setup for the child zone",
				strings.TrimSuffix(p.GetName(), "."), strings.ToLower(strings.TrimPrefix(t.String(), "ZONE_TYPE_"))))
		}
	}
	return nil
}
