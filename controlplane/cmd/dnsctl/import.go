package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// importable are the record types the platform manages; SOA and the rest
// of a zone file are skipped with a note.
var importable = map[string]bool{
	"A": true, "AAAA": true, "CAA": true, "CERT": true, "CNAME": true, "DNSKEY": true, "DS": true,
	"HTTPS": true, "LOC": true, "MX": true, "NAPTR": true, "NS": true, "OPENPGPKEY": true, "PTR": true,
	"SMIMEA": true, "SRV": true, "SSHFP": true, "SVCB": true, "TLSA": true, "TXT": true, "URI": true,
}

func (a *app) recordImportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "import ZONE FILE",
		Short: "Create the records of a zone file in one batch (all or nothing)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, zoneID string) error {
				zresp, err := zc.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: zoneID})
				if err != nil {
					return err
				}
				f, err := os.Open(args[1])
				if err != nil {
					return fmt.Errorf("open zone file: %w", err)
				}
				defer f.Close()
				posts, err := parseZoneFile(f, args[1], zresp.GetZone().GetName(), a.stderr)
				if err != nil {
					return err
				}
				if len(posts) == 0 {
					return usagef("%s holds no records to import", args[1])
				}
				rc, err := a.records()
				if err != nil {
					return err
				}
				resp, err := rc.BatchRecords(ctx, &dnsv1.BatchRecordsRequest{ZoneId: zoneID, Posts: posts})
				if err != nil {
					return err
				}
				return a.print(resp, recordHeader, func(w io.Writer) {
					for _, r := range resp.GetPosted() {
						recordRow(w, r)
					}
				})
			})
		},
	}
}

// parseZoneFile reads a zone file with origin as $ORIGIN and returns the
// records to create. A "cf-proxied:true" in a record's comment (the tag the
// source product exports) marks it proxied.
func parseZoneFile(r io.Reader, file, origin string, warn io.Writer) ([]*dnsv1.Record, error) {
	zp := dns.NewZoneParser(r, origin, file)
	zp.SetIncludeAllowed(false)
	var out []*dnsv1.Record
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		typ := dns.TypeToString[h.Rrtype]
		if !importable[typ] {
			fmt.Fprintf(warn, "skipping %s record at %s\n", typ, h.Name)
			continue
		}
		rec := &dnsv1.Record{Name: h.Name, Type: typ, Ttl: h.Ttl,
			Content: strings.TrimPrefix(rr.String(), h.String()),
			Proxied: strings.Contains(zp.Comment(), "cf-proxied:true")}
		switch v := rr.(type) {
		case *dns.MX:
			rec.Priority, rec.Content = uint32(v.Preference), v.Mx
		case *dns.URI:
			rec.Priority = uint32(v.Priority)
			rec.Content = strings.TrimPrefix(rec.Content, fmt.Sprintf("%d ", v.Priority))
		}
		out = append(out, rec)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	return out, nil
}
