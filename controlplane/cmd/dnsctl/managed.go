package main

import (
	"context"

	"github.com/spf13/cobra"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// recordManagedByCmd marks a record as managed by a product of the
// platform (operator only: SetRecordManagedBy has the Platform scope).
func (a *app) recordManagedByCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "managed-by ZONE RECORD_ID [PRODUCT]",
		Short: "Mark a record as managed by a product (r2, spectrum, tunnel, web3, workers, load_balancing, worker_route, saas_fallback, secondary_dns), or clear the mark; operator only",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &dnsv1.SetRecordManagedByRequest{RecordId: args[1]}
			if len(args) == 3 {
				req.ManagedBy = args[2]
			}
			return zoneCall(a, cmd, args[0], a.records, func(ctx context.Context, rc dnsv1.RecordServiceClient, zoneID string) error {
				req.ZoneId = zoneID
				resp, err := rc.SetRecordManagedBy(ctx, req)
				if err != nil {
					return err
				}
				return a.printRecord(resp.GetRecord())
			})
		},
	}
}
