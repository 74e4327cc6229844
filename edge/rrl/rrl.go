// Package rrl is response rate limiting (RRL) for the edge's UDP answers,
// the defence of NSD, Knot and BIND against reflection and amplification:
// a spoofed flood asks us to send many (large) answers to a victim, so the
// edge limits how many answers of one kind it sends to one network.
//
// A response is counted under a key: the client's prefix (IPv4 /24 and
// IPv6 /56 by default), the response's class (positive answer, NXDOMAIN,
// NODATA, referral, error) and a name: the query name for positive answers,
// the zone (the owner of the SOA in the authority section) for NXDOMAIN and
// NODATA, so that a random-subdomain flood is one key, the delegation point
// for referrals, and none for errors (one key per prefix). Each key may
// send Rate responses a second, counted over fixed windows of Window; past
// that a response is dropped, except every Slip-th one, which is sent
// empty with TC set (a "slip") so that a real client behind the prefix
// retries over TCP, which is never limited (a spoofed source cannot
// complete a TCP handshake).
//
// The counters live in a fixed table of slots (Config.TableSize), a key
// hashed (seeded, so that clients cannot aim at a slot) to one slot, each
// slot with its own lock: memory is bounded whatever the clients send, a
// check takes no global lock and allocates nothing. A key whose slot is
// taken by another key starts over (as in NSD): under a flood of distinct
// keys some responses pass that an unbounded table would drop.
//
// Classification reads the packed response; the caller adds whether a
// positive answer was synthesized from a wildcard, and such answers are
// counted per zone (NSD and Knot use the wildcard's owner, which the edge
// does not pass on; the zone is coarser and as safe: a client choosing
// names under a wildcard still hits one key).
package rrl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"net"
	"sync"
	"time"

	"github.com/zonegrid/zonegrid/edge/dnswire"
)

// Defaults of Config (the edge command's; Config's zero value is off).
const (
	// DefaultRate is NSD's default rrl-ratelimit (200 a second); Knot's
	// rate-limit is off unless set and its documentation's example is 200.
	DefaultRate = 200
	// DefaultSlip is NSD's and BIND's: every second limited response is
	// sent truncated.
	DefaultSlip = 2
	// DefaultWindow is the counting window.
	DefaultWindow = time.Second
	// DefaultIPv4PrefixLen is NSD's, Knot's and BIND's: clients in one /24
	// share their counters.
	DefaultIPv4PrefixLen = 24
	// DefaultIPv6PrefixLen is BIND's (NSD uses /64): a site commonly gets
	// a /56.
	DefaultIPv6PrefixLen = 56
	// DefaultTableSize is the number of slots (32 bytes each, 2 MiB).
	DefaultTableSize = 1 << 16
)

// Class is the kind of a response, part of its key.
type Class uint8

// Response classes, as NSD and Knot have them.
const (
	Positive Class = iota + 1
	NXDomain
	NoData
	Referral
	Error
	Wildcard
)

var classNames = [...]string{Positive: "positive", NXDomain: "nxdomain", NoData: "nodata", Referral: "referral", Error: "error", Wildcard: "wildcard"}

func (c Class) String() string {
	if int(c) < len(classNames) && classNames[c] != "" {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Action is what to do with a response.
type Action uint8

// Actions of Check.
const (
	// Send the response as it is.
	Send Action = iota
	// Drop it.
	Drop
	// Slip: send Truncate's version of it (empty, TC set).
	Slip
)

// Config configures a Limiter. Its zero value is off (New returns nil).
type Config struct {
	// Rate is how many responses a second one key may send; 0 turns
	// rate limiting off.
	Rate int
	// Slip: every Slip-th response over the limit is sent truncated
	// instead of dropped; 0 drops them all, 1 slips them all.
	Slip int
	// Window is the counting window: a key may send Rate × Window
	// responses in each; 0 means DefaultWindow. A longer one tolerates
	// burstier clients.
	Window time.Duration
	// IPv4PrefixLen and IPv6PrefixLen group clients; 0 means the default.
	IPv4PrefixLen, IPv6PrefixLen int
	// TableSize is the number of counter slots, rounded up to a power of
	// two; 0 means DefaultTableSize.
	TableSize int
}

// Limiter decides, response by response, whether to send, drop or slip.
// A nil *Limiter sends everything. It is safe for concurrent use.
type Limiter struct {
	seed   maphash.Seed
	window int64  // nanoseconds
	limit  uint32 // responses per window and key
	slip   uint32
	v4, v6 net.IPMask
	mask   uint64
	slots  []slot
}

// slot counts the responses of the key whose hash it holds, in window
// win. 32 bytes: two slots share a cache line at most.
type slot struct {
	mu    sync.Mutex
	key   uint64
	win   int64
	count uint32
	drops uint32
}

// New returns a Limiter for cfg, or nil when cfg.Rate is 0 (off).
func New(cfg Config) (*Limiter, error) {
	if cfg.Rate == 0 {
		return nil, nil
	}
	if cfg.Rate < 0 || cfg.Slip < 0 || cfg.Window < 0 || cfg.TableSize < 0 {
		return nil, errors.New("rrl: rate, slip, window and table size must not be negative")
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.IPv4PrefixLen == 0 {
		cfg.IPv4PrefixLen = DefaultIPv4PrefixLen
	}
	if cfg.IPv6PrefixLen == 0 {
		cfg.IPv6PrefixLen = DefaultIPv6PrefixLen
	}
	if cfg.IPv4PrefixLen < 0 || cfg.IPv4PrefixLen > 32 || cfg.IPv6PrefixLen < 0 || cfg.IPv6PrefixLen > 128 {
		return nil, fmt.Errorf("rrl: prefix lengths /%d (IPv4) and /%d (IPv6) out of range", cfg.IPv4PrefixLen, cfg.IPv6PrefixLen)
	}
	if cfg.TableSize == 0 {
		cfg.TableSize = DefaultTableSize
	}
	limit := float64(cfg.Rate) * cfg.Window.Seconds()
	if limit < 1 {
		return nil, fmt.Errorf("rrl: rate %d/s over a window of %v allows no response", cfg.Rate, cfg.Window)
	}
	n := 1 << bits.Len(uint(cfg.TableSize-1))
	return &Limiter{
		seed:   maphash.MakeSeed(),
		window: int64(cfg.Window),
		limit:  uint32(min(limit, 1<<31)),
		slip:   uint32(cfg.Slip),
		v4:     net.CIDRMask(cfg.IPv4PrefixLen, 32),
		v6:     net.CIDRMask(cfg.IPv6PrefixLen, 128),
		mask:   uint64(n - 1),
		slots:  make([]slot, n),
	}, nil
}

// keyLen bounds a key: 16 bytes of prefix, the class, a name of at most
// 255 bytes.
const keyLen = 16 + 1 + 255

// Check counts resp, a packed response about to be sent to ip at now
// (Unix nanoseconds; callers pass one reading per batch), and says what to
// do with it. wildcardZone is the zone of a positive answer synthesized
// from a wildcard, "" otherwise. A response it cannot classify is counted
// as an error.
func (l *Limiter) Check(now int64, ip net.IP, resp []byte, wildcardZone string) Action {
	if l == nil {
		return Send
	}
	var key [keyLen]byte
	n := l.prefix(key[:], ip)
	class, nameOff := Classify(resp)
	if class == Positive && wildcardZone != "" {
		class = Wildcard
	}
	key[n] = byte(class)
	n++
	switch {
	case class == Wildcard:
		// The zone in presentation form (the class byte keeps it apart
		// from wire-form names).
		n += copy(key[n:], wildcardZone)
	case nameOff > 0:
		n = appendName(key[:], n, resp, nameOff)
	}
	return l.count(now, maphash.Bytes(l.seed, key[:n]))
}

// prefix writes ip masked to its prefix into key (16 bytes, IPv4 first
// and marked so that it never equals an IPv6 prefix) and returns 16.
func (l *Limiter) prefix(key []byte, ip net.IP) int {
	if v4 := ip.To4(); v4 != nil {
		key[0] = 4
		for i := range 4 {
			key[12+i] = v4[i] & l.v4[i]
		}
		return 16
	}
	if len(ip) == net.IPv6len {
		for i := range 16 {
			key[i] = ip[i] & l.v6[i]
		}
	}
	return 16
}

func (l *Limiter) count(now int64, h uint64) Action {
	win := now / l.window
	s := &l.slots[h&l.mask]
	s.mu.Lock()
	if s.key != h {
		s.key, s.drops = h, 0
		s.win, s.count = win, 0
	} else if s.win != win {
		s.win, s.count = win, 0
	}
	s.count++
	if s.count <= l.limit {
		s.mu.Unlock()
		return Send
	}
	s.drops++
	drops := s.drops
	s.mu.Unlock()
	if l.slip > 0 && drops%l.slip == 0 {
		return Slip
	}
	return Drop
}

// DNS header layout (RFC 1035 4.1.1).
const (
	headerLen = 12
	flagAA    = 0x04 // byte 2
	flagTC    = 0x02 // byte 2
	maxHops   = 16   // compression pointers followed before giving up
)

// Classify returns the class of packed response resp and the offset of
// the name its key uses (0: none).
func Classify(resp []byte) (Class, int) {
	if len(resp) < headerLen {
		return Error, 0
	}
	an := binary.BigEndian.Uint16(resp[6:])
	ns := binary.BigEndian.Uint16(resp[8:])
	qEnd := questionEnd(resp)
	switch resp[3] & 0x0f {
	case 0: // NOERROR
	case 3:
		return NXDomain, authorityOwner(resp, qEnd, an, ns)
	default:
		return Error, 0
	}
	switch {
	case an > 0:
		return Positive, qnameOff(qEnd)
	case resp[2]&flagAA != 0:
		return NoData, authorityOwner(resp, qEnd, an, ns)
	case ns > 0:
		return Referral, authorityOwner(resp, qEnd, an, ns)
	}
	return NoData, qnameOff(qEnd)
}

// qnameOff is the query name's offset when there is a question.
func qnameOff(qEnd int) int {
	if qEnd > 0 {
		return headerLen
	}
	return 0
}

// questionEnd returns the offset past the one question, 0 when there is
// none or it cannot be read.
func questionEnd(resp []byte) int {
	if binary.BigEndian.Uint16(resp[4:]) != 1 {
		return 0
	}
	off := dnswire.SkipName(resp, headerLen)
	if off < 0 || off+4 > len(resp) {
		return 0
	}
	return off + 4
}

// authorityOwner returns the offset of the owner name of the first
// authority record (the zone's SOA for NXDOMAIN and NODATA, the
// delegation's NS for a referral), or the query name's when there is none.
func authorityOwner(resp []byte, qEnd int, an, ns uint16) int {
	if qEnd == 0 {
		return 0
	}
	if ns == 0 {
		return headerLen
	}
	off := qEnd
	for range an {
		if off = dnswire.SkipRR(resp, off); off < 0 {
			return headerLen
		}
	}
	return off
}

// appendName writes the name at off in msg into key from n on, lower-cased
// and with compression pointers followed, and returns the new length.
// A malformed name ends where it stops making sense: the key is only a
// hash input.
func appendName(key []byte, n int, msg []byte, off int) int {
	for hops := 0; off < len(msg) && hops < maxHops; {
		l := int(msg[off])
		switch {
		case l == 0:
			return n
		case l&0xc0 == 0xc0:
			if off+2 > len(msg) {
				return n
			}
			off = int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			hops++
			continue
		case l > 63 || off+1+l > len(msg) || n+1+l > len(key):
			return n
		}
		key[n] = byte(l)
		n++
		for _, c := range msg[off+1 : off+1+l] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			key[n] = c
			n++
		}
		off += 1 + l
	}
	return n
}

// Truncate turns resp, in place, into the slip answer: its header and
// question only, with TC set (RFC 1035 4.1.1: the client should retry
// over TCP). No OPT record: the answer is as small as it can be.
func Truncate(resp []byte) []byte {
	if len(resp) < headerLen {
		return resp
	}
	end := questionEnd(resp)
	if end == 0 {
		end = headerLen
		resp[4], resp[5] = 0, 0
	}
	resp[2] |= flagTC
	clear(resp[6:12])
	return resp[:end]
}
