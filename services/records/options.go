package records

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
)

// Options configure the record service. The zero value is usable.
type Options struct {
	// NonProxiable lists CNAME targets that must not be proxied. The zero
	// value means DefaultNonProxiable.
	NonProxiable NonProxiable
	// Now returns the current time for created_on/modified_on; nil means
	// time.Now.
	Now func() time.Time
	// Registerer receives the service's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// SOARname is the SOA RNAME ExportRecords writes for zones whose
	// settings set none: the builder's (builder.Config.SOARname); ""
	// means the builder's default, "dns.zonegrid.test.".
	SOARname string
	// Anycast is the edges' anycast pools (both families), the addresses
	// proxied names answer with: an A or AAAA record may not have one as
	// its content. Empty: nothing is refused on that ground. The control
	// plane takes them from --anycast-v4 and --anycast-v6, the edges' flags.
	Anycast []netip.Addr
}

// NonProxiable is the list of CNAME targets the proxy refuses (source
// documents, "Proxying limitations"): proxying them breaks the third-party
// verification they exist for. Names are compared lower-case, without the
// trailing dot.
type NonProxiable struct {
	// Exact targets.
	Exact []string
	// Targets blocked together with every name below them.
	ExactOrSubdomain []string
	// Only the names strictly below these are blocked.
	SubdomainOf []string
}

// DefaultNonProxiable is the list from the source documents.
func DefaultNonProxiable() NonProxiable {
	return NonProxiable{
		Exact:            []string{"dkim2.mcsv.net", "dkim3.mcsv.net", "zmverify.zoho.com", "dkim.infusionmail.com"},
		ExactOrSubdomain: []string{"dkim.amazonses.com"},
		SubdomainOf:      []string{"onmicrosoft.com", "dkim.intercom.io", "acm-validations.aws"},
	}
}

func (n NonProxiable) empty() bool {
	return len(n.Exact) == 0 && len(n.ExactOrSubdomain) == 0 && len(n.SubdomainOf) == 0
}

// Blocks reports whether a CNAME pointing at target must not be proxied.
func (n NonProxiable) Blocks(target string) bool {
	t := strings.TrimSuffix(strings.ToLower(target), ".")
	for _, e := range n.Exact {
		if t == norm(e) {
			return true
		}
	}
	for _, e := range n.ExactOrSubdomain {
		if e = norm(e); t == e || strings.HasSuffix(t, "."+e) {
			return true
		}
	}
	for _, e := range n.SubdomainOf {
		if strings.HasSuffix(t, "."+norm(e)) {
			return true
		}
	}
	return false
}

func norm(s string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") }

// ParseNonProxiable reads a list in the form the control plane keeps in a
// file: one entry per line, "exact NAME", "exact-or-subdomain NAME" or
// "subdomain NAME"; blank lines and lines starting with # are skipped.
func ParseNonProxiable(r io.Reader) (NonProxiable, error) {
	var n NonProxiable
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 2 {
			return NonProxiable{}, fmt.Errorf("non-proxiable list line %d: want \"KIND NAME\"", line)
		}
		if _, err := dnsname.Normalize(f[1]); err != nil {
			return NonProxiable{}, fmt.Errorf("non-proxiable list line %d: %w", line, err)
		}
		switch f[0] {
		case "exact":
			n.Exact = append(n.Exact, norm(f[1]))
		case "exact-or-subdomain":
			n.ExactOrSubdomain = append(n.ExactOrSubdomain, norm(f[1]))
		case "subdomain":
			n.SubdomainOf = append(n.SubdomainOf, norm(f[1]))
		default:
			return NonProxiable{}, fmt.Errorf("non-proxiable list line %d: unknown kind %q", line, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return NonProxiable{}, fmt.Errorf("read non-proxiable list: %w", err)
	}
	return n, nil
}
