package builder

import (
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// ZoneSOA returns the SOA a zone is served with (and exported with, by
// services/records): each field from the zone settings where set
// (services/settings validated them: ranges, retry not above refresh,
// expire not below it), the platform's default otherwise. MNAME defaults
// to the zone's first assigned nameserver, RNAME to the platform's
// (soaRname, the builder's CompileOptions.SOARname). The serial is the etcd revision the zone
// was read at: every change to the zone, its settings or records commits
// at a higher revision, so the serial grows with every change (in the
// 32 bits of the field: it wraps only after 2^32 etcd revisions, and RFC
// 1982 serial arithmetic treats that as growth too).
func ZoneSOA(z *dnsv1.Zone, zs *dnsv1.ZoneSettings, rev int64, soaRname string) *snapshot.Soa {
	orDefault := func(v, def uint32) uint32 {
		if v == 0 {
			return def
		}
		return v
	}
	mname := zs.GetSoaMname()
	if ns := nameservers.Served(z); mname == "" && len(ns) > 0 {
		mname = ns[0]
	}
	rname := zs.GetSoaRname()
	if rname == "" {
		rname = soaRname
	}
	return &snapshot.Soa{
		Mname:   mname,
		Rname:   rname,
		Serial:  uint32(rev),
		Refresh: orDefault(zs.GetSoaRefresh(), DefaultSOARefresh),
		Retry:   orDefault(zs.GetSoaRetry(), DefaultSOARetry),
		Expire:  orDefault(zs.GetSoaExpire(), DefaultSOAExpire),
		Minimum: orDefault(zs.GetSoaMinTtl(), DefaultSOAMinimum),
		Ttl:     orDefault(zs.GetSoaTtl(), DefaultSOATTL),
	}
}

// ServedSOA is the SOA a zone is served with, given its records: for a
// secondary zone that has been transferred, the primary's SOA as
// transferred (TransferredSOA), every field and its TTL; ZoneSOA
// otherwise. A secondary serves the zone "as if they were the primary
// server" (seed 004): resolvers and the primary's operators see the
// primary's serial, the one the transfer status reports, whether or not
// our overrides change answers (the documents build overrides on the
// "hidden primary" model, where no other server answers for the zone, and
// outgoing transfers, whose secondaries would need a serial that moves
// with our changes, exist only for full zones). Before the first transfer
// the zone is empty and the platform's SOA is served.
func ServedSOA(z *dnsv1.Zone, zs *dnsv1.ZoneSettings, recs []*dnsv1.Record, rev int64, soaRname string) *snapshot.Soa {
	if z.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
		for _, r := range recs {
			if soa, ok := TransferredSOA(z, r); ok {
				return soa
			}
		}
	}
	return ZoneSOA(z, zs, rev, soaRname)
}

// TransferredSOA returns the SOA of r when r is the primary's SOA record
// that the transfer worker (controlplane/xfrin) keeps among a secondary
// zone's records: type SOA at the apex, managed by secondary_dns, content
// "mname rname serial refresh retry expire minimum".
func TransferredSOA(z *dnsv1.Zone, r *dnsv1.Record) (*snapshot.Soa, bool) {
	if !strings.EqualFold(r.GetType(), "SOA") || !transferred(r) || !strings.EqualFold(r.GetName(), z.GetName()) {
		return nil, false
	}
	rr, err := dns.NewRR(r.GetName() + " " + strconv.FormatUint(uint64(r.GetTtl()), 10) + " IN SOA " + r.GetContent())
	if err != nil || rr == nil {
		return nil, false
	}
	soa, ok := rr.(*dns.SOA)
	if !ok {
		return nil, false
	}
	return &snapshot.Soa{
		Mname:   dns.CanonicalName(soa.Ns),
		Rname:   dns.CanonicalName(soa.Mbox),
		Serial:  soa.Serial,
		Refresh: soa.Refresh,
		Retry:   soa.Retry,
		Expire:  soa.Expire,
		Minimum: soa.Minttl,
		Ttl:     soa.Hdr.Ttl,
	}, true
}
