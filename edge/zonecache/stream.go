package zonecache

import (
	"errors"
	"fmt"
	"io"
	"runtime"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Stream is BuildBytes for an encoded snapshot.Zone that arrives in
// pieces (an object store transfer): written to it, its records are
// decoded and indexed while the rest arrives, so that the load and the
// transfer overlap and no copy of the whole encoding is ever held. Finish
// returns what BuildBytes returns for the same bytes.
//
// The records are streamed once the header has come (the control plane's
// encoding has it first); a snapshot whose records come before its header
// is kept whole and built by BuildBytes at Finish. A header after the
// first record is refused (BuildBytes would take it over the first).
//
// Write never fails: after an error it drops what it is given, so that
// whoever streams the snapshot out of a signed envelope reads it to the end
// and checks the signature; Finish returns the error.
type Stream struct {
	buf []byte // buf[off:] is not parsed yet; buf[:off] holds the records pending decoding
	off int

	size     int    // expected size of the encoding, to size the index
	hdrBytes []byte // the last header field before the first record
	object   string
	h        *snapshot.ZoneHeader
	name     string
	l        *loader // from the first record on
	whole    bool    // a record came before the header
	err      error
}

// streamRecordBytes is about the encoded size of a record of a large zone
// (an A record with the control plane's 32-character id is about 75 bytes,
// the benchmark's mix 83): the index is allocated for size/streamRecordBytes
// records before the count is known.
const streamRecordBytes = 80

// NewStream returns a Stream for an encoding of about size bytes.
func NewStream(size int) *Stream { return &Stream{size: size} }

// Write takes the next bytes of the encoding; it keeps no reference to p.
func (s *Stream) Write(p []byte) (int, error) {
	if s.err != nil {
		return len(p), nil
	}
	if s.whole {
		s.buf = append(s.buf, p...)
		return len(p), nil
	}
	s.buf = append(s.buf, p...)
	s.err = s.parse()
	return len(p), nil
}

// parse consumes the complete fields in buf[off:].
func (s *Stream) parse() error {
	for s.off < len(s.buf) && !s.whole {
		b := s.buf[s.off:]
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return s.decodeError(n)
		}
		var v []byte
		var m int
		switch typ {
		case protowire.BytesType:
			v, m = protowire.ConsumeBytes(b[n:])
		case protowire.VarintType:
			var x uint64
			if x, m = protowire.ConsumeVarint(b[n:]); x != 0 {
				v = []byte{1}
			}
		default:
			m = protowire.ConsumeFieldValue(num, typ, b[n:])
		}
		if m < 0 {
			return s.decodeError(m)
		}
		s.off += n + m
		switch num {
		case zoneHeaderField:
			if s.l != nil {
				return fmt.Errorf("zone %q: header after the first record: %w", s.name, ErrInvalidZone)
			}
			s.hdrBytes = append(s.hdrBytes[:0], v...)
		case zoneObjectField:
			s.object = string(v)
		case zoneRecordsField:
			if s.l == nil {
				if s.hdrBytes == nil {
					s.whole = true
					return nil
				}
				if err := s.start(); err != nil {
					return err
				}
			}
			if typ != protowire.BytesType {
				return fmt.Errorf("zone %q: %w", s.name, errors.New("record is not a message"))
			}
			s.l.pending = append(s.l.pending, v)
			if len(s.l.pending) == loadChunk {
				if err := s.l.flush(); err != nil {
					return fmt.Errorf("zone %q: %w", s.name, err)
				}
				// Nothing parsed is referenced any more (decoded
				// records are copies): what is left moves to the
				// front, and the buffer stays about a chunk's size.
				n := copy(s.buf, s.buf[s.off:])
				s.buf, s.off = s.buf[:n], 0
			}
		}
	}
	return nil
}

// decodeError is nil for a field cut off at the end of what arrived so
// far (the rest comes with the next Write), the decoding error otherwise.
func (s *Stream) decodeError(n int) error {
	err := protowire.ParseError(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return fmt.Errorf("decode zone snapshot: %w: %w", err, ErrInvalidZone)
}

// start checks the header, as BuildBytes does before any record, and
// creates the zone and its loader.
func (s *Stream) start() error {
	h := &snapshot.ZoneHeader{}
	if err := proto.Unmarshal(s.hdrBytes, h); err != nil {
		return fmt.Errorf("decode zone snapshot header: %w: %w", err, ErrInvalidZone)
	}
	if h.GetFormat() != snapshot.FormatVersion {
		return fmt.Errorf("zone snapshot %q format %d: %w", h.GetName(), h.GetFormat(), snapshot.ErrFormat)
	}
	name, err := checkHeader(h)
	if err != nil {
		return err
	}
	if s.object != "" {
		return fmt.Errorf("zone %q: records are in object %q, not loaded: %w", name, s.object, ErrInvalidZone)
	}
	s.h, s.name = h, name
	s.l = &loader{z: newZone(h, name, s.size/streamRecordBytes), workers: min(runtime.GOMAXPROCS(0), 8)}
	return nil
}

// Finish returns the zone built from everything written, or the first
// error.
func (s *Stream) Finish() (*Zone, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.l == nil {
		// No record, or one before the header: every byte is still here.
		return BuildBytes(s.buf)
	}
	if s.off < len(s.buf) {
		_, _, n := protowire.ConsumeTag(s.buf[s.off:])
		if n >= 0 {
			n = -1 // the tag is whole, its value is not
		}
		return nil, fmt.Errorf("decode zone snapshot: %w: %w", protowire.ParseError(n), ErrInvalidZone)
	}
	if s.object != "" {
		return nil, fmt.Errorf("zone %q: records are in object %q, not loaded: %w", s.name, s.object, ErrInvalidZone)
	}
	if err := s.l.finish(); err != nil {
		return nil, fmt.Errorf("zone %q: %w", s.name, err)
	}
	s.buf = nil
	z := s.l.z
	s.l.mergeGrow()
	z.finishBuild(s.h)
	return z, nil
}
