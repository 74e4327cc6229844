// Package snapshot is the contract between the control plane, which compiles
// zones, and the edges, which serve them: the protobuf messages (generated
// from proto/snapshot/v1), the JetStream buckets they travel in, and the key
// of each zone and account there.
//
// Transport (see docs/DESIGN.md): every served zone is one value in the
// JetStream KV bucket ZonesBucket, keyed by ZoneKey(name); account-wide
// settings are values in AccountsBucket keyed by account id. A KV bucket is a
// stream that keeps the last value per key, so an edge that starts loads
// every zone by watching the bucket and then follows updates on the same
// watch. Zones too large for one NATS message are stored in ObjectBucket and
// referenced from the KV value (Zone.records_object).
package snapshot

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
)

// FormatVersion is the wire format this code reads and writes.
const FormatVersion = 1

// JetStream bucket names.
const (
	ZonesBucket    = "zonegrid-zones"
	AccountsBucket = "zonegrid-accounts"
	ObjectBucket   = "zonegrid-zone-objects"
)

// ErrFormat is returned for a snapshot in a format this code does not know.
var ErrFormat = errors.New("unknown snapshot format")

// ZoneKey is the KV key of a zone: its normalized name without the trailing
// dot ("_root" for the root zone). Zone names hold only letters, digits,
// hyphens and underscores, all valid in KV keys.
func ZoneKey(name string) string {
	if name == "." || name == "" {
		return "_root"
	}
	return strings.TrimSuffix(name, ".")
}

// NameFromKey inverts ZoneKey.
func NameFromKey(key string) string {
	if key == "_root" {
		return "."
	}
	return key + "."
}

var marshal = proto.MarshalOptions{Deterministic: true}

// MarshalZone encodes z deterministically, so that the same zone content
// always gives the same bytes.
func MarshalZone(z *Zone) ([]byte, error) {
	b, err := marshal.Marshal(z)
	if err != nil {
		return nil, fmt.Errorf("marshal zone snapshot %q: %w", z.GetHeader().GetName(), err)
	}
	return b, nil
}

// UnmarshalZone decodes and checks the format of a zone snapshot.
func UnmarshalZone(b []byte) (*Zone, error) {
	z := &Zone{}
	if err := proto.Unmarshal(b, z); err != nil {
		return nil, fmt.Errorf("unmarshal zone snapshot: %w", err)
	}
	if f := z.GetHeader().GetFormat(); f != FormatVersion {
		return nil, fmt.Errorf("zone snapshot %q format %d: %w", z.GetHeader().GetName(), f, ErrFormat)
	}
	return z, nil
}

// MarshalAccount encodes an account snapshot.
func MarshalAccount(a *Account) ([]byte, error) {
	b, err := marshal.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("marshal account snapshot %q: %w", a.GetAccountId(), err)
	}
	return b, nil
}

// UnmarshalAccount decodes and checks the format of an account snapshot.
func UnmarshalAccount(b []byte) (*Account, error) {
	a := &Account{}
	if err := proto.Unmarshal(b, a); err != nil {
		return nil, fmt.Errorf("unmarshal account snapshot: %w", err)
	}
	if a.GetFormat() != FormatVersion {
		return nil, fmt.Errorf("account snapshot %q format %d: %w", a.GetAccountId(), a.GetFormat(), ErrFormat)
	}
	return a, nil
}

// Deltas of large zones (see docs/DESIGN.md, "Deltas"): the builder
// publishes a ZoneDelta on DeltaStream under DeltaSubject(name) for each
// change of a zone above its size threshold; the zone's KV value keeps the
// latest full snapshot, whose header version tells an edge where to start
// replaying deltas.
const (
	DeltaStream        = "zonegrid-deltas"
	DeltaSubjectPrefix = "zonegrid.delta."
)

// DeltaSubject is the subject the deltas of a zone travel on.
func DeltaSubject(name string) string { return DeltaSubjectPrefix + ZoneKey(name) }

// MarshalDelta encodes a zone delta deterministically.
func MarshalDelta(d *ZoneDelta) ([]byte, error) {
	b, err := marshal.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("marshal zone delta %q %d→%d: %w", d.GetName(), d.GetFromVersion(), d.GetToVersion(), err)
	}
	return b, nil
}

// UnmarshalDelta decodes a zone delta and checks the format of the header
// it may carry.
func UnmarshalDelta(b []byte) (*ZoneDelta, error) {
	d := &ZoneDelta{}
	if err := proto.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("unmarshal zone delta: %w", err)
	}
	if h := d.GetHeader(); h != nil && h.GetFormat() != FormatVersion {
		return nil, fmt.Errorf("zone delta %q header format %d: %w", d.GetName(), h.GetFormat(), ErrFormat)
	}
	return d, nil
}
