package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// tenantCall runs call on the tenant service with a context bounded by
// --timeout.
func (a *app) tenantCall(cmd *cobra.Command, call func(ctx context.Context, c dnsv1.TenantServiceClient) error) error {
	conn, err := a.dial()
	if err != nil {
		return err
	}
	ctx, cancel := a.rpc(cmd)
	defer cancel()
	return call(ctx, dnsv1.NewTenantServiceClient(conn))
}

func (a *app) tenantCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Tenants (groups of accounts, the operator's) and their custom nameservers"}
	setAccount := &cobra.Command{
		Use: "set-account ACCOUNT [TENANT]", Short: "Put an account into a tenant (no TENANT: out of any); operator only", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &dnsv1.SetAccountTenantRequest{AccountId: args[0]}
			if len(args) == 2 {
				req.TenantId = args[1]
			}
			return a.tenantCall(cmd, func(ctx context.Context, c dnsv1.TenantServiceClient) error {
				resp, err := c.SetAccountTenant(ctx, req)
				if err != nil {
					return err
				}
				return a.print(resp, "", func(w io.Writer) { fmt.Fprintf(w, "account %s: tenant %q\n", resp.GetAccountId(), resp.GetTenantId()) })
			})
		},
	}
	get := &cobra.Command{
		Use: "get --account ACC", Short: "The account's tenant and the nameservers it offers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.account == "" {
				return usagef("--account is required")
			}
			return a.tenantCall(cmd, func(ctx context.Context, c dnsv1.TenantServiceClient) error {
				resp, err := c.GetAccountTenant(ctx, &dnsv1.GetAccountTenantRequest{AccountId: a.account})
				if err != nil {
					return err
				}
				return a.print(resp, nameserverHeader, func(w io.Writer) {
					nameserverRows(resp.GetNameservers())(w)
					fmt.Fprintf(w, "\ntenant %q\n", resp.GetTenantId())
				})
			})
		},
	}
	var tenant string
	var set uint32
	ns := &cobra.Command{Use: "nameserver", Short: "Tenant custom nameservers (operator only)"}
	create := &cobra.Command{
		Use: "create NAME --tenant T [--set N]", Short: "Add a name to one of the tenant's sets", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.tenantCall(cmd, func(ctx context.Context, c dnsv1.TenantServiceClient) error {
				resp, err := c.CreateTenantNameserver(ctx, &dnsv1.CreateTenantNameserverRequest{TenantId: tenant, NsName: args[0], NsSet: set})
				if err != nil {
					return err
				}
				return a.print(resp.GetNameserver(), nameserverHeader, func(w io.Writer) { nameserverRow(w, resp.GetNameserver()) })
			})
		},
	}
	create.Flags().Uint32Var(&set, "set", 1, "the set (1-5)")
	list := &cobra.Command{
		Use: "list --tenant T", Short: "List the tenant's custom nameservers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.tenantCall(cmd, func(ctx context.Context, c dnsv1.TenantServiceClient) error {
				resp, err := c.ListTenantNameservers(ctx, &dnsv1.ListTenantNameserversRequest{TenantId: tenant})
				if err != nil {
					return err
				}
				return a.print(resp, nameserverHeader, nameserverRows(resp.GetNameservers()))
			})
		},
	}
	del := &cobra.Command{
		Use: "delete NAME --tenant T", Short: "Remove a tenant custom nameserver", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.tenantCall(cmd, func(ctx context.Context, c dnsv1.TenantServiceClient) error {
				resp, err := c.DeleteTenantNameserver(ctx, &dnsv1.DeleteTenantNameserverRequest{TenantId: tenant, NsName: args[0]})
				if err != nil {
					return err
				}
				return a.print(resp, "", func(w io.Writer) { fmt.Fprintln(w, "deleted", resp.GetNsName()) })
			})
		},
	}
	ns.PersistentFlags().StringVar(&tenant, "tenant", "", "the tenant")
	ns.AddCommand(create, list, del)
	cmd.AddCommand(setAccount, get, ns)
	return cmd
}
