package xfrin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Pre-signed DNSSEC ("DNSSEC for Secondary DNS"): when the zone's incoming
// configuration says dnssec_presigned, the primary's DNSSEC records are
// kept as transferred, as they are: "Cloudflare then serves these records
// and signatures as is, without doing any signing". The record API never
// takes these types from users (rdata does not know RRSIG, NSEC, NSEC3 or
// NSEC3PARAM); they are stored in miekg/dns's presentation form. Without
// the flag they are skipped like any type the platform does not serve, and
// a full transfer deletes those kept before (the flag's change forces
// one: services/transfers).

// dnssecTypes are the records a pre-signed zone keeps beyond the ones the
// platform stores anyway (DNSKEY is one of those: rdata supports it).
var dnssecTypes = map[uint16]bool{
	dns.TypeRRSIG: true, dns.TypeNSEC: true, dns.TypeNSEC3: true, dns.TypeNSEC3PARAM: true, dns.TypeDNSKEY: true,
}

// Presigned reports whether the zone's incoming configuration marks it
// pre-signed.
func Presigned(ctx context.Context, st *store.Store, zoneID string) (bool, error) {
	in, err := st.GetIncomingTransfer(ctx, zoneID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("incoming transfer of zone %s: %w", zoneID, err)
	}
	return in.GetDnssecPresigned(), nil
}

// signatureRecordOf is recordOf for the DNSSEC records of a pre-signed
// zone: the RDATA as miekg/dns presents it (what dns.NewRR reads back when
// the builder compiles the zone), the TTL as transferred.
func signatureRecordOf(rr dns.RR, zoneID string, now *timestamppb.Timestamp) (*dnsv1.Record, error) {
	h := rr.Header()
	typ := dns.TypeToString[h.Rrtype]
	content := strings.TrimPrefix(rr.String(), h.String())
	if content == "" || strings.ContainsAny(content, "\n\r") {
		return nil, fmt.Errorf("%s %s: no RDATA to keep", h.Name, typ)
	}
	return &dnsv1.Record{
		ZoneId: zoneID, Name: dns.CanonicalName(h.Name), Type: typ, Content: content, Ttl: max(h.Ttl, 2),
		Meta: &dnsv1.RecordMeta{ManagedBy: TransferredBy}, CreatedOn: now, ModifiedOn: now,
	}, nil
}
