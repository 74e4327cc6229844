package xfrin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/managed"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records/rdata"
)

// Applied counts what one transfer changed in the store.
type Applied struct {
	Put, Deleted int
	// Skipped are records the platform cannot serve (types it does not
	// store, such as HINFO or DNAME), with the reason; the rest of the
	// transfer applies.
	Skipped []string
}

// TransferredBy marks the records a transfer writes: read-only to the
// record API (it refuses to change a managed record), replaced only by the
// next transfer. The user's own records of a secondary zone (overrides)
// carry no mark and are never touched.
var TransferredBy = managed.SecondaryDNS.String()

// Apply writes a transfer to the zone as ONE store write, so an edge never
// serves half of it: a full transfer replaces the zone's transferred
// records (only those that changed are written, so a large zone's next
// snapshot is a small delta), an incremental one applies its difference
// sequences in order. Records the user added (overrides) stay.
func Apply(ctx context.Context, st *store.Store, zoneID string, res *Result, now time.Time) (Applied, error) {
	var out Applied
	if res.UpToDate {
		return out, nil
	}
	ts := timestamppb.New(now)
	presigned, err := Presigned(ctx, st, zoneID)
	if err != nil {
		return Applied{}, err
	}
	recordOf := func(rr dns.RR, zoneID string, now *timestamppb.Timestamp) (*dnsv1.Record, error) {
		if presigned && dnssecTypes[rr.Header().Rrtype] {
			return signatureRecordOf(rr, zoneID, now)
		}
		return recordOf(rr, zoneID, now)
	}
	err = st.UpdateRecords(ctx, zoneID, func(ctx context.Context, v store.ZoneView) ([]store.RecordOp, error) {
		out = Applied{}
		apex := v.Zone().GetName()
		// have: the transferred records the zone holds, by key, at the
		// names the transfer touches (all of them for a full one).
		have := map[string]*dnsv1.Record{}
		load := func(recs []*dnsv1.Record) {
			for _, r := range recs {
				if r.GetMeta().GetManagedBy() != TransferredBy || r.GetType() == "SOA" {
					continue // not transferred, or the SOA (below)
				}
				have[recordKey(r)] = r
			}
		}
		want := map[string]*dnsv1.Record{}
		gone := map[string]bool{}
		if res.Full {
			recs, err := v.RecordsUnder(ctx, apex)
			if err != nil {
				return nil, fmt.Errorf("read zone %s: %w", zoneID, err)
			}
			load(recs)
			for _, rr := range res.Records {
				r, err := recordOf(rr, zoneID, ts)
				if err != nil {
					out.Skipped = append(out.Skipped, err.Error())
					continue
				}
				want[recordKey(r)] = r
			}
			for k := range have {
				if want[k] == nil {
					gone[k] = true
				}
			}
		} else {
			seen := map[string]bool{}
			for _, d := range res.Diffs {
				for _, rr := range append(append([]dns.RR(nil), d.Deleted...), d.Added...) {
					n := dns.CanonicalName(rr.Header().Name)
					if seen[n] {
						continue
					}
					seen[n] = true
					recs, err := v.RecordsAt(ctx, n)
					if err != nil {
						return nil, fmt.Errorf("read %s of zone %s: %w", n, zoneID, err)
					}
					load(recs)
				}
			}
			for _, d := range res.Diffs {
				for _, rr := range d.Deleted {
					r, err := recordOf(rr, zoneID, ts)
					if err != nil {
						continue // never stored
					}
					k := recordKey(r)
					delete(want, k)
					gone[k] = true
				}
				for _, rr := range d.Added {
					r, err := recordOf(rr, zoneID, ts)
					if err != nil {
						out.Skipped = append(out.Skipped, err.Error())
						continue
					}
					k := recordKey(r)
					want[k] = r
					delete(gone, k)
				}
			}
		}
		var ops []store.RecordOp
		soaOp, err := soaOp(ctx, v, zoneID, res.SOA, ts)
		if err != nil {
			return nil, err
		}
		if soaOp != nil {
			ops = append(ops, *soaOp)
		}
		for k := range gone {
			if old := have[k]; old != nil {
				ops = append(ops, store.RecordOp{DeleteID: old.GetId()})
				out.Deleted++
			}
		}
		for k, r := range want {
			old := have[k]
			if old != nil && old.GetTtl() == r.GetTtl() {
				continue // unchanged
			}
			if old != nil {
				r = proto.Clone(r).(*dnsv1.Record)
				r.Id, r.CreatedOn = old.GetId(), old.GetCreatedOn()
			} else {
				id, err := newID()
				if err != nil {
					return nil, err
				}
				r.Id = id
			}
			ops = append(ops, store.RecordOp{Put: r})
			out.Put++
		}
		return ops, nil
	})
	if err != nil {
		return Applied{}, fmt.Errorf("apply %s of zone %s: %w", res.Method, zoneID, err)
	}
	return out, nil
}

// recordOf turns a transferred RR into a read-only record of the zone, in
// the canonical form of the record service (rdata).
func recordOf(rr dns.RR, zoneID string, now *timestamppb.Timestamp) (*dnsv1.Record, error) {
	h := rr.Header()
	typ := dns.TypeToString[h.Rrtype]
	if !rdata.Supported(typ) {
		return nil, fmt.Errorf("%s %s: the platform does not serve %s records", h.Name, typ, typ)
	}
	content := strings.TrimPrefix(rr.String(), h.String())
	var prio uint32
	if rdata.HasPriority(typ) {
		p, rest, _ := strings.Cut(content, " ")
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%s %s: bad priority %q", h.Name, typ, p)
		}
		prio, content = uint32(n), rest
	}
	res, err := rdata.Parse(typ, content, nil, prio)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", h.Name, typ, err)
	}
	// TTL 1 means "automatic" in a record: a transferred TTL of 1 is kept
	// as 2 seconds rather than becoming 300.
	ttl := h.Ttl
	if ttl == 1 {
		ttl = 2
	}
	return &dnsv1.Record{
		ZoneId: zoneID, Name: dns.CanonicalName(h.Name), Type: typ, Content: res.Content, Data: res.Data,
		Priority: res.Priority, Ttl: ttl, Meta: &dnsv1.RecordMeta{ManagedBy: TransferredBy},
		CreatedOn: now, ModifiedOn: now,
	}, nil
}

// recordKey identifies a record by owner, type and RDATA, as IXFR names
// the records it deletes (the TTL is not part of it).
func recordKey(r *dnsv1.Record) string {
	return strings.ToLower(r.GetName()) + " " + r.GetType() + " " + strconv.Itoa(int(r.GetPriority())) + " " + r.GetContent()
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate record id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// SOARecordID is the id of the record holding a secondary zone's
// transferred SOA: one per zone, derived from the zone id so that every
// transfer finds and replaces it without a lookup by type.
func SOARecordID(zoneID string) string {
	h := sha256.Sum256([]byte("zonegrid secondary soa\x00" + zoneID))
	return hex.EncodeToString(h[:16])
}

// soaOp keeps the primary's SOA (every field and its TTL) as a transferred
// record of the zone, written in the transfer's own transaction: the
// builder serves it as the zone's SOA (builder.ServedSOA), so the serial
// the edges answer is the primary's and changes with the records it
// describes, never before or after them. Nil when the stored one is the
// same.
func soaOp(ctx context.Context, v store.ZoneView, zoneID string, soa *dns.SOA, now *timestamppb.Timestamp) (*store.RecordOp, error) {
	if soa == nil {
		return nil, nil
	}
	r := &dnsv1.Record{
		Id: SOARecordID(zoneID), ZoneId: zoneID, Name: dns.CanonicalName(soa.Hdr.Name), Type: "SOA",
		Content: fmt.Sprintf("%s %s %d %d %d %d %d", dns.CanonicalName(soa.Ns), dns.CanonicalName(soa.Mbox),
			soa.Serial, soa.Refresh, soa.Retry, soa.Expire, soa.Minttl),
		Ttl: soa.Hdr.Ttl, Meta: &dnsv1.RecordMeta{ManagedBy: TransferredBy}, CreatedOn: now, ModifiedOn: now,
	}
	old, err := v.Record(ctx, r.GetId())
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("read the SOA record of zone %s: %w", zoneID, err)
	case old.GetContent() == r.GetContent() && old.GetTtl() == r.GetTtl() && old.GetName() == r.GetName():
		return nil, nil
	default:
		r.CreatedOn = old.GetCreatedOn()
	}
	return &store.RecordOp{Put: r}, nil
}
