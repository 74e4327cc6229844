package server

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// The authorization matrix: every RPC the control plane serves, called by
// every kind of caller, with the code each must get, and no change left
// behind by a refused call. The expectations are written here from the
// issue's rules, independently of controlplane/authz's table, and an RPC
// the server registers without a row here fails the test: a new RPC
// cannot land unauthorized.

// principal is one kind of caller.
type principal string

const (
	pNone         principal = "no token"
	pWrongAccount principal = "other account's token"
	pZoneScoped   principal = "token scoped to another zone"
	pReadOnly     principal = "read-only token"
	pExpired      principal = "expired token"
	pRevoked      principal = "revoked token"
	pWrongSource  principal = "token used from outside its ranges"
	pRight        principal = "right token"
)

var principals = []principal{pNone, pWrongAccount, pZoneScoped, pReadOnly, pExpired, pRevoked, pWrongSource, pRight}

// scope is what an RPC acts on, as the matrix sees it.
type scope int

const (
	onZone        scope = iota // a zone of the account (by zone_id)
	onAccount                  // the whole account (by account_id)
	listInAccount              // a listing within the account
	onToken                    // a token of the account (by token_id)
	onSelf                     // the caller's own token
	public                     // no credential needed
	onPlatform                 // the operator only: every tenant token is refused
)

type matrixRow struct {
	scope scope
	read  bool // a Read permission suffices
	// prep, when set, makes (as the operator) the object the call acts on
	// and returns its id as arg: destructive calls get a fresh one.
	prep func(ctx context.Context, fx *matrixFixture) string
	call func(ctx context.Context, fx *matrixFixture, conn *grpc.ClientConn, arg string) error
}

// expect is the code principal p must get from an RPC of row r.
func expect(r matrixRow, p principal) codes.Code {
	if r.scope == public {
		return codes.OK
	}
	switch p {
	case pNone, pExpired, pRevoked:
		return codes.Unauthenticated
	case pWrongSource:
		return codes.PermissionDenied
	}
	if r.scope == onPlatform {
		return codes.PermissionDenied // TestPlatformMethodsServeTheOperator covers the operator
	}
	switch p {
	case pRight:
		return codes.OK
	case pReadOnly:
		if r.read || r.scope == onSelf {
			return codes.OK
		}
		return codes.PermissionDenied
	case pWrongAccount, pZoneScoped:
		switch r.scope {
		case onZone, onToken:
			return codes.NotFound // never PermissionDenied: ids don't leak existence
		case onAccount:
			return codes.PermissionDenied
		case listInAccount:
			if p == pZoneScoped {
				return codes.OK // lists its own zones only (TestListingsShowOnlyWhatTheCallerSees)
			}
			return codes.PermissionDenied
		case onSelf:
			return codes.OK
		}
	}
	panic("unreachable")
}

// matrixFixture holds the objects the calls act on: account acme with
// zones z1 and z2 (record r1 in z1) and a spare token, account other with
// zone zo; zs, acme's secondary zone (incoming zone transfers need one),
// is made by the first row that needs it (secondaryZone), so the other
// tests' listings do not see it.
type matrixFixture struct {
	t          *testing.T
	op         *grpc.ClientConn
	z1, z2, zo string
	zs         string
	r1         string
	spareToken string
	tokens     map[principal]string
	n          atomic.Int64
}

func (fx *matrixFixture) fresh(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, fx.n.Add(1))
}

func (fx *matrixFixture) createZone(ctx context.Context, account, name string) string {
	fx.t.Helper()
	r, err := dnsv1.NewZoneServiceClient(fx.op).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: account, Name: name})
	if err != nil {
		fx.t.Fatalf("create zone %s: %v", name, err)
	}
	return r.GetZone().GetId()
}

// enterpriseZone creates a fresh Enterprise zone of acme (zone holds need
// the plan).
func (fx *matrixFixture) enterpriseZone(ctx context.Context) string {
	fx.t.Helper()
	r, err := dnsv1.NewZoneServiceClient(fx.op).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: fx.fresh("held") + ".com", Plan: dnsv1.Plan_PLAN_ENTERPRISE})
	if err != nil {
		fx.t.Fatalf("create enterprise zone: %v", err)
	}
	return r.GetZone().GetId()
}

// secondaryZone returns acme's secondary zone, created on first use.
func (fx *matrixFixture) secondaryZone(ctx context.Context) string {
	fx.t.Helper()
	if fx.zs == "" {
		r, err := dnsv1.NewZoneServiceClient(fx.op).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "acme-secondary.com",
			Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY, Plan: dnsv1.Plan_PLAN_ENTERPRISE})
		if err != nil {
			fx.t.Fatalf("create secondary zone: %v", err)
		}
		fx.zs = r.GetZone().GetId()
	}
	return fx.zs
}

// xfrTsig, xfrPeer and xfrACL create a zone transfer object of acme as
// the operator and return its id.
func (fx *matrixFixture) xfrTsig(ctx context.Context) string {
	fx.t.Helper()
	r, err := dnsv1.NewZoneTransferServiceClient(fx.op).CreateTsig(ctx, &dnsv1.CreateTsigRequest{AccountId: "acme", Name: fx.fresh("k") + ".acme.com"})
	if err != nil {
		fx.t.Fatalf("create tsig: %v", err)
	}
	return r.GetTsig().GetId()
}

func (fx *matrixFixture) xfrPeer(ctx context.Context) string {
	fx.t.Helper()
	r, err := dnsv1.NewZoneTransferServiceClient(fx.op).CreatePeer(ctx, &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{Name: fx.fresh("p"), Ip: "192.0.2.53"}})
	if err != nil {
		fx.t.Fatalf("create peer: %v", err)
	}
	return r.GetPeer().GetId()
}

func (fx *matrixFixture) xfrACL(ctx context.Context) string {
	fx.t.Helper()
	r, err := dnsv1.NewZoneTransferServiceClient(fx.op).CreateAcl(ctx, &dnsv1.CreateAclRequest{AccountId: "acme", Acl: &dnsv1.Acl{Name: fx.fresh("a"), IpRange: "198.51.100.0/24"}})
	if err != nil {
		fx.t.Fatalf("create acl: %v", err)
	}
	return r.GetAcl().GetId()
}

func (fx *matrixFixture) createRecord(ctx context.Context, zoneID string) string {
	fx.t.Helper()
	r, err := dnsv1.NewRecordServiceClient(fx.op).CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zoneID,
		Record: &dnsv1.Record{Name: fx.fresh("h"), Type: "A", Content: "192.0.2.1"}})
	if err != nil {
		fx.t.Fatalf("create record: %v", err)
	}
	return r.GetRecord().GetId()
}

func (fx *matrixFixture) createToken(ctx context.Context, account string, req *dnsv1.CreateTokenRequest) (id, secret string) {
	fx.t.Helper()
	req.AccountId = account
	if req.Name == "" {
		req.Name = "matrix"
	}
	r, err := dnsv1.NewTokenServiceClient(fx.op).CreateToken(ctx, req)
	if err != nil {
		fx.t.Fatalf("create token: %v", err)
	}
	return r.GetToken().GetId(), r.GetSecret()
}

func allPermissions() []dnsv1.Permission {
	var ps []dnsv1.Permission
	for v := range dnsv1.Permission_name {
		if v != 0 {
			ps = append(ps, dnsv1.Permission(v))
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func readPermissions() []dnsv1.Permission {
	return []dnsv1.Permission{
		dnsv1.Permission_PERMISSION_DNS_READ, dnsv1.Permission_PERMISSION_ZONE_READ,
		dnsv1.Permission_PERMISSION_ZONE_DNS_SETTINGS_READ, dnsv1.Permission_PERMISSION_ACCOUNT_DNS_SETTINGS_READ,
		dnsv1.Permission_PERMISSION_API_TOKENS_READ, dnsv1.Permission_PERMISSION_AUDIT_LOGS_READ,
	}
}

func ignore[T any](_ T, err error) error { return err }

// matrixRows has one row per RPC; the test fails if the server registers
// a method without one, or a row names a method the server lacks.
func matrixRows() map[string]matrixRow {
	zoneCli := func(c *grpc.ClientConn) dnsv1.ZoneServiceClient { return dnsv1.NewZoneServiceClient(c) }
	recCli := func(c *grpc.ClientConn) dnsv1.RecordServiceClient { return dnsv1.NewRecordServiceClient(c) }
	setCli := func(c *grpc.ClientConn) dnsv1.SettingsServiceClient { return dnsv1.NewSettingsServiceClient(c) }
	nsCli := func(c *grpc.ClientConn) dnsv1.CustomNameserverServiceClient {
		return dnsv1.NewCustomNameserverServiceClient(c)
	}
	tokCli := func(c *grpc.ClientConn) dnsv1.TokenServiceClient { return dnsv1.NewTokenServiceClient(c) }
	tenCli := func(c *grpc.ClientConn) dnsv1.TenantServiceClient { return dnsv1.NewTenantServiceClient(c) }
	xfrCli := func(c *grpc.ClientConn) dnsv1.ZoneTransferServiceClient { return dnsv1.NewZoneTransferServiceClient(c) }
	type fx = matrixFixture
	type conn = grpc.ClientConn
	return map[string]matrixRow{
		dnsv1.ZoneService_CreateZone_FullMethodName: {onAccount, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(zoneCli(c).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: f.fresh("matrix") + ".com"}))
		}},
		dnsv1.ZoneService_GetZone_FullMethodName: {onZone, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(zoneCli(c).GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: f.z1}))
		}},
		dnsv1.ZoneService_ListZones_FullMethodName: {listInAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(zoneCli(c).ListZones(ctx, &dnsv1.ListZonesRequest{AccountId: "acme"}))
		}},
		dnsv1.ZoneService_DeleteZone_FullMethodName: {onZone, false, func(ctx context.Context, f *fx) string {
			return f.createZone(ctx, "acme", f.fresh("gone")+".com")
		}, func(ctx context.Context, f *fx, c *conn, id string) error {
			return ignore(zoneCli(c).DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: id}))
		}},
		dnsv1.ZoneService_ActivationCheck_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(zoneCli(c).ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: f.z1}))
		}},
		dnsv1.ZoneService_UpdateZone_FullMethodName: {onZone, false, func(ctx context.Context, f *fx) string {
			return f.createZone(ctx, "acme", f.fresh("plan")+".com")
		}, func(ctx context.Context, f *fx, c *conn, id string) error {
			return ignore(zoneCli(c).UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: id, Plan: dnsv1.Plan_PLAN_PRO}))
		}},
		dnsv1.ZoneService_CreateZoneHold_FullMethodName: {onZone, false, func(ctx context.Context, f *fx) string { return f.enterpriseZone(ctx) }, func(ctx context.Context, f *fx, c *conn, id string) error {
			return ignore(zoneCli(c).CreateZoneHold(ctx, &dnsv1.CreateZoneHoldRequest{ZoneId: id}))
		}},
		dnsv1.ZoneService_GetZoneHold_FullMethodName: {onZone, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(zoneCli(c).GetZoneHold(ctx, &dnsv1.GetZoneHoldRequest{ZoneId: f.z1}))
		}},
		dnsv1.ZoneService_ChangeSetup_FullMethodName: {onZone, false, func(ctx context.Context, f *fx) string { return f.enterpriseZone(ctx) }, func(ctx context.Context, f *fx, c *conn, id string) error {
			return ignore(zoneCli(c).ChangeSetup(ctx, &dnsv1.ChangeSetupRequest{ZoneId: id, Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY}))
		}},
		dnsv1.ZoneService_ScanRecords_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			// No resolver in the fixture: the handler's FailedPrecondition
			// means the call got past authorization.
			err := ignore(zoneCli(c).ScanRecords(ctx, &dnsv1.ScanRecordsRequest{ZoneId: f.z1}))
			if grpcstatus.Code(err) == codes.FailedPrecondition {
				return nil
			}
			return err
		}},
		dnsv1.ZoneService_RemoveZoneHold_FullMethodName: {onZone, false, func(ctx context.Context, f *fx) string { return f.enterpriseZone(ctx) }, func(ctx context.Context, f *fx, c *conn, id string) error {
			return ignore(zoneCli(c).RemoveZoneHold(ctx, &dnsv1.RemoveZoneHoldRequest{ZoneId: id}))
		}},
		dnsv1.RecordService_CreateRecord_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(recCli(c).CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: f.z1,
				Record: &dnsv1.Record{Name: f.fresh("n"), Type: "A", Content: "192.0.2.2"}}))
		}},
		dnsv1.RecordService_GetRecord_FullMethodName: {onZone, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(recCli(c).GetRecord(ctx, &dnsv1.GetRecordRequest{ZoneId: f.z1, RecordId: f.r1}))
		}},
		dnsv1.RecordService_ListRecords_FullMethodName: {onZone, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(recCli(c).ListRecords(ctx, &dnsv1.ListRecordsRequest{ZoneId: f.z1}))
		}},
		dnsv1.RecordService_UpdateRecord_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(recCli(c).UpdateRecord(ctx, &dnsv1.UpdateRecordRequest{ZoneId: f.z1, RecordId: f.r1,
				Record: &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.7"}}))
		}},
		dnsv1.RecordService_PatchRecord_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(recCli(c).PatchRecord(ctx, &dnsv1.PatchRecordRequest{ZoneId: f.z1, RecordId: f.r1,
				Record: &dnsv1.Record{Ttl: uint32(600 + f.n.Add(1))}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ttl"}}}))
		}},
		dnsv1.RecordService_DeleteRecord_FullMethodName: {onZone, false, func(ctx context.Context, f *fx) string {
			return f.createRecord(ctx, f.z1)
		}, func(ctx context.Context, f *fx, c *conn, id string) error {
			return ignore(recCli(c).DeleteRecord(ctx, &dnsv1.DeleteRecordRequest{ZoneId: f.z1, RecordId: id}))
		}},
		dnsv1.RecordService_BatchRecords_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(recCli(c).BatchRecords(ctx, &dnsv1.BatchRecordsRequest{ZoneId: f.z1,
				Posts: []*dnsv1.Record{{Name: f.fresh("b"), Type: "A", Content: "192.0.2.3"}}}))
		}},
		// DNSSEC rows run in name order: DeleteDnssec first, while z1 has
		// none (deleting nothing succeeds); RollZsk's prep enables it.
		dnsv1.DnssecService_DeleteDnssec_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(dnsv1.NewDnssecServiceClient(c).DeleteDnssec(ctx, &dnsv1.DeleteDnssecRequest{ZoneId: f.z1}))
		}},
		dnsv1.DnssecService_GetDnssec_FullMethodName: {onZone, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(dnsv1.NewDnssecServiceClient(c).GetDnssec(ctx, &dnsv1.GetDnssecRequest{ZoneId: f.z1}))
		}},
		dnsv1.DnssecService_RollKsk_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			// z1 has no DNSSEC yet, then a rollover runs: the handler's
			// FailedPrecondition means the call got past authorization.
			err := ignore(dnsv1.NewDnssecServiceClient(c).RollKsk(ctx, &dnsv1.RollKskRequest{ZoneId: f.z1}))
			if grpcstatus.Code(err) == codes.FailedPrecondition {
				return nil
			}
			return err
		}},
		dnsv1.DnssecService_RollZsk_FullMethodName: {onZone, false, func(ctx context.Context, f *fx) string {
			if _, err := dnsv1.NewDnssecServiceClient(f.op).UpdateDnssec(ctx, &dnsv1.UpdateDnssecRequest{ZoneId: f.z1,
				Dnssec: &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}}); err != nil {
				f.t.Fatalf("enable dnssec: %v", err)
			}
			return ""
		}, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(dnsv1.NewDnssecServiceClient(c).RollZsk(ctx, &dnsv1.RollZskRequest{ZoneId: f.z1}))
		}},
		dnsv1.DnssecService_UpdateDnssec_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(dnsv1.NewDnssecServiceClient(c).UpdateDnssec(ctx, &dnsv1.UpdateDnssecRequest{ZoneId: f.z1,
				Dnssec:     &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE, DnssecMultiSigner: f.n.Add(1)%2 == 0},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status", "dnssec_multi_signer"}}}))
		}},
		// Marking records managed is the platform's products' business.
		dnsv1.RecordService_SetRecordManagedBy_FullMethodName: {onPlatform, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(recCli(c).SetRecordManagedBy(ctx, &dnsv1.SetRecordManagedByRequest{ZoneId: f.z1, RecordId: f.r1, ManagedBy: "workers"}))
		}},
		dnsv1.RecordService_ImportRecords_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(recCli(c).ImportRecords(ctx, &dnsv1.ImportRecordsRequest{ZoneId: f.z1,
				ZoneFile: []byte(f.fresh("imp") + " 300 IN A 192.0.2.4\n")}))
		}},
		dnsv1.RecordService_ExportRecords_FullMethodName: {onZone, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(recCli(c).ExportRecords(ctx, &dnsv1.ExportRecordsRequest{ZoneId: f.z1}))
		}},
		dnsv1.SettingsService_GetZoneSettings_FullMethodName: {onZone, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(setCli(c).GetZoneSettings(ctx, &dnsv1.GetZoneSettingsRequest{ZoneId: f.z1}))
		}},
		dnsv1.SettingsService_UpdateZoneSettings_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(setCli(c).UpdateZoneSettings(ctx, &dnsv1.UpdateZoneSettingsRequest{ZoneId: f.z1,
				Settings: &dnsv1.ZoneSettings{NsTtl: uint32(3600 + f.n.Add(1))}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ns_ttl"}}}))
		}},
		dnsv1.SettingsService_GetAccountSettings_FullMethodName: {onAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(setCli(c).GetAccountSettings(ctx, &dnsv1.GetAccountSettingsRequest{AccountId: "acme"}))
		}},
		dnsv1.SettingsService_UpdateAccountSettings_FullMethodName: {onAccount, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(setCli(c).UpdateAccountSettings(ctx, &dnsv1.UpdateAccountSettingsRequest{AccountId: "acme",
				Settings: &dnsv1.AccountSettings{EnforceDnsOnly: f.n.Add(1)%2 == 0}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enforce_dns_only"}}}))
		}},
		dnsv1.SettingsService_GetAccountZoneDefaults_FullMethodName: {onAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(setCli(c).GetAccountZoneDefaults(ctx, &dnsv1.GetAccountZoneDefaultsRequest{AccountId: "acme"}))
		}},
		// Platform defaults need no Enterprise account, so the right token
		// passes on the matrix's Free zones.
		dnsv1.SettingsService_UpdateAccountZoneDefaults_FullMethodName: {onAccount, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(setCli(c).UpdateAccountZoneDefaults(ctx, &dnsv1.UpdateAccountZoneDefaultsRequest{AccountId: "acme",
				Defaults: &dnsv1.AccountZoneDefaults{}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ns_ttl"}}}))
		}},
		// acme needs a Business or Enterprise zone for custom nameservers.
		dnsv1.CustomNameserverService_CreateCustomNameserver_FullMethodName: {onAccount, false, func(ctx context.Context, f *fx) string {
			f.enterpriseZone(ctx)
			return f.fresh("ns") + ".vanity.example."
		}, func(ctx context.Context, f *fx, c *conn, name string) error {
			return ignore(nsCli(c).CreateCustomNameserver(ctx, &dnsv1.CreateCustomNameserverRequest{AccountId: "acme", NsName: name, NsSet: uint32(f.n.Add(1)%5 + 1)}))
		}},
		dnsv1.CustomNameserverService_ListCustomNameservers_FullMethodName: {onAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(nsCli(c).ListCustomNameservers(ctx, &dnsv1.ListCustomNameserversRequest{AccountId: "acme"}))
		}},
		dnsv1.CustomNameserverService_DeleteCustomNameserver_FullMethodName: {onAccount, false, func(ctx context.Context, f *fx) string {
			name := f.fresh("gone") + ".vanity.example."
			// Spread over the five sets: a set holds five names at most.
			if _, err := nsCli(f.op).CreateCustomNameserver(ctx, &dnsv1.CreateCustomNameserverRequest{AccountId: "acme", NsName: name, NsSet: uint32(f.n.Add(1)%5 + 1)}); err != nil {
				f.t.Fatalf("create custom nameserver: %v", err)
			}
			return name
		}, func(ctx context.Context, f *fx, c *conn, name string) error {
			return ignore(nsCli(c).DeleteCustomNameserver(ctx, &dnsv1.DeleteCustomNameserverRequest{AccountId: "acme", NsName: name}))
		}},
		dnsv1.TenantService_SetAccountTenant_FullMethodName: {onPlatform, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(tenCli(c).SetAccountTenant(ctx, &dnsv1.SetAccountTenantRequest{AccountId: "acme", TenantId: "partner"}))
		}},
		dnsv1.TenantService_GetAccountTenant_FullMethodName: {onAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(tenCli(c).GetAccountTenant(ctx, &dnsv1.GetAccountTenantRequest{AccountId: "acme"}))
		}},
		dnsv1.TenantService_CreateTenantNameserver_FullMethodName: {onPlatform, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(tenCli(c).CreateTenantNameserver(ctx, &dnsv1.CreateTenantNameserverRequest{TenantId: "partner", NsName: "ns1.partner.example"}))
		}},
		dnsv1.TenantService_ListTenantNameservers_FullMethodName: {onPlatform, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(tenCli(c).ListTenantNameservers(ctx, &dnsv1.ListTenantNameserversRequest{TenantId: "partner"}))
		}},
		dnsv1.TenantService_DeleteTenantNameserver_FullMethodName: {onPlatform, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(tenCli(c).DeleteTenantNameserver(ctx, &dnsv1.DeleteTenantNameserverRequest{TenantId: "partner", NsName: "ns1.partner.example"}))
		}},
		// Zone transfers: account objects of acme; incoming on the
		// secondary zone zs, outgoing on the full zone z1.
		dnsv1.ZoneTransferService_CreateTsig_FullMethodName: {onAccount, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).CreateTsig(ctx, &dnsv1.CreateTsigRequest{AccountId: "acme", Name: f.fresh("k") + ".acme.com"}))
		}},
		dnsv1.ZoneTransferService_GetTsig_FullMethodName: {onAccount, true, func(ctx context.Context, f *fx) string { return f.xfrTsig(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).GetTsig(ctx, &dnsv1.GetTsigRequest{AccountId: "acme", TsigId: arg}))
		}},
		dnsv1.ZoneTransferService_ListTsigs_FullMethodName: {onAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).ListTsigs(ctx, &dnsv1.ListTsigsRequest{AccountId: "acme"}))
		}},
		dnsv1.ZoneTransferService_DeleteTsig_FullMethodName: {onAccount, false, func(ctx context.Context, f *fx) string { return f.xfrTsig(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).DeleteTsig(ctx, &dnsv1.DeleteTsigRequest{AccountId: "acme", TsigId: arg}))
		}},
		dnsv1.ZoneTransferService_CreatePeer_FullMethodName: {onAccount, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).CreatePeer(ctx, &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{Name: f.fresh("p"), Ip: "192.0.2.53"}}))
		}},
		dnsv1.ZoneTransferService_GetPeer_FullMethodName: {onAccount, true, func(ctx context.Context, f *fx) string { return f.xfrPeer(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).GetPeer(ctx, &dnsv1.GetPeerRequest{AccountId: "acme", PeerId: arg}))
		}},
		dnsv1.ZoneTransferService_ListPeers_FullMethodName: {onAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).ListPeers(ctx, &dnsv1.ListPeersRequest{AccountId: "acme"}))
		}},
		dnsv1.ZoneTransferService_UpdatePeer_FullMethodName: {onAccount, false, func(ctx context.Context, f *fx) string { return f.xfrPeer(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).UpdatePeer(ctx, &dnsv1.UpdatePeerRequest{AccountId: "acme", PeerId: arg, Peer: &dnsv1.Peer{Name: "renamed", Ip: "2001:db8::53", Port: 5353}}))
		}},
		dnsv1.ZoneTransferService_DeletePeer_FullMethodName: {onAccount, false, func(ctx context.Context, f *fx) string { return f.xfrPeer(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).DeletePeer(ctx, &dnsv1.DeletePeerRequest{AccountId: "acme", PeerId: arg}))
		}},
		dnsv1.ZoneTransferService_CreateAcl_FullMethodName: {onAccount, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).CreateAcl(ctx, &dnsv1.CreateAclRequest{AccountId: "acme", Acl: &dnsv1.Acl{Name: f.fresh("a"), IpRange: "192.0.2.0/24"}}))
		}},
		dnsv1.ZoneTransferService_GetAcl_FullMethodName: {onAccount, true, func(ctx context.Context, f *fx) string { return f.xfrACL(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).GetAcl(ctx, &dnsv1.GetAclRequest{AccountId: "acme", AclId: arg}))
		}},
		dnsv1.ZoneTransferService_ListAcls_FullMethodName: {onAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).ListAcls(ctx, &dnsv1.ListAclsRequest{AccountId: "acme"}))
		}},
		dnsv1.ZoneTransferService_DeleteAcl_FullMethodName: {onAccount, false, func(ctx context.Context, f *fx) string { return f.xfrACL(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).DeleteAcl(ctx, &dnsv1.DeleteAclRequest{AccountId: "acme", AclId: arg}))
		}},
		dnsv1.ZoneTransferService_GetIncoming_FullMethodName: {onZone, true, func(ctx context.Context, f *fx) string { return f.secondaryZone(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).GetIncoming(ctx, &dnsv1.GetIncomingRequest{ZoneId: arg}))
		}},
		dnsv1.ZoneTransferService_UpdateIncoming_FullMethodName: {onZone, false, func(ctx context.Context, f *fx) string { return f.secondaryZone(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).UpdateIncoming(ctx, &dnsv1.UpdateIncomingRequest{ZoneId: arg, AutoRefreshSeconds: uint32(3600 + f.n.Add(1))}))
		}},
		// Force AXFR needs a secondary zone with a primary linked.
		dnsv1.ZoneTransferService_ForceAxfr_FullMethodName: {onZone, false, func(ctx context.Context, f *fx) string {
			zone := f.secondaryZone(ctx)
			if _, err := xfrCli(f.op).UpdateIncoming(ctx, &dnsv1.UpdateIncomingRequest{ZoneId: zone, Peers: []string{f.xfrPeer(ctx)}}); err != nil {
				f.t.Fatalf("link a primary: %v", err)
			}
			return zone
		}, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).ForceAxfr(ctx, &dnsv1.ForceAxfrRequest{ZoneId: arg}))
		}},
		dnsv1.ZoneTransferService_ListTransferEvents_FullMethodName: {onZone, true, func(ctx context.Context, f *fx) string { return f.secondaryZone(ctx) }, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).ListTransferEvents(ctx, &dnsv1.ListTransferEventsRequest{ZoneId: arg}))
		}},
		dnsv1.ZoneTransferService_GetOutgoing_FullMethodName: {onZone, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).GetOutgoing(ctx, &dnsv1.GetOutgoingRequest{ZoneId: f.z1}))
		}},
		dnsv1.ZoneTransferService_UpdateOutgoing_FullMethodName: {onZone, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(xfrCli(c).UpdateOutgoing(ctx, &dnsv1.UpdateOutgoingRequest{ZoneId: f.z1, Enabled: f.n.Add(1)%2 == 0}))
		}},
		dnsv1.TokenService_CreateToken_FullMethodName: {onAccount, false, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(tokCli(c).CreateToken(ctx, &dnsv1.CreateTokenRequest{AccountId: "acme", Name: "made in matrix",
				Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_DNS_READ}}))
		}},
		dnsv1.TokenService_GetToken_FullMethodName: {onToken, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(tokCli(c).GetToken(ctx, &dnsv1.GetTokenRequest{TokenId: f.spareToken}))
		}},
		dnsv1.TokenService_ListTokens_FullMethodName: {onAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(tokCli(c).ListTokens(ctx, &dnsv1.ListTokensRequest{AccountId: "acme"}))
		}},
		dnsv1.TokenService_RevokeToken_FullMethodName: {onToken, false, func(ctx context.Context, f *fx) string {
			id, _ := f.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_DNS_READ}})
			return id
		}, func(ctx context.Context, f *fx, c *conn, id string) error {
			return ignore(tokCli(c).RevokeToken(ctx, &dnsv1.RevokeTokenRequest{TokenId: id}))
		}},
		dnsv1.TokenService_VerifyToken_FullMethodName: {onSelf, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(tokCli(c).VerifyToken(ctx, &dnsv1.VerifyTokenRequest{}))
		}},
		dnsv1.AuditService_ListAuditLogs_FullMethodName: {onAccount, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(dnsv1.NewAuditServiceClient(c).ListAuditLogs(ctx, &dnsv1.ListAuditLogsRequest{AccountId: "acme"}))
		}},
		"/grpc.health.v1.Health/Check": {public, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{}))
		}},
		"/grpc.health.v1.Health/List": {public, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			return ignore(healthpb.NewHealthClient(c).List(ctx, &healthpb.HealthListRequest{}))
		}},
		"/grpc.health.v1.Health/Watch": {public, true, nil, func(ctx context.Context, f *fx, c *conn, arg string) error {
			st, err := healthpb.NewHealthClient(c).Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				return err
			}
			return ignore(st.Recv())
		}},
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {public, true, nil, nil},
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {public, true, nil, nil},
	}
}

// startAuthServer runs a control plane (API only) on real etcd.
func startAuthServer(t *testing.T) *Server {
	t.Helper()
	s, _ := startServer(t, Config{DisableBuilder: true})
	return s
}

func dialToken(t *testing.T, s *Server, token string) *grpc.ClientConn {
	t.Helper()
	conn, err := clientconfig.Config{Endpoint: s.GRPCAddr(), Token: token}.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func newMatrixFixture(t *testing.T, s *Server) *matrixFixture {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fx := &matrixFixture{t: t, op: operatorConn(t, s), tokens: map[principal]string{}}
	fx.z1 = fx.createZone(ctx, "acme", "acme.com")
	fx.z2 = fx.createZone(ctx, "acme", "acme2.com")
	fx.zo = fx.createZone(ctx, "other", "other.com")
	fx.r1 = fx.createRecord(ctx, fx.z1)
	fx.spareToken, _ = fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_DNS_READ}})
	_, fx.tokens[pRight] = fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: allPermissions()})
	_, fx.tokens[pWrongAccount] = fx.createToken(ctx, "other", &dnsv1.CreateTokenRequest{Permissions: allPermissions()})
	_, fx.tokens[pZoneScoped] = fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: allPermissions(), ZoneIds: []string{fx.z2}})
	_, fx.tokens[pReadOnly] = fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: readPermissions()})
	_, fx.tokens[pWrongSource] = fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: allPermissions(), AllowedCidrs: []string{"192.0.2.0/24"}})
	expires := time.Now().Add(1500 * time.Millisecond)
	_, fx.tokens[pExpired] = fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: allPermissions(), ExpiresOn: timestamppb.New(expires)})
	revoked, secret := fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: allPermissions()})
	fx.tokens[pRevoked] = secret
	if _, err := dnsv1.NewTokenServiceClient(fx.op).RevokeToken(ctx, &dnsv1.RevokeTokenRequest{TokenId: revoked}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(expires))
	return fx
}

func TestAuthorizationMatrix(t *testing.T) {
	s := startAuthServer(t)
	fx := newMatrixFixture(t, s)
	rows := matrixRows()

	var registered []string
	for svc, info := range s.GRPCServer().GetServiceInfo() {
		for _, m := range info.Methods {
			registered = append(registered, "/"+svc+"/"+m.Name)
		}
	}
	for _, m := range registered {
		if _, ok := rows[m]; !ok {
			t.Errorf("RPC %s has no row in the authorization matrix (and needs one in controlplane/authz's table)", m)
		}
	}
	for m := range rows {
		found := false
		for _, r := range registered {
			found = found || r == m
		}
		if !found {
			t.Errorf("matrix row %s: the server does not register this RPC", m)
		}
	}

	conns := map[principal]*grpc.ClientConn{}
	for _, p := range principals {
		conns[p] = dialToken(t, s, fx.tokens[p])
	}
	methods := make([]string, 0, len(rows))
	for m := range rows {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for _, m := range methods {
		row := rows[m]
		if row.call == nil {
			continue // reflection: a bidirectional stream, covered by TestPublicMethodsNeedNoToken
		}
		for _, p := range principals {
			t.Run(m+"/"+string(p), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				fx.t = t
				want := expect(row, p)
				arg := ""
				if row.prep != nil {
					arg = row.prep(ctx, fx)
				}
				before := revision(ctx, t, s)
				err := row.call(ctx, fx, conns[p], arg)
				if got := grpcstatus.Code(err); got != want {
					t.Fatalf("code %v (%v), want %v", got, err, want)
				}
				if after := revision(ctx, t, s); want != codes.OK && after != before {
					t.Fatalf("a refused call changed etcd: revision %d → %d", before, after)
				}
			})
		}
	}
}

// revision is etcd's current revision: it moves with every write, audit
// entries included.
func revision(ctx context.Context, t *testing.T, s *Server) int64 {
	t.Helper()
	rev, err := s.Store().CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func timestampOf(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func withFromKey() clientv3.OpOption { return clientv3.WithFromKey() }

// violationField is the first field a BadRequest detail names.
func violationField(err error) string {
	for _, d := range grpcstatus.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

// Platform methods (tenants) serve the operator; the matrix shows every
// tenant token refused.
func TestPlatformMethodsServeTheOperator(t *testing.T) {
	s := startAuthServer(t)
	ten := dnsv1.NewTenantServiceClient(operatorConn(t, s))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ten.SetAccountTenant(ctx, &dnsv1.SetAccountTenantRequest{AccountId: "acme", TenantId: "partner"}); err != nil {
		t.Fatalf("operator SetAccountTenant: %v", err)
	}
	if _, err := ten.CreateTenantNameserver(ctx, &dnsv1.CreateTenantNameserverRequest{TenantId: "partner", NsName: "ns1.partner.example"}); err != nil {
		t.Fatalf("operator CreateTenantNameserver: %v", err)
	}
	l, err := ten.ListTenantNameservers(ctx, &dnsv1.ListTenantNameserversRequest{TenantId: "partner"})
	if err != nil || len(l.GetNameservers()) != 1 {
		t.Fatalf("operator ListTenantNameservers: %v, %v", l, err)
	}
	if _, err := ten.DeleteTenantNameserver(ctx, &dnsv1.DeleteTenantNameserverRequest{TenantId: "partner", NsName: "ns1.partner.example"}); err != nil {
		t.Fatalf("operator DeleteTenantNameserver: %v", err)
	}

	fx := &matrixFixture{t: t, op: operatorConn(t, s)}
	zid := fx.createZone(ctx, "acme", "managed-records.com")
	rid := fx.createRecord(ctx, zid)
	r, err := dnsv1.NewRecordServiceClient(fx.op).SetRecordManagedBy(ctx, &dnsv1.SetRecordManagedByRequest{ZoneId: zid, RecordId: rid, ManagedBy: "tunnel"})
	if err != nil || r.GetRecord().GetMeta().GetManagedBy() != "tunnel" {
		t.Fatalf("operator SetRecordManagedBy: %v, %v", r, err)
	}
}
