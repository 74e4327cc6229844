package records

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

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
	name, err := qualifyName(rawName, zone.GetName())
	if err != nil {
		return nil, err
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
	if err := hostLabels(out.Type, out.Name); err != nil {
		return nil, err
	}
	if out.Type == "NS" && out.Name != zone.GetName() && zone.GetType() == dnsv1.ZoneType_ZONE_TYPE_PARTIAL {
		// "DNS delegation is not possible for Cloudflare domains using a
		// partial setup" ("Delegate subdomains"): the zone's names are
		// CNAMEd to the platform, it answers no referrals for them.
		return nil, invalid("type", "DNS delegation is not possible for zones using a partial setup")
	}

	out.Proxiable = proxiable(out.Type, out.Content, np)
	if in.GetProxied() {
		switch {
		case out.Type != "A" && out.Type != "AAAA" && out.Type != "CNAME":
			return nil, invalid("proxied", "only A, AAAA and CNAME records can be proxied, not %s", out.Type)
		case !out.Proxiable:
			return nil, invalid("proxied", "CNAME target %s cannot be proxied", out.Content)
		}
		if err := proxiableAddress(out.Type, out.Content); err != nil {
			return nil, err
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
		return "", invalid("comment", "contains a control character: comments do not support newline (\\n) or carriage return (\\r) characters")
	}
	return c, nil
}

// notTagNameRune reports a rune a tag name may not hold: "tag names ...
// can only contain letters, numbers, -, and _".
func notTagNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// reservedTagPrefix starts the tags zone files use for settings of the
// record itself (cf-proxied, cf-flatten-cname: "Import and export
// records", "Reserved cf- tags"). They are syntax of the zone file, not
// data: on the record API the fields proxied and settings.flatten_cname
// say the same, and storing them as tags would let the tag contradict the
// field, and an export could not tell the two apart.
const reservedTagPrefix = "cf-"

// tags: only on plans with tags; at most 20, each name:value or a bare
// name (the import and export page shows "tag-without-value"), the name up
// to 32 characters of letters, digits, - and _ (case-insensitive, stored
// lower-case), the value up to 100 characters with the comment's
// character rules, no duplicates, no reserved cf- names ("DNS record
// comments and tags", Reference).
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
		name, value, hasValue := strings.Cut(t, ":")
		switch {
		case name == "":
			return nil, invalid(field, "%q has no tag name; a tag is name:value or a name alone", t)
		case !utf8.ValidString(t) || strings.IndexFunc(t, unicode.IsControl) >= 0:
			return nil, invalid(field, "contains invalid characters (tags do not support newline or carriage return characters)")
		case strings.IndexFunc(name, notTagNameRune) >= 0:
			return nil, invalid(field, "tag name %q may only hold letters, digits, - and _", name)
		case utf8.RuneCountInString(name) > l.TagNameMax:
			return nil, plans.NewValue(plans.LimitTagNameLength, field, plan, int64(l.TagNameMax),
				"tag name is longer than %d characters", l.TagNameMax)
		case utf8.RuneCountInString(value) > l.TagValueMax:
			return nil, plans.NewValue(plans.LimitTagValueLength, field, plan, int64(l.TagValueMax),
				"tag value is longer than %d characters", l.TagValueMax)
		case strings.HasPrefix(strings.ToLower(name), reservedTagPrefix):
			return nil, invalid(field, "tag names starting with %q are reserved for zone file import and export (cf-proxied, cf-flatten-cname); set the record's proxied or settings.flatten_cname field instead", reservedTagPrefix)
		}
		// Tag names are not case-sensitive (the documents): stored
		// lower-case, and duplicates found on that form. Values are, like
		// comments, case-sensitive.
		t = strings.ToLower(name)
		if hasValue {
			t += ":" + value
		}
		if seen[t] {
			return nil, invalid(field, "duplicate tag %q", t)
		}
		seen[t] = true
		out = append(out, t)
	}
	return out, nil
}

// qualifyName resolves a record name against the zone ("@", relative,
// absolute) and applies the name rules every type shares: RFC 1035
// lengths (63 per label, 253 in all), letters, digits, -, _ and *, inside
// the zone. A name in Unicode is stored in its ASCII (punycode, xn--) form,
// the form DNS carries; the documents say nothing of IDNs.
func qualifyName(raw, apex string) (string, error) {
	if !isASCII(raw) {
		a, err := toASCII(raw)
		if err != nil {
			return "", invalid("name", "%q is not a valid internationalized name: %v", raw, err)
		}
		raw = a
	}
	name, err := dnsname.Qualify(raw, apex)
	if err != nil {
		return "", invalid("name", "%v", err)
	}
	return name, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// toASCII converts the Unicode labels of name to their A-labels, leaving
// ASCII labels (_dmarc, *, the apex "@") as they are: the IDNA profile
// would refuse their underscores and asterisks, which DNS names may hold.
func toASCII(name string) (string, error) {
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if isASCII(l) {
			continue
		}
		a, err := idna.Lookup.ToASCII(l)
		if err != nil {
			return "", fmt.Errorf("label %q: %w", l, err)
		}
		labels[i] = a
	}
	return strings.Join(labels, "."), nil
}

// hostLabels applies the documents' host name rules to the names of the
// records used for IP address resolution ("DNS record types", A and AAAA,
// CNAME: "Start with a letter and end with a letter or digit; only contain
// letters, digits, or hyphens (underscores allowed but discouraged)"). A
// label may still start with a digit (RFC 1123 allows it, and names such
// as 3d.example.com exist) or an underscore (_acme-challenge CNAMEs). A
// label that is only "*" is the wildcard as the first label and a literal
// elsewhere, as "Wildcard DNS records" says. Other types keep the wider
// DNS name rules (an SRV owner is _sip._tcp).
func hostLabels(typ, name string) error {
	switch typ {
	case "A", "AAAA", "CNAME":
	default:
		return nil
	}
	for rest := strings.TrimSuffix(name, "."); rest != ""; {
		var l string
		l, rest, _ = strings.Cut(rest, ".")
		if l == "*" {
			continue
		}
		first, last := l[0], l[len(l)-1]
		switch {
		case strings.ContainsRune(l, '*'):
			return invalid("name", "label %q of %s: an asterisk is only allowed as a whole label (the wildcard); %s names may only hold letters, digits, hyphens and underscores", l, name, typ)
		case first == '-':
			return invalid("name", "label %q of %s must not start with a hyphen", l, name)
		case !(last >= 'a' && last <= 'z' || last >= '0' && last <= '9'):
			return invalid("name", "label %q of %s must end with a letter or digit", l, name)
		}
	}
	return nil
}

// nonRoutable is the IPv4 space outside what netip classifies that the
// proxy can never reach an origin in: "this network" (RFC 791), shared
// address space (RFC 6598) and the reserved 240/4 with the broadcast
// address (RFC 1112).
var nonRoutable = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// proxiableAddress refuses proxying an A or AAAA record whose address the
// proxy cannot reach: private (RFC 1918, fc00::/7), loopback, link-local,
// multicast, unspecified and the non-routable blocks above. DNS-only such
// records are fine (internal names). The documentation addresses stay
// proxiable: the documents recommend a proxied 192.0.2.0 or 100:: as the
// placeholder origin of an "originless" setup (the "Proxy status" FAQ).
func proxiableAddress(typ, content string) error {
	if typ != "A" && typ != "AAAA" {
		return nil
	}
	ip, err := netip.ParseAddr(content)
	if err != nil {
		return nil // rdata refused it already; nothing to add
	}
	ip = ip.Unmap()
	bad := ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast()
	for _, p := range nonRoutable {
		bad = bad || p.Contains(ip)
	}
	if bad {
		return invalid("proxied", "%s is a private or reserved address the proxy cannot reach; such a record can only be DNS-only", content)
	}
	return nil
}

// anycastAddress refuses an A or AAAA record whose address is one of the
// platform's own anycast addresses: the content is "your origin server
// address (cannot be a Cloudflare IP)" ("DNS record types"), and a proxied
// record pointing at the proxy itself would loop. pool is a handful of
// addresses, so a scan beats a map.
func anycastAddress(typ, content string, pool []netip.Addr) error {
	if typ != "A" && typ != "AAAA" || len(pool) == 0 {
		return nil
	}
	ip, err := netip.ParseAddr(content)
	if err != nil {
		return nil
	}
	ip = ip.Unmap()
	for _, a := range pool {
		if a.Unmap() == ip {
			return invalid("content", "%s is one of the platform's anycast addresses; the address must be your origin server's (to be answered with the platform's addresses, proxy the record)", content)
		}
	}
	return nil
}
