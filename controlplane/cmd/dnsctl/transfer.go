package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// xfrAccountCall runs call on the zone transfer service for --account's
// objects with a context bounded by --timeout.
func (a *app) xfrAccountCall(cmd *cobra.Command, call func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error) error {
	if a.account == "" {
		return usagef("--account is required")
	}
	c, err := a.transfers()
	if err != nil {
		return err
	}
	ctx, cancel := a.rpc(cmd)
	defer cancel()
	return call(ctx, c)
}

func (a *app) transfers() (dnsv1.ZoneTransferServiceClient, error) {
	c, err := a.dial()
	if err != nil {
		return nil, err
	}
	return dnsv1.NewZoneTransferServiceClient(c), nil
}

func (a *app) transferCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "transfer", Short: "Zone transfers: TSIG keys, peers and ACLs of an account; incoming (secondary) and outgoing (primary) configuration of a zone"}
	cmd.AddCommand(a.tsigCmd(), a.peerCmd(), a.aclCmd(), a.incomingCmd(), a.outgoingCmd(), a.eventsCmd())
	return cmd
}

func (a *app) tsigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tsig", Short: "TSIG keys of an account (the secret is shown once, at creation)"}
	var alg, secret string
	create := &cobra.Command{
		Use: "create NAME --account ACC [--algorithm hmac-sha256|hmac-sha1|hmac-sha512] [--secret BASE64]", Short: "Create a TSIG key; prints its secret, never shown again", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.CreateTsig(ctx, &dnsv1.CreateTsigRequest{AccountId: a.account, Name: args[0], Algorithm: alg, Secret: secret})
				if err != nil {
					return err
				}
				return a.print(resp, "ID\tNAME\tALGORITHM\tSECRET", func(w io.Writer) {
					s := resp.GetSecret()
					if resp.GetSecretWithheld() {
						s = "(withheld: answered from a retry)"
					}
					t := resp.GetTsig()
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.GetId(), t.GetName(), t.GetAlgorithm(), s)
				})
			})
		},
	}
	create.Flags().StringVar(&alg, "algorithm", "", "hmac-sha256 (default), hmac-sha1 or hmac-sha512")
	create.Flags().StringVar(&secret, "secret", "", "the shared secret in base64 (default: generated)")
	list := &cobra.Command{
		Use: "list --account ACC", Short: "List the account's TSIG keys (without secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.ListTsigs(ctx, &dnsv1.ListTsigsRequest{AccountId: a.account})
				if err != nil {
					return err
				}
				return a.printTsigs(resp, resp.GetTsigs())
			})
		},
	}
	get := &cobra.Command{
		Use: "get ID --account ACC", Short: "Show a TSIG key (without its secret)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.GetTsig(ctx, &dnsv1.GetTsigRequest{AccountId: a.account, TsigId: args[0]})
				if err != nil {
					return err
				}
				return a.printTsigs(resp, []*dnsv1.Tsig{resp.GetTsig()})
			})
		},
	}
	del := &cobra.Command{
		Use: "delete ID --account ACC", Short: "Delete a TSIG key (refused while a peer links it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.DeleteTsig(ctx, &dnsv1.DeleteTsigRequest{AccountId: a.account, TsigId: args[0]})
				if err != nil {
					return err
				}
				return a.print(resp, "", func(w io.Writer) { fmt.Fprintf(w, "deleted tsig %s\n", resp.GetTsigId()) })
			})
		},
	}
	cmd.AddCommand(create, list, get, del)
	return cmd
}

func (a *app) printTsigs(msg proto.Message, l []*dnsv1.Tsig) error {
	return a.print(msg, "ID\tNAME\tALGORITHM\tCREATED", func(w io.Writer) {
		for _, t := range l {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.GetId(), t.GetName(), t.GetAlgorithm(), t.GetCreatedOn().AsTime().Format("2006-01-02T15:04:05Z"))
		}
	})
}

// peerFlags are the settable fields of a peer.
type peerFlags struct {
	name, ip, tsig string
	port           uint32
	ixfr           bool
}

func (f *peerFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.name, "name", "", "the peer's name (required)")
	cmd.Flags().StringVar(&f.ip, "ip", "", "the peer's IPv4 or IPv6 address (required)")
	cmd.Flags().Uint32Var(&f.port, "port", 53, "the peer's port")
	cmd.Flags().BoolVar(&f.ixfr, "ixfr", false, "incoming: ask this primary for IXFR (AXFR as fallback)")
	cmd.Flags().StringVar(&f.tsig, "tsig", "", "the id of a TSIG key of the account to sign with")
}

func (f *peerFlags) peer() *dnsv1.Peer {
	return &dnsv1.Peer{Name: f.name, Ip: f.ip, Port: f.port, IxfrEnable: f.ixfr, TsigId: f.tsig}
}

func (a *app) peerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "peer", Short: "Peer DNS servers of an account (primaries of secondary zones, secondaries of full zones)"}
	var cf, uf peerFlags
	create := &cobra.Command{
		Use: "create --account ACC --name NAME --ip IP [--port N] [--ixfr] [--tsig ID]", Short: "Create a peer", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.CreatePeer(ctx, &dnsv1.CreatePeerRequest{AccountId: a.account, Peer: cf.peer()})
				if err != nil {
					return err
				}
				return a.printPeers(resp, []*dnsv1.Peer{resp.GetPeer()})
			})
		},
	}
	cf.add(create)
	update := &cobra.Command{
		Use: "update ID --account ACC --name NAME --ip IP [--port N] [--ixfr] [--tsig ID]", Short: "Replace a peer's fields", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.UpdatePeer(ctx, &dnsv1.UpdatePeerRequest{AccountId: a.account, PeerId: args[0], Peer: uf.peer()})
				if err != nil {
					return err
				}
				return a.printPeers(resp, []*dnsv1.Peer{resp.GetPeer()})
			})
		},
	}
	uf.add(update)
	list := &cobra.Command{
		Use: "list --account ACC", Short: "List the account's peers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.ListPeers(ctx, &dnsv1.ListPeersRequest{AccountId: a.account})
				if err != nil {
					return err
				}
				return a.printPeers(resp, resp.GetPeers())
			})
		},
	}
	get := &cobra.Command{
		Use: "get ID --account ACC", Short: "Show a peer", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.GetPeer(ctx, &dnsv1.GetPeerRequest{AccountId: a.account, PeerId: args[0]})
				if err != nil {
					return err
				}
				return a.printPeers(resp, []*dnsv1.Peer{resp.GetPeer()})
			})
		},
	}
	del := &cobra.Command{
		Use: "delete ID --account ACC", Short: "Delete a peer (refused while a zone links it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.DeletePeer(ctx, &dnsv1.DeletePeerRequest{AccountId: a.account, PeerId: args[0]})
				if err != nil {
					return err
				}
				return a.print(resp, "", func(w io.Writer) { fmt.Fprintf(w, "deleted peer %s\n", resp.GetPeerId()) })
			})
		},
	}
	cmd.AddCommand(create, list, get, update, del)
	return cmd
}

func (a *app) printPeers(msg proto.Message, l []*dnsv1.Peer) error {
	return a.print(msg, "ID\tNAME\tIP\tPORT\tIXFR\tTSIG", func(w io.Writer) {
		for _, p := range l {
			tsig := p.GetTsigId()
			if tsig == "" {
				tsig = "-"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%v\t%s\n", p.GetId(), p.GetName(), p.GetIp(), p.GetPort(), p.GetIxfrEnable(), tsig)
		}
	})
}

func (a *app) aclCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "acl", Short: "ACLs of an account: ranges allowed to send NOTIFY or to transfer out (at most /24 for IPv4, /64 for IPv6)"}
	var aclName string
	create := &cobra.Command{
		Use: "create RANGE --account ACC --name NAME", Short: "Create an ACL", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.CreateAcl(ctx, &dnsv1.CreateAclRequest{AccountId: a.account, Acl: &dnsv1.Acl{Name: aclName, IpRange: args[0]}})
				if err != nil {
					return err
				}
				return a.printACLs(resp, []*dnsv1.Acl{resp.GetAcl()})
			})
		},
	}
	create.Flags().StringVar(&aclName, "name", "", "a descriptive name (required)")
	list := &cobra.Command{
		Use: "list --account ACC", Short: "List the account's ACLs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.ListAcls(ctx, &dnsv1.ListAclsRequest{AccountId: a.account})
				if err != nil {
					return err
				}
				return a.printACLs(resp, resp.GetAcls())
			})
		},
	}
	get := &cobra.Command{
		Use: "get ID --account ACC", Short: "Show an ACL", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.GetAcl(ctx, &dnsv1.GetAclRequest{AccountId: a.account, AclId: args[0]})
				if err != nil {
					return err
				}
				return a.printACLs(resp, []*dnsv1.Acl{resp.GetAcl()})
			})
		},
	}
	del := &cobra.Command{
		Use: "delete ID --account ACC", Short: "Delete an ACL", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.xfrAccountCall(cmd, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient) error {
				resp, err := c.DeleteAcl(ctx, &dnsv1.DeleteAclRequest{AccountId: a.account, AclId: args[0]})
				if err != nil {
					return err
				}
				return a.print(resp, "", func(w io.Writer) { fmt.Fprintf(w, "deleted acl %s\n", resp.GetAclId()) })
			})
		},
	}
	cmd.AddCommand(create, list, get, del)
	return cmd
}

func (a *app) printACLs(msg proto.Message, l []*dnsv1.Acl) error {
	return a.print(msg, "ID\tNAME\tRANGE", func(w io.Writer) {
		for _, x := range l {
			fmt.Fprintf(w, "%s\t%s\t%s\n", x.GetId(), x.GetName(), x.GetIpRange())
		}
	})
}

func (a *app) incomingCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "incoming", Short: "Incoming transfers of a secondary zone: refresh interval, linked primaries, status"}
	get := &cobra.Command{
		Use: "get ZONE", Short: "Show a zone's incoming configuration and status", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.transfers, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient, id string) error {
				resp, err := c.GetIncoming(ctx, &dnsv1.GetIncomingRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.printIncoming(resp, resp.GetIncoming())
			})
		},
	}
	var refresh uint32
	var peers []string
	var presigned bool
	set := &cobra.Command{
		Use: "set ZONE [--refresh SECONDS] [--peer ID]... [--dnssec-presigned]", Short: "Set a secondary zone's refresh interval, primaries and pre-signed DNSSEC (replaces every field)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.transfers, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient, id string) error {
				resp, err := c.UpdateIncoming(ctx, &dnsv1.UpdateIncomingRequest{ZoneId: id, AutoRefreshSeconds: refresh, Peers: peers, DnssecPresigned: presigned})
				if err != nil {
					return err
				}
				return a.printIncoming(resp, resp.GetIncoming())
			})
		},
	}
	set.Flags().Uint32Var(&refresh, "refresh", 0, "seconds between checks of the primaries' SOA serial (0 = 86400; 60 to 2592000)")
	set.Flags().StringArrayVar(&peers, "peer", nil, "id of a peer to transfer from (repeat; at most 30)")
	set.Flags().BoolVar(&presigned, "dnssec-presigned", false, "serve the primary's DNSSEC signatures as transferred (no overrides; forces a full transfer when it changes)")
	force := &cobra.Command{
		Use: "force-axfr ZONE", Short: "Transfer the whole zone from its primaries at the worker's next step, whatever the serials say", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.transfers, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient, id string) error {
				resp, err := c.ForceAxfr(ctx, &dnsv1.ForceAxfrRequest{ZoneId: id})
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stderr, "AXFR requested: the transfer worker takes it at its next step (see `transfer incoming get`)")
				return a.printIncoming(resp, resp.GetIncoming())
			})
		},
	}
	cmd.AddCommand(get, set, force)
	return cmd
}

func (a *app) outgoingCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "outgoing", Short: "Outgoing transfers of a full zone: enabled, linked secondaries, status"}
	get := &cobra.Command{
		Use: "get ZONE", Short: "Show a zone's outgoing configuration and status", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.transfers, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient, id string) error {
				resp, err := c.GetOutgoing(ctx, &dnsv1.GetOutgoingRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.printOutgoing(resp, resp.GetOutgoing())
			})
		},
	}
	var enable, disable bool
	var peers []string
	set := &cobra.Command{
		Use: "set ZONE --enable|--disable [--peer ID]...", Short: "Enable or disable outgoing transfers of a full zone and set its peers (replaces the linked peers)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if enable == disable {
				return usagef("give exactly one of --enable and --disable")
			}
			return zoneCall(a, cmd, args[0], a.transfers, func(ctx context.Context, c dnsv1.ZoneTransferServiceClient, id string) error {
				resp, err := c.UpdateOutgoing(ctx, &dnsv1.UpdateOutgoingRequest{ZoneId: id, Enabled: enable, Peers: peers})
				if err != nil {
					return err
				}
				return a.printOutgoing(resp, resp.GetOutgoing())
			})
		},
	}
	set.Flags().BoolVar(&enable, "enable", false, "enable outgoing transfers")
	set.Flags().BoolVar(&disable, "disable", false, "disable outgoing transfers")
	set.Flags().StringArrayVar(&peers, "peer", nil, "id of a peer to notify and serve (repeat; at most 30)")
	cmd.AddCommand(get, set)
	return cmd
}

// transferState is a state's short name ("not-applicable", "ok").
func transferState(s dnsv1.TransferState) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.String(), "TRANSFER_STATE_")), "_", "-")
}

func (a *app) printIncoming(msg proto.Message, in *dnsv1.IncomingTransfer) error {
	return a.print(msg, "", func(w io.Writer) {
		fmt.Fprintf(w, "zone:\t%s (%s)\n", in.GetZoneName(), in.GetZoneId())
		fmt.Fprintf(w, "refresh:\t%ds\n", in.GetAutoRefreshSeconds())
		fmt.Fprintf(w, "peers:\t%s\n", strings.Join(in.GetPeers(), ", "))
		fmt.Fprintf(w, "dnssec-presigned:\t%v\n", in.GetDnssecPresigned())
		printTransferStatus(w, in.GetStatus())
	})
}

func (a *app) printOutgoing(msg proto.Message, out *dnsv1.OutgoingTransfer) error {
	return a.print(msg, "", func(w io.Writer) {
		fmt.Fprintf(w, "zone:\t%s (%s)\n", out.GetZoneName(), out.GetZoneId())
		fmt.Fprintf(w, "enabled:\t%v\n", out.GetEnabled())
		fmt.Fprintf(w, "peers:\t%s\n", strings.Join(out.GetPeers(), ", "))
		printTransferStatus(w, out.GetStatus())
	})
}

func printTransferStatus(w io.Writer, st *dnsv1.TransferStatus) {
	fmt.Fprintf(w, "state:\t%s\n", transferState(st.GetState()))
	if st.GetMessage() != "" {
		fmt.Fprintf(w, "message:\t%s\n", st.GetMessage())
	}
	if st.GetLastTransferTime() != nil {
		fmt.Fprintf(w, "serial:\t%d (transferred %s)\n", st.GetSerial(), st.GetLastTransferTime().AsTime().Format("2006-01-02T15:04:05Z"))
	}
	for _, p := range st.GetPeers() {
		e := p.GetLastError()
		if e == "" {
			e = "ok"
		}
		fmt.Fprintf(w, "peer %s:\tserial %d, %s\n", p.GetPeerId(), p.GetSerial(), e)
	}
}

// eventsCmd lists a secondary zone's transfer events ("Alerts for
// Secondary DNS"), oldest first like a log; --follow keeps asking for the
// events after the last one shown (the API has no stream: a poll is one
// cheap etcd range read).
func (a *app) eventsCmd() *cobra.Command {
	var after string
	var limit int32
	var follow bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "events ZONE [--after ID] [--limit N] [--follow [--every 2s]]",
		Short: "Show a secondary zone's transfer events: all primaries failing, primaries failing, recovered, successfully updated (the last 100 are kept)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if follow && a.output == "json" {
				return usagef("--follow prints a table; leave out -o json")
			}
			zoneID, err := a.resolveZone(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := a.transfers()
			if err != nil {
				return err
			}
			header := "ID\tTIME\tEVENT\tSTATE\tSERIAL\tMESSAGE"
			for {
				ctx, cancel := a.rpc(cmd)
				resp, err := c.ListTransferEvents(ctx, &dnsv1.ListTransferEventsRequest{ZoneId: zoneID, AfterId: after, PageSize: limit})
				cancel()
				if err != nil {
					return err
				}
				evs := slices.Clone(resp.GetEvents())
				slices.Reverse(evs)
				if !follow || len(evs) > 0 {
					if err := a.print(resp, header, func(w io.Writer) {
						for _, ev := range evs {
							fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", ev.GetId(), ev.GetTime().AsTime().Format(time.RFC3339),
								transferEvent(ev.GetType()), transferState(ev.GetState()), ev.GetSerial(), ev.GetMessage())
						}
					}); err != nil {
						return err
					}
					header = ""
				}
				if !follow {
					return nil
				}
				if len(evs) > 0 {
					after = evs[len(evs)-1].GetId()
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(every):
				}
			}
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "only events after this event id")
	cmd.Flags().Int32Var(&limit, "limit", 0, "at most this many (the newest; 0 = 100)")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep showing new events until interrupted")
	cmd.Flags().DurationVar(&every, "every", 2*time.Second, "with --follow, how often to ask")
	return cmd
}

// transferEvent is an event type's short name ("all-primaries-failing").
func transferEvent(t dnsv1.TransferEventType) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(t.String(), "TRANSFER_EVENT_TYPE_")), "_", "-")
}
