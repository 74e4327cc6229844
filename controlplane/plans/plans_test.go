package plans

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

var (
	free = dnsv1.Plan_PLAN_FREE
	pro  = dnsv1.Plan_PLAN_PRO
	biz  = dnsv1.Plan_PLAN_BUSINESS
	ent  = dnsv1.Plan_PLAN_ENTERPRISE
)

func TestTableHasTheDocumentedValues(t *testing.T) {
	type row struct {
		records, before, batch, comment, tagsPer int
		minTTL                                   uint32
		tags, flatten, partial, subdomain        bool
		secondary, zoneCNS, accountCNS, advanced bool
		soa, nsec3, defaults, overridable        bool
	}
	want := map[dnsv1.Plan]row{
		free: {200, 1000, 200, 100, 0, 60, false, false, false, false, false, false, false, false, false, false, false, false},
		pro:  {3500, 3500, 3500, 500, 20, 60, true, true, false, false, false, false, false, false, false, false, false, false},
		biz:  {3500, 3500, 3500, 500, 20, 60, true, true, true, false, false, true, true, false, false, false, false, false},
		ent:  {3500, 3500, 3500, 500, 20, 30, true, true, true, true, true, true, true, true, true, true, true, true},
	}
	for p, w := range want {
		l := For(p)
		got := row{l.RecordsPerZone, l.RecordsPerZoneBefore, l.BatchOperations, l.CommentMax, l.TagsPerRecord, l.MinTTL,
			l.Tags, l.FlattenPerRecord && l.FlattenAll, l.PartialSetup, l.SubdomainSetup, l.SecondarySetup,
			l.ZoneCustomNameservers, l.AccountCustomNameservers, l.AdvancedNameservers, l.SOAEdits, l.NSEC3, l.ZoneDefaults, l.RecordsOverridable}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", l.Name, got, w)
		}
		if l.MaxTTL != 86400 {
			t.Errorf("%s: max TTL %d", l.Name, l.MaxTTL)
		}
		if l.Tags && (l.TagNameMax != 32 || l.TagValueMax != 100) {
			t.Errorf("%s: tag name/value limits %d/%d, want 32/100", l.Name, l.TagNameMax, l.TagValueMax)
		}
	}
	if For(dnsv1.Plan_PLAN_UNSPECIFIED).Plan != free {
		t.Error("an unspecified plan is not Free")
	}
}

func TestMaxRecordsByCreationDateAndOverride(t *testing.T) {
	tests := []struct {
		name     string
		plan     dnsv1.Plan
		created  time.Time
		override uint32
		want     int
	}{
		{"free after the cutoff", free, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 0, 200},
		{"free at the cutoff", free, FreeQuotaCutoff, 0, 200},
		{"free a second before", free, FreeQuotaCutoff.Add(-time.Second), 0, 1000},
		{"free without a creation time", free, time.Time{}, 0, 200},
		{"free ignores an override", free, time.Now(), 5000, 200},
		{"pro", pro, FreeQuotaCutoff.Add(-time.Hour), 0, 3500},
		{"business ignores an override", biz, time.Now(), 5000, 3500},
		{"enterprise", ent, time.Now(), 0, 3500},
		{"enterprise override", ent, time.Now(), 100000, 100000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := For(tt.plan).MaxRecords(tt.created, tt.override); got != tt.want {
				t.Fatalf("MaxRecords = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCheckDowngradeNamesEveryExceededLimit(t *testing.T) {
	recent := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		from, to dnsv1.Plan
		usage    Usage
		want     []string // limits, nil = allowed
	}{
		{"upgrade always passes", free, pro, Usage{Records: 150}, nil},
		{"pro to free within every limit", pro, free, Usage{Records: 200, CreatedOn: recent, MinTTL: 60, LongestComment: 100}, nil},
		{"too many records for free", pro, free, Usage{Records: 201, CreatedOn: recent}, []string{LimitRecordsPerZone}},
		{"old zone keeps 1,000 on free", pro, free, Usage{Records: 1000, CreatedOn: FreeQuotaCutoff.AddDate(-1, 0, 0)}, nil},
		{"override lost leaving enterprise", ent, biz, Usage{Records: 5000, RecordsOverride: 10000}, []string{LimitRecordsPerZone}},
		{"enterprise TTL 30 to business", ent, biz, Usage{MinTTL: 30}, []string{LimitMinTTL}},
		{"long comment, tags, flattening to free", biz, free,
			Usage{CreatedOn: recent, LongestComment: 101, TaggedRecords: 3, FlattenedRecords: 1, FlattenAll: true},
			[]string{LimitCommentLength, LimitTags, LimitFlattenPerRecord, LimitFlattenAll}},
		{"SOA and NSEC3 leaving enterprise", ent, pro, Usage{SOAEdited: true, NSEC3: true}, []string{LimitSOAEdits, LimitNSEC3}},
		{"partial zone to pro", biz, pro, Usage{Type: dnsv1.ZoneType_ZONE_TYPE_PARTIAL}, []string{LimitPartialSetup}},
		{"secondary zone to business", ent, biz, Usage{Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY}, []string{LimitSecondarySetup}},
		{"subdomain and advanced nameservers to business", ent, biz, Usage{Subdomain: true, AdvancedNameservers: true}, []string{LimitSubdomainSetup, LimitAdvancedNS}},
		{"zone custom nameservers to pro", biz, pro, Usage{ZoneCustomNameservers: true}, []string{LimitZoneCustomNS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDowngrade(tt.from, tt.to, tt.usage)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckDowngrade = %v, want nil", err)
				}
				return
			}
			var de *DowngradeError
			if !errors.As(err, &de) {
				t.Fatalf("CheckDowngrade = %v, want a *DowngradeError", err)
			}
			if !slices.Equal(de.Limits(), tt.want) {
				t.Fatalf("limits %v, want %v", de.Limits(), tt.want)
			}
			st := grpcstatus.Convert(err)
			if st.Code() != codes.FailedPrecondition {
				t.Fatalf("code %v, want FailedPrecondition", st.Code())
			}
			var subjects []string
			for _, d := range st.Details() {
				if pf, ok := d.(*errdetails.PreconditionFailure); ok {
					for _, v := range pf.GetViolations() {
						subjects = append(subjects, v.GetSubject())
					}
				}
			}
			if !slices.Equal(subjects, tt.want) {
				t.Fatalf("precondition subjects %v, want %v", subjects, tt.want)
			}
		})
	}
}

func TestMeasureCountsWhatDowngradesCheck(t *testing.T) {
	z := &dnsv1.Zone{Type: dnsv1.ZoneType_ZONE_TYPE_FULL}
	zs := &dnsv1.ZoneSettings{SoaTtl: 1800, MaxRecordsOverride: 4000}
	recs := []*dnsv1.Record{
		{Ttl: 1},
		{Ttl: 45},
		{Ttl: 30, Proxied: true}, // proxied records are automatic whatever is stored
		{Ttl: 120, Comment: "héllo", Tags: []string{"a:b"}},
		{Settings: &dnsv1.RecordSettings{FlattenCname: true}},
	}
	u := Measure(z, zs, recs)
	want := Usage{Type: dnsv1.ZoneType_ZONE_TYPE_FULL, Records: 5, RecordsOverride: 4000, MinTTL: 45, LongestComment: 5,
		TaggedRecords: 1, FlattenedRecords: 1, SOAEdited: true}
	if u != want {
		t.Fatalf("Measure = %+v, want %+v", u, want)
	}
}

func TestLimitErrorsAreStatuses(t *testing.T) {
	tests := []struct {
		name   string
		err    *LimitError
		code   codes.Code
		reason string
	}{
		{"value", NewValue(LimitMinTTL, "ttl", free, 60, "too low"), codes.InvalidArgument, "PLAN_LIMIT_EXCEEDED"},
		{"feature", NewFeature(LimitTags, "tags", free, "no tags"), codes.InvalidArgument, "FEATURE_NOT_IN_PLAN"},
		{"quota", NewQuota(LimitRecordsPerZone, "", "zones/z/records", free, 200, "full"), codes.ResourceExhausted, "RECORD_QUOTA_EXCEEDED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.err.WithFieldPrefix("posts[3].")
			st := grpcstatus.Convert(e)
			if st.Code() != tt.code {
				t.Fatalf("code %v, want %v", st.Code(), tt.code)
			}
			var field, reason, limit string
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.BadRequest:
					field = d.GetFieldViolations()[0].GetField()
				case *errdetails.ErrorInfo:
					reason, limit = d.GetReason(), d.GetMetadata()["limit"]
				}
			}
			wantField := "posts[3]." + tt.err.Field
			if tt.err.Field == "" {
				wantField = "posts[3]"
			}
			if field != wantField || reason != tt.reason || limit != tt.err.Limit {
				t.Fatalf("details field %q reason %q limit %q, want %q %q %q", field, reason, limit, wantField, tt.reason, tt.err.Limit)
			}
		})
	}
}
