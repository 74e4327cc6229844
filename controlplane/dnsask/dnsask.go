// Package dnsask asks one DNS server one question: the control plane's
// look at the public DNS (activation checks, the anti-hijack lookup, the
// records quick scan) through one client and one reading of the answer.
package dnsask

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultTimeout bounds a question when the caller gives none.
const DefaultTimeout = 3 * time.Second

// Ask sends name/qtype to server (host:port), with recursion desired when
// rd, and returns the records owned by name of type qtype, or a CNAME at
// name, from the answer; for NS also from the referral of a server
// authoritative for the parent. NXDOMAIN is no records; any other rcode but
// NOERROR is an error.
func Ask(ctx context.Context, server, name string, qtype uint16, rd bool, timeout time.Duration) ([]dns.RR, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name = dns.Fqdn(name)
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = rd
	c := &dns.Client{Timeout: timeout}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return nil, fmt.Errorf("could not ask %s for the %s records of %s: %w", server, dns.TypeToString[qtype], name, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, nil
	default:
		return nil, fmt.Errorf("%s answered %s for the %s records of %s", server, dns.RcodeToString[resp.Rcode], dns.TypeToString[qtype], name)
	}
	sections := [][]dns.RR{resp.Answer}
	if qtype == dns.TypeNS {
		sections = append(sections, resp.Ns)
	}
	var out []dns.RR
	for _, sec := range sections {
		for _, rr := range sec {
			h := rr.Header()
			if strings.EqualFold(h.Name, name) && (h.Rrtype == qtype || h.Rrtype == dns.TypeCNAME) {
				out = append(out, rr)
			}
		}
		if len(out) > 0 {
			break
		}
	}
	return out, nil
}
