package zones

import (
	"slices"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// activator decides whether a new zone starts active; in delegation mode
// the checks themselves are controlplane/lifecycle's.
type activator interface {
	// activateOnCreate tells whether a new zone starts ACTIVE, given the
	// other accounts' zones of the same name.
	activateOnCreate(sameName []*dnsv1.Zone) bool
}

func anyActive(zs []*dnsv1.Zone) bool {
	return slices.ContainsFunc(zs, func(z *dnsv1.Zone) bool {
		return z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE
	})
}

// immediate trusts the first account to claim a name: no external proof.
type immediate struct{}

func (immediate) activateOnCreate(sameName []*dnsv1.Zone) bool { return !anyActive(sameName) }

// delegation activates a zone only when the lifecycle's check passes.
type delegation struct{}

func (delegation) activateOnCreate([]*dnsv1.Zone) bool { return false }
