package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// maxExport is the largest export dnsctl accepts (gRPC's default is
// 4 MiB, about 40,000 records).
const maxExport = 256 << 20

func (a *app) recordExportCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "export ZONE",
		Short: "Write the zone's records as a BIND zone file (to stdout, or --file)",
		Long: `Write the zone's records as a BIND zone file: $ORIGIN, the SOA and apex NS
records the edges serve, then every record with its comment and tags in the
cf_tags= grammar (cf-proxied and cf-flatten-cname included), which
"dnsctl record import" reads back.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.records, func(ctx context.Context, rc dnsv1.RecordServiceClient, zoneID string) error {
				resp, err := rc.ExportRecords(ctx, &dnsv1.ExportRecordsRequest{ZoneId: zoneID}, grpc.MaxCallRecvMsgSize(maxExport))
				if err != nil {
					return err
				}
				if file == "" {
					_, err := a.stdout.Write(resp.GetZoneFile())
					return err
				}
				if err := os.WriteFile(file, resp.GetZoneFile(), 0o644); err != nil {
					return fmt.Errorf("write %s: %w", file, err)
				}
				fmt.Fprintf(a.stderr, "%s records exported to %s\n", thousands(int(resp.GetRecordCount())), file)
				return nil
			})
		},
	}
	// Not -o: that is the output format of every command.
	cmd.Flags().StringVarP(&file, "file", "f", "", "write the zone file here instead of stdout")
	return cmd
}
