package snapshot

import (
	"bytes"
	"testing"
)

// TestSealAroundIsSeal: the parts around a payload are Seal's envelope
// byte for byte (Ed25519 signatures are deterministic), for payloads whose
// length varint takes one, two and three bytes, and they open.
func TestSealAroundIsSeal(t *testing.T) {
	signer := newTestSigner(t)
	v, err := NewVerifier(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	binding := ObjectBinding("big.example")
	for _, n := range []int{0, 100, 1000, 70000} {
		payload := bytes.Repeat([]byte{0x5a}, n)
		want, err := signer.Seal(binding, payload)
		if err != nil {
			t.Fatal(err)
		}
		prefix, suffix, err := signer.SealAround(binding, payload)
		if err != nil {
			t.Fatal(err)
		}
		got := append(append(append([]byte(nil), prefix...), payload...), suffix...)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: SealAround's parts differ from Seal", n)
		}
		if _, err := v.Open(binding, got); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	if p, s, err := (*Signer)(nil).SealAround(binding, []byte("x")); p != nil || s != nil || err != nil {
		t.Fatal("a nil Signer must return empty parts")
	}
}
