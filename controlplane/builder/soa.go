package builder

import (
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
