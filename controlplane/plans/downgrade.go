package plans

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Usage is what a zone uses of its plan's limits, measured before a plan
// change (Measure builds it from the zone, its settings and records).
type Usage struct {
	Type      dnsv1.ZoneType
	CreatedOn time.Time
	// Subdomain: the zone is a subdomain setup (a zone below another
	// registrable domain).
	Subdomain bool
	// Records is the number of records; RecordsOverride the zone's
	// operator-granted quota (0 = none).
	Records         int
	RecordsOverride uint32
	// MinTTL is the smallest TTL of a DNS-only record other than 1
	// (automatic); 0 when there is none.
	MinTTL uint32
	// LongestComment is the longest record comment, in characters.
	LongestComment int
	// TaggedRecords counts records with at least one tag;
	// FlattenedRecords the CNAME records flattened one by one.
	TaggedRecords    int
	FlattenedRecords int
	// FlattenAll, SOAEdited (any SOA field away from its default) and
	// NSEC3 are zone settings in use.
	FlattenAll bool
	SOAEdited  bool
	NSEC3      bool
	// ZoneCustomNameservers and AdvancedNameservers: the zone uses them.
	// Account custom nameservers are not counted: the documents let every
	// zone of the account use them "regardless of the zone plan".
	ZoneCustomNameservers bool
	AdvancedNameservers   bool
}

// Measure returns the usage of a zone from the zone, its settings and all
// its records. Fields the records and settings cannot tell (Subdomain,
// NSEC3, custom or advanced nameservers) are left for the caller to set.
func Measure(z *dnsv1.Zone, zs *dnsv1.ZoneSettings, records []*dnsv1.Record) Usage {
	u := Usage{
		Type:            z.GetType(),
		Records:         len(records),
		RecordsOverride: zs.GetMaxRecordsOverride(),
		FlattenAll:      zs.GetFlattenAllCnames(),
		SOAEdited: zs.GetSoaMname() != "" || zs.GetSoaRname() != "" || zs.GetSoaRefresh() != 0 ||
			zs.GetSoaRetry() != 0 || zs.GetSoaExpire() != 0 || zs.GetSoaMinTtl() != 0 || zs.GetSoaTtl() != 0,
	}
	if z.GetCreatedOn() != nil {
		u.CreatedOn = z.GetCreatedOn().AsTime()
	}
	for _, r := range records {
		if t := r.GetTtl(); !r.GetProxied() && t > 1 && (u.MinTTL == 0 || t < u.MinTTL) {
			u.MinTTL = t
		}
		if n := utf8.RuneCountInString(r.GetComment()); n > u.LongestComment {
			u.LongestComment = n
		}
		if len(r.GetTags()) > 0 {
			u.TaggedRecords++
		}
		if r.GetSettings().GetFlattenCname() {
			u.FlattenedRecords++
		}
	}
	return u
}

// CheckDowngrade reports whether a zone using u may move from plan from to
// plan to. It returns nil when every limit of to holds, else a
// *DowngradeError listing each limit u exceeds: the plan change must then
// be refused as a whole (nothing is deleted or changed on the user's
// behalf; the source documents say nothing of dropping data on a
// downgrade, and silently deleting records or tags would be worse than a
// clear refusal). The error is a gRPC status error (FailedPrecondition
// with a google.rpc.PreconditionFailure naming each limit), so a
// plan-change RPC returns it as is. Upgrades and same-plan changes pass
// whenever the zone is within its current plan; from is only reported.
func CheckDowngrade(from, to Plan, u Usage) error {
	l := For(to)
	var vs []*LimitError
	add := func(e *LimitError) { vs = append(vs, e) }
	if max := l.MaxRecords(u.CreatedOn, u.RecordsOverride); u.Records > max {
		add(NewQuota(LimitRecordsPerZone, "plan", "records", to, int64(max),
			"the zone has %d records, the %s plan allows %d: delete %d first", u.Records, l.Name, max, u.Records-max))
	}
	if u.MinTTL != 0 && u.MinTTL < l.MinTTL {
		add(NewValue(LimitMinTTL, "plan", to, int64(l.MinTTL),
			"a DNS-only record has TTL %d, the %s plan's minimum is %d", u.MinTTL, l.Name, l.MinTTL))
	}
	if u.LongestComment > l.CommentMax {
		add(NewValue(LimitCommentLength, "plan", to, int64(l.CommentMax),
			"a record comment has %d characters, the %s plan allows %d", u.LongestComment, l.Name, l.CommentMax))
	}
	if u.TaggedRecords > 0 && !l.Tags {
		add(NewFeature(LimitTags, "plan", to, "%d records have tags, which the %s plan does not offer", u.TaggedRecords, l.Name))
	}
	if u.FlattenedRecords > 0 && !l.FlattenPerRecord {
		add(NewFeature(LimitFlattenPerRecord, "plan", to, "%d CNAME records are flattened one by one, which the %s plan does not offer", u.FlattenedRecords, l.Name))
	}
	if u.FlattenAll && !l.FlattenAll {
		add(NewFeature(LimitFlattenAll, "plan", to, "the zone flattens all CNAME records, which the %s plan does not offer", l.Name))
	}
	if u.SOAEdited && !l.SOAEdits {
		add(NewFeature(LimitSOAEdits, "plan", to, "the zone's SOA differs from the defaults, which only Enterprise may change; reset the SOA settings first"))
	}
	if u.NSEC3 && !l.NSEC3 {
		add(NewFeature(LimitNSEC3, "plan", to, "the zone uses NSEC3, which only Enterprise offers"))
	}
	if !l.AllowsSetup(u.Type) {
		lim := LimitPartialSetup
		if u.Type == dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
			lim = LimitSecondarySetup
		}
		add(NewFeature(lim, "plan", to, "the zone's %s setup is not available on the %s plan", setupName(u.Type), l.Name))
	}
	if u.Subdomain && !l.SubdomainSetup {
		add(NewFeature(LimitSubdomainSetup, "plan", to, "subdomain setup is only available on Enterprise"))
	}
	if u.ZoneCustomNameservers && !l.ZoneCustomNameservers {
		add(NewFeature(LimitZoneCustomNS, "plan", to, "zone custom nameservers are only available on Business and Enterprise"))
	}
	if u.AdvancedNameservers && !l.AdvancedNameservers {
		add(NewFeature(LimitAdvancedNS, "plan", to, "advanced nameservers are only available on Enterprise"))
	}
	if len(vs) == 0 {
		return nil
	}
	return &DowngradeError{From: from, To: to, Violations: vs}
}

func setupName(t dnsv1.ZoneType) string {
	switch t {
	case dnsv1.ZoneType_ZONE_TYPE_PARTIAL:
		return "partial (CNAME)"
	case dnsv1.ZoneType_ZONE_TYPE_SECONDARY:
		return "secondary"
	}
	return "full"
}

// DowngradeError is a plan change refused because the zone exceeds limits
// of the new plan; Violations holds one LimitError per limit (Field is
// "plan", the field of the plan-change request).
type DowngradeError struct {
	From, To   Plan
	Violations []*LimitError
}

// Limits returns the names of the limits exceeded, in order.
func (e *DowngradeError) Limits() []string {
	out := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		out[i] = v.Limit
	}
	return out
}

func (e *DowngradeError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Limit + ": " + v.Description
	}
	return fmt.Sprintf("plan: cannot change from %s to %s: %s", For(e.From).Name, For(e.To).Name, strings.Join(parts, "; "))
}

// GRPCStatus is FailedPrecondition with a PreconditionFailure violation per
// limit (type PLAN_LIMIT, subject the limit's name) and an ErrorInfo
// (reason PLAN_CHANGE_EXCEEDS_LIMITS, metadata from, to, limits).
func (e *DowngradeError) GRPCStatus() *grpcstatus.Status {
	pf := &errdetails.PreconditionFailure{}
	for _, v := range e.Violations {
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type: preconditionTypeLimits, Subject: v.Limit, Description: v.Description})
	}
	info := &errdetails.ErrorInfo{Reason: reasonDowngrade, Domain: ErrorDomain, Metadata: map[string]string{
		"field": "plan", "from": For(e.From).Name, "to": For(e.To).Name, "limits": strings.Join(e.Limits(), ","),
	}}
	st, err := grpcstatus.New(codes.FailedPrecondition, e.Error()).WithDetails(pf, info)
	if err != nil {
		return grpcstatus.New(codes.FailedPrecondition, e.Error())
	}
	return st
}
