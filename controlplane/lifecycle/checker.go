package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/controlplane/dnsask"
	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// VerificationLabel is the label below a partial zone's name where its
// owner publishes the verification TXT record (the documents'
// "cloudflare-verify.example.com").
const VerificationLabel = "zonegrid-verify"

// NewVerification returns a fresh verification record for a partial zone
// named name (fully qualified); the value has the documents' shape,
// "966215192-518620144".
func NewVerification(name string) (*dnsv1.VerificationRecord, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("verification value: %w", err)
	}
	return &dnsv1.VerificationRecord{
		Name:  VerificationLabel + "." + name,
		Type:  "TXT",
		Value: fmt.Sprintf("%d-%d", binary.BigEndian.Uint32(b[:4])>>1, binary.BigEndian.Uint32(b[4:])>>1),
	}, nil
}

// Result is the outcome of one check; Reason says why it failed, in words
// a user can act on.
type Result struct {
	OK     bool
	Reason string
}

// CheckOptions are the zone settings a check depends on.
type CheckOptions struct {
	// MultiProvider accepts a delegation that lists other providers'
	// nameservers next to the assigned ones ("Cloudflare will activate a
	// primary (full setup) zone even if its nameservers listed at the
	// registrar include nameservers from other DNS providers"); always on
	// for secondary zones.
	MultiProvider bool
}

// Checker asks the public DNS whether a zone is (still) the platform's.
type Checker interface {
	Check(ctx context.Context, z *dnsv1.Zone, opts CheckOptions) Result
}

// DNSChecker checks through a resolver (host:port):
//   - full and secondary zones, pending: the NS set of the name equals the
//     assigned nameservers (the proof of control: only who controls the
//     registrar delegation passes), or holds them all with multi-provider
//     DNS;
//   - full and secondary zones, active or moved: every assigned nameserver
//     is in the NS set ("the Cloudflare nameservers are no longer present
//     on your domain's NS records" is what moves a zone);
//   - partial zones, pending: the verification TXT record holds the value
//     the API gave;
//   - partial zones, active or moved: the name has an SOA record ("no SOA
//     record is returned for the zone" is what moves a partial zone).
type DNSChecker struct {
	Resolver string
	// Timeout bounds one query; 0 = 3 s.
	Timeout time.Duration
}

// Check implements Checker.
func (d *DNSChecker) Check(ctx context.Context, z *dnsv1.Zone, opts CheckOptions) Result {
	name := z.GetName()
	pending := z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_PENDING
	if z.GetType() == dnsv1.ZoneType_ZONE_TYPE_PARTIAL {
		if pending {
			v := z.GetVerification()
			if v == nil {
				return Result{Reason: "the zone has no verification record"}
			}
			txts, err := d.lookup(ctx, v.GetName(), dns.TypeTXT)
			if err != nil {
				return Result{Reason: err.Error()}
			}
			if slices.Contains(txts, v.GetValue()) {
				return Result{OK: true}
			}
			return Result{Reason: fmt.Sprintf("the TXT record %s does not hold %q yet", strings.TrimSuffix(v.GetName(), "."), v.GetValue())}
		}
		soa, err := d.lookup(ctx, name, dns.TypeSOA)
		if err != nil {
			return Result{Reason: err.Error()}
		}
		if len(soa) == 0 {
			return Result{Reason: fmt.Sprintf("no SOA record is returned for %s", strings.TrimSuffix(name, "."))}
		}
		return Result{OK: true}
	}
	got, err := d.lookup(ctx, name, dns.TypeNS)
	if err != nil {
		return Result{Reason: err.Error()}
	}
	got = dnsname.NormalizedSet(got)
	want := dnsname.NormalizedSet(nameservers.Served(z))
	wantList := strings.Join(want, ", ")
	switch {
	case len(got) == 0:
		return Result{Reason: fmt.Sprintf("%s has no NS records; set them to %s", name, wantList)}
	case pending && !opts.MultiProvider && !slices.Equal(got, want):
		return Result{Reason: fmt.Sprintf("nameservers are %s; set them to %s", strings.Join(got, ", "), wantList)}
	case !pending && !containsAll(got, want):
		return Result{Reason: fmt.Sprintf("nameservers are %s; the assigned nameservers %s are no longer all present", strings.Join(got, ", "), wantList)}
	}
	return Result{OK: true}
}

// NS returns the NS set the public DNS has for name (from the answer or a
// referral), normalized.
func (d *DNSChecker) NS(ctx context.Context, name string) ([]string, error) {
	ns, err := d.lookup(ctx, name, dns.TypeNS)
	if err != nil {
		return nil, err
	}
	return dnsname.NormalizedSet(ns), nil
}

func containsAll(set, want []string) bool {
	for _, w := range want {
		if !slices.Contains(set, w) {
			return false
		}
	}
	return len(want) > 0
}

// lookup asks the resolver for the rrtype records of name: NS targets, TXT
// strings (joined) or SOA owner names (dnsask reads the answer, and the
// referral for NS).
func (d *DNSChecker) lookup(ctx context.Context, name string, rrtype uint16) ([]string, error) {
	rrs, err := dnsask.Ask(ctx, d.Resolver, name, rrtype, true, d.Timeout)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.NS:
			out = append(out, v.Ns)
		case *dns.TXT:
			out = append(out, strings.Join(v.Txt, ""))
		case *dns.SOA:
			out = append(out, v.Hdr.Name)
		}
	}
	return out, nil
}
