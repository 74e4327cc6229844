package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// nameserverMethods maps the --nameserver-method values to the API's.
var nameserverMethods = map[string]dnsv1.NameserverMethod{
	"standard":       dnsv1.NameserverMethod_NAMESERVER_METHOD_STANDARD,
	"randomized":     dnsv1.NameserverMethod_NAMESERVER_METHOD_STANDARD_RANDOMIZED,
	"advanced":       dnsv1.NameserverMethod_NAMESERVER_METHOD_ADVANCED,
	"account-custom": dnsv1.NameserverMethod_NAMESERVER_METHOD_ACCOUNT_CUSTOM,
	"tenant-custom":  dnsv1.NameserverMethod_NAMESERVER_METHOD_TENANT_CUSTOM,
}

func methodName(m dnsv1.NameserverMethod) string {
	for k, v := range nameserverMethods {
		if v == m {
			return k
		}
	}
	return "standard" // unspecified: the platform default
}

func methodNames() string {
	names := make([]string, 0, len(nameserverMethods))
	for k := range nameserverMethods {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (a *app) zoneDefaultsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "zone-defaults", Short: "DNS zone defaults: the settings new zones of the account start with (Enterprise)"}
	cmd.AddCommand(a.zoneDefaultsGetCmd(), a.zoneDefaultsSetCmd())
	return cmd
}

func zoneDefaultsRows(d *dnsv1.AccountZoneDefaults) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "nameserver_method\t%s\n", methodName(d.GetNameserverMethod()))
		fmt.Fprintf(w, "nameserver_set\t%d\n", d.GetNameserverSet())
		fmt.Fprintf(w, "multi_provider\t%t\n", d.GetMultiProvider())
		fmt.Fprintf(w, "ns_ttl\t%d\n", d.GetNsTtl())
		fmt.Fprintf(w, "soa_mname\t%s\n", d.GetSoaMname())
		fmt.Fprintf(w, "soa_rname\t%s\n", d.GetSoaRname())
		fmt.Fprintf(w, "soa_refresh\t%d\n", d.GetSoaRefresh())
		fmt.Fprintf(w, "soa_retry\t%d\n", d.GetSoaRetry())
		fmt.Fprintf(w, "soa_expire\t%d\n", d.GetSoaExpire())
		fmt.Fprintf(w, "soa_min_ttl\t%d\n", d.GetSoaMinTtl())
		fmt.Fprintf(w, "soa_ttl\t%d\n", d.GetSoaTtl())
		fmt.Fprintf(w, "flatten_all_cnames\t%t\n", d.GetFlattenAllCnames())
		fmt.Fprintf(w, "secondary_overrides\t%t\n", d.GetSecondaryOverrides())
	}
}

func (a *app) zoneDefaultsGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ACCOUNT",
		Short: "Show an account's DNS zone defaults",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := a.settings()
			if err != nil {
				return err
			}
			ctx, cancel := a.rpc(cmd)
			defer cancel()
			resp, err := sc.GetAccountZoneDefaults(ctx, &dnsv1.GetAccountZoneDefaultsRequest{AccountId: args[0]})
			if err != nil {
				return err
			}
			return a.print(resp.GetDefaults(), "", zoneDefaultsRows(resp.GetDefaults()))
		},
	}
}

func (a *app) zoneDefaultsSetCmd() *cobra.Command {
	var (
		d      dnsv1.AccountZoneDefaults
		method string
	)
	cmd := &cobra.Command{
		Use:   "set ACCOUNT [--nameserver-method M] [--nameserver-set N] [--ns-ttl N] [--soa-...] ...",
		Short: "Change the zone defaults whose flags are given (zones created afterwards only)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			paths := changedPaths(cmd.Flags(), map[string]string{
				"nameserver-method": "nameserver_method", "nameserver-set": "nameserver_set",
				"multi-provider": "multi_provider", "ns-ttl": "ns_ttl",
				"soa-mname": "soa_mname", "soa-rname": "soa_rname", "soa-refresh": "soa_refresh",
				"soa-retry": "soa_retry", "soa-expire": "soa_expire", "soa-min-ttl": "soa_min_ttl", "soa-ttl": "soa_ttl",
				"flatten-all-cnames": "flatten_all_cnames", "secondary-overrides": "secondary_overrides",
			})
			if len(paths) == 0 {
				return usagef("give at least one default to change")
			}
			if cmd.Flags().Changed("nameserver-method") {
				m, ok := nameserverMethods[method]
				if !ok {
					return usagef("--nameserver-method %q: one of %s", method, methodNames())
				}
				d.NameserverMethod = m
			}
			sc, err := a.settings()
			if err != nil {
				return err
			}
			ctx, cancel := a.rpc(cmd)
			defer cancel()
			resp, err := sc.UpdateAccountZoneDefaults(ctx, &dnsv1.UpdateAccountZoneDefaultsRequest{AccountId: args[0],
				Defaults: &d, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
			if err != nil {
				return err
			}
			return a.print(resp.GetDefaults(), "", zoneDefaultsRows(resp.GetDefaults()))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&method, "nameserver-method", "standard", "nameserver assignment of new zones: "+methodNames())
	fs.Uint32Var(&d.NameserverSet, "nameserver-set", 0, "custom nameserver set 1..5 for account-custom and tenant-custom (0 = 1)")
	fs.BoolVar(&d.MultiProvider, "multi-provider", false, "multi-provider DNS on new full zones")
	fs.Uint32Var(&d.NsTtl, "ns-ttl", 0, "TTL of the apex NS records, 30..86400 (0 = 86400)")
	fs.StringVar(&d.SoaMname, "soa-mname", "", "SOA MNAME (empty = the zone's first nameserver)")
	fs.StringVar(&d.SoaRname, "soa-rname", "", `SOA RNAME: an e-mail address or john\.doe.example.com (empty = the platform's)`)
	fs.Uint32Var(&d.SoaRefresh, "soa-refresh", 0, "SOA refresh, 600..86400 (0 = 10000)")
	fs.Uint32Var(&d.SoaRetry, "soa-retry", 0, "SOA retry, 600..3600 and not above refresh (0 = 2400)")
	fs.Uint32Var(&d.SoaExpire, "soa-expire", 0, "SOA expire, 86400..2419200 and not below refresh (0 = 604800)")
	fs.Uint32Var(&d.SoaMinTtl, "soa-min-ttl", 0, "SOA minimum (negative caching), 60..86400 (0 = 1800)")
	fs.Uint32Var(&d.SoaTtl, "soa-ttl", 0, "TTL of the SOA record, 1800..3600 (0 = 3600)")
	fs.BoolVar(&d.FlattenAllCnames, "flatten-all-cnames", false, "flatten every CNAME of new zones (paid plans)")
	fs.BoolVar(&d.SecondaryOverrides, "secondary-overrides", false, "secondary DNS override on new secondary zones")
	return cmd
}
