package records

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zonegrid/zonegrid/controlplane/plans"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records/rdata"
)

// ttlAuto is the TTL value meaning "automatic". Every other per-plan limit
// (minimum TTL, comment length, tags, per-record flattening) comes from
// controlplane/plans.
const ttlAuto = 1

type fieldError = rdata.FieldError

func invalid(field, format string, args ...any) *fieldError {
	return &fieldError{Field: field, Description: fmt.Sprintf(format, args...)}
}

// normalize validates the user-writable fields of in, on their own and
// against the zone, and returns the record as it is stored (without id,
// zone id, meta or times). It does not look at other records.
func normalize(in *dnsv1.Record, zone *dnsv1.Zone, settings *dnsv1.ZoneSettings, np NonProxiable) (*dnsv1.Record, error) {
	if in == nil {
		return nil, invalid("", "record is required")
	}
	out := &dnsv1.Record{}

	rawName := strings.TrimSpace(in.GetName())
	if rawName == "" {
		return nil, invalid("name", "is required (use @ for the zone apex)")
	}
	name, err := dnsname.Qualify(rawName, zone.GetName())
	if err != nil {
		return nil, invalid("name", "%v", err)
	}
	out.Name = name

	out.Type = strings.ToUpper(strings.TrimSpace(in.GetType()))
	if out.Type == "" {
		return nil, invalid("type", "is required")
	}
	rd, err := rdata.Parse(out.Type, in.GetContent(), in.GetData(), in.GetPriority())
	if err != nil {
		return nil, err
	}
	out.Content, out.Data, out.Priority = rd.Content, rd.Data, rd.Priority
	if out.Type == "CNAME" && out.Content == out.Name {
		return nil, invalid("content", "a CNAME record cannot point to its own name")
	}

	out.Proxiable = proxiable(out.Type, out.Content, np)
	if in.GetProxied() {
		switch {
		case out.Type != "A" && out.Type != "AAAA" && out.Type != "CNAME":
			return nil, invalid("proxied", "only A, AAAA and CNAME records can be proxied, not %s", out.Type)
		case !out.Proxiable:
			return nil, invalid("proxied", "CNAME target %s cannot be proxied", out.Content)
		}
		out.Proxied = true
	}

	out.Ttl, err = ttl(in.GetTtl(), out.Proxied, zone.GetPlan())
	if err != nil {
		return nil, err
	}

	if in.GetSettings().GetFlattenCname() {
		if err := checkFlatten(out, zone, settings); err != nil {
			return nil, err
		}
		out.Settings = &dnsv1.RecordSettings{FlattenCname: true}
	}

	if zone.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
		// "Comments and tags are only supported for full and partial zones."
		if in.GetComment() != "" {
			return nil, invalid("comment", "comments are only supported on full and partial zones")
		}
		if len(in.GetTags()) > 0 {
			return nil, invalid("tags", "tags are only supported on full and partial zones")
		}
	}
	if out.Comment, err = comment(in.GetComment(), zone.GetPlan()); err != nil {
		return nil, err
	}
	if out.Tags, err = tags(in.GetTags(), zone.GetPlan()); err != nil {
		return nil, err
	}
	return out, nil
}

// proxiable: only records used for IP address resolution, and not CNAMEs to
// targets on the non-proxiable list. Wildcards can be proxied.
func proxiable(typ, content string, np NonProxiable) bool {
	switch typ {
	case "A", "AAAA":
		return true
	case "CNAME":
		return !np.Blocks(content)
	}
	return false
}

// ttl applies the TTL rules: 0 means automatic; proxied records are always
// automatic (the documents: "This value cannot be edited"), so a given TTL is
// replaced rather than refused.
func ttl(v uint32, proxied bool, plan dnsv1.Plan) (uint32, error) {
	if v == 0 || proxied {
		return ttlAuto, nil
	}
	l := plans.For(plan)
	switch {
	case v == ttlAuto:
		return v, nil
	case v < l.MinTTL:
		return 0, plans.NewValue(plans.LimitMinTTL, "ttl", plan, int64(l.MinTTL),
			"must be 1 (automatic) or between %d and %d seconds on the %s plan", l.MinTTL, l.MaxTTL, l.Name)
	case v > l.MaxTTL:
		return 0, invalid("ttl", "must be 1 (automatic) or between %d and %d seconds", l.MinTTL, l.MaxTTL)
	}
	return v, nil
}

func checkFlatten(r *dnsv1.Record, zone *dnsv1.Zone, settings *dnsv1.ZoneSettings) error {
	const field = "settings.flatten_cname"
	switch {
	case r.Type != "CNAME":
		return invalid(field, "only CNAME records can be flattened")
	case r.Name == zone.GetName():
		return invalid(field, "a CNAME at the zone apex is always flattened")
	case r.Proxied:
		return invalid(field, "proxied records are flattened by default")
	case settings.GetFlattenAllCnames():
		return invalid(field, "the zone already flattens all CNAME records")
	case !plans.For(zone.GetPlan()).FlattenPerRecord:
		return plans.NewFeature(plans.LimitFlattenPerRecord, field, zone.GetPlan(),
			"flattening individual CNAME records needs a paid plan, the zone is on %s", plans.For(zone.GetPlan()).Name)
	}
	return nil
}

func comment(c string, plan dnsv1.Plan) (string, error) {
	l := plans.For(plan)
	if !utf8.ValidString(c) {
		return "", invalid("comment", "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(c); n > l.CommentMax {
		return "", plans.NewValue(plans.LimitCommentLength, "comment", plan, int64(l.CommentMax),
			"is %d characters, at most %d are allowed on the %s plan", n, l.CommentMax, l.Name)
	}
	if strings.IndexFunc(c, unicode.IsControl) >= 0 {
		return "", invalid("comment", "contains a control character")
	}
	return c, nil
}

// notTagNameRune reports a rune a tag name may not hold: "tag names ...
// can only contain letters, numbers, -, and _".
func notTagNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// tags: only on plans with tags; at most 20 of the form name:value, name up
// to 32 characters of letters, digits, - and _ (case-insensitive, stored
// lower-case), value up to 100 characters without control characters, no
// duplicates ("DNS record comments and tags", Reference).
func tags(in []string, plan dnsv1.Plan) ([]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	l := plans.For(plan)
	if !l.Tags {
		return nil, plans.NewFeature(plans.LimitTags, "tags", plan, "record tags are not available on the %s plan", l.Name)
	}
	if len(in) > l.TagsPerRecord {
		return nil, plans.NewValue(plans.LimitTagsPerRecord, "tags", plan, int64(l.TagsPerRecord),
			"%d tags given, at most %d are allowed", len(in), l.TagsPerRecord)
	}
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for i, t := range in {
		field := fmt.Sprintf("tags[%d]", i)
		name, value, ok := strings.Cut(t, ":")
		switch {
		case !ok || name == "":
			return nil, invalid(field, "%q is not of the form name:value", t)
		case !utf8.ValidString(t) || strings.IndexFunc(t, unicode.IsControl) >= 0:
			return nil, invalid(field, "contains invalid characters")
		case strings.IndexFunc(name, notTagNameRune) >= 0:
			return nil, invalid(field, "tag name %q may only hold letters, digits, - and _", name)
		case utf8.RuneCountInString(name) > l.TagNameMax:
			return nil, plans.NewValue(plans.LimitTagNameLength, field, plan, int64(l.TagNameMax),
				"tag name is longer than %d characters", l.TagNameMax)
		case utf8.RuneCountInString(value) > l.TagValueMax:
			return nil, plans.NewValue(plans.LimitTagValueLength, field, plan, int64(l.TagValueMax),
				"tag value is longer than %d characters", l.TagValueMax)
		}
		// Tag names are not case-sensitive (the documents): stored
		// lower-case, and duplicates found on that form.
		t = strings.ToLower(name) + ":" + value
		if seen[t] {
			return nil, invalid(field, "duplicate tag %q", t)
		}
		seen[t] = true
		out = append(out, t)
	}
	return out, nil
}
