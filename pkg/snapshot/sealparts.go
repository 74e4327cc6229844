package snapshot

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// SealAround signs payload for binding as Seal does and returns the bytes
// that go before and after it: prefix + payload + suffix is exactly what
// Seal returns. A caller that streams a large payload (a zone object of
// ~100 MB) writes the three parts in turn instead of Seal's copy of the
// payload into a new buffer (on the control plane, allocations that size
// set off garbage collections of its whole heap). A nil Signer returns
// empty parts (signing off).
func (s *Signer) SealAround(binding string, payload []byte) (prefix, suffix []byte, err error) {
	if s == nil {
		return nil, nil, nil
	}
	sig, err := s.key.Sign(nil, digest(binding, payload), signOpts)
	if err != nil {
		return nil, nil, fmt.Errorf("sign %s: %w", binding, err)
	}
	prefix = make([]byte, 0, len(SignedMagic)+1+protowire.SizeVarint(uint64(len(payload))))
	prefix = append(prefix, SignedMagic...)
	prefix = protowire.AppendTag(prefix, 1, protowire.BytesType)
	prefix = protowire.AppendVarint(prefix, uint64(len(payload)))
	suffix = make([]byte, 0, len(sig)+len(s.id)+8)
	suffix = protowire.AppendTag(suffix, 2, protowire.BytesType)
	suffix = protowire.AppendBytes(suffix, sig)
	suffix = protowire.AppendTag(suffix, 3, protowire.BytesType)
	suffix = protowire.AppendString(suffix, s.id)
	return prefix, suffix, nil
}
