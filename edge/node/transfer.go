package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/xfrauth"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
)

// transferPreparer returns what the zone set calls on every zone version
// it installs: it attaches the zone's transfer policy (who may NOTIFY it,
// who may transfer it out). A policy that cannot be prepared (a TSIG key
// the edge's ring does not open) leaves the zone served with no policy, so
// NOTIFY and transfers for it are refused: a zone whose owner linked a key
// must never go out unsigned. Counted and logged without key material.
func transferPreparer(ring *keyseal.Ring, log *zap.Logger, reg prometheus.Registerer) func(*zonecache.Zone) {
	broken := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "zonegrid", Subsystem: "edge", Name: "transfer_policy_errors_total",
		Help: "Zone versions whose transfer policy could not be prepared (TSIG key does not open): NOTIFY and transfers refused.",
	})
	if reg != nil {
		reg.MustRegister(broken)
	}
	return func(z *zonecache.Zone) {
		p, err := xfrauth.Prepare(z.Header.GetTransfer(), ring)
		if err != nil {
			broken.Inc()
			log.Error("zone transfer policy unusable: NOTIFY and transfers refused", zap.String("zone", z.Name),
				zap.Uint64("version", z.Version), zap.Error(err))
			return
		}
		z.Transfer = p
	}
}
