package records

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records/rdata"
	"github.com/zonegrid/zonegrid/services/status"
)

// Listing limits (record.proto).
const (
	defaultPageSize = 100
	maxPageSize     = 5000
)

// ListRecords lists a zone's records, filtered, ordered and paginated (see
// docs/RECORD_SEARCH.md).
func (s *Service) ListRecords(ctx context.Context, req *dnsv1.ListRecordsRequest) (_ *dnsv1.ListRecordsResponse, err error) {
	defer s.observe("ListRecords", &err)
	if err := checkZoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, status.InvalidArgument("page_size", "must not be negative")
	case size == 0:
		size = defaultPageSize
	case size > maxPageSize:
		size = maxPageSize
	}
	zone, err := s.zone(ctx, req.GetZoneId())
	if err != nil {
		return nil, err
	}
	f, err := listFilter(req, zone.GetName())
	if err != nil {
		return nil, err
	}
	recs, next, err := s.st.ListRecords(ctx, req.GetZoneId(), f, size, req.GetPageToken())
	if errors.Is(err, store.ErrBadPageToken) {
		return nil, status.InvalidArgument("page_token", "is not a token of this listing")
	}
	if err != nil {
		return nil, s.storeErr(req.GetZoneId(), err)
	}
	return &dnsv1.ListRecordsResponse{Records: recs, NextPageToken: next}, nil
}

// listFilter turns a request into the store's filter, normalizing each
// value to the form the store compares (names qualified and lower-case,
// content canonical), and reports every invalid field at once.
func listFilter(req *dnsv1.ListRecordsRequest, zoneName string) (store.RecordFilter, error) {
	var bad []status.FieldViolation
	invalid := func(field, format string, args ...any) {
		bad = append(bad, status.FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
	}
	f := store.RecordFilter{Type: strings.ToUpper(strings.TrimSpace(req.GetType()))}
	if req.Proxied != nil {
		p := req.GetProxied()
		f.Proxied = &p
	}

	// Names: exact and ends_with are names (relative, "@" or absolute);
	// contains and starts_with are text, compared case-insensitively with
	// the name without its final dot.
	nf := req.GetNameFilter()
	qualify := func(field, name string) string {
		n, err := dnsname.Qualify(strings.TrimSpace(name), zoneName)
		if err != nil {
			invalid(field, "%v", err)
		}
		return n
	}
	if req.GetName() != "" {
		f.NameMatch.Exact = qualify("name", req.GetName())
	}
	if nf.GetExact() != "" {
		if n := qualify("name_filter.exact", nf.GetExact()); f.NameMatch.Exact != "" && n != f.NameMatch.Exact {
			invalid("name_filter.exact", "differs from name (the same filter given twice)")
		} else {
			f.NameMatch.Exact = n
		}
	}
	if e := strings.TrimSpace(nf.GetEndsWith()); e != "" {
		// A leading dot asks for the names strictly below.
		below := strings.HasPrefix(e, ".") && e != "."
		n := qualify("name_filter.ends_with", strings.TrimPrefix(e, "."))
		if below {
			n = "." + n
		}
		f.NameMatch.EndsWith = n
	}
	f.NameMatch.Contains = strings.TrimSuffix(strings.ToLower(nf.GetContains()), ".")
	f.NameMatch.StartsWith = strings.ToLower(nf.GetStartsWith())
	if nf.GetPresent() || nf.GetAbsent() {
		invalid("name_filter", "present and absent are only for comments: every record has a name")
	}

	// Content: exact compares the canonical form; the others fold case.
	cf := req.GetContentFilter()
	canon := func(c string) string {
		if f.Type != "" {
			// Match what is stored: "fe80::0:1" finds "fe80::1".
			if rd, err := rdata.Parse(f.Type, c, nil, 0); err == nil {
				return rd.Content
			}
		}
		return c
	}
	if req.GetContent() != "" {
		f.ContentMatch.Exact = canon(req.GetContent())
	}
	if cf.GetExact() != "" {
		if c := canon(cf.GetExact()); f.ContentMatch.Exact != "" && c != f.ContentMatch.Exact {
			invalid("content_filter.exact", "differs from content (the same filter given twice)")
		} else {
			f.ContentMatch.Exact = c
		}
	}
	f.ContentMatch.Contains = strings.ToLower(cf.GetContains())
	f.ContentMatch.StartsWith = strings.ToLower(cf.GetStartsWith())
	f.ContentMatch.EndsWith = strings.ToLower(cf.GetEndsWith())
	if cf.GetPresent() || cf.GetAbsent() {
		invalid("content_filter", "present and absent are only for comments: every record has content")
	}

	// Comments compare as they are stored: case-sensitively.
	cm := req.GetComment()
	f.Comment = store.TextMatch{
		Exact: cm.GetExact(), Contains: cm.GetContains(), StartsWith: cm.GetStartsWith(), EndsWith: cm.GetEndsWith(),
		Present: cm.GetPresent(), Absent: cm.GetAbsent(),
	}
	switch {
	case cm.GetPresent() && cm.GetAbsent():
		invalid("comment", "present and absent cannot both be set")
	case cm.GetAbsent() && (cm.GetExact() != "" || cm.GetContains() != "" || cm.GetStartsWith() != "" || cm.GetEndsWith() != ""):
		invalid("comment.absent", "cannot be combined with a test of the comment's text")
	}

	for i, t := range req.GetTags() {
		if m, ok := tagMatch(fmt.Sprintf("tags[%d]", i), t, invalid); ok {
			f.Tags = append(f.Tags, m)
		}
	}

	var ok bool
	if f.Any, ok = anyOf(req.GetMatch()); !ok {
		invalid("match", "unknown value %d", req.GetMatch())
	}
	if f.TagsAny, ok = anyOf(req.GetTagMatch()); !ok {
		invalid("tag_match", "unknown value %d", req.GetTagMatch())
	}
	switch req.GetOrder() {
	case dnsv1.RecordOrder_RECORD_ORDER_UNSPECIFIED, dnsv1.RecordOrder_RECORD_ORDER_NAME:
		f.Order = store.OrderName
	case dnsv1.RecordOrder_RECORD_ORDER_TYPE:
		f.Order = store.OrderType
	case dnsv1.RecordOrder_RECORD_ORDER_CONTENT:
		f.Order = store.OrderContent
	case dnsv1.RecordOrder_RECORD_ORDER_TTL:
		f.Order = store.OrderTTL
	case dnsv1.RecordOrder_RECORD_ORDER_PROXIED:
		f.Order = store.OrderProxied
	default:
		invalid("order", "unknown value %d", req.GetOrder())
	}
	f.Descending = req.GetDescending()
	if len(bad) > 0 {
		return store.RecordFilter{}, status.InvalidArguments(bad...)
	}
	return f, nil
}

func anyOf(m dnsv1.Match) (anyOf, ok bool) {
	switch m {
	case dnsv1.Match_MATCH_UNSPECIFIED, dnsv1.Match_MATCH_ALL:
		return false, true
	case dnsv1.Match_MATCH_ANY:
		return true, true
	}
	return false, false
}

// tagMatch checks one tag filter: exactly one test, a tag name as records
// hold them (compared folded), and "name:value" for the tests of a value.
func tagMatch(field string, t *dnsv1.TagFilter, invalid func(field, format string, args ...any)) (store.TagMatch, bool) {
	type test struct {
		kind  store.TagMatchKind
		field string
		arg   string
	}
	var set []test
	for _, c := range []test{
		{store.TagPresent, "present", t.GetPresent()},
		{store.TagAbsent, "absent", t.GetAbsent()},
		{store.TagExact, "exact", t.GetExact()},
		{store.TagContains, "contains", t.GetContains()},
		{store.TagStartsWith, "starts_with", t.GetStartsWith()},
		{store.TagEndsWith, "ends_with", t.GetEndsWith()},
	} {
		if c.arg != "" {
			set = append(set, c)
		}
	}
	if len(set) != 1 {
		invalid(field, "exactly one of present, absent, exact, contains, starts_with, ends_with must be set (%d are)", len(set))
		return store.TagMatch{}, false
	}
	c := set[0]
	field += "." + c.field
	name, value := c.arg, ""
	if c.kind != store.TagPresent && c.kind != store.TagAbsent {
		var ok bool
		if name, value, ok = strings.Cut(c.arg, ":"); !ok {
			invalid(field, "%q is not of the form name:value", c.arg)
			return store.TagMatch{}, false
		}
	}
	if name == "" || strings.IndexFunc(name, notTagNameRune) >= 0 {
		invalid(field, "tag name %q may only hold letters, digits, - and _", name)
		return store.TagMatch{}, false
	}
	return store.TagMatch{Kind: c.kind, Name: strings.ToLower(name), Value: value}, true
}
