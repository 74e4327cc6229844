// Package notify is the contract between the edges, which receive DNS
// NOTIFY messages (RFC 1996) for secondary zones, and the control plane,
// which refreshes those zones from their primaries: the NATS subject a
// notice travels on, its encoding, and the per-zone coalescing both sides
// use so that a NOTIFY flood costs a few refreshes per second at most.
//
// An edge keeps no state about a notice: it checks the sender against the
// zone's transfer policy (edge/xfrauth), answers, and publishes a Notice
// on Subject(zone). Every control plane subscribes in QueueGroup, so one of
// them takes each notice (controlplane/notifyin).
package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// SubjectPrefix starts the subject of every notice; the rest is the
// zone's key (snapshot.ZoneKey). Plain NATS, not JetStream: a notice lost
// while no control plane listens only delays the refresh to the zone's
// next scheduled check, and a NOTIFY the primary sends again.
const SubjectPrefix = "zonegrid.notify."

// QueueGroup is the queue group the control planes subscribe in.
const QueueGroup = "zonegrid-notifyin"

// MaxSize bounds an encoded notice; larger messages are refused unread.
const MaxSize = 1024

// Subject is the subject of the notices of zone name.
func Subject(name string) string { return SubjectPrefix + snapshot.ZoneKey(name) }

// Notice says that a primary announced a change of a secondary zone.
type Notice struct {
	// ZoneID and Zone name the zone as the edge serves it.
	ZoneID string `json:"zone_id"`
	Zone   string `json:"zone"`
	// Source is the address the NOTIFY came from.
	Source string `json:"source"`
	// Serial is the SOA serial of the answer section, when the NOTIFY
	// carried one (RFC 1996 3.7: a hint only, the primary is asked).
	Serial    uint32 `json:"serial,omitempty"`
	HasSerial bool   `json:"has_serial,omitempty"`
	// Signed is true when the NOTIFY carried a TSIG that verified with the
	// zone's key.
	Signed bool `json:"signed,omitempty"`
	// Edge names the edge that received it (its NATS client name).
	Edge string `json:"edge,omitempty"`
	// Received is when the edge received it (unix nanoseconds).
	Received int64 `json:"received"`
}

// ErrBadNotice is wrapped by Unmarshal for anything not a valid notice.
var ErrBadNotice = errors.New("bad notice")

// Marshal encodes n.
func Marshal(n Notice) ([]byte, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("encode notice for %s: %w", n.Zone, err)
	}
	return b, nil
}

// Unmarshal decodes and checks a notice: a zone id and a fully qualified
// zone name, a source address, within MaxSize.
func Unmarshal(b []byte) (Notice, error) {
	var n Notice
	if len(b) > MaxSize {
		return n, fmt.Errorf("%w: %d bytes", ErrBadNotice, len(b))
	}
	if err := json.Unmarshal(b, &n); err != nil {
		return n, fmt.Errorf("%w: %w", ErrBadNotice, err)
	}
	if n.ZoneID == "" || !strings.HasSuffix(n.Zone, ".") {
		return n, fmt.Errorf("%w: zone %q id %q", ErrBadNotice, n.Zone, n.ZoneID)
	}
	if _, err := netip.ParseAddr(n.Source); err != nil {
		return n, fmt.Errorf("%w: source: %w", ErrBadNotice, err)
	}
	return n, nil
}

// ReceivedAt is when the edge received the notice.
func (n Notice) ReceivedAt() time.Time { return time.Unix(0, n.Received) }
