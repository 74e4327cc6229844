package zones

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/status"
)

// Documented error codes of zone creation (source documents, "Cannot add
// domain to Cloudflare"), carried in the ErrorInfo detail's "code".
const (
	// CodeNotRegistered: "<domain> is not a registered domain (Code: 1049)".
	// We give it to names that cannot be registered at all: public suffixes.
	CodeNotRegistered = 1049
	// CodeNotIdentified: "We were unable to identify bad.psl-example as a
	// registered domain ... (Code: 1099)": a TLD not in the Public Suffix
	// List.
	CodeNotIdentified = 1099
	// CodeSubdomain: "This zone cannot be added ... (Code: 1093)", cause
	// "You may have entered a subdomain (www.example.com) instead of the
	// apex domain".
	CodeSubdomain = 1093
	// CodeRestricted: "This web property cannot be added to Cloudflare at
	// this time ... (Code: 1097)": names the platform keeps for itself.
	CodeRestricted = 1097
)

// ErrorInfo reasons of the ownership refusals.
const (
	ReasonUnknownTLD   = "UNKNOWN_TLD"
	ReasonPublicSuffix = "PUBLIC_SUFFIX"
	ReasonSubdomain    = "SUBDOMAIN_NEEDS_ENTERPRISE"
	ReasonReserved     = "RESERVED_NAME"
	ReasonReverse      = "NOT_A_REVERSE_PREFIX"
)

// DefaultPartialSuffix is the suffix partial (CNAME) setups point their
// hostnames at ("{your-hostname}.cdn.cloudflare.net" in the documents).
const DefaultPartialSuffix = "cdn.zonegrid.test."

// DefaultSOARname is the SOA contact the builder uses when none is set.
const DefaultSOARname = "dns.zonegrid.test."

// nameRules decides which names may become zones: only registrable domains
// (the Public Suffix List, both its ICANN and private sections, plus the
// operator's extra suffixes), subdomains of them only on the Enterprise
// plan (the documents' subdomain setup), never a name the platform uses.
type nameRules struct {
	// extra are operator-added public suffixes, normalized without the
	// final dot ("test", "example").
	extra []string
	// reserved are fully qualified names the platform uses: no zone at,
	// below or above them.
	reserved []string
}

// newNameRules builds the rules. Reserved names are widened to their
// registrable domain (ns1.zonegrid.test. reserves zonegrid.test.): the
// whole domain of a nameserver or of the SOA contact belongs to the
// platform.
func newNameRules(extra []string, pool []string, soaRname, partialSuffix string) (*nameRules, error) {
	r := &nameRules{}
	for _, e := range extra {
		n, err := dnsname.Normalize(e)
		if err != nil || n == "." {
			return nil, fmt.Errorf("zones: extra public suffix %q: invalid name", e)
		}
		r.extra = append(r.extra, strings.TrimSuffix(n, "."))
	}
	add := func(what, name string, dropFirst bool) error {
		n, err := dnsname.Normalize(name)
		if err != nil {
			return fmt.Errorf("zones: %s %q: %w", what, name, err)
		}
		if dropFirst { // a host or a mailbox: its domain is what is reserved
			n = dnsname.Parent(n)
		}
		if n == "." {
			return nil
		}
		if reg, ok := r.registrable(n); ok {
			n = reg
		}
		for _, have := range r.reserved {
			if have == n {
				return nil
			}
		}
		r.reserved = append(r.reserved, n)
		return nil
	}
	for _, ns := range pool {
		if err := add("nameserver", ns, true); err != nil {
			return nil, err
		}
	}
	if soaRname != "" {
		if err := add("SOA RNAME", soaRname, true); err != nil {
			return nil, err
		}
	}
	if partialSuffix != "" {
		if err := add("partial setup suffix", partialSuffix, false); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// suffix returns the public suffix of a normalized name (without the final
// dot) and whether its TLD is known (listed in the PSL's ICANN section or
// an extra suffix). The longest match of the PSL and the extras wins.
func (r *nameRules) suffix(d string) (string, bool) {
	ps, icann := publicsuffix.PublicSuffix(d)
	// Without an ICANN rule, a single-label suffix is the PSL's default
	// rule "*": the TLD is not in the list. (Private-section rules such as
	// github.io always have a dot and sit under a listed TLD.)
	known := icann || strings.Contains(ps, ".")
	for _, e := range r.extra {
		if (d == e || strings.HasSuffix(d, "."+e)) && strings.Count(e, ".") >= strings.Count(ps, ".") {
			ps, known = e, true
		}
	}
	return ps, known
}

// registrable returns the registrable domain (public suffix plus one
// label) of a normalized name, false when the name is a public suffix or
// its TLD is unknown.
func (r *nameRules) registrable(name string) (string, bool) {
	d := strings.TrimSuffix(name, ".")
	ps, known := r.suffix(d)
	if !known || d == ps {
		return "", false
	}
	rest := strings.TrimSuffix(d, "."+ps)
	return rest[strings.LastIndexByte(rest, '.')+1:] + "." + ps + ".", true
}

// check tells whether name (normalized, at least two labels) may become a
// zone on plan; the violation names the field "name".
func (r *nameRules) check(name string, plan dnsv1.Plan) *status.CodedViolation {
	d := strings.TrimSuffix(name, ".")
	refuse := func(reason string, code int, format string, args ...any) *status.CodedViolation {
		return &status.CodedViolation{
			FieldViolation: status.FieldViolation{Field: "name", Description: fmt.Sprintf(format, args...) + fmt.Sprintf(" (Code: %d)", code)},
			Reason:         reason, Code: code,
		}
	}
	ps, known := r.suffix(d)
	switch {
	case !known:
		return refuse(ReasonUnknownTLD, CodeNotIdentified,
			"We were unable to identify %s as a registered domain: its top-level domain is not in the Public Suffix List. Please ensure you are providing the root domain and not any subdomains (e.g., example.com, not subdomain.example.com)", d)
	case d == ps:
		return refuse(ReasonPublicSuffix, CodeNotRegistered,
			"%s is not a registered domain: it is a public suffix, under which others register names", d)
	}
	for _, res := range r.reserved {
		if dnsname.IsSubdomain(name, res) || dnsname.IsSubdomain(res, name) {
			return refuse(ReasonReserved, CodeRestricted,
				"This web property cannot be added: %s is used by the platform itself (nameserver, SOA contact or partial setup domain)", strings.TrimSuffix(res, "."))
		}
	}
	if rev, isRev := reverseZone(name); isRev {
		// Reverse zones are added by who holds the prefix, on any plan
		// ("Reverse zones and PTR records": the Free plan below 200 PTR
		// records); only prefix-aligned names make sense.
		if !rev {
			return refuse(ReasonReverse, CodeNotRegistered,
				"%s is not a reverse zone of an IP prefix: use whole octets (198.51.100.0/24 is 100.51.198.in-addr.arpa) or nibbles under ip6.arpa", d)
		}
		return nil
	}
	reg, _ := r.registrable(name)
	if reg != name && plan != dnsv1.Plan_PLAN_ENTERPRISE {
		return refuse(ReasonSubdomain, CodeSubdomain,
			"This zone cannot be added: %s is a subdomain of %s. Provide the apex domain; a subdomain setup (a separate zone for a subdomain) is only available on the Enterprise plan", d, strings.TrimSuffix(reg, "."))
	}
	return nil
}

// isSubdomain tells whether name is below its registrable domain (a
// subdomain setup).
func (r *nameRules) isSubdomain(name string) bool {
	reg, ok := r.registrable(name)
	return ok && reg != name
}

// reverseZone tells whether name is under in-addr.arpa or ip6.arpa
// (isRev) and, if so, whether it names an IP prefix: one to three decimal
// octets (0-255, no leading zeros) under in-addr.arpa, one to 31 hex
// nibbles under ip6.arpa.
func reverseZone(name string) (ok, isRev bool) {
	var labels []string
	var max int
	var valid func(string) bool
	switch {
	case dnsname.IsSubdomain(name, "in-addr.arpa.") && name != "in-addr.arpa.":
		labels, max = strings.Split(strings.TrimSuffix(name, ".in-addr.arpa."), "."), 3
		valid = func(l string) bool {
			n, err := strconv.Atoi(l)
			return err == nil && n >= 0 && n <= 255 && strconv.Itoa(n) == l
		}
	case dnsname.IsSubdomain(name, "ip6.arpa.") && name != "ip6.arpa.":
		labels, max = strings.Split(strings.TrimSuffix(name, ".ip6.arpa."), "."), 31
		valid = func(l string) bool { return len(l) == 1 && strings.Contains("0123456789abcdef", l) }
	default:
		return false, false
	}
	if len(labels) > max {
		return false, true
	}
	for _, l := range labels {
		if !valid(l) {
			return false, true
		}
	}
	return true, true
}
