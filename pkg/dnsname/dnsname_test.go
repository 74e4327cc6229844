package dnsname

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{in: "Example.COM", want: "example.com."},
		{in: "example.com.", want: "example.com."},
		{in: "*.example.com", want: "*.example.com."},
		{in: "_dmarc.example.com", want: "_dmarc.example.com."},
		{in: ".", want: "."},
		{in: "", wantErr: ErrEmpty},
		{in: "a..b", wantErr: ErrEmptyLabel},
		{in: "a b.com", wantErr: ErrInvalidChar},
		{in: strings.Repeat("a", 64) + ".com", wantErr: ErrLabelLong},
		{in: strings.Repeat("abcdefghi.", 26) + "com", wantErr: ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Normalize(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestQualify(t *testing.T) {
	tests := []struct {
		name, zone, want string
		wantErr          error
	}{
		{name: "@", zone: "example.com.", want: "example.com."},
		{name: "www", zone: "example.com.", want: "www.example.com."},
		{name: "WWW.Example.com", zone: "example.com.", want: "www.example.com."},
		{name: "example.com", zone: "example.com.", want: "example.com."},
		{name: "www.example.com.", zone: "example.com.", want: "www.example.com."},
		{name: "www.other.com.", zone: "example.com.", wantErr: ErrOutsideZone},
		{name: "notexample.com.", zone: "example.com.", wantErr: ErrOutsideZone},
		{name: "a.b", zone: "example.com.", want: "a.b.example.com."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Qualify(tt.name, tt.zone)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIsSubdomain(t *testing.T) {
	tests := []struct {
		child, parent string
		want          bool
	}{
		{"example.com.", "example.com.", true},
		{"www.example.com.", "example.com.", true},
		{"wwwexample.com.", "example.com.", false},
		{"com.", "example.com.", false},
		{"anything.", ".", true},
	}
	for _, tt := range tests {
		if got := IsSubdomain(tt.child, tt.parent); got != tt.want {
			t.Errorf("IsSubdomain(%q, %q) = %v, want %v", tt.child, tt.parent, got, tt.want)
		}
	}
}

func TestReverseRoundTrip(t *testing.T) {
	for _, n := range []string{"www.example.com.", "com.", "."} {
		if got := Unreverse(Reverse(n)); got != n {
			t.Errorf("Unreverse(Reverse(%q)) = %q", n, got)
		}
	}
	if got := Reverse("www.example.com."); got != "com.example.www." {
		t.Errorf("Reverse = %q", got)
	}
}

func TestParent(t *testing.T) {
	if got := Parent("www.example.com."); got != "example.com." {
		t.Errorf("Parent = %q", got)
	}
	if got := Parent("com."); got != "." {
		t.Errorf("Parent(com.) = %q", got)
	}
}
