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
// creation"); the apex NS records are the zone's own and do not count.
func checkNotDelegated(ctx context.Context, rr recordReader, r *dnsv1.Record, at []*dnsv1.Record, apex string) error {
	for n := r.GetName(); n != apex && dnsname.IsSubdomain(n, apex); n = dnsname.Parent(n) {
		recs := at
		if n != r.GetName() {
			var err error
			if recs, err = rr.RecordsAt(ctx, n); err != nil {
				return fmt.Errorf("read records at %s: %w", n, err)
			}
		}
		for _, o := range recs {
			if o.GetType() == "NS" && o.GetId() != r.GetId() {
				return invalid("name", "NS records with that host already exist: %s is delegated by NS records at %s", r.GetName(), n)
			}
		}
	}
	return nil
}

// checkNothingBelowNS is the same rule seen from the NS record.
func checkNothingBelowNS(ctx context.Context, rr recordReader, r *dnsv1.Record, apex string) error {
	if r.GetName() == apex {
		return nil
	}
	under, err := rr.RecordsUnder(ctx, r.GetName())
	if err != nil {
		return fmt.Errorf("read records under %s: %w", r.GetName(), err)
	}
	for _, o := range under {
		if o.GetId() == r.GetId() {
			continue
		}
		switch o.GetType() {
		case "A", "AAAA", "CNAME":
			return invalid("name", "cannot add NS records at %s: %s has a %s record", r.GetName(), o.GetName(), o.GetType())
		}
	}
	return nil
}
