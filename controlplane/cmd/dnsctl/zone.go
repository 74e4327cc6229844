package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

const zoneHeader = "ID\tNAME\tACCOUNT\tTYPE\tSTATUS\tPLAN\tNAMESERVERS"

func zoneRow(w io.Writer, z *dnsv1.Zone) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", z.GetId(), z.GetName(), z.GetAccountId(),
		enumName(z.GetType().String(), "ZONE_TYPE_"), enumName(z.GetStatus().String(), "ZONE_STATUS_"),
		enumName(z.GetPlan().String(), "PLAN_"), strings.Join(z.GetNameServers(), ","))
}

// zoneDetails prints what a zone's status depends on: its timers, its
// checks, the verification record of a partial setup and its hold.
func zoneDetails(w io.Writer, z *dnsv1.Zone) {
	ts := func(t interface{ AsTime() time.Time }) string { return t.AsTime().UTC().Format(time.RFC3339) }
	fmt.Fprintf(w, "status:\t%s since %s\n", enumName(z.GetStatus().String(), "ZONE_STATUS_"), ts(z.GetStatusChangedOn()))
	if z.GetNextStatusOn() != nil {
		fmt.Fprintf(w, "next:\t%s at %s\n", enumName(z.GetNextStatus().String(), "ZONE_STATUS_"), ts(z.GetNextStatusOn()))
	}
	fmt.Fprintf(w, "nameservers:\t%s\n", strings.Join(z.GetNameServers(), " "))
	if c := z.GetActivationChecks(); c != nil {
		if c.GetLastCheckOn() != nil {
			res := "passed"
			if c.GetLastResult() != "" {
				res = "failed: " + c.GetLastResult()
			}
			fmt.Fprintf(w, "last check:\t%s, %s\n", ts(c.GetLastCheckOn()), res)
		}
		if c.GetNextCheckOn() != nil {
			fmt.Fprintf(w, "next check:\t%s\n", ts(c.GetNextCheckOn()))
		}
	}
	if v := z.GetVerification(); v != nil {
		fmt.Fprintf(w, "verification:\t%s %s %q\n", v.GetName(), v.GetType(), v.GetValue())
	}
	if v := z.GetVanityNameServers(); len(v) > 0 {
		fmt.Fprintf(w, "custom nameservers:\t%s\n", strings.Join(v, " "))
		for _, a := range z.GetVanityNameServersIps() {
			fmt.Fprintf(w, "  glue:\t%s %s %s\n", a.GetName(), a.GetIpv4(), a.GetIpv6())
		}
	}
	if n := z.GetAccountNameserverSet(); n > 0 {
		fmt.Fprintf(w, "account nameserver set:\t%d (%s)\n", n, strings.Join(z.GetAccountNameServers(), " "))
	}
	if h := z.GetHold(); h.GetHold() || h.GetHoldAfter() != nil {
		fmt.Fprintf(w, "hold:\t%t (subdomains %t)\n", h.GetHold(), h.GetIncludeSubdomains())
	}
}

// printZone prints a zone's row and its details (or the zone as JSON).
func (a *app) printZone(z *dnsv1.Zone) error {
	return a.print(z, "", func(w io.Writer) {
		fmt.Fprintln(w, zoneHeader)
		zoneRow(w, z)
		fmt.Fprintln(w)
		zoneDetails(w, z)
	})
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
	cmd.AddCommand(a.zoneCreateCmd(), a.zoneGetCmd(), a.zoneListCmd(), a.zoneDeleteCmd(), a.zoneActivateCmd(),
		a.zonePlanCmd(), a.zoneHoldCmd(), a.zoneScanCmd(), a.zoneSetupCmd(), a.zoneNameserversCmd())
	return cmd
}

func (a *app) zoneCreateCmd() *cobra.Command {
	var plan, typ string
	var deferPlan, scan bool
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
			if deferPlan {
				p = dnsv1.Plan_PLAN_UNSPECIFIED
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
			resp, err := zc.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: a.account, Name: args[0], Plan: p, Type: t, DeferPlan: deferPlan})
			if err != nil {
				return err
			}
			if scan {
				sr, err := zc.ScanRecords(ctx, &dnsv1.ScanRecordsRequest{ZoneId: resp.GetZone().GetId(), ImportRecords: true})
				if err != nil {
					fmt.Fprintf(a.stderr, "zone created; the records quick scan failed: %v\n", err)
				} else {
					fmt.Fprintf(a.stderr, "records quick scan: %d found at %s, %d imported\n", len(sr.GetFound()), sr.GetServer(), len(sr.GetImported()))
				}
			}
			return a.print(resp.GetZone(), zoneHeader, func(w io.Writer) { zoneRow(w, resp.GetZone()) })
		},
	}
	cmd.Flags().StringVar(&plan, "plan", "free", "plan: free, pro, business or enterprise")
	cmd.Flags().StringVar(&typ, "type", "full", "setup: full, partial or secondary")
	cmd.Flags().BoolVar(&scan, "scan", false, "run the records quick scan after creating the zone and import what it finds")
	cmd.Flags().BoolVar(&deferPlan, "defer-plan", false, "add the zone without a plan (status initializing) until `zone plan` chooses one")
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
				return a.printZone(resp.GetZone())
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
		Short: "Delete a zone (answered DNS-only and restorable by adding it again for 7 days, then purged)",
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

func (a *app) zonePlanCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plan ZONE free|pro|business|enterprise",
		Short: "Change a zone's plan (an initializing zone becomes pending)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, ok := plans[strings.ToLower(args[1])]
			if !ok {
				return usagef("the plan must be free, pro, business or enterprise")
			}
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				resp, err := zc.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: id, Plan: p})
				if err != nil {
					return err
				}
				return a.print(resp.GetZone(), zoneHeader, func(w io.Writer) { zoneRow(w, resp.GetZone()) })
			})
		},
	}
}

func holdRow(w io.Writer, h *dnsv1.ZoneHold) {
	after := ""
	if h.GetHoldAfter() != nil {
		after = h.GetHoldAfter().AsTime().UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "%t\t%t\t%s\n", h.GetHold(), h.GetIncludeSubdomains(), after)
}

const holdHeader = "HOLD\tINCLUDE_SUBDOMAINS\tHOLD_AFTER"

func (a *app) zoneHoldCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "hold", Short: "Zone holds (Enterprise): keep other accounts from adding the zone's name"}
	var subdomains bool
	set := &cobra.Command{
		Use: "set ZONE", Short: "Hold the zone's name", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				resp, err := zc.CreateZoneHold(ctx, &dnsv1.CreateZoneHoldRequest{ZoneId: id, IncludeSubdomains: subdomains})
				if err != nil {
					return err
				}
				return a.print(resp.GetHold(), holdHeader, func(w io.Writer) { holdRow(w, resp.GetHold()) })
			})
		},
	}
	set.Flags().BoolVar(&subdomains, "include-subdomains", false, "hold the names below the zone too")
	var after string
	remove := &cobra.Command{
		Use: "remove ZONE", Short: "Lift the hold, for good or until --hold-after", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &dnsv1.RemoveZoneHoldRequest{}
			if after != "" {
				t, err := time.Parse(time.RFC3339, after)
				if err != nil {
					return usagef("--hold-after must be an RFC 3339 time: %v", err)
				}
				req.HoldAfter = timestamppb.New(t)
			}
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				req.ZoneId = id
				resp, err := zc.RemoveZoneHold(ctx, req)
				if err != nil {
					return err
				}
				return a.print(resp.GetHold(), holdHeader, func(w io.Writer) { holdRow(w, resp.GetHold()) })
			})
		},
	}
	remove.Flags().StringVar(&after, "hold-after", "", "apply the hold again at this RFC 3339 time")
	get := &cobra.Command{
		Use: "get ZONE", Short: "Show the hold as it applies now", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				resp, err := zc.GetZoneHold(ctx, &dnsv1.GetZoneHoldRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.print(resp.GetHold(), holdHeader, func(w io.Writer) { holdRow(w, resp.GetHold()) })
			})
		},
	}
	cmd.AddCommand(set, remove, get)
	return cmd
}

func (a *app) zoneScanCmd() *cobra.Command {
	var imp bool
	cmd := &cobra.Command{
		Use:   "scan ZONE [--import]",
		Short: "Records quick scan: ask the zone's current nameservers for common names, and import what they hold",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				resp, err := zc.ScanRecords(ctx, &dnsv1.ScanRecordsRequest{ZoneId: id, ImportRecords: imp})
				if err != nil {
					return err
				}
				return a.print(resp, "NAME\tTYPE\tCONTENT\tTTL", func(w io.Writer) {
					for _, r := range resp.GetFound() {
						fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", r.GetName(), r.GetType(), r.GetContent(), r.GetTtl())
					}
					fmt.Fprintf(w, "\nfound %d records at %s; imported %d\n", len(resp.GetFound()), resp.GetServer(), len(resp.GetImported()))
				})
			})
		},
	}
	cmd.Flags().BoolVar(&imp, "import", false, "add what was found to the zone (names that already have records are left out)")
	return cmd
}

func (a *app) zoneSetupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "setup ZONE full|partial|secondary",
		Short: "Convert a zone to another setup (records and settings stay; partial needs the verification TXT record again)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, ok := zoneTypes[strings.ToLower(args[1])]
			if !ok {
				return usagef("the setup must be full, partial or secondary")
			}
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				resp, err := zc.ChangeSetup(ctx, &dnsv1.ChangeSetupRequest{ZoneId: id, Type: t})
				if err != nil {
					return err
				}
				return a.printZone(resp.GetZone())
			})
		},
	}
}

func (a *app) zoneNameserversCmd() *cobra.Command {
	var vanity []string
	var clearVanity bool
	var set int
	var tenant bool
	cmd := &cobra.Command{
		Use:   "nameservers ZONE [--custom NAME]... [--no-custom] [--account-set N [--tenant]]",
		Short: "Zone custom nameservers (names below the zone) or an account custom nameserver set (0: the assigned pair)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &dnsv1.UpdateZoneRequest{}
			if len(vanity) > 0 || clearVanity {
				req.VanityNameServers = &dnsv1.VanityNameservers{Names: vanity}
			}
			if set >= 0 {
				req.AccountNameservers = &dnsv1.AccountNameservers{NsSet: uint32(set), Tenant: tenant}
			}
			if req.VanityNameServers == nil && req.AccountNameservers == nil {
				return usagef("give --custom NAME (repeatable), --no-custom or --account-set N")
			}
			return zoneCall(a, cmd, args[0], a.zones, func(ctx context.Context, zc dnsv1.ZoneServiceClient, id string) error {
				req.ZoneId = id
				resp, err := zc.UpdateZone(ctx, req)
				if err != nil {
					return err
				}
				return a.printZone(resp.GetZone())
			})
		},
	}
	cmd.Flags().StringArrayVar(&vanity, "custom", nil, "a zone custom nameserver name below the zone (repeatable, 2-5)")
	cmd.Flags().BoolVar(&clearVanity, "no-custom", false, "remove the zone custom nameservers")
	cmd.Flags().IntVar(&set, "account-set", -1, "use this set of the account's custom nameservers (1-5; 0: back to the assigned pair)")
	cmd.Flags().BoolVar(&tenant, "tenant", false, "with --account-set: the set of the account's tenant's custom nameservers")
	return cmd
}
