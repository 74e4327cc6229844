// Package zonetest builds zone snapshots from zone-file text for tests, so
// that test zones read like the zones they stand for.
package zonetest

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Header returns a typical active zone header for name.
func Header(name string, version uint64) *snapshot.ZoneHeader {
	return &snapshot.ZoneHeader{
		Format:      snapshot.FormatVersion,
		ZoneId:      "id-" + strings.TrimSuffix(name, "."),
		AccountId:   "acct-1",
		Name:        name,
		Version:     version,
		Status:      snapshot.ZoneStatus_ZONE_STATUS_ACTIVE,
		NameServers: []string{"ns1.zonegrid.test.", "ns2.zonegrid.test."},
		NsTtl:       86400,
		Soa: &snapshot.Soa{
			Mname: "ns1.zonegrid.test.", Rname: "dns.zonegrid.test.",
			Serial: uint32(version), Refresh: 10000, Retry: 2400, Expire: 604800,
			Minimum: 1800, Ttl: 3600,
		},
	}
}

// Zone builds a snapshot of hdr's zone from zone-file text (origin = zone
// name, default TTL 300). A comment on a record sets its attributes:
// "proxied", "flatten", "managed=<product>", separated by spaces.
func Zone(tb testing.TB, hdr *snapshot.ZoneHeader, text string) *snapshot.Zone {
	tb.Helper()
	z := &snapshot.Zone{Header: hdr}
	zp := dns.NewZoneParser(strings.NewReader("$TTL 300\n"+text), hdr.GetName(), "")
	zp.SetDefaultTTL(300)
	i := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		buf := make([]byte, dns.Len(rr)+64)
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			tb.Fatalf("pack %s: %v", rr, err)
		}
		rec := &snapshot.Record{Id: "r" + string(rune('a'+i%26)) + itoa(i), Rr: buf[:n]}
		for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(zp.Comment()), ";")) {
			switch {
			case f == "proxied":
				rec.Proxied = true
			case f == "flatten":
				rec.FlattenCname = true
			case strings.HasPrefix(f, "managed="):
				rec.ManagedBy = strings.TrimPrefix(f, "managed=")
			}
		}
		z.Records = append(z.Records, rec)
		i++
	}
	if err := zp.Err(); err != nil {
		tb.Fatalf("parse zone %s: %v", hdr.GetName(), err)
	}
	return z
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
