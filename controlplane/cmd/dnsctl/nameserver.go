package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

const nameserverHeader = "NAME\tSET\tIPV4\tIPV6"

func nameserverRow(w io.Writer, n *dnsv1.CustomNameserver) {
	fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", n.GetNsName(), n.GetNsSet(), n.GetIpv4(), n.GetIpv6())
}

// nameserverRows prints a list of custom nameservers.
func nameserverRows(ns []*dnsv1.CustomNameserver) func(io.Writer) {
	return func(w io.Writer) {
		for _, n := range ns {
			nameserverRow(w, n)
		}
	}
}

func (a *app) customNameservers() (dnsv1.CustomNameserverServiceClient, error) {
	c, err := a.dial()
	if err != nil {
		return nil, err
	}
	return dnsv1.NewCustomNameserverServiceClient(c), nil
}

// nsCall runs call on --account's custom nameservers with a context
// bounded by --timeout.
func (a *app) nsCall(cmd *cobra.Command, call func(ctx context.Context, c dnsv1.CustomNameserverServiceClient) error) error {
	if a.account == "" {
		return usagef("--account is required")
	}
	c, err := a.customNameservers()
	if err != nil {
		return err
	}
	ctx, cancel := a.rpc(cmd)
	defer cancel()
	return call(ctx, c)
}

func (a *app) nameserverCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "nameserver", Short: "Account custom nameservers (sets of 2-5 names new zones can use; publish their addresses as glue)"}
	var set uint32
	create := &cobra.Command{
		Use: "create NAME --account ACC [--set N]", Short: "Add a custom nameserver name to a set", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.nsCall(cmd, func(ctx context.Context, c dnsv1.CustomNameserverServiceClient) error {
				resp, err := c.CreateCustomNameserver(ctx, &dnsv1.CreateCustomNameserverRequest{AccountId: a.account, NsName: args[0], NsSet: set})
				if err != nil {
					return err
				}
				return a.print(resp.GetNameserver(), nameserverHeader, func(w io.Writer) { nameserverRow(w, resp.GetNameserver()) })
			})
		},
	}
	create.Flags().Uint32Var(&set, "set", 1, "the set (1-5)")
	list := &cobra.Command{
		Use: "list --account ACC", Short: "List the account's custom nameservers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.nsCall(cmd, func(ctx context.Context, c dnsv1.CustomNameserverServiceClient) error {
				resp, err := c.ListCustomNameservers(ctx, &dnsv1.ListCustomNameserversRequest{AccountId: a.account})
				if err != nil {
					return err
				}
				return a.print(resp, nameserverHeader, nameserverRows(resp.GetNameservers()))
			})
		},
	}
	del := &cobra.Command{
		Use: "delete NAME --account ACC", Short: "Remove a custom nameserver name", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.nsCall(cmd, func(ctx context.Context, c dnsv1.CustomNameserverServiceClient) error {
				resp, err := c.DeleteCustomNameserver(ctx, &dnsv1.DeleteCustomNameserverRequest{AccountId: a.account, NsName: args[0]})
				if err != nil {
					return err
				}
				return a.print(resp, "", func(w io.Writer) { fmt.Fprintln(w, "deleted", resp.GetNsName()) })
			})
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}
