package authz

import (
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Scope says what a method acts on, and so which part of the request the
// caller's token must cover.
type Scope int

const (
	// Public methods need no credential: health checks and reflection,
	// which describe the server, not anybody's data.
	Public Scope = iota
	// Self methods need any valid credential and act on the caller itself.
	Self
	// Zone methods act on the zone named by the request's zone_id; a zone
	// the caller cannot see answers NotFound, exactly as a zone that does
	// not exist.
	Zone
	// Account methods act on the account named by the request's
	// account_id as a whole, and need a token valid for the whole account.
	Account
	// AccountList methods list within the account named by account_id
	// (empty: the caller's own); zone-scoped tokens see their zones only.
	AccountList
	// Token methods act on the token named by token_id; a token of an
	// account the caller cannot manage answers NotFound.
	Token
	// Platform methods administer what spans accounts (tenants and their
	// custom nameservers): the operator only.
	Platform
)

// Rule is what one method needs: one of AnyOf (the documents' "at least
// one of the following token permissions is required"), within Scope.
type Rule struct {
	AnyOf []dnsv1.Permission
	Scope Scope
}

type perm = dnsv1.Permission

const (
	dnsRead       = dnsv1.Permission_PERMISSION_DNS_READ
	dnsWrite      = dnsv1.Permission_PERMISSION_DNS_WRITE
	zoneRead      = dnsv1.Permission_PERMISSION_ZONE_READ
	zoneWrite     = dnsv1.Permission_PERMISSION_ZONE_WRITE
	zoneSetRead   = dnsv1.Permission_PERMISSION_ZONE_DNS_SETTINGS_READ
	zoneSetWrite  = dnsv1.Permission_PERMISSION_ZONE_DNS_SETTINGS_WRITE
	acctSetRead   = dnsv1.Permission_PERMISSION_ACCOUNT_DNS_SETTINGS_READ
	acctSetWrite  = dnsv1.Permission_PERMISSION_ACCOUNT_DNS_SETTINGS_WRITE
	tokensRead    = dnsv1.Permission_PERMISSION_API_TOKENS_READ
	tokensWrite   = dnsv1.Permission_PERMISSION_API_TOKENS_WRITE
	auditLogsRead = dnsv1.Permission_PERMISSION_AUDIT_LOGS_READ
)

func rule(s Scope, anyOf ...perm) Rule { return Rule{AnyOf: anyOf, Scope: s} }

// Rules is the permission table: every RPC the control plane serves, and
// what it needs. A method missing here is refused (and the authorization
// matrix test fails), so a new RPC cannot be born unauthorized. The
// permission sets follow the "Required API token permissions" boxes of the
// source documents; where they list several, any one suffices, and a
// Write permission always includes the Read of the same thing.
func Rules() map[string]Rule {
	return map[string]Rule{
		// Zones. Creating a zone: "Zone Zone Edit" or "Zone DNS Edit".
		dnsv1.ZoneService_CreateZone_FullMethodName:      rule(Account, zoneWrite, dnsWrite),
		dnsv1.ZoneService_GetZone_FullMethodName:         rule(Zone, zoneRead, zoneWrite, dnsRead, dnsWrite),
		dnsv1.ZoneService_ListZones_FullMethodName:       rule(AccountList, zoneRead, zoneWrite, dnsRead, dnsWrite),
		dnsv1.ZoneService_DeleteZone_FullMethodName:      rule(Zone, zoneWrite),
		dnsv1.ZoneService_ActivationCheck_FullMethodName: rule(Zone, zoneWrite),
		dnsv1.ZoneService_UpdateZone_FullMethodName:      rule(Zone, zoneWrite),
		dnsv1.ZoneService_CreateZoneHold_FullMethodName:  rule(Zone, zoneWrite),
		dnsv1.ZoneService_GetZoneHold_FullMethodName:     rule(Zone, zoneRead, zoneWrite),
		dnsv1.ZoneService_RemoveZoneHold_FullMethodName:  rule(Zone, zoneWrite),
		dnsv1.ZoneService_ScanRecords_FullMethodName:     rule(Zone, dnsWrite),
		dnsv1.ZoneService_ChangeSetup_FullMethodName:     rule(Zone, zoneWrite),

		// Records: "DNS Write"; reads also "DNS Read".
		dnsv1.RecordService_CreateRecord_FullMethodName: rule(Zone, dnsWrite),
		dnsv1.RecordService_GetRecord_FullMethodName:    rule(Zone, dnsRead, dnsWrite),
		dnsv1.RecordService_ListRecords_FullMethodName:  rule(Zone, dnsRead, dnsWrite),
		dnsv1.RecordService_UpdateRecord_FullMethodName: rule(Zone, dnsWrite),
		dnsv1.RecordService_PatchRecord_FullMethodName:  rule(Zone, dnsWrite),
		dnsv1.RecordService_DeleteRecord_FullMethodName: rule(Zone, dnsWrite),
		dnsv1.RecordService_BatchRecords_FullMethodName: rule(Zone, dnsWrite),
		// Import: "DNS Write"; export: "DNS Read" or "DNS Write".
		dnsv1.RecordService_ImportRecords_FullMethodName: rule(Zone, dnsWrite),
		dnsv1.RecordService_ExportRecords_FullMethodName: rule(Zone, dnsRead, dnsWrite),
		// Managed records are the platform's products' (R2, Tunnel, ...):
		// only the operator marks them.
		dnsv1.RecordService_SetRecordManagedBy_FullMethodName: rule(Platform, dnsWrite),

		// DNSSEC: "DNS Write" edits (the "Edit DNSSEC Status endpoint");
		// the details also with "DNS Read".
		dnsv1.DnssecService_GetDnssec_FullMethodName:    rule(Zone, dnsRead, dnsWrite),
		dnsv1.DnssecService_UpdateDnssec_FullMethodName: rule(Zone, dnsWrite),
		dnsv1.DnssecService_DeleteDnssec_FullMethodName: rule(Zone, dnsWrite),
		dnsv1.DnssecService_RollZsk_FullMethodName:      rule(Zone, dnsWrite),
		dnsv1.DnssecService_RollKsk_FullMethodName:      rule(Zone, dnsWrite),

		// Settings. Zone DNS settings: "Zone DNS Settings Write" or "DNS
		// Write"; enforce DNS-only (account settings): "Account DNS
		// Settings Write", shown with "... Write" or "... Read".
		dnsv1.SettingsService_GetZoneSettings_FullMethodName:       rule(Zone, zoneSetRead, zoneSetWrite, dnsRead, dnsWrite),
		dnsv1.SettingsService_UpdateZoneSettings_FullMethodName:    rule(Zone, zoneSetWrite, dnsWrite),
		dnsv1.SettingsService_GetAccountSettings_FullMethodName:    rule(Account, acctSetRead, acctSetWrite),
		dnsv1.SettingsService_UpdateAccountSettings_FullMethodName: rule(Account, acctSetWrite),
		// DNS zone defaults are part of the account's DNS settings ("Update
		// DNS Settings for an Account", zone_defaults): the same permissions.
		dnsv1.SettingsService_GetAccountZoneDefaults_FullMethodName: rule(Account, acctSetRead, acctSetWrite),
		// Account custom nameservers live in the account's DNS settings
		// ("Manage Account > Configurations > DNS Settings").
		dnsv1.CustomNameserverService_CreateCustomNameserver_FullMethodName: rule(Account, acctSetWrite),
		dnsv1.CustomNameserverService_ListCustomNameservers_FullMethodName:  rule(Account, acctSetRead, acctSetWrite),
		dnsv1.CustomNameserverService_DeleteCustomNameserver_FullMethodName: rule(Account, acctSetWrite),
		// Tenants are the platform's: only the operator sets them up; an
		// account reads its own tenant and the nameservers it offers.
		dnsv1.TenantService_SetAccountTenant_FullMethodName:            rule(Platform, acctSetWrite),
		dnsv1.TenantService_GetAccountTenant_FullMethodName:            rule(Account, acctSetRead, acctSetWrite),
		dnsv1.TenantService_CreateTenantNameserver_FullMethodName:      rule(Platform, acctSetWrite),
		dnsv1.TenantService_ListTenantNameservers_FullMethodName:       rule(Platform, acctSetRead, acctSetWrite),
		dnsv1.TenantService_DeleteTenantNameserver_FullMethodName:      rule(Platform, acctSetWrite),
		dnsv1.SettingsService_UpdateAccountZoneDefaults_FullMethodName: rule(Account, acctSetWrite),

		// Zone transfers. The account's TSIGs, peers and ACLs live in
		// "Manage Account > Configurations > DNS Zone Transfers": the
		// account's DNS settings permissions. A zone's incoming and
		// outgoing configuration lives in the zone's "DNS > Settings":
		// "Zone DNS Settings Write" or "DNS Write" (reads also with Read).
		dnsv1.ZoneTransferService_CreateTsig_FullMethodName:     rule(Account, acctSetWrite),
		dnsv1.ZoneTransferService_GetTsig_FullMethodName:        rule(Account, acctSetRead, acctSetWrite),
		dnsv1.ZoneTransferService_ListTsigs_FullMethodName:      rule(Account, acctSetRead, acctSetWrite),
		dnsv1.ZoneTransferService_DeleteTsig_FullMethodName:     rule(Account, acctSetWrite),
		dnsv1.ZoneTransferService_CreatePeer_FullMethodName:     rule(Account, acctSetWrite),
		dnsv1.ZoneTransferService_GetPeer_FullMethodName:        rule(Account, acctSetRead, acctSetWrite),
		dnsv1.ZoneTransferService_ListPeers_FullMethodName:      rule(Account, acctSetRead, acctSetWrite),
		dnsv1.ZoneTransferService_UpdatePeer_FullMethodName:     rule(Account, acctSetWrite),
		dnsv1.ZoneTransferService_DeletePeer_FullMethodName:     rule(Account, acctSetWrite),
		dnsv1.ZoneTransferService_CreateAcl_FullMethodName:      rule(Account, acctSetWrite),
		dnsv1.ZoneTransferService_GetAcl_FullMethodName:         rule(Account, acctSetRead, acctSetWrite),
		dnsv1.ZoneTransferService_ListAcls_FullMethodName:       rule(Account, acctSetRead, acctSetWrite),
		dnsv1.ZoneTransferService_DeleteAcl_FullMethodName:      rule(Account, acctSetWrite),
		dnsv1.ZoneTransferService_GetIncoming_FullMethodName:    rule(Zone, zoneSetRead, zoneSetWrite, dnsRead, dnsWrite),
		dnsv1.ZoneTransferService_UpdateIncoming_FullMethodName: rule(Zone, zoneSetWrite, dnsWrite),
		dnsv1.ZoneTransferService_ForceAxfr_FullMethodName:      rule(Zone, zoneSetWrite, dnsWrite),
		dnsv1.ZoneTransferService_GetOutgoing_FullMethodName:    rule(Zone, zoneSetRead, zoneSetWrite, dnsRead, dnsWrite),
		dnsv1.ZoneTransferService_UpdateOutgoing_FullMethodName: rule(Zone, zoneSetWrite, dnsWrite),

		// A secondary zone's transfer events (the alerts of "Alerts for
		// Secondary DNS") are read like its transfer status.
		dnsv1.ZoneTransferService_ListTransferEvents_FullMethodName: rule(Zone, zoneSetRead, zoneSetWrite, dnsRead, dnsWrite),

		// Tokens and the audit log.
		dnsv1.TokenService_CreateToken_FullMethodName:   rule(Account, tokensWrite),
		dnsv1.TokenService_GetToken_FullMethodName:      rule(Token, tokensRead, tokensWrite),
		dnsv1.TokenService_ListTokens_FullMethodName:    rule(Account, tokensRead, tokensWrite),
		dnsv1.TokenService_RevokeToken_FullMethodName:   rule(Token, tokensWrite),
		dnsv1.TokenService_VerifyToken_FullMethodName:   rule(Self),
		dnsv1.AuditService_ListAuditLogs_FullMethodName: rule(Account, auditLogsRead),

		// Server metadata, open to all.
		"/grpc.health.v1.Health/Check":                                   rule(Public),
		"/grpc.health.v1.Health/List":                                    rule(Public),
		"/grpc.health.v1.Health/Watch":                                   rule(Public),
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      rule(Public),
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": rule(Public),
	}
}
