package xfrauth

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

func ring(t *testing.T) *keyseal.Ring {
	t.Helper()
	k, err := keyseal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	r, err := keyseal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPolicyAllowsOnlyListedSources(t *testing.T) {
	p, err := Prepare(&snapshot.Transfer{
		NotifyFrom: []string{"192.0.2.1", "198.51.100.0/24"},
		Outgoing:   true,
		TransferTo: []string{"2001:db8::53", "203.0.113.77/24"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src              string
		notify, transfer bool
	}{
		{"192.0.2.1", true, false},
		{"192.0.2.2", false, false},
		{"198.51.100.200", true, false},
		{"::ffff:198.51.100.9", true, false}, // IPv4-mapped source on a dual-stack socket
		{"2001:db8::53", false, true},
		{"2001:db8::54", false, false},
		{"203.0.113.1", false, true},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.src)
		if got := p.NotifyAllowed(a); got != tt.notify {
			t.Errorf("NotifyAllowed(%s) = %v, want %v", tt.src, got, tt.notify)
		}
		if got := p.TransferAllowed(a); got != tt.transfer {
			t.Errorf("TransferAllowed(%s) = %v, want %v", tt.src, got, tt.transfer)
		}
	}
}

func TestTransferNeedsOutgoingEnabled(t *testing.T) {
	p, err := Prepare(&snapshot.Transfer{TransferTo: []string{"192.0.2.0/24"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.TransferAllowed(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("transfer allowed with outgoing disabled")
	}
}

func TestNilPolicyAllowsNothing(t *testing.T) {
	var p *Policy
	a := netip.MustParseAddr("192.0.2.1")
	if p.NotifyAllowed(a) || p.TransferAllowed(a) || p.Outgoing() || p.TSIG() != nil {
		t.Fatal("nil policy allowed something")
	}
	if p, err := Prepare(nil, nil); p != nil || err != nil {
		t.Fatalf("Prepare(nil) = %v, %v", p, err)
	}
}

func TestTsigOpensWithItsContextOnly(t *testing.T) {
	r := ring(t)
	sealed, err := r.Seal([]byte("0123456789abcdef"), keyseal.TSIGContext("acct1", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	tsig := &snapshot.TransferTsig{Id: "k1", AccountId: "acct1", Name: "Xfr.Example.", Algorithm: "hmac-sha256.", SealedSecret: sealed}
	p, err := Prepare(&snapshot.Transfer{Tsig: tsig}, r)
	if err != nil {
		t.Fatal(err)
	}
	if k := p.TSIG(); k == nil || k.Name != "xfr.example." || k.Secret != "MDEyMzQ1Njc4OWFiY2RlZg==" {
		t.Fatalf("TSIG() = %+v", k)
	}
	moved := &snapshot.TransferTsig{Id: "k2", AccountId: "acct1", Name: "x.", Algorithm: "hmac-sha256.", SealedSecret: sealed}
	if _, err := Prepare(&snapshot.Transfer{Tsig: moved}, r); !errors.Is(err, ErrSealed) {
		t.Fatalf("a secret copied to another key: err = %v, want ErrSealed", err)
	}
	if _, err := Prepare(&snapshot.Transfer{Tsig: tsig}, ring(t)); !errors.Is(err, ErrSealed) {
		t.Fatalf("another KEK: err = %v, want ErrSealed", err)
	}
	if _, err := Prepare(&snapshot.Transfer{Tsig: tsig}, nil); !errors.Is(err, ErrSealed) {
		t.Fatalf("no ring: err = %v, want ErrSealed", err)
	}
}

func TestBadPrefixIsAnError(t *testing.T) {
	if _, err := Prepare(&snapshot.Transfer{NotifyFrom: []string{"not-an-ip"}}, nil); err == nil {
		t.Fatal("bad prefix accepted")
	}
}

func TestSourceOfReadsUDPAndTCPPeersAsPoliciesSeeThem(t *testing.T) {
	tests := []struct {
		name string
		a    net.Addr
		want netip.Addr
	}{
		{"udp v4", &net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 53}, netip.MustParseAddr("192.0.2.1")},
		{"tcp v4-mapped", &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 53}, netip.MustParseAddr("192.0.2.1")},
		{"tcp v6", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 53}, netip.MustParseAddr("2001:db8::1")},
		{"unix", &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, netip.Addr{}},
	}
	for _, tt := range tests {
		if got := SourceOf(tt.a); got != tt.want {
			t.Errorf("%s: SourceOf = %v, want %v", tt.name, got, tt.want)
		}
	}
}
