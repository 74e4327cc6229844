package store

import (
	"strings"
	"testing"
	"time"
)

func TestValidRequestIDAcceptsOnlyTheDocumentedAlphabet(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"dnsctl-0123abcdef", true},
		{"A.b_c:d-9", true},
		{strings.Repeat("x", MaxRequestIDLen), true},
		{"", false},
		{strings.Repeat("x", MaxRequestIDLen+1), false},
		{"a/b", false},
		{"sp ace", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := ValidRequestID(tt.id); got != tt.want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestOutcomeEncodingRoundTrips(t *testing.T) {
	in := &Outcome{Method: "/dns.v1.RecordService/CreateRecord", Hash: [32]byte{1, 2, 3, 31: 9},
		Response: []byte{0x0a, 0x00, 0xff}, Time: time.Unix(0, 1700000000123456789)}
	out, err := decodeIdem(encodeIdem(in))
	if err != nil {
		t.Fatal(err)
	}
	if out.Method != in.Method || out.Hash != in.Hash || string(out.Response) != string(in.Response) || !out.Time.Equal(in.Time) {
		t.Fatalf("decoded %+v, want %+v", out, in)
	}
	if _, err := decodeIdem([]byte{0x12, 0x05, 1}); err == nil {
		t.Fatal("a truncated outcome decoded")
	}
}
