package builder

import (
	"context"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/managed"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Secondary DNS override (seed 004, "Proxy traffic with Secondary DNS
// override"; docs/ZONE_TRANSFERS.md has the rules and their sources).
//
// A secondary zone holds the records transferred from its primary
// (meta.managed_by = secondary_dns, written by controlplane/xfrin) and the
// user's own records, which the record API (services/records) accepts only
// as overrides:
//   - an override: a proxied A, AAAA or CNAME record at a name that has
//     transferred records. "Cloudflare only looks at the name and the proxy
//     status, so the record content does not matter": it is never served
//     itself, it proxies every transferred A, AAAA and CNAME at its name
//     ("if one of them is proxied, all of them will be proxied");
//   - a CNAME at the apex, proxied or not, "the one exception": it is
//     served (flattened like any apex CNAME) and "it will override any other
//     A/AAAA records that have been transferred from the primary".
// The merge happens here, when the zone is compiled ("At record edit time
// we do all of the merging ... Within the zone builder"), so an edge
// answers from records that are already merged.

// overrideType reports whether t is a type an override may have, and a
// type it proxies: "Only A, AAAA, and CNAME records can be proxied".
func overrideType(t string) bool {
	switch strings.ToUpper(t) {
	case "A", "AAAA", "CNAME":
		return true
	}
	return false
}

// transferred reports whether r came from the zone's primary.
func transferred(r *dnsv1.Record) bool {
	return r.GetMeta().GetManagedBy() == managed.SecondaryDNS.String()
}

// usersOwn reports whether r is a record of the user's (no product
// manages it): on a secondary zone, an override or the apex CNAME.
func usersOwn(r *dnsv1.Record) bool { return r.GetMeta().GetManagedBy() == "" }

// OverridesActive reports whether a secondary zone's overrides take
// effect: the zone setting "Secondary DNS override" (secondary_overrides)
// is on ("Enable Secondary DNS override" is the first step of both the
// dashboard and the API instructions). Off, the zone serves what was
// transferred and nothing else; the user's records stay stored.
func OverridesActive(z *dnsv1.Zone, zs *dnsv1.ZoneSettings) bool {
	return z.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY && zs.GetSecondaryOverrides()
}

// mergeSecondary returns the records a secondary zone serves, in the order
// of recs, following the zone builder's steps of seed 004:
//
//  1. "Check if there is any CNAME at the apex, if so, override all other
//     A/AAAA secondary records at the apex."
//  2. "For each secondary record, check if there is a matching override
//     record, if so, apply the proxy status of the override record to all
//     secondary records with that name."
//  3. "Leave all other secondary records as is."
//
// The user's records themselves are not served, except the apex CNAME.
// Records managed by other products pass unchanged. The transferred SOA is
// never a record of the answer (the header carries it, soa.go). recs is
// not modified: a record whose proxy status changes is copied.
func mergeSecondary(z *dnsv1.Zone, zs *dnsv1.ZoneSettings, recs []*dnsv1.Record) []*dnsv1.Record {
	apex := z.GetName()
	active := OverridesActive(z, zs) && !servesSignatures(recs)
	var apexCNAME bool
	proxiedAt := map[string]bool{}
	if active {
		for _, r := range recs {
			if !usersOwn(r) {
				continue
			}
			switch {
			case r.GetName() == apex && strings.EqualFold(r.GetType(), "CNAME"):
				apexCNAME = true
			case overrideType(r.GetType()) && r.GetProxied():
				proxiedAt[r.GetName()] = true
			}
		}
	}
	out := make([]*dnsv1.Record, 0, len(recs))
	for _, r := range recs {
		switch {
		case strings.EqualFold(r.GetType(), "SOA"):
			continue
		case usersOwn(r):
			if apexCNAME && r.GetName() == apex && strings.EqualFold(r.GetType(), "CNAME") {
				out = append(out, r)
			}
			continue
		case !transferred(r):
			out = append(out, r)
			continue
		}
		if !overrideType(r.GetType()) {
			out = append(out, r)
			continue
		}
		if apexCNAME && r.GetName() == apex {
			continue // deactivated by the apex CNAME
		}
		if proxiedAt[r.GetName()] && !r.GetProxied() {
			r = proto.Clone(r).(*dnsv1.Record)
			r.Proxied = true
		}
		out = append(out, r)
	}
	return out
}

// servesSignatures reports whether a secondary zone holds the primary's
// signatures (a pre-signed zone: controlplane/xfrin keeps RRSIG records
// only when the incoming configuration says dnssec_presigned). Such a
// zone is served exactly as transferred: "Pre-signed DNSSEC does not
// support Secondary DNS Overrides ... Cloudflare will treat all your DNS
// records as DNS-only", and a record we changed would no longer match its
// signature. The records decide rather than the flag, which the builder
// does not read: between the flag and the full transfer it forces, the
// zone is served as before.
func servesSignatures(recs []*dnsv1.Record) bool {
	for _, r := range recs {
		if transferred(r) && strings.EqualFold(r.GetType(), "RRSIG") {
			return true
		}
	}
	return false
}

// servedRecords is what compileZone serves of recs: the merge for a
// secondary zone, recs as stored for any other.
func servedRecords(z *dnsv1.Zone, zs *dnsv1.ZoneSettings, recs []*dnsv1.Record) []*dnsv1.Record {
	if z.GetType() != dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
		return recs
	}
	return mergeSecondary(z, zs, recs)
}

// mergesRecords reports whether the zone's records are merged when it is
// compiled (a secondary zone): a change of one record may then change how
// others are served (an override proxies every address at its name, an
// apex CNAME hides the apex addresses), which a delta made of the changed
// records alone cannot say, so such a zone is published in full. Secondary
// zones are bounded by one transfer (xfrin.Limits.MaxRecords, 20,000
// records), so a full snapshot stays small. A failed read says true: the
// full publication reads the zone again and reports the error.
func (b *Builder) mergesRecords(ctx context.Context, zoneID string, rev int64) bool {
	z, err := b.st.GetZoneAt(ctx, zoneID, rev)
	if err != nil {
		return true
	}
	return z.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY
}
