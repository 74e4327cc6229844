package snapshot

import (
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// maxTrailer bounds what may follow a streamed payload: the signature and
// the key id, about 100 bytes.
const maxTrailer = 4096

// newDigest starts the hash digest finishes: the binding, length-prefixed.
func newDigest(binding string) hash.Hash {
	h := sha512.New()
	h.Write(binary.AppendUvarint(nil, uint64(len(binding))))
	h.Write([]byte(binding))
	return h
}

// OpenReader is Open for a value read from r, for a zone object of
// hundreds of MB: the payload goes to w as it is read, in the pieces r
// returns, so that the caller can decode it while the rest arrives instead
// of holding a copy of the whole value first. w sees the payload BEFORE it
// is verified: whatever the caller makes of it must be thrown away unless
// OpenReader returns nil. r is read to its end (an object store reader
// checks its digest there); an error of r comes back wrapped in a
// *ReadError, so that a failed transfer is told from a bad value.
//
// The result equals Open's on the same bytes, with one exception: a signed
// envelope is streamed only when its payload comes first, as Seal writes
// it; one in another field order is read whole and opened by Open (so it
// is accepted as Open accepts it), but one whose payload field comes first
// and again later is refused as malformed (Open would take the last one,
// while w saw the first).
func (v *Verifier) OpenReader(binding string, r io.Reader, w io.Writer) error {
	head := make([]byte, len(SignedMagic), len(SignedMagic)+binary.MaxVarintLen64+1)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return &ReadError{Err: err}
	}
	head = head[:n]
	if !IsSigned(head) {
		if v != nil {
			return ErrUnsigned
		}
		if _, err := w.Write(head); err != nil {
			return err
		}
		return copyAll(w, r)
	}
	// The payload's tag and length, a byte at a time (at most 11).
	payloadTag := protowire.EncodeTag(1, protowire.BytesType)
	var size uint64
	for streamed := false; !streamed; {
		var b [1]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return ErrMalformed
			}
			return &ReadError{Err: err}
		}
		head = append(head, b[0])
		pre := head[len(SignedMagic):]
		if pre[0] == byte(payloadTag) && len(pre) > 1 {
			if l, m := protowire.ConsumeVarint(pre[1:]); m > 0 {
				size, streamed = l, true
				continue
			}
		}
		if pre[0] != byte(payloadTag) || len(pre) == cap(head)-len(SignedMagic) {
			// Not Seal's order (or a bad length): open it whole.
			rest, err := io.ReadAll(r)
			if err != nil {
				return &ReadError{Err: err}
			}
			payload, err := v.Open(binding, append(head, rest...))
			if err != nil {
				return err
			}
			_, err = w.Write(payload)
			return err
		}
	}
	var h hash.Hash
	if v != nil {
		h = newDigest(binding)
	}
	buf := make([]byte, 256<<10)
	for left := size; left > 0; {
		m, err := r.Read(buf[:min(uint64(len(buf)), left)])
		if m > 0 {
			left -= uint64(m)
			if h != nil {
				h.Write(buf[:m])
			}
			if _, werr := w.Write(buf[:m]); werr != nil {
				return werr
			}
		}
		switch {
		case errors.Is(err, io.EOF) && left > 0:
			return ErrMalformed // the envelope ends inside its payload
		case err != nil && !errors.Is(err, io.EOF):
			return &ReadError{Err: err}
		}
	}
	// The rest, to the reader's end (an object store reader checks its
	// digest once it returns EOF): the signature and the key id. A second
	// payload field would be Open's payload, not the one streamed.
	trailer, err := io.ReadAll(io.LimitReader(r, maxTrailer+1))
	if err != nil {
		return &ReadError{Err: err}
	}
	if len(trailer) > maxTrailer {
		return ErrMalformed
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		if err != nil {
			return &ReadError{Err: err}
		}
		return ErrMalformed
	}
	e, err := parseFields(trailer)
	if err != nil {
		return err
	}
	if e.payloadSeen {
		return ErrMalformed
	}
	if v == nil {
		return nil
	}
	return v.check(binding, h.Sum(nil), e)
}

// ReadError is a failure to read a value (a transfer that broke off, an
// object store digest that did not match), not a bad value.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "read: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// copyAll copies r to w (an unsigned value, taken as it is).
func copyAll(w io.Writer, r io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &ReadError{Err: err}
		}
	}
}

// fields is what parseFields found in part of an envelope.
type fields struct {
	sig         []byte
	keyID       string
	payload     []byte
	payloadSeen bool
}

// parseFields reads envelope fields (after SignedMagic) as parseEnvelope
// does.
func parseFields(b []byte) (fields, error) {
	var e fields
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return e, ErrMalformed
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return e, ErrMalformed
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return e, ErrMalformed
		}
		b = b[n:]
		switch num {
		case 1:
			e.payload, e.payloadSeen = v, true
		case 2:
			e.sig = v
		case 3:
			e.keyID = string(v)
		}
	}
	return e, nil
}
