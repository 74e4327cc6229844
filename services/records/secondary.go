package records

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/managed"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/status"
)

// Records of a secondary zone come from its primary (controlplane/xfrin
// writes them, read-only here). What a user may add is Secondary DNS
// override (seed 004, "Proxy traffic with Secondary DNS override";
// docs/RECORD_RULES.md and docs/ZONE_TRANSFERS.md):
//
//   - an override: a proxied A, AAAA or CNAME record "with the same name as
//     the transferred record you intend to proxy"; "Cloudflare only looks at
//     the name and the proxy status, so the record content does not
//     matter", so its content is checked for syntax only and never served,
//     and one override proxies every transferred A, AAAA and CNAME at the
//     name, whatever its type. One per name: a second would say nothing more;
//   - a CNAME at the apex, proxied or not ("the one exception"), served and
//     flattened, hiding the transferred apex A and AAAA records.
//
// Both need the zone setting secondary_overrides ("Enable Secondary DNS
// override" comes first in the instructions). The zone builder does the
// merge (controlplane/builder/override.go).

func isSecondary(z *dnsv1.Zone) bool { return z.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY }

func addressOrAlias(typ string) bool { return typ == "A" || typ == "AAAA" || typ == "CNAME" }

// isOverride reports whether r (on a secondary zone, normalized) is an
// override rather than the apex CNAME.
func isOverride(r *dnsv1.Record, apex string) bool {
	return !(r.GetType() == "CNAME" && r.GetName() == apex)
}

// normalizeSecondary is normalize for a record added to a secondary zone.
func (w *writer) normalizeSecondary(in *dnsv1.Record) (*dnsv1.Record, error) {
	// The record's own syntax first (name, type, content, TTL, comment,
	// tags), without the proxy rules: an override's content is not served.
	plain := proto.Clone(in).(*dnsv1.Record)
	plain.Proxied = false
	r, err := normalize(plain, w.zone, w.settings, w.np)
	if err != nil {
		return nil, err
	}
	apex := w.zone.GetName()
	switch {
	case r.GetType() == "CNAME" && r.GetName() == apex:
		// The apex CNAME is served: every rule of a CNAME applies,
		// proxying included.
		if r, err = normalize(in, w.zone, w.settings, w.np); err != nil {
			return nil, err
		}
	case !addressOrAlias(r.GetType()):
		return nil, invalid("type", "the records of a secondary zone come from its primary: only an override (a proxied A, AAAA or CNAME record at the name of transferred records) or a CNAME at the zone apex can be added here, not %s", r.GetType())
	case !in.GetProxied():
		return nil, invalid("proxied", "an override record turns on the proxy for the transferred A, AAAA and CNAME records at its name, so it must be proxied (delete it to serve them DNS-only again)")
	default:
		// "Cloudflare only looks at the name and the proxy status":
		// the content is kept as given, the TTL of a proxied record is
		// automatic.
		r.Proxied, r.Proxiable, r.Ttl = true, true, ttlAuto
	}
	if !w.settings.GetSecondaryOverrides() {
		return nil, status.FailedPrecondition("SECONDARY_OVERRIDES_DISABLED", "settings.secondary_overrides",
			"Secondary DNS override is off for this zone: turn on the zone setting secondary_overrides before adding override records or a CNAME at the apex")
	}
	return r, nil
}

// checkSecondary is checkConflicts for a record of a secondary zone: an
// override pairs with transferred A, AAAA or CNAME records at its name and
// is the only one there; the apex CNAME is the only user CNAME at the apex
// (it replaces the transferred apex addresses rather than conflicting with
// them).
func checkSecondary(ctx context.Context, rr recordReader, r *dnsv1.Record, apex string) error {
	at, err := rr.RecordsAt(ctx, r.GetName())
	if err != nil {
		return fmt.Errorf("read records at %s: %w", r.GetName(), err)
	}
	paired := false
	for _, o := range at {
		if o.GetId() == r.GetId() {
			continue
		}
		by := o.GetMeta().GetManagedBy()
		switch {
		case by == managed.SecondaryDNS.String() && o.GetType() == "RRSIG":
			// The zone is pre-signed (controlplane/xfrin keeps the
			// primary's signatures only then; the builder serves such a
			// zone as transferred).
			return status.FailedPrecondition("DNSSEC_PRESIGNED", "zone_id",
				"the zone serves its primary's DNSSEC signatures (pre-signed): \"Pre-signed DNSSEC does not support Secondary DNS Overrides\"")
		case by == managed.SecondaryDNS.String():
			paired = paired || addressOrAlias(o.GetType())
		case by != "":
		case !isOverride(r, apex) && !isOverride(o, apex):
			return invalid("name", "the zone apex already has a CNAME record (id %s)", o.GetId())
		case isOverride(r, apex) && isOverride(o, apex) && addressOrAlias(o.GetType()):
			return invalid("name", "%s already has an override record (id %s): one proxied override proxies every transferred A, AAAA and CNAME record at the name", r.GetName(), o.GetId())
		}
	}
	if isOverride(r, apex) && !paired {
		return invalid("name", "no A, AAAA or CNAME record transferred from the primary is at %s: an override pairs with transferred records by name", r.GetName())
	}
	return nil
}
