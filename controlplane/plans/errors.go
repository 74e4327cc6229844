package plans

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of plan errors (the same
// as services/status).
const ErrorDomain = "zonegrid"

// Kind says what sort of plan limit a request ran into, which decides its
// gRPC code.
type Kind int

const (
	// Value: a value beyond the plan's bound (a TTL below the minimum, a
	// comment too long). codes.InvalidArgument, ErrorInfo reason
	// PLAN_LIMIT_EXCEEDED.
	Value Kind = iota
	// Feature: the plan lacks the feature (tags on Free, SOA edits below
	// Enterprise). codes.InvalidArgument, reason FEATURE_NOT_IN_PLAN: the
	// request is wrong for this zone whatever the zone's state.
	Feature
	// Quota: a count the zone would exceed (records per zone).
	// codes.ResourceExhausted with a google.rpc.QuotaFailure, reason
	// RECORD_QUOTA_EXCEEDED: the same request may pass after deletions or
	// a plan change.
	Quota
)

// Limit names, as they appear in ErrorInfo metadata ("limit") and in
// README.md.
const (
	LimitRecordsPerZone    = "records_per_zone"
	LimitBatchOperations   = "batch_operations"
	LimitMinTTL            = "min_ttl"
	LimitCommentLength     = "comment_length"
	LimitTags              = "tags"
	LimitTagsPerRecord     = "tags_per_record"
	LimitTagNameLength     = "tag_name_length"
	LimitTagValueLength    = "tag_value_length"
	LimitFlattenPerRecord  = "flatten_per_record"
	LimitFlattenAll        = "flatten_all_cnames"
	LimitSOAEdits          = "soa_edits"
	LimitZoneDefaults      = "zone_defaults"
	LimitRecordsOverride   = "records_per_zone_override"
	LimitNSEC3             = "nsec3"
	LimitPartialSetup      = "partial_setup"
	LimitSubdomainSetup    = "subdomain_setup"
	LimitSecondarySetup    = "secondary_setup"
	LimitZoneCustomNS      = "zone_custom_nameservers"
	LimitAdvancedNS        = "advanced_nameservers"
	LimitAccountCustomNS   = "account_custom_nameservers"
	reasonValue            = "PLAN_LIMIT_EXCEEDED"
	reasonFeature          = "FEATURE_NOT_IN_PLAN"
	reasonQuota            = "RECORD_QUOTA_EXCEEDED"
	reasonDowngrade        = "PLAN_CHANGE_EXCEEDS_LIMITS"
	preconditionTypeLimits = "PLAN_LIMIT"
)

// LimitError is a request refused by a plan limit. It is a gRPC status
// error (GRPCStatus), so services return it as is; its details name the
// request field (google.rpc.BadRequest) and the limit (google.rpc.ErrorInfo
// with metadata limit, field, plan and, when there is one, max).
type LimitError struct {
	Kind Kind
	// Limit is one of the Limit constants.
	Limit string
	// Field is the request field at fault (e.g. "record.tags",
	// "posts[3]").
	Field string
	// Plan is the zone's plan (unspecified when the limit is not a zone's,
	// e.g. zone defaults of an account).
	Plan Plan
	// Max is the bound, when the limit has one (0 otherwise).
	Max int64
	// Subject is what a quota counts (e.g. "zones/<id>/records").
	Subject string
	// Description says what went wrong, for people.
	Description string
}

// NewValue, NewFeature and NewQuota build LimitErrors of each kind.
func NewValue(limit, field string, p Plan, max int64, format string, args ...any) *LimitError {
	return &LimitError{Kind: Value, Limit: limit, Field: field, Plan: p, Max: max, Description: fmt.Sprintf(format, args...)}
}

// NewFeature is a feature the plan lacks.
func NewFeature(limit, field string, p Plan, format string, args ...any) *LimitError {
	return &LimitError{Kind: Feature, Limit: limit, Field: field, Plan: p, Description: fmt.Sprintf(format, args...)}
}

// NewQuota is a count the request would take beyond max.
func NewQuota(limit, field, subject string, p Plan, max int64, format string, args ...any) *LimitError {
	return &LimitError{Kind: Quota, Limit: limit, Field: field, Plan: p, Max: max, Subject: subject, Description: fmt.Sprintf(format, args...)}
}

func (e *LimitError) Error() string {
	if e.Field == "" {
		return e.Description
	}
	return e.Field + ": " + e.Description
}

// WithFieldPrefix returns a copy of e whose field is prefixed (a record's
// "tags" becomes "posts[2].tags"); a field-less error gets the prefix
// without its trailing dot.
func (e *LimitError) WithFieldPrefix(prefix string) *LimitError {
	c := *e
	if c.Field == "" {
		c.Field = strings.TrimSuffix(prefix, ".")
	} else {
		c.Field = prefix + c.Field
	}
	return &c
}

func (e *LimitError) info() *errdetails.ErrorInfo {
	reason := reasonValue
	switch e.Kind {
	case Feature:
		reason = reasonFeature
	case Quota:
		reason = reasonQuota
	}
	md := map[string]string{"limit": e.Limit, "field": e.Field}
	if e.Plan != dnsv1.Plan_PLAN_UNSPECIFIED {
		md["plan"] = For(e.Plan).Name
	}
	if e.Max > 0 {
		md["max"] = strconv.FormatInt(e.Max, 10)
	}
	return &errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: md}
}

// GRPCStatus makes a LimitError a gRPC status error.
func (e *LimitError) GRPCStatus() *grpcstatus.Status {
	code := codes.InvalidArgument
	if e.Kind == Quota {
		code = codes.ResourceExhausted
	}
	msg := e.Error()
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: e.Field, Description: e.Description}}}
	var (
		st  *grpcstatus.Status
		err error
	)
	if e.Kind == Quota {
		qf := &errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: e.Subject, Description: e.Description}}}
		st, err = grpcstatus.New(code, msg).WithDetails(br, e.info(), qf)
	} else {
		st, err = grpcstatus.New(code, msg).WithDetails(br, e.info())
	}
	if err != nil {
		// Only a nil or unmarshalable detail fails; keep the code.
		return grpcstatus.New(code, msg)
	}
	return st
}
