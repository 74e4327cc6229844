package snapshot

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
)

func newTestSigner(t *testing.T) *Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return NewSigner(priv)
}

func TestSealOpen(t *testing.T) {
	signer, other := newTestSigner(t), newTestSigner(t)
	v, err := NewVerifier(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	zoneA, zoneB := ZoneBinding("a.example"), ZoneBinding("b.example")
	payload := []byte("zone a, version 7")
	sealed, err := signer.Seal(zoneA, payload)
	if err != nil {
		t.Fatal(err)
	}
	byOther, _ := other.Seal(zoneA, payload)
	deltaA, _ := signer.Seal(DeltaBinding(DeltaSubject("a.example.")), payload)
	tampered := append([]byte(nil), sealed...)
	tampered[len(SignedMagic)+3] ^= 1 // a byte of the payload
	badSig := append([]byte(nil), sealed...)
	badSig[len(badSig)-len(signer.KeyID())-5] ^= 1 // a byte of the signature

	tests := []struct {
		name    string
		binding string
		data    []byte
		want    error
	}{
		{"valid signature opens", zoneA, sealed, nil},
		{"tampered payload is refused", zoneA, tampered, ErrBadSignature},
		{"tampered signature is refused", zoneA, badSig, ErrBadSignature},
		{"key not trusted is refused", zoneA, byOther, ErrUnknownKey},
		{"missing signature is refused", zoneA, payload, ErrUnsigned},
		{"replay under another zone's key is refused", zoneB, sealed, ErrBadSignature},
		{"delta replayed for another zone is refused", DeltaBinding(DeltaSubject("b.example.")), deltaA, ErrBadSignature},
		{"zone value replayed as a delta is refused", DeltaBinding(DeltaSubject("a.example.")), sealed, ErrBadSignature},
		{"truncated envelope is refused", zoneA, []byte(SignedMagic + "\x0a\xff"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Open(tt.binding, tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: err %v, want %v", err, tt.want)
			}
			if tt.want == nil && string(got) != string(payload) {
				t.Fatalf("Open: payload %q, want %q", got, payload)
			}
			if tt.want != nil && !errors.Is(err, ErrSignature) {
				t.Fatalf("error %v does not match ErrSignature", err)
			}
		})
	}
}

func TestRotationTrustsEveryListedKey(t *testing.T) {
	old, cur := newTestSigner(t), newTestSigner(t)
	v, err := NewVerifier(old.PublicKey(), cur.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Signer{old, cur} {
		b, _ := s.Seal(AccountBinding("acme"), []byte("x"))
		if _, err := v.Open(AccountBinding("acme"), b); err != nil {
			t.Fatalf("key %s: %v", s.KeyID(), err)
		}
	}
}

func TestNilVerifierAcceptsUnsignedAndUnwrapsSigned(t *testing.T) {
	var v *Verifier
	s := newTestSigner(t)
	sealed, _ := s.Seal(ZoneBinding("a"), []byte("p"))
	for _, in := range [][]byte{[]byte("p"), sealed} {
		got, err := v.Open(ZoneBinding("a"), in)
		if err != nil || string(got) != "p" {
			t.Fatalf("Open(%q) = %q, %v", in, got, err)
		}
	}
}

func TestNilSignerLeavesPayloadUnsigned(t *testing.T) {
	var s *Signer
	got, err := s.Seal(ZoneBinding("a"), []byte("p"))
	if err != nil || string(got) != "p" {
		t.Fatalf("Seal = %q, %v", got, err)
	}
}

// The envelope is written by hand (no copy of large payloads); it must be
// the Signed message of snapshot.proto.
func TestEnvelopeIsTheSignedMessage(t *testing.T) {
	s := newTestSigner(t)
	sealed, _ := s.Seal(ObjectBinding("a"), []byte("payload"))
	var m Signed
	if err := proto.Unmarshal(sealed[len(SignedMagic):], &m); err != nil {
		t.Fatal(err)
	}
	if string(m.GetPayload()) != "payload" || m.GetKeyId() != s.KeyID() || len(m.GetSignature()) != ed25519.SignatureSize {
		t.Fatalf("Signed = %v", &m)
	}
}

func TestBareSnapshotsAreNeverSigned(t *testing.T) {
	z, _ := MarshalZone(&Zone{Header: &ZoneHeader{Format: FormatVersion, Name: "a."}})
	d, _ := MarshalDelta(&ZoneDelta{Name: "a."})
	a, _ := MarshalAccount(&Account{Format: FormatVersion, AccountId: "x"})
	for _, b := range [][]byte{z, d, a} {
		if IsSigned(b) {
			t.Fatalf("bare value %x taken as signed", b)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "k", "signing.pem"), filepath.Join(dir, "k", "signing.pub.pem")
	s1, err := EnsureSigningKey(priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(priv)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st.Mode(), err)
	}
	s2, err := EnsureSigningKey(priv, pub)
	if err != nil || s2.KeyID() != s1.KeyID() {
		t.Fatalf("restart generated another key: %v", err)
	}
	v, err := LoadVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s1.Seal(ZoneBinding("a"), []byte("p"))
	if _, err := v.Open(ZoneBinding("a"), b); err != nil {
		t.Fatal(err)
	}
}
