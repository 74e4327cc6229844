package snapshot

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestOpenReaderMatchesOpen: a value streamed through OpenReader comes out
// as Open has it, or is refused for the same reason, however the reader
// splits it.
func TestOpenReaderMatchesOpen(t *testing.T) {
	signer, other := newTestSigner(t), newTestSigner(t)
	v, err := NewVerifier(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	bind, otherBind := ObjectBinding("a"), ObjectBinding("b")
	payload := bytes.Repeat([]byte("zone object bytes "), 40000) // 720 KB: several buffers
	sealed, _ := signer.Seal(bind, payload)
	byOther, _ := other.Seal(bind, payload)
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)/2] ^= 1
	// The envelope's fields in another order than Seal's: signature and
	// key id first.
	env, _ := parseEnvelope(sealed)
	reordered := []byte(SignedMagic)
	reordered = protowire.AppendTag(reordered, 2, protowire.BytesType)
	reordered = protowire.AppendBytes(reordered, env.sig)
	reordered = protowire.AppendTag(reordered, 3, protowire.BytesType)
	reordered = protowire.AppendString(reordered, env.keyID)
	reordered = protowire.AppendTag(reordered, 1, protowire.BytesType)
	reordered = protowire.AppendBytes(reordered, payload)
	tests := []struct {
		name     string
		verifier *Verifier
		binding  string
		data     []byte
		want     error
	}{
		{"valid signature opens", v, bind, sealed, nil},
		{"tampered payload is refused", v, bind, tampered, ErrBadSignature},
		{"another binding is refused", v, otherBind, sealed, ErrBadSignature},
		{"key not trusted is refused", v, bind, byOther, ErrUnknownKey},
		{"unsigned value is refused", v, bind, payload, ErrUnsigned},
		{"another field order opens as Open opens it", v, bind, reordered, nil},
		{"truncated inside the payload is refused", v, bind, sealed[:len(sealed)/2], ErrMalformed},
		{"truncated before the payload's length is refused", v, bind, sealed[:len(SignedMagic)+1], ErrMalformed},
		{"truncated signature is refused", v, bind, sealed[:len(sealed)-3], ErrMalformed},
		{"without a verifier an unsigned value passes", nil, bind, payload, nil},
		{"without a verifier a signed value is unwrapped", nil, bind, sealed, nil},
		{"empty value is refused", v, bind, nil, ErrUnsigned},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"halves":   iotest.HalfReader,
	}
	for _, tt := range tests {
		for rname, wrap := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				wantPayload, wantErr := tt.verifier.Open(tt.binding, tt.data)
				if !errors.Is(wantErr, tt.want) || (tt.want == nil) != (wantErr == nil) {
					t.Fatalf("Open: %v, want %v", wantErr, tt.want)
				}
				var got bytes.Buffer
				err := tt.verifier.OpenReader(tt.binding, wrap(bytes.NewReader(tt.data)), &got)
				if (err == nil) != (tt.want == nil) || !errors.Is(err, tt.want) {
					t.Fatalf("OpenReader: %v, want %v", err, tt.want)
				}
				if err == nil && !bytes.Equal(got.Bytes(), wantPayload) {
					t.Fatalf("OpenReader wrote %d bytes, Open's payload has %d", got.Len(), len(wantPayload))
				}
			})
		}
	}
}

// TestOpenReaderRefusesSecondPayload: Open takes the last payload field of
// an envelope, OpenReader streamed the first: such an envelope (Seal never
// writes one) is refused even though its last payload verifies.
func TestOpenReaderRefusesSecondPayload(t *testing.T) {
	signer := newTestSigner(t)
	v, _ := NewVerifier(signer.PublicKey())
	bind := ObjectBinding("a")
	sealed, _ := signer.Seal(bind, []byte("signed payload"))
	data := []byte(SignedMagic)
	data = protowire.AppendTag(data, 1, protowire.BytesType)
	data = protowire.AppendBytes(data, []byte("unsigned payload"))
	data = append(data, sealed[len(SignedMagic):]...)
	if _, err := v.Open(bind, data); err != nil {
		t.Fatalf("Open: %v (the last payload verifies)", err)
	}
	if err := v.OpenReader(bind, bytes.NewReader(data), io.Discard); !errors.Is(err, ErrMalformed) {
		t.Fatalf("OpenReader: %v, want %v", err, ErrMalformed)
	}
}

// TestOpenReaderReadError: a reader that fails (a transfer broken off, a
// digest mismatch) is a *ReadError, not a signature failure.
func TestOpenReaderReadError(t *testing.T) {
	signer := newTestSigner(t)
	v, _ := NewVerifier(signer.PublicKey())
	bind := ObjectBinding("a")
	sealed, _ := signer.Seal(bind, bytes.Repeat([]byte("x"), 1<<20))
	boom := errors.New("connection reset")
	for _, at := range []int{0, 3, len(SignedMagic) + 2, len(sealed) / 2, len(sealed) - 2, len(sealed)} {
		r := io.MultiReader(bytes.NewReader(sealed[:at]), iotest.ErrReader(boom))
		err := v.OpenReader(bind, r, io.Discard)
		var re *ReadError
		if !errors.As(err, &re) || !errors.Is(err, boom) || SignatureFailure(err) != "" {
			t.Errorf("failing after %d bytes: %v, want a ReadError wrapping %v", at, err, boom)
		}
	}
}
