package node

import (
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/zonecache"
)

// dnssecPreparer returns what the zone set calls on every zone version it
// installs (full snapshot or delta): it attaches the zone's signer when the
// header carries DNSSEC and the keys open with opener (nil: no KEK given).
// A zone whose keys do not open is still served, unsigned, and counted:
// answering unsigned beats not answering, and a validator with the DS then
// reports SERVFAIL, which the metric and the log explain. Key material is
// never logged.
func dnssecPreparer(opener *dnssec.Opener, log *zap.Logger, reg prometheus.Registerer, now func() time.Time) func(*zonecache.Zone) {
	unsigned := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "zonegrid", Subsystem: "edge", Name: "dnssec_unsigned_zone_loads_total",
		Help: "Zone versions with DNSSEC that are served unsigned because their keys did not open (or no --dnssec-kek-file was given).",
	})
	signed := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "zonegrid", Subsystem: "edge", Name: "dnssec_signed_zone_loads_total",
		Help: "Zone versions loaded with a DNSSEC signer.",
	})
	if reg != nil {
		reg.MustRegister(unsigned, signed)
	}
	return func(z *zonecache.Zone) {
		d := z.Header.GetDnssec()
		if p := z.Presigned; p != nil {
			// The primary signs the zone (zonecache/presigned.go): no keys
			// of ours are opened. What is wrong with its records is logged
			// here, once per version; the zone is served all the same.
			if msg := p.Problem(); msg != "" {
				log.Warn("pre-signed zone: its DNSSEC records are incomplete; validators may fail",
					zap.String("zone", z.Name), zap.Uint64("version", z.Version), zap.String("problem", msg))
			}
			if d != nil {
				log.Warn("pre-signed zone also has DNSSEC keys of ours: not signed live",
					zap.String("zone", z.Name), zap.Uint64("version", z.Version))
			}
			return
		}
		if d == nil {
			if opener != nil {
				opener.Forget(z.Header.GetZoneId())
			}
			return
		}
		if opener == nil {
			unsigned.Inc()
			log.Warn("zone has DNSSEC but the edge has no --dnssec-kek-file: served unsigned",
				zap.String("zone", z.Name), zap.Uint64("version", z.Version))
			return
		}
		var apex []dns.RR
		if s := z.Apex.Set(dns.TypeDNSKEY); s != nil {
			apex = s.RRs
		}
		s, err := opener.Prepare(z.Header.GetZoneId(), z.Name, d, apex, now())
		if err != nil {
			unsigned.Inc()
			log.Error("zone DNSSEC keys unusable: served unsigned", zap.String("zone", z.Name),
				zap.Uint64("version", z.Version), zap.Error(err))
			return
		}
		z.Signer = s
		signed.Inc()
	}
}
