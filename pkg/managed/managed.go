// Package managed names the platform products that may own a DNS record
// (dns.v1.RecordMeta.managed_by): a closed set, shared by the control plane,
// which accepts only these names, and the edge, which reads them from
// snapshots. Which products keep their proxied answers under enforce
// DNS-only is an answer-time rule and lives with the others in edge/answer.
package managed

// Product is one product that manages records. The zero value is a user's
// own record.
type Product uint8

// The products. Other stands for a non-empty name this build does not know
// (a snapshot written by a newer control plane): it is managed, but by
// nothing any rule singles out.
const (
	None Product = iota
	R2
	Spectrum
	Tunnel
	Web3
	Workers
	LoadBalancing
	WorkerRoute
	SaaSFallback
	// SecondaryDNS: records transferred from a secondary zone's primary
	// (controlplane/xfrin); changed only by the next transfer.
	SecondaryDNS
	Other
)

var names = [...]string{
	None:          "",
	R2:            "r2",
	Spectrum:      "spectrum",
	Tunnel:        "tunnel",
	Web3:          "web3",
	Workers:       "workers",
	LoadBalancing: "load_balancing",
	WorkerRoute:   "worker_route",
	SaaSFallback:  "saas_fallback",
	SecondaryDNS:  "secondary_dns",
	Other:         "other",
}

// String returns the product's API name.
func (p Product) String() string {
	if int(p) < len(names) {
		return names[p]
	}
	return "other"
}

// Parse returns the product of an API name; ok is false for a name outside
// the closed set. The empty name is None.
func Parse(s string) (p Product, ok bool) {
	for i, n := range names {
		if n == s && Product(i) != Other {
			return Product(i), true
		}
	}
	return None, false
}

// FromWire returns the product of a name read from a snapshot: unknown
// non-empty names are Other, so a newer control plane's product is still
// managed. It does not allocate.
func FromWire[T ~string | ~[]byte](b T) Product {
	if len(b) == 0 {
		return None
	}
	for i, n := range names {
		if Product(i) != Other && string(b) == n {
			return Product(i)
		}
	}
	return Other
}

// Names lists the products the API accepts, for error messages and docs.
func Names() []string {
	out := make([]string, 0, len(names)-2)
	for i, n := range names {
		if Product(i) != None && Product(i) != Other {
			out = append(out, n)
		}
	}
	return out
}

// Set is a set of products (one bit each).
type Set uint16

// With returns s with p added; None adds nothing.
func (s Set) With(p Product) Set {
	if p == None {
		return s
	}
	return s | 1<<p
}

// Has reports whether p is in s.
func (s Set) Has(p Product) bool { return p != None && s&(1<<p) != 0 }

// Any reports whether s and o share a product.
func (s Set) Any(o Set) bool { return s&o != 0 }

// Of returns the set of the given products.
func Of(ps ...Product) Set {
	var s Set
	for _, p := range ps {
		s = s.With(p)
	}
	return s
}
