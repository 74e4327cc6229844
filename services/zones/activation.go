package zones

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// activator decides when a zone becomes active.
type activator interface {
	// activateOnCreate tells whether a new zone starts ACTIVE, given the
	// other accounts' zones of the same name.
	activateOnCreate(sameName []*dnsv1.Zone) bool
	// check runs the ownership check of an inactive zone; reason says why
	// it failed.
	check(ctx context.Context, z *dnsv1.Zone, sameName []*dnsv1.Zone) (ok bool, reason string)
}

func anyActive(zs []*dnsv1.Zone) bool {
	return slices.ContainsFunc(zs, func(z *dnsv1.Zone) bool {
		return z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE
	})
}

// immediate trusts the first account to claim a name: no external proof.
type immediate struct{}

func (immediate) activateOnCreate(sameName []*dnsv1.Zone) bool { return !anyActive(sameName) }

func (immediate) check(_ context.Context, _ *dnsv1.Zone, sameName []*dnsv1.Zone) (bool, string) {
	if anyActive(sameName) {
		return false, "another account's zone of this name is active"
	}
	return true, ""
}

// delegation activates a zone when the DNS delegates its name to exactly
// the assigned nameservers, the proof of control the source documents use.
type delegation struct {
	resolver string
	timeout  time.Duration
}

func (*delegation) activateOnCreate([]*dnsv1.Zone) bool { return false }

func (d *delegation) check(ctx context.Context, z *dnsv1.Zone, _ []*dnsv1.Zone) (bool, string) {
	got, err := d.lookupNS(ctx, z.GetName())
	if err != nil {
		return false, fmt.Sprintf("could not look up the nameservers of %s: %v", z.GetName(), err)
	}
	want := dnsname.NormalizedSet(z.GetNameServers())
	if !slices.Equal(got, want) {
		if len(got) == 0 {
			return false, fmt.Sprintf("%s has no NS records; set them to %s", z.GetName(), strings.Join(want, ", "))
		}
		return false, fmt.Sprintf("nameservers are %s; set them to %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	return true, ""
}

// lookupNS asks the resolver for the NS set of name, accepting it from the
// answer or, from a server authoritative for the parent, the referral.
func (d *delegation) lookupNS(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeNS)
	m.RecursionDesired = true
	c := &dns.Client{Timeout: d.timeout}
	resp, _, err := c.ExchangeContext(ctx, m, d.resolver)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", d.resolver, err)
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("resolver %s answered %s", d.resolver, dns.RcodeToString[resp.Rcode])
	}
	var ns []string
	for _, section := range [][]dns.RR{resp.Answer, resp.Ns} {
		for _, rr := range section {
			if n, ok := rr.(*dns.NS); ok && strings.EqualFold(n.Hdr.Name, name) {
				ns = append(ns, n.Ns)
			}
		}
		if len(ns) > 0 {
			break
		}
	}
	return dnsname.NormalizedSet(ns), nil
}
