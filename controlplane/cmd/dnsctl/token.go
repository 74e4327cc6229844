package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/authz"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func (a *app) tokens() (dnsv1.TokenServiceClient, error) {
	c, err := a.dial()
	if err != nil {
		return nil, err
	}
	return dnsv1.NewTokenServiceClient(c), nil
}

// tokenCall makes a token client and runs call with a context bounded by
// --timeout.
func (a *app) tokenCall(cmd *cobra.Command, call func(ctx context.Context, tc dnsv1.TokenServiceClient) error) error {
	tc, err := a.tokens()
	if err != nil {
		return err
	}
	ctx, cancel := a.rpc(cmd)
	defer cancel()
	return call(ctx, tc)
}

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	cmd.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenGetCmd(), a.tokenRevokeCmd(), a.tokenVerifyCmd())
	return cmd
}

func tokenRows(ts ...*dnsv1.Token) func(io.Writer) {
	return func(w io.Writer) {
		for _, t := range ts {
			var perms []string
			for _, p := range t.GetPermissions() {
				perms = append(perms, authz.PermissionName(p))
			}
			zones := "all"
			if len(t.GetZoneIds()) > 0 {
				zones = strings.Join(t.GetZoneIds(), ",")
			}
			expires := "never"
			if t.GetExpiresOn() != nil {
				expires = t.GetExpiresOn().AsTime().UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.GetId(), t.GetAccountId(), t.GetName(), strings.Join(perms, ", "), zones, expires)
		}
	}
}

const tokenHeader = "ID\tACCOUNT\tNAME\tPERMISSIONS\tZONES\tEXPIRES"

func (a *app) tokenCreateCmd() *cobra.Command {
	var (
		name         string
		perms, zones []string
		cidrs        []string
		expires      string
	)
	cmd := &cobra.Command{
		Use:   "create --account ACCOUNT --name NAME --permission 'DNS Write' [--zone ZONE]...",
		Short: "Create an API token; its secret is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.account == "" {
				return usagef("--account is required")
			}
			req := &dnsv1.CreateTokenRequest{AccountId: a.account, Name: name, AllowedCidrs: cidrs}
			for _, p := range perms {
				v, ok := authz.ParsePermission(p)
				if !ok {
					return usagef("--permission %q is not a permission (e.g. \"DNS Read\", dns-write, zone-read, account-dns-settings-write)", p)
				}
				req.Permissions = append(req.Permissions, v)
			}
			if expires != "" {
				t, err := parseTime(expires, time.Now())
				if err != nil {
					return usagef("--expires: %v", err)
				}
				req.ExpiresOn = timestamppb.New(t)
			}
			for _, z := range zones {
				id, err := a.resolveZone(cmd, z)
				if err != nil {
					return err
				}
				req.ZoneIds = append(req.ZoneIds, id)
			}
			tc, err := a.tokens()
			if err != nil {
				return err
			}
			ctx, cancel := a.rpc(cmd)
			defer cancel()
			resp, err := tc.CreateToken(ctx, req)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.print(resp, "", nil)
			}
			if resp.GetSecretWithheld() {
				// A retry after a lost reply: the token exists, its secret
				// went with the reply that was lost.
				fmt.Fprintf(a.stderr, "The token %s was created but the reply carrying its secret was lost; revoke it (dnsctl token revoke %s) and create another.\n",
					resp.GetToken().GetId(), resp.GetToken().GetId())
				return a.print(resp.GetToken(), tokenHeader, tokenRows(resp.GetToken()))
			}
			fmt.Fprintln(a.stderr, "The token's secret is shown only now; store it safely:")
			fmt.Fprintln(a.stdout, resp.GetSecret())
			return a.print(resp.GetToken(), tokenHeader, tokenRows(resp.GetToken()))
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "a label for people")
	f.StringArrayVar(&perms, "permission", nil, "a permission to grant (repeatable): \"DNS Read\", \"DNS Write\", \"Zone Read\", \"Zone Write\", \"Zone DNS Settings Read|Write\", \"Account DNS Settings Read|Write\", \"API Tokens Read|Write\", \"Audit Logs Read\"")
	f.StringArrayVar(&zones, "zone", nil, "limit the token to this zone (id or name; repeatable); default: the whole account")
	f.StringArrayVar(&cidrs, "allow-cidr", nil, "limit calls to this source range (repeatable)")
	f.StringVar(&expires, "expires", "", "expiry: an RFC 3339 time or a duration from now (e.g. 720h)")
	return cmd
}

// parseTime reads an RFC 3339 time or a duration relative to now
// (positive: later, e.g. an expiry; for --since give "-24h").
func parseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration", s)
	}
	return now.Add(d), nil
}

func (a *app) tokenListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list --account ACCOUNT",
		Short: "List an account's API tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.account == "" {
				return usagef("--account is required")
			}
			tc, err := a.tokens()
			if err != nil {
				return err
			}
			ctx, cancel := a.rpc(cmd)
			defer cancel()
			all := &dnsv1.ListTokensResponse{}
			req := &dnsv1.ListTokensRequest{AccountId: a.account, PageSize: 1000}
			for {
				resp, err := tc.ListTokens(ctx, req)
				if err != nil {
					return err
				}
				all.Tokens = append(all.Tokens, resp.GetTokens()...)
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					break
				}
			}
			return a.print(all, tokenHeader, tokenRows(all.GetTokens()...))
		},
	}
}

func (a *app) tokenGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get TOKEN_ID",
		Short: "Show an API token (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.tokenCall(cmd, func(ctx context.Context, tc dnsv1.TokenServiceClient) error {
				resp, err := tc.GetToken(ctx, &dnsv1.GetTokenRequest{TokenId: args[0]})
				if err != nil {
					return err
				}
				return a.print(resp.GetToken(), tokenHeader, tokenRows(resp.GetToken()))
			})
		},
	}
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.tokenCall(cmd, func(ctx context.Context, tc dnsv1.TokenServiceClient) error {
				resp, err := tc.RevokeToken(ctx, &dnsv1.RevokeTokenRequest{TokenId: args[0]})
				if err != nil {
					return err
				}
				return a.print(resp, "", func(w io.Writer) { fmt.Fprintln(w, "revoked", resp.GetTokenId()) })
			})
		},
	}
}

func (a *app) tokenVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Show the token dnsctl calls with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.tokenCall(cmd, func(ctx context.Context, tc dnsv1.TokenServiceClient) error {
				resp, err := tc.VerifyToken(ctx, &dnsv1.VerifyTokenRequest{})
				if err != nil {
					return err
				}
				if resp.GetOperator() {
					return a.print(resp, "", func(w io.Writer) { fmt.Fprintln(w, "operator (every permission on every account)") })
				}
				return a.print(resp, tokenHeader, tokenRows(resp.GetToken()))
			})
		},
	}
}
