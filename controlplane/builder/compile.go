package builder

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// SOA and NS defaults of a compiled zone; zone settings override the
// timers (0 in a setting means "use the default").
const (
	DefaultNSTTL      = 86400
	DefaultSOARefresh = 10000
	DefaultSOARetry   = 2400
	DefaultSOAExpire  = 604800
	DefaultSOAMinimum = 1800
	DefaultSOATTL     = 3600
	// AutoTTL is what a record TTL of 1 ("automatic") becomes.
	AutoTTL = 300
)

// CompileOptions are the platform-wide inputs of compilation.
type CompileOptions struct {
	// SOARname is the SOA RNAME of every zone, fully qualified.
	SOARname string
	// PartialSuffix is where partial (CNAME) setups are served:
	// www.example.com at www.example.com.<suffix>. Empty: partial zones are
	// served under their own name.
	PartialSuffix string
}

// servePrecedence orders the statuses that are served: ACTIVE first, then
// PENDING, then MOVED and DELETED (the documents: a deleted zone is still
// answered on its assigned nameservers; a moved one is silent in the
// documents and answered the same way, DNS-only, so that a zone whose
// checks failed by mistake keeps resolving). INITIALIZING and PURGED are
// never served. docs/ZONE_LIFECYCLE.md has the table.
var servePrecedence = []dnsv1.ZoneStatus{
	dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE,
	dnsv1.ZoneStatus_ZONE_STATUS_PENDING,
	dnsv1.ZoneStatus_ZONE_STATUS_MOVED,
	dnsv1.ZoneStatus_ZONE_STATUS_DELETED,
}

// choose picks the zone that serves a name: the first zone, oldest first,
// of the best status in servePrecedence. zones must be sorted oldest first.
func choose(zones []*dnsv1.Zone) *dnsv1.Zone {
	for _, st := range servePrecedence {
		for _, z := range zones {
			if z.GetStatus() == st {
				return z
			}
		}
	}
	return nil
}

// snapshotStatus is what the edge needs of a zone's status: whether
// proxying is in force (ACTIVE) or not.
func snapshotStatus(st dnsv1.ZoneStatus) snapshot.ZoneStatus {
	switch st {
	case dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE:
		return snapshot.ZoneStatus_ZONE_STATUS_ACTIVE
	case dnsv1.ZoneStatus_ZONE_STATUS_MOVED:
		return snapshot.ZoneStatus_ZONE_STATUS_MOVED
	case dnsv1.ZoneStatus_ZONE_STATUS_DELETED:
		return snapshot.ZoneStatus_ZONE_STATUS_DELETED
	default:
		return snapshot.ZoneStatus_ZONE_STATUS_PENDING
	}
}

// compileZone turns a zone, its settings and records, read at revision rev,
// into the snapshot edges serve. A record that does not parse is skipped and
// reported in the second result, so one bad record cannot take a zone down.
func compileZone(z *dnsv1.Zone, zs *dnsv1.ZoneSettings, recs []*dnsv1.Record, rev int64, opts CompileOptions) (*snapshot.Zone, []error) {
	return compilePacked(z, zs, recs, nil, rev, opts)
}

// compilePacked is compileZone given, in packed (nil, or as long as recs),
// the compiled form of each record as packSnapshotRecord gives it (nil
// where not known): the zone cache keeps them, so that a compile parses
// only what changed (packing was most of a compile's CPU). A secondary
// zone's records are merged first, so packed is not used for them.
func compilePacked(z *dnsv1.Zone, zs *dnsv1.ZoneSettings, recs []*dnsv1.Record, packed []*snapshot.Record, rev int64, opts CompileOptions) (*snapshot.Zone, []error) {
	if len(packed) != len(recs) || z.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
		packed = nil
	}
	orDefault := func(v, def uint32) uint32 {
		if v == 0 {
			return def
		}
		return v
	}
	status := snapshotStatus(z.GetStatus())
	soa := ServedSOA(z, zs, recs, rev, opts.SOARname)
	// A secondary zone serves its transferred records merged with the
	// user's overrides (override.go); every other zone its records as
	// stored.
	recs = servedRecords(z, zs, recs)
	h := &snapshot.ZoneHeader{
		Format:           snapshot.FormatVersion,
		ZoneId:           z.GetId(),
		AccountId:        z.GetAccountId(),
		Name:             z.GetName(),
		Version:          uint64(rev),
		Status:           status,
		ServedName:       servedName(z, opts),
		NameServers:      servedNameservers(z, zs, recs),
		NsTtl:            orDefault(zs.GetNsTtl(), DefaultNSTTL),
		Soa:              soa,
		FlattenAllCnames: zs.GetFlattenAllCnames(),
	}
	out := &snapshot.Zone{Header: h, Records: make([]*snapshot.Record, 0, len(recs))}
	var errs []error
	buf := make([]byte, dns.MaxMsgSize)
	glueAddrs := glueOf(z)
	glue := make(map[string]bool, len(glueAddrs))
	for _, a := range glueAddrs {
		glue[a.GetName()] = true
	}
	for i, r := range recs {
		t := strings.ToUpper(r.GetType())
		if (t == "A" || t == "AAAA") && glue[r.GetName()] {
			continue // the zone custom nameserver's own, read-only addresses win
		}
		if t == "SOA" {
			continue // the header carries the one SOA (a secondary zone's transferred one, soa.go)
		}
		if packed != nil && packed[i] != nil {
			out.Records = append(out.Records, packed[i])
			continue
		}
		sr, err := packSnapshotRecord(r, buf)
		if err != nil {
			errs = append(errs, fmt.Errorf("record %s (%s %s): %w", r.GetId(), r.GetName(), r.GetType(), err))
			continue
		}
		out.Records = append(out.Records, sr)
	}
	for _, a := range glueAddrs {
		for _, r := range []*dnsv1.Record{
			{Id: "zcns-a-" + a.GetName(), Name: a.GetName(), Type: "A", Content: a.GetIpv4(), Ttl: DefaultNSTTL},
			{Id: "zcns-aaaa-" + a.GetName(), Name: a.GetName(), Type: "AAAA", Content: a.GetIpv6(), Ttl: DefaultNSTTL},
		} {
			if r.GetContent() == "" {
				continue
			}
			wire, err := packRecord(r, buf)
			if err != nil {
				errs = append(errs, fmt.Errorf("zone custom nameserver %s: %w", a.GetName(), err))
				continue
			}
			out.Records = append(out.Records, &snapshot.Record{Id: r.GetId(), Rr: wire})
		}
	}
	return out, errs
}

// glueOf is the read-only addresses the zone answers: its zone custom
// nameservers' and the account custom nameservers it contains, once per
// name (zone custom first).
func glueOf(z *dnsv1.Zone) []*dnsv1.NameserverAddresses {
	out := slices.Clone(z.GetVanityNameServersIps())
	for _, h := range z.GetHostedNameservers() {
		if !slices.ContainsFunc(out, func(a *dnsv1.NameserverAddresses) bool { return a.GetName() == h.GetName() }) {
			out = append(out, h)
		}
	}
	return out
}

// glueFingerprint identifies a zone's apex NS set, glue and served name: a
// change of any changes records (or their names) that only a full
// snapshot carries (delta.go).
func glueFingerprint(h *snapshot.ZoneHeader, z *dnsv1.Zone) []string {
	out := append(slices.Clone(h.GetNameServers()), "served="+h.GetServedName())
	for _, a := range glueOf(z) {
		out = append(out, a.GetName()+"="+a.GetIpv4()+","+a.GetIpv6())
	}
	return out
}

// servedNameservers is the apex NS set: the assigned nameservers (the
// zone custom nameservers instead when the zone has them), and with
// multi-provider DNS (a setting of full zones, always on for secondary
// zones) the user's apex NS records after them ("responses to DNS queries
// made to the zone apex and requesting NS records will contain both
// Cloudflare's and your other DNS providers' nameservers"). Without it the
// user's apex NS records are ignored.
func servedNameservers(z *dnsv1.Zone, zs *dnsv1.ZoneSettings, recs []*dnsv1.Record) []string {
	ns := nameservers.Served(z)
	if !zs.GetMultiProvider() && z.GetType() != dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
		return ns
	}
	out := slices.Clone(ns)
	for _, r := range recs {
		if !strings.EqualFold(r.GetType(), "NS") || r.GetName() != z.GetName() {
			continue
		}
		target, err := dnsname.Normalize(r.GetContent())
		if err != nil || slices.Contains(out, target) {
			continue
		}
		out = append(out, target)
	}
	return out
}

// servedName is the name a partial zone is served under (docs/ZONE_LIFECYCLE.md,
// "Partial setups"); empty for other zones.
func servedName(z *dnsv1.Zone, opts CompileOptions) string {
	if z.GetType() != dnsv1.ZoneType_ZONE_TYPE_PARTIAL || opts.PartialSuffix == "" {
		return ""
	}
	return z.GetName() + strings.TrimPrefix(dns.Fqdn(strings.ToLower(opts.PartialSuffix)), ".")
}

// presentation renders a record as a zone-file line for dns.NewRR.
func presentation(r *dnsv1.Record) string {
	ttl := r.GetTtl()
	if ttl <= 1 {
		ttl = AutoTTL
	}
	typ := strings.ToUpper(r.GetType())
	var b strings.Builder
	b.WriteString(r.GetName())
	b.WriteByte(' ')
	b.WriteString(strconv.FormatUint(uint64(ttl), 10))
	b.WriteString(" IN ")
	b.WriteString(typ)
	b.WriteByte(' ')
	if typ == "MX" || typ == "URI" {
		b.WriteString(strconv.FormatUint(uint64(r.GetPriority()), 10))
		b.WriteByte(' ')
	}
	b.WriteString(r.GetContent())
	return b.String()
}

// packSnapshotRecord is a record as a snapshot carries it. buf is scratch
// space of dns.MaxMsgSize bytes. The result is never modified: the zone
// cache shares it between compiles.
func packSnapshotRecord(r *dnsv1.Record, buf []byte) (*snapshot.Record, error) {
	wire, err := packRecord(r, buf)
	if err != nil {
		return nil, err
	}
	return &snapshot.Record{
		Id:           r.GetId(),
		Rr:           wire,
		Proxied:      r.GetProxied(),
		FlattenCname: r.GetSettings().GetFlattenCname(),
		ManagedBy:    r.GetMeta().GetManagedBy(),
	}, nil
}

// packRecord returns the uncompressed wire form of a record. buf is scratch
// space of dns.MaxMsgSize bytes.
func packRecord(r *dnsv1.Record, buf []byte) ([]byte, error) {
	if strings.ContainsAny(r.GetContent(), "\n\r") {
		return nil, fmt.Errorf("content holds a line break")
	}
	rr, err := dns.NewRR(presentation(r))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if rr == nil {
		return nil, fmt.Errorf("parse: empty record")
	}
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	return append([]byte(nil), buf[:n]...), nil
}
