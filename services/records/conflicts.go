package records

import (
	"context"
	"fmt"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records/rdata"
)

// maxTXTAtName is the limit on the summed TXT content at one name (source
// documents, "DNS record types").
const maxTXTAtName = 8192

// recordReader is the part of store.ZoneView the cross-record rules read;
// the batch overlay implements it too, so each operation of a batch sees the
// ones before it.
type recordReader interface {
	Record(ctx context.Context, id string) (*dnsv1.Record, error)
	RecordsAt(ctx context.Context, name string) ([]*dnsv1.Record, error)
	RecordsUnder(ctx context.Context, name string) ([]*dnsv1.Record, error)
}

// checkConflicts applies the rules that involve other records of the zone
// to r (normalized, id set; a record with the same id is r's previous
// version and does not count).
func checkConflicts(ctx context.Context, rr recordReader, r *dnsv1.Record, apex string) error {
	at, err := rr.RecordsAt(ctx, r.GetName())
	if err != nil {
		return fmt.Errorf("read records at %s: %w", r.GetName(), err)
	}
	txt := 0
	if r.GetType() == "TXT" {
		txt = rdata.TXTLength(r.GetContent())
	}
	for _, o := range at {
		if o.GetId() == r.GetId() {
			continue
		}
		switch {
		case r.GetType() == "CNAME" && cnameExcludes(r.GetName(), apex, o.GetType()):
			return invalid("name", "%s already has a %s record; a CNAME record cannot share its name with %s", r.GetName(), o.GetType(), cnameExcluded(r.GetName(), apex))
		case o.GetType() == "CNAME" && cnameExcludes(r.GetName(), apex, r.GetType()):
			return invalid("name", "%s has a CNAME record; it cannot share its name with %s", r.GetName(), cnameExcluded(r.GetName(), apex))
		case o.GetType() == r.GetType() && o.GetContent() == r.GetContent() && o.GetPriority() == r.GetPriority():
			return invalid("content", "an identical record already exists (id %s)", o.GetId())
		case o.GetType() == "TXT" && r.GetType() == "TXT":
			txt += rdata.TXTLength(o.GetContent())
		}
	}
	if txt > maxTXTAtName {
		return invalid("content", "the TXT records at %s would hold %d characters, at most %d are allowed", r.GetName(), txt, maxTXTAtName)
	}
	switch r.GetType() {
	case "A", "AAAA", "CNAME":
		return checkNotDelegated(ctx, rr, r, at, apex)
	case "NS":
		return checkNothingBelowNS(ctx, rr, r, apex)
	case "MX", "SRV":
		return checkMailTarget(ctx, rr, r, apex)
	}
	return nil
}

// cnameExcludes reports whether a CNAME at name rules out a record of type
// typ there. Below the apex a CNAME stands alone (RFC 1034; issue "The whole
// path"). At the apex the CNAME is always flattened and the apex keeps its
// other types (MX, TXT, NS, ...: source documents, "CNAME flattening" and
// "Cannot add DNS records with the same name"), so only address records and
// a second CNAME conflict with it.
func cnameExcludes(name, apex, typ string) bool {
	if name != apex {
		return true
	}
	switch typ {
	case "A", "AAAA", "CNAME":
		return true
	}
	return false
}

func cnameExcluded(name, apex string) string {
	if name != apex {
		return "other records"
	}
	return "A, AAAA or CNAME records at the apex"
}

// checkNotDelegated refuses address records at or below a name delegated
// with NS records (source documents, "Existing NS records block new record
// creation", whose error text this keeps); the apex NS records are the
// zone's own and do not count. One exception, glue: an A or AAAA record
// whose name is a nameserver of the delegation ("The A records for the
// subdomain are only required as glue records for nameservers that are
// located in the subdomain ... being delegated", "Delegate subdomains").
// The edges serve it only in the additional section of the delegation's
// referrals, never as an answer, so it cannot be proxied. With nested
// delegations the topmost one decides: it is the one the edges refer to.
func checkNotDelegated(ctx context.Context, rr recordReader, r *dnsv1.Record, at []*dnsv1.Record, apex string) error {
	var cut string
	var cutNS []*dnsv1.Record
	for n := r.GetName(); n != apex && dnsname.IsSubdomain(n, apex); n = dnsname.Parent(n) {
		recs := at
		if n != r.GetName() {
			var err error
			if recs, err = rr.RecordsAt(ctx, n); err != nil {
				return fmt.Errorf("read records at %s: %w", n, err)
			}
		}
		var ns []*dnsv1.Record
		for _, o := range recs {
			if o.GetType() == "NS" && o.GetId() != r.GetId() {
				ns = append(ns, o)
			}
		}
		if len(ns) > 0 {
			cut, cutNS = n, ns
		}
	}
	if cut == "" {
		return nil
	}
	if r.GetType() == "CNAME" || !namesTarget(cutNS, r.GetName()) {
		return invalid("name", "NS records with that host already exist: %s is delegated by NS records at %s (only A and AAAA glue records for the delegation's own nameservers may be added below it)", r.GetName(), cut)
	}
	if r.GetProxied() {
		return invalid("proxied", "%s is glue for the delegation at %s: it is served in referrals only and cannot be proxied", r.GetName(), cut)
	}
	return nil
}

// namesTarget reports whether one of the NS records has name as its
// nameserver.
func namesTarget(ns []*dnsv1.Record, name string) bool {
	for _, o := range ns {
		if o.GetContent() == name {
			return true
		}
	}
	return false
}

// checkNothingBelowNS is the same rule seen from the NS record: no CNAME at
// or below the new delegation, and address records there only as glue for
// its nameservers, counting r (an update of an NS record that would leave
// glue behind is refused too, naming it).
func checkNothingBelowNS(ctx context.Context, rr recordReader, r *dnsv1.Record, apex string) error {
	if r.GetName() == apex {
		return nil
	}
	under, err := rr.RecordsUnder(ctx, r.GetName())
	if err != nil {
		return fmt.Errorf("read records under %s: %w", r.GetName(), err)
	}
	ns := []*dnsv1.Record{r}
	for _, o := range under {
		if o.GetType() == "NS" && o.GetName() == r.GetName() && o.GetId() != r.GetId() {
			ns = append(ns, o)
		}
	}
	for _, o := range under {
		if o.GetId() == r.GetId() {
			continue
		}
		switch o.GetType() {
		case "A", "AAAA":
			if namesTarget(ns, o.GetName()) && !o.GetProxied() {
				continue // glue for this delegation
			}
			return invalid("name", "cannot add NS records at %s: %s has a %s record that is not DNS-only glue for one of the delegation's nameservers", r.GetName(), o.GetName(), o.GetType())
		case "CNAME":
			return invalid("name", "cannot add NS records at %s: %s has a %s record", r.GetName(), o.GetName(), o.GetType())
		}
	}
	return nil
}

// checkMailTarget refuses an MX or SRV record pointing at a name of this
// zone that only has proxied address records: mail and other non-HTTP
// services do not pass through the proxy, so such a record must point to a
// DNS-only name ("Troubleshooting email issues": "any DNS record used to
// send email traffic must be DNS-only"; "Set up email records" points the
// MX at a DNS-only mail subdomain). The provider instead creates a dc-#####
// record behind the user's back; refusing and saying what to do keeps every
// record the user's own. A target with no records yet, or outside the zone,
// is not checked.
func checkMailTarget(ctx context.Context, rr recordReader, r *dnsv1.Record, apex string) error {
	target, field := r.GetContent(), "content"
	if r.GetType() == "SRV" {
		target, field = r.GetData().GetSrv().GetTarget(), "data.srv.target"
	}
	if target == "" || target == "." || !dnsname.IsSubdomain(target, apex) {
		return nil
	}
	recs, err := rr.RecordsAt(ctx, target)
	if err != nil {
		return fmt.Errorf("read records at %s: %w", target, err)
	}
	proxied := false
	for _, o := range recs {
		switch o.GetType() {
		case "A", "AAAA", "CNAME":
			if !o.GetProxied() {
				return nil // a DNS-only address (or alias) is there
			}
			proxied = true
		}
	}
	if proxied {
		return invalid(field, "%s is proxied: %s records must point to a DNS-only name, since mail and other non-HTTP traffic does not pass through the proxy; add a DNS-only A or AAAA record for a mail subdomain and point to it", target, r.GetType())
	}
	return nil
}
