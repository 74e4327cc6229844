package managed

import "testing"

func TestParseAcceptsOnlyTheClosedSet(t *testing.T) {
	tests := []struct {
		in   string
		want Product
		ok   bool
	}{
		{"", None, true},
		{"r2", R2, true},
		{"spectrum", Spectrum, true},
		{"tunnel", Tunnel, true},
		{"web3", Web3, true},
		{"workers", Workers, true},
		{"load_balancing", LoadBalancing, true},
		{"worker_route", WorkerRoute, true},
		{"saas_fallback", SaaSFallback, true},
		{"secondary_dns", SecondaryDNS, true},
		{"other", None, false},
		{"R2", None, false},
		{"lb", None, false},
	}
	for _, tc := range tests {
		got, ok := Parse(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}

func TestFromWireKeepsUnknownProductsManaged(t *testing.T) {
	for in, want := range map[string]Product{"": None, "workers": Workers, "tunnel": Tunnel, "future_product": Other, "other": Other} {
		if got := FromWire([]byte(in)); got != want {
			t.Errorf("FromWire(%q) = %v, want %v", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { FromWire([]byte("load_balancing")) }); n != 0 {
		t.Errorf("FromWire allocates %v times", n)
	}
}

func TestSetHoldsProducts(t *testing.T) {
	s := Of(R2, Workers)
	if !s.Has(R2) || !s.Has(Workers) || s.Has(Tunnel) || s.Has(None) {
		t.Errorf("set %b", s)
	}
	if !s.Any(Of(Workers, Spectrum)) || s.Any(Of(LoadBalancing)) {
		t.Errorf("Any on %b", s)
	}
	if Of(None) != 0 {
		t.Errorf("None added to a set")
	}
}
