// Package plans is the one table of what each zone plan (free, pro,
// business, enterprise) allows: record quota, minimum TTL, comment and tag
// limits, CNAME flattening, zone setups, nameserver options, SOA edits and
// NSEC3, with the values of the source documents ("Features and plans",
// "DNS records", "Time to Live (TTL)", "DNS record comments and tags",
// "DNS record types" SOA section, "Batch record changes", "NSEC3 support",
// "Custom nameservers"). The services ask it instead of hard-coding
// numbers, and refuse with the errors of errors.go, which name the limit.
// README.md holds the same table for people.
package plans

import (
	"time"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Plan is a zone's plan.
type Plan = dnsv1.Plan

// FreeQuotaCutoff is when the free plan's record quota dropped from 1,000
// to 200: zones created before it keep 1,000 ("DNS records" > "DNS records
// quota": "Free zones created before 2024-09-01 00:00:00 UTC: 1,000").
var FreeQuotaCutoff = time.Date(2024, time.September, 1, 0, 0, 0, 0, time.UTC)

// MaxRecordsOverride bounds the per-zone record quota an operator may grant
// an enterprise zone ("Cloudflare can support millions of DNS records on a
// single zone"): at least the plan's own quota, at most ten million.
const MaxRecordsOverride = 10_000_000

// Limits is what one plan allows. Zero values mean "not available".
type Limits struct {
	Plan Plan
	// Name is the plan's display name (Free, Pro, Business, Enterprise).
	Name string

	// RecordsPerZone is the record quota of zones created on or after
	// FreeQuotaCutoff; RecordsPerZoneBefore of those created before.
	RecordsPerZone       int
	RecordsPerZoneBefore int
	// RecordsOverridable: the quota "can be increased" per zone.
	RecordsOverridable bool
	// BatchOperations is the most operations one BatchRecords may hold.
	BatchOperations int

	// MinTTL is the smallest TTL of a DNS-only record (1 = automatic is
	// always accepted); MaxTTL the largest, one day on every plan.
	MinTTL uint32
	MaxTTL uint32

	// CommentMax is the character limit of a record comment.
	CommentMax int
	// Tags: record tags available; TagsPerRecord, TagNameMax and
	// TagValueMax their limits.
	Tags          bool
	TagsPerRecord int
	TagNameMax    int
	TagValueMax   int

	// FlattenPerRecord: individual CNAME records may be flattened;
	// FlattenAll: the zone may flatten every CNAME ("Pro plans and above
	// can customize"). Apex flattening is on every plan.
	FlattenPerRecord bool
	FlattenAll       bool

	// Zone setups beyond full.
	PartialSetup   bool
	SubdomainSetup bool
	SecondarySetup bool

	// Nameserver options. Account custom nameservers on Business need the
	// operator to enable them for the account ("after contacting Cloudflare
	// Support"); once configured they serve every zone of the account,
	// whatever its plan.
	ZoneCustomNameservers    bool
	AccountCustomNameservers bool
	AdvancedNameservers      bool

	// SOAEdits: the SOA fields may differ from the platform's defaults.
	// ZoneDefaults: the account may configure DNS zone defaults.
	SOAEdits     bool
	ZoneDefaults bool
	// NSEC3: DNSSEC negative answers may use NSEC3.
	NSEC3 bool
}

var table = map[Plan]Limits{
	dnsv1.Plan_PLAN_FREE: {
		Plan: dnsv1.Plan_PLAN_FREE, Name: "Free",
		RecordsPerZone: 200, RecordsPerZoneBefore: 1000,
		BatchOperations: 200,
		MinTTL:          60, MaxTTL: 86400,
		CommentMax: 100,
	},
	dnsv1.Plan_PLAN_PRO: {
		Plan: dnsv1.Plan_PLAN_PRO, Name: "Pro",
		RecordsPerZone: 3500, RecordsPerZoneBefore: 3500,
		BatchOperations: 3500,
		MinTTL:          60, MaxTTL: 86400,
		CommentMax: 500,
		Tags:       true, TagsPerRecord: 20, TagNameMax: 32, TagValueMax: 100,
		FlattenPerRecord: true, FlattenAll: true,
	},
	dnsv1.Plan_PLAN_BUSINESS: {
		Plan: dnsv1.Plan_PLAN_BUSINESS, Name: "Business",
		RecordsPerZone: 3500, RecordsPerZoneBefore: 3500,
		BatchOperations: 3500,
		MinTTL:          60, MaxTTL: 86400,
		CommentMax: 500,
		Tags:       true, TagsPerRecord: 20, TagNameMax: 32, TagValueMax: 100,
		FlattenPerRecord: true, FlattenAll: true,
		PartialSetup:          true,
		ZoneCustomNameservers: true, AccountCustomNameservers: true,
	},
	dnsv1.Plan_PLAN_ENTERPRISE: {
		Plan: dnsv1.Plan_PLAN_ENTERPRISE, Name: "Enterprise",
		RecordsPerZone: 3500, RecordsPerZoneBefore: 3500, RecordsOverridable: true,
		BatchOperations: 3500,
		MinTTL:          30, MaxTTL: 86400,
		CommentMax: 500,
		Tags:       true, TagsPerRecord: 20, TagNameMax: 32, TagValueMax: 100,
		FlattenPerRecord: true, FlattenAll: true,
		PartialSetup: true, SubdomainSetup: true, SecondarySetup: true,
		ZoneCustomNameservers: true, AccountCustomNameservers: true, AdvancedNameservers: true,
		SOAEdits: true, ZoneDefaults: true, NSEC3: true,
	},
}

// For returns the limits of plan p. An unspecified or unknown plan is the
// free plan, as CreateZone defaults to it.
func For(p Plan) Limits {
	if l, ok := table[p]; ok {
		return l
	}
	return table[dnsv1.Plan_PLAN_FREE]
}

// All returns the limits of every plan, cheapest first.
func All() []Limits {
	return []Limits{For(dnsv1.Plan_PLAN_FREE), For(dnsv1.Plan_PLAN_PRO), For(dnsv1.Plan_PLAN_BUSINESS), For(dnsv1.Plan_PLAN_ENTERPRISE)}
}

// MaxRecords is the record quota of a zone on this plan created at
// createdOn, with the operator's per-zone override (0 = none; ignored on
// plans whose quota cannot be increased, so a downgraded zone falls back to
// its plan's quota). A zero createdOn (a zone stored without a creation
// time) counts as created after the cutoff: the stricter quota.
func (l Limits) MaxRecords(createdOn time.Time, override uint32) int {
	if l.RecordsOverridable && override > 0 {
		return int(override)
	}
	if !createdOn.IsZero() && createdOn.Before(FreeQuotaCutoff) {
		return l.RecordsPerZoneBefore
	}
	return l.RecordsPerZone
}

// AllowsSetup reports whether a zone of this plan may use setup t.
func (l Limits) AllowsSetup(t dnsv1.ZoneType) bool {
	switch t {
	case dnsv1.ZoneType_ZONE_TYPE_PARTIAL:
		return l.PartialSetup
	case dnsv1.ZoneType_ZONE_TYPE_SECONDARY:
		return l.SecondarySetup
	}
	return true
}
