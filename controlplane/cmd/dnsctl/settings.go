package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func (a *app) settingsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "settings", Short: "Read and change account and zone DNS settings"}
	account := &cobra.Command{Use: "account", Short: "Account-wide settings"}
	account.AddCommand(a.accountGetCmd(), a.accountSetCmd(), a.zoneDefaultsCmd())
	zone := &cobra.Command{Use: "zone", Short: "Zone settings"}
	zone.AddCommand(a.zoneSettingsGetCmd(), a.zoneSettingsSetCmd())
	cmd.AddCommand(account, zone)
	return cmd
}

func accountRows(s *dnsv1.AccountSettings) func(io.Writer) {
	return func(w io.Writer) { fmt.Fprintf(w, "enforce_dns_only\t%t\n", s.GetEnforceDnsOnly()) }
}

func zoneSettingsRows(s *dnsv1.ZoneSettings) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "flatten_all_cnames\t%t\n", s.GetFlattenAllCnames())
		fmt.Fprintf(w, "ns_ttl\t%d\n", s.GetNsTtl())
		fmt.Fprintf(w, "soa_refresh\t%d\n", s.GetSoaRefresh())
		fmt.Fprintf(w, "soa_retry\t%d\n", s.GetSoaRetry())
		fmt.Fprintf(w, "soa_expire\t%d\n", s.GetSoaExpire())
		fmt.Fprintf(w, "soa_min_ttl\t%d\n", s.GetSoaMinTtl())
		fmt.Fprintf(w, "soa_mname\t%s\n", s.GetSoaMname())
		fmt.Fprintf(w, "soa_rname\t%s\n", s.GetSoaRname())
		fmt.Fprintf(w, "soa_ttl\t%d\n", s.GetSoaTtl())
		fmt.Fprintf(w, "multi_provider\t%t\n", s.GetMultiProvider())
		fmt.Fprintf(w, "secondary_overrides\t%t\n", s.GetSecondaryOverrides())
		fmt.Fprintf(w, "max_records_override\t%d\n", s.GetMaxRecordsOverride())
	}
}

func (a *app) accountGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ACCOUNT",
		Short: "Show an account's settings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := a.settings()
			if err != nil {
				return err
			}
			ctx, cancel := a.rpc(cmd)
			defer cancel()
			resp, err := sc.GetAccountSettings(ctx, &dnsv1.GetAccountSettingsRequest{AccountId: args[0]})
			if err != nil {
				return err
			}
			return a.print(resp.GetSettings(), "", accountRows(resp.GetSettings()))
		},
	}
}

func (a *app) accountSetCmd() *cobra.Command {
	var s dnsv1.AccountSettings
	cmd := &cobra.Command{
		Use:   "set ACCOUNT --enforce-dns-only=true|false",
		Short: "Change the account settings whose flags are given",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			paths := changedPaths(cmd.Flags(), map[string]string{"enforce-dns-only": "enforce_dns_only"})
			if len(paths) == 0 {
				return usagef("give at least one setting to change")
			}
			sc, err := a.settings()
			if err != nil {
				return err
			}
			ctx, cancel := a.rpc(cmd)
			defer cancel()
			resp, err := sc.UpdateAccountSettings(ctx, &dnsv1.UpdateAccountSettingsRequest{AccountId: args[0],
				Settings: &s, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
			if err != nil {
				return err
			}
			return a.print(resp.GetSettings(), "", accountRows(resp.GetSettings()))
		},
	}
	cmd.Flags().BoolVar(&s.EnforceDnsOnly, "enforce-dns-only", false, "answer proxied records with their own content, account-wide")
	return cmd
}

func (a *app) zoneSettingsGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ZONE",
		Short: "Show a zone's settings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.settings, func(ctx context.Context, sc dnsv1.SettingsServiceClient, zoneID string) error {
				resp, err := sc.GetZoneSettings(ctx, &dnsv1.GetZoneSettingsRequest{ZoneId: zoneID})
				if err != nil {
					return err
				}
				return a.print(resp.GetSettings(), "", zoneSettingsRows(resp.GetSettings()))
			})
		},
	}
}

func (a *app) zoneSettingsSetCmd() *cobra.Command {
	var s dnsv1.ZoneSettings
	cmd := &cobra.Command{
		Use:   "set ZONE [--flatten-all-cnames=true|false] [--ns-ttl N] [--soa-...]",
		Short: "Change the zone settings whose flags are given",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			paths := changedPaths(cmd.Flags(), map[string]string{
				"flatten-all-cnames": "flatten_all_cnames", "ns-ttl": "ns_ttl", "soa-refresh": "soa_refresh",
				"soa-retry": "soa_retry", "soa-expire": "soa_expire", "soa-min-ttl": "soa_min_ttl",
				"soa-mname": "soa_mname", "soa-rname": "soa_rname", "soa-ttl": "soa_ttl",
				"multi-provider": "multi_provider", "secondary-overrides": "secondary_overrides",
				"max-records-override": "max_records_override",
			})
			if len(paths) == 0 {
				return usagef("give at least one setting to change")
			}
			return zoneCall(a, cmd, args[0], a.settings, func(ctx context.Context, sc dnsv1.SettingsServiceClient, zoneID string) error {
				resp, err := sc.UpdateZoneSettings(ctx, &dnsv1.UpdateZoneSettingsRequest{ZoneId: zoneID,
					Settings: &s, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
				if err != nil {
					return err
				}
				return a.print(resp.GetSettings(), "", zoneSettingsRows(resp.GetSettings()))
			})
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&s.FlattenAllCnames, "flatten-all-cnames", false, "flatten every CNAME of the zone")
	fs.Uint32Var(&s.NsTtl, "ns-ttl", 0, "TTL of the apex NS records (0 = 86400)")
	fs.Uint32Var(&s.SoaRefresh, "soa-refresh", 0, "SOA refresh (0 = default)")
	fs.Uint32Var(&s.SoaRetry, "soa-retry", 0, "SOA retry (0 = default)")
	fs.Uint32Var(&s.SoaExpire, "soa-expire", 0, "SOA expire (0 = default)")
	fs.Uint32Var(&s.SoaMinTtl, "soa-min-ttl", 0, "SOA minimum / negative-caching TTL (0 = default)")
	fs.StringVar(&s.SoaMname, "soa-mname", "", "SOA MNAME, the primary nameserver (empty = the zone's first nameserver)")
	fs.StringVar(&s.SoaRname, "soa-rname", "", `SOA RNAME: an e-mail address or john\.doe.example.com (empty = the platform's)`)
	fs.Uint32Var(&s.SoaTtl, "soa-ttl", 0, "TTL of the SOA record, 1800..3600 (0 = 3600)")
	fs.BoolVar(&s.MultiProvider, "multi-provider", false, "multi-provider DNS (full zones)")
	fs.BoolVar(&s.SecondaryOverrides, "secondary-overrides", false, "secondary DNS override (secondary zones)")
	fs.Uint32Var(&s.MaxRecordsOverride, "max-records-override", 0, "record quota of an Enterprise zone, operator only (0 = the plan's)")
	return cmd
}

// changedPaths maps the flags given on the command line to mask paths.
func changedPaths(fs *pflag.FlagSet, paths map[string]string) []string {
	var out []string
	fs.Visit(func(f *pflag.Flag) {
		if p, ok := paths[f.Name]; ok {
			out = append(out, p)
		}
	})
	return out
}
