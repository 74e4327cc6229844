package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

const zoneHeader = "ID\tNAME\tACCOUNT\tTYPE\tSTATUS\tPLAN\tNAMESERVERS"

func zoneRow(w io.Writer, z *dnsv1.Zone) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", z.GetId(), z.GetName(), z.GetAccountId(),
		enumName(z.GetType().String(), "ZONE_TYPE_"), enumName(z.GetStatus().String(), "ZONE_STATUS_"),
		enumName(z.GetPlan().String(), "PLAN_"), strings.Join(z.GetNameServers(), ","))
}

// enumName shortens ZONE_TYPE_FULL to full.
func enumName(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }

var plans = map[string]dnsv1.Plan{
	"free": dnsv1.Plan_PLAN_FREE, "pro": dnsv1.Plan_PLAN_PRO,
	"business": dnsv1.Plan_PLAN_BUSINESS, "enterprise": dnsv1.Plan_PLAN_ENTERPRISE,
}

var zoneTypes = map[string]dnsv1.ZoneType{
	"full": dnsv1.ZoneType_ZONE_TYPE_FULL, "partial": dnsv1.ZoneType_ZONE_TYPE_PARTIAL,
	"secondary": dnsv1.ZoneType_ZONE_TYPE_SECONDARY,
}

func (a *app) zoneCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "zone", Short: "Create, inspect and delete zones"}
	cmd.AddCommand(a.zoneCreateCmd(), a.zoneGetCmd(), a.zoneListCmd(), a.zoneDeleteCmd(), a.zoneActivateCmd())
	return cmd
}

func (a *app) zoneCreateCmd() *cobra.Command {
	var plan, typ string
	cmd := &cobra.Command{
		Use:   "create NAME --account ACC",
		Short: "Add a zone to an account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.account == "" {
				return usagef("--account is required")
			}
			p, ok := plans[strings.ToLower(plan)]
			if !ok {
				return usagef("--plan must be free, pro, business or enterprise")
			}
			t, ok := zoneTypes[strings.ToLower(typ)]
			if !ok {
				return usagef("--type must be full, partial or secondary")
			}
			zc, err := a.zones()
			if err != nil {
				return err
			}
			ctx, cancel := a.rpc(cmd)
			defer cancel()
			resp, err := zc.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: a.account, Name: args[0], Plan: p, Type: t})
			if err != nil {
				return err
			}
			return a.print(resp.GetZone(), zoneHeader, func(w io.Writer) { zoneRow(w, resp.GetZone()) })
		},
	}
	cmd.Flags().StringVar(&plan, "plan", "free", "plan: free, pro, business or enterprise")
	cmd.Flags().StringVar(&typ, "type", "full", "setup: full, partial or secondary")
	return cmd
}

func (a *app) zoneGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ZONE",
		Short: "Show a zone (by id, or by name with --account)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				resp, err := zc.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.print(resp.GetZone(), zoneHeader, func(w io.Writer) { zoneRow(w, resp.GetZone()) })
			})
		},
	}
}

func (a *app) zoneListCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "list [--account A] [--name N]",
		Short: "List zones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			zc, err := a.zones()
			if err != nil {
				return err
			}
			all := &dnsv1.ListZonesResponse{}
			tok := ""
			for {
				ctx, cancel := a.rpc(cmd)
				resp, err := zc.ListZones(ctx, &dnsv1.ListZonesRequest{AccountId: a.account, Name: name, PageSize: 1000, PageToken: tok})
				cancel()
				if err != nil {
					return err
				}
				all.Zones = append(all.Zones, resp.GetZones()...)
				if tok = resp.GetNextPageToken(); tok == "" {
					break
				}
			}
			return a.print(all, zoneHeader, func(w io.Writer) {
				for _, z := range all.GetZones() {
					zoneRow(w, z)
				}
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only zones with this name")
	return cmd
}

func (a *app) zoneDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ZONE",
		Short: "Delete a zone and its records",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				resp, err := zc.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.print(resp, "", func(w io.Writer) { fmt.Fprintln(w, "deleted zone", resp.GetZoneId()) })
			})
		},
	}
}

func (a *app) zoneActivateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "activate ZONE",
		Short: "Re-run the activation check of a pending zone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				resp, err := zc.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.print(resp, zoneHeader, func(w io.Writer) {
					zoneRow(w, resp.GetZone())
					if resp.GetReason() != "" {
						fmt.Fprintln(w, "still pending:", resp.GetReason())
					}
				})
			})
		},
	}
}
