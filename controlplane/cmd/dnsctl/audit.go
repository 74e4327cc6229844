package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit log"}
	var zone, since, until string
	var limit int
	list := &cobra.Command{
		Use:   "list --account ACCOUNT [--zone ZONE] [--since -24h] [--until TIME]",
		Short: "List an account's changes, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.account == "" {
				return usagef("--account is required")
			}
			now := time.Now()
			req := &dnsv1.ListAuditLogsRequest{AccountId: a.account, PageSize: int32(min(limit, 1000))}
			for _, b := range []struct {
				flag, v string
				dst     **timestamppb.Timestamp
			}{{"--since", since, &req.Since}, {"--until", until, &req.Until}} {
				if b.v == "" {
					continue
				}
				t, err := parseTime(b.v, now)
				if err != nil {
					return usagef("%s: %v", b.flag, err)
				}
				*b.dst = timestamppb.New(t)
			}
			if zone != "" {
				id, err := a.resolveZone(cmd, zone)
				if err != nil {
					return err
				}
				req.ZoneId = id
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			ac := dnsv1.NewAuditServiceClient(c)
			ctx, cancel := a.rpc(cmd)
			defer cancel()
			all := &dnsv1.ListAuditLogsResponse{}
			for len(all.Entries) < limit {
				resp, err := ac.ListAuditLogs(ctx, req)
				if err != nil {
					return err
				}
				all.Entries = append(all.Entries, resp.GetEntries()...)
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					break
				}
			}
			if len(all.Entries) > limit {
				all.Entries = all.Entries[:limit]
			}
			return a.print(all, "TIME\tACTION\tZONE\tTOKEN\tCHANGES", func(w io.Writer) {
				for _, e := range all.GetEntries() {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", e.GetTime().AsTime().UTC().Format(time.RFC3339Nano),
						e.GetAction(), e.GetZoneId(), e.GetActor().GetTokenId(), len(e.GetChanges()))
				}
			})
		},
	}
	f := list.Flags()
	f.StringVar(&zone, "zone", "", "only this zone (id or name)")
	f.StringVar(&since, "since", "", "from this time (RFC 3339, or a duration such as -24h)")
	f.StringVar(&until, "until", "", "up to this time (RFC 3339, or a duration)")
	f.IntVar(&limit, "limit", 100, "entries at most")
	cmd.AddCommand(list)
	return cmd
}
