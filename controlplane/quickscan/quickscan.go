// Package quickscan finds the records a new zone probably had at its
// previous provider: it asks the zone's current public nameservers for a
// fixed list of common names and types (the documents' "Records quick
// scan": "a list of recurring patterns of DNS records type and name"), so
// that a user moving a zone starts with them instead of an empty zone.
package quickscan

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/controlplane/dnsask"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Pattern is one name (relative to the zone, "@" for the apex) and type
// the scan asks for.
type Pattern struct {
	Name string
	Type uint16
}

// DefaultPatterns are the documents' examples (apex address records, www,
// mail, webmail, MX) and the names the email and verification pages use.
func DefaultPatterns() []Pattern {
	var out []Pattern
	add := func(name string, types ...uint16) {
		for _, t := range types {
			out = append(out, Pattern{name, t})
		}
	}
	addr := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME}
	add("@", dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT)
	for _, n := range []string{"www", "mail", "webmail", "smtp", "imap", "pop", "ftp", "cpanel", "webdisk", "autodiscover", "autoconfig", "api", "app", "blog", "shop", "dev", "staging", "m", "vpn", "remote"} {
		add(n, addr...)
	}
	add("_dmarc", dns.TypeTXT)
	for _, sel := range []string{"default", "google", "selector1", "selector2", "k1", "s1", "s2", "mail", "dkim"} {
		add(sel+"._domainkey", dns.TypeTXT, dns.TypeCNAME)
	}
	return out
}

// Scanner queries a zone's current nameservers.
type Scanner struct {
	// Resolver (host:port) finds the zone's current nameservers and their
	// addresses; it is also asked directly when none of them answers.
	Resolver string
	// Port of the nameservers found (53; tests use another).
	Port int
	// Timeout bounds each query; 0 = 2 s.
	Timeout time.Duration
	// Patterns; nil means DefaultPatterns.
	Patterns []Pattern
	// Exclude are nameservers not to ask (the platform's own: a zone
	// already delegated to us has nothing to find elsewhere).
	Exclude []string
}

// Result is what a scan found: records in the API's shape (name fully
// qualified, content in presentation form, MX priority apart), and which
// server answered.
type Result struct {
	Records []*dnsv1.Record
	// Server is the nameserver (host:port) that answered, or the resolver.
	Server string
}

// Scan looks for the patterns under zone (fully qualified). Records the
// zone cannot hold next to each other (a CNAME with other types at one
// name) keep the CNAME only, as the provider's CNAME rule would.
func (s *Scanner) Scan(ctx context.Context, zone string) (Result, error) {
	zone, err := dnsname.Normalize(zone)
	if err != nil {
		return Result{}, fmt.Errorf("quick scan: zone %q: %w", zone, err)
	}
	server, err := s.server(ctx, zone)
	if err != nil {
		return Result{}, err
	}
	patterns := s.Patterns
	if patterns == nil {
		patterns = DefaultPatterns()
	}
	type found struct {
		i   int
		rrs []dns.RR
	}
	results := make([]found, len(patterns))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, p := range patterns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name := zone
			if p.Name != "@" {
				name = p.Name + "." + zone
			}
			rrs, err := s.ask(ctx, server, name, p.Type)
			if err == nil {
				results[i] = found{i, rrs}
			}
		}()
	}
	wg.Wait()
	var recs []*dnsv1.Record
	cnames := map[string]bool{}
	seen := map[string]bool{}
	for _, f := range results {
		for _, rr := range f.rrs {
			r := toRecord(rr, zone)
			if r == nil {
				continue
			}
			key := r.GetName() + " " + r.GetType() + " " + r.GetContent()
			if seen[key] {
				continue
			}
			seen[key] = true
			if r.GetType() == "CNAME" {
				cnames[r.GetName()] = true
			}
			recs = append(recs, r)
		}
	}
	recs = slices.DeleteFunc(recs, func(r *dnsv1.Record) bool { return cnames[r.GetName()] && r.GetType() != "CNAME" })
	return Result{Records: recs, Server: server}, nil
}

// server picks the first of the zone's current nameservers (not ours)
// whose address the resolver knows, or the resolver itself.
func (s *Scanner) server(ctx context.Context, zone string) (string, error) {
	nsRRs, err := s.ask(ctx, s.Resolver, zone, dns.TypeNS)
	if err != nil {
		return "", fmt.Errorf("quick scan: nameservers of %s: %w", zone, err)
	}
	port := s.Port
	if port == 0 {
		port = 53
	}
	for _, rr := range nsRRs {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		host := strings.ToLower(dns.Fqdn(ns.Ns))
		if slices.Contains(dnsname.NormalizedSet(s.Exclude), host) {
			continue
		}
		addrs, err := s.ask(ctx, s.Resolver, host, dns.TypeA)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if v, ok := a.(*dns.A); ok {
				return net.JoinHostPort(v.A.String(), strconv.Itoa(port)), nil
			}
		}
	}
	return s.Resolver, nil
}

// ask asks server one question; the resolver recursively, a nameserver
// of the zone authoritatively.
func (s *Scanner) ask(ctx context.Context, server, name string, qtype uint16) ([]dns.RR, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return dnsask.Ask(ctx, server, name, qtype, server == s.Resolver, timeout)
}

// toRecord turns an answer into the API's record shape; nil for what the
// scan does not take.
func toRecord(rr dns.RR, zone string) *dnsv1.Record {
	h := rr.Header()
	name := strings.ToLower(h.Name)
	if !dnsname.IsSubdomain(name, zone) {
		return nil
	}
	r := &dnsv1.Record{Name: name, Ttl: max(h.Ttl, 60)}
	switch v := rr.(type) {
	case *dns.A:
		r.Type, r.Content = "A", v.A.String()
	case *dns.AAAA:
		r.Type, r.Content = "AAAA", v.AAAA.String()
	case *dns.CNAME:
		r.Type, r.Content = "CNAME", strings.ToLower(v.Target)
	case *dns.MX:
		r.Type, r.Content, r.Priority = "MX", strings.ToLower(v.Mx), uint32(v.Preference)
	case *dns.TXT:
		r.Type, r.Content = "TXT", strings.Join(v.Txt, "")
	default:
		return nil
	}
	r.Comment = "found by the records quick scan"
	return r
}
