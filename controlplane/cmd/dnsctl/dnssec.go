package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// dnssecCall resolves the zone argument and runs call on the DNSSEC
// service with a context bounded by --timeout.
func (a *app) dnssecCall(cmd *cobra.Command, zone string, call func(ctx context.Context, c dnsv1.DnssecServiceClient, zoneID string) error) error {
	zoneID, err := a.resolveZone(cmd, zone)
	if err != nil {
		return err
	}
	conn, err := a.dial()
	if err != nil {
		return err
	}
	ctx, cancel := a.rpc(cmd)
	defer cancel()
	return call(ctx, dnsv1.NewDnssecServiceClient(conn), zoneID)
}

func (a *app) dnssecCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dnssec", Short: "DNSSEC of a zone: status, the DS record for the registrar, keys"}
	show := &cobra.Command{
		Use: "show ZONE", Short: "Status, DS record and keys", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.dnssecCall(cmd, args[0], func(ctx context.Context, c dnsv1.DnssecServiceClient, id string) error {
				resp, err := c.GetDnssec(ctx, &dnsv1.GetDnssecRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.printDnssec(resp.GetDnssec())
			})
		},
	}
	var multiSigner, nsec3 bool
	enable := &cobra.Command{
		Use: "enable ZONE [--multi-signer] [--nsec3]", Short: "Sign the zone and print the DS record to add at the registrar", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE}
			paths := []string{"status"}
			if cmd.Flags().Changed("multi-signer") {
				d.DnssecMultiSigner, paths = multiSigner, append(paths, "dnssec_multi_signer")
			}
			if cmd.Flags().Changed("nsec3") {
				d.DnssecUseNsec3, paths = nsec3, append(paths, "dnssec_use_nsec3")
			}
			return a.updateDnssec(cmd, args[0], d, paths)
		},
	}
	enable.Flags().BoolVar(&multiSigner, "multi-signer", false, "multi-signer DNSSEC (RFC 8901 model 2): serve the DNSKEY records you add at the apex with ours")
	enable.Flags().BoolVar(&nsec3, "nsec3", false, "deny existence with NSEC3 (Enterprise plan)")
	disable := &cobra.Command{
		Use: "disable ZONE", Short: "Stop DNSSEC: remove the DS at the registrar, then delete", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.updateDnssec(cmd, args[0], &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED}, []string{"status"})
		},
	}
	del := &cobra.Command{
		Use: "delete ZONE", Short: "Delete the keys (only once disabled: status disabled)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.dnssecCall(cmd, args[0], func(ctx context.Context, c dnsv1.DnssecServiceClient, id string) error {
				resp, err := c.DeleteDnssec(ctx, &dnsv1.DeleteDnssecRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.printDnssec(resp.GetDnssec())
			})
		},
	}
	roll := &cobra.Command{
		Use: "roll-zsk ZONE", Short: "Start a ZSK rollover now (pre-publication)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.dnssecCall(cmd, args[0], func(ctx context.Context, c dnsv1.DnssecServiceClient, id string) error {
				resp, err := c.RollZsk(ctx, &dnsv1.RollZskRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.printDnssec(resp.GetDnssec())
			})
		},
	}
	rollKSK := &cobra.Command{
		Use:   "roll-ksk ZONE",
		Short: "Start a KSK rollover (double signature): give the registrar the new DS printed; the old KSK goes once the new DS is at the parent",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.dnssecCall(cmd, args[0], func(ctx context.Context, c dnsv1.DnssecServiceClient, id string) error {
				resp, err := c.RollKsk(ctx, &dnsv1.RollKskRequest{ZoneId: id})
				if err != nil {
					return err
				}
				return a.printDnssec(resp.GetDnssec())
			})
		},
	}
	cmd.AddCommand(show, enable, disable, del, roll, rollKSK)
	return cmd
}

func (a *app) updateDnssec(cmd *cobra.Command, zone string, d *dnsv1.Dnssec, paths []string) error {
	return a.dnssecCall(cmd, zone, func(ctx context.Context, c dnsv1.DnssecServiceClient, id string) error {
		resp, err := c.UpdateDnssec(ctx, &dnsv1.UpdateDnssecRequest{ZoneId: id, Dnssec: d, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		if err != nil {
			return err
		}
		return a.printDnssec(resp.GetDnssec())
	})
}

// dnssecStatus is the documents' name of a status.
func dnssecStatus(s dnsv1.DnssecStatus) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.String(), "DNSSEC_STATUS_")), "_", "-")
}

func (a *app) printDnssec(d *dnsv1.Dnssec) error {
	return a.print(d, "", func(w io.Writer) {
		fmt.Fprintf(w, "status:       %s\n", dnssecStatus(d.GetStatus()))
		if d.GetModifiedOn() != nil {
			fmt.Fprintf(w, "modified_on:  %s\n", d.GetModifiedOn().AsTime().Format("2006-01-02T15:04:05Z"))
		}
		fmt.Fprintf(w, "multi-signer: %v\nnsec3:        %v\n", d.GetDnssecMultiSigner(), d.GetDnssecUseNsec3())
		if d.GetDs() == "" {
			return
		}
		fmt.Fprintf(w, "\nDS record for the registrar:\n%s\n\n", d.GetDs())
		if r := d.GetKskRollover(); r != nil {
			fmt.Fprintf(w, "KSK rollover %d -> %d started %s: ", r.GetOldKeyTag(), r.GetNewKeyTag(), r.GetStartedOn().AsTime().Format("2006-01-02T15:04:05Z"))
			if r.GetWaitingFor() == "removal" {
				fmt.Fprintf(w, "the new DS is at the parent; the old KSK is removed at %s\n", r.GetRemoveOn().AsTime().Format("2006-01-02T15:04:05Z"))
			} else {
				fmt.Fprintf(w, "waiting for the new DS above at the parent (replace the old one at the registrar)\n")
			}
			fmt.Fprintln(w, "DS records published:")
			for _, ds := range d.GetDsRecords() {
				fmt.Fprintf(w, "  %s\n", ds)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "key tag %d, algorithm %d (%s), digest type %d (%s)\ndigest     %s\npublic key %s (flags %d)\n",
			d.GetKeyTag(), d.GetAlgorithm(), d.GetKeyType(), d.GetDigestType(), d.GetDigestAlgorithm(), d.GetDigest(), d.GetPublicKey(), d.GetFlags())
		fmt.Fprintln(w, "\nkeys:")
		for _, k := range d.GetKeys() {
			fmt.Fprintf(w, "  %-9s %s\n", k.GetState(), k.GetDnskey())
		}
	})
}
