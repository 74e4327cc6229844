package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// app holds the global flags and the lazily opened connection.
type app struct {
	// client holds the connection flags; the environment and a config
	// file fill what they leave empty (clientconfig.Merge).
	client     clientconfig.Config
	configFile string
	output     string
	account    string
	timeout    time.Duration

	stdout, stderr io.Writer
	conn           *grpc.ClientConn
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "dnsctl",
		Short:         "Manage zonegrid zones, DNS records and settings",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "table" && a.output != "json" {
				return usagef("--output must be table or json, not %q", a.output)
			}
			return nil
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&a.client.Endpoint, "endpoint", "", "control plane gRPC address (default: $ZONEGRID_ENDPOINT, the config file, else 127.0.0.1:50051)")
	f.StringVar(&a.configFile, "config", "", "client config file (default: $ZONEGRID_CONFIG, else ./.data/dnsctl.json as `make run` writes it, else ~/.config/zonegrid/dnsctl.json)")
	f.StringVar(&a.client.Token, "token", "", "API token (default: $ZONEGRID_TOKEN, --token-file, the config file)")
	f.StringVar(&a.client.TokenFile, "token-file", "", "file holding the API token (default: $ZONEGRID_TOKEN_FILE)")
	f.BoolVar(&a.client.TLS, "tls", false, "use TLS (implied by --ca-file, --cert or a config file that says so)")
	f.StringVar(&a.client.CAFile, "ca-file", "", "CA bundle that verifies the control plane (default: $ZONEGRID_CA; system roots with --tls)")
	f.StringVar(&a.client.CertFile, "cert", "", "client certificate for mutual TLS (PEM)")
	f.StringVar(&a.client.KeyFile, "key", "", "client key for mutual TLS (PEM)")
	f.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	f.StringVar(&a.account, "account", "", "account id (zone commands; resolves zones given by name)")
	f.DurationVar(&a.timeout, "timeout", 30*time.Second, "deadline of each request")
	root.AddCommand(a.zoneCmd(), a.recordCmd(), a.settingsCmd(), a.tokenCmd(), a.auditCmd(), a.nameserverCmd(), a.tenantCmd(), a.dnssecCmd(), a.transferCmd())
	return root
}

func (a *app) dial() (*grpc.ClientConn, error) {
	if a.conn != nil {
		return a.conn, nil
	}
	file, err := clientconfig.Find(a.configFile)
	if err != nil {
		return nil, err
	}
	cfg := a.client.Merge(file)
	if cfg.Endpoint == "" {
		cfg.Endpoint = "127.0.0.1:50051"
	}
	conn, err := cfg.Dial(grpc.WithChainUnaryInterceptor(retrying))
	if err != nil {
		return nil, err
	}
	a.conn = conn
	return conn, nil
}

func (a *app) close() {
	if a.conn != nil {
		a.conn.Close()
	}
}

// rpc returns a context bounded by --timeout.
func (a *app) rpc(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), a.timeout)
}

func (a *app) zones() (dnsv1.ZoneServiceClient, error) {
	c, err := a.dial()
	if err != nil {
		return nil, err
	}
	return dnsv1.NewZoneServiceClient(c), nil
}

func (a *app) records() (dnsv1.RecordServiceClient, error) {
	c, err := a.dial()
	if err != nil {
		return nil, err
	}
	return dnsv1.NewRecordServiceClient(c), nil
}

func (a *app) settings() (dnsv1.SettingsServiceClient, error) {
	c, err := a.dial()
	if err != nil {
		return nil, err
	}
	return dnsv1.NewSettingsServiceClient(c), nil
}

// zoneCall resolves the zone argument, makes a client with newClient and
// runs call with a context bounded by --timeout: the shape every command on
// one zone shares.
func zoneCall[C any](a *app, cmd *cobra.Command, zoneArg string, newClient func() (C, error), call func(ctx context.Context, c C, zoneID string) error) error {
	zoneID, err := a.resolveZone(cmd, zoneArg)
	if err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	ctx, cancel := a.rpc(cmd)
	defer cancel()
	return call(ctx, c, zoneID)
}

// resolveZone turns a zone argument into a zone id: an argument with a dot
// is a zone name, looked up with ListZones (and --account when given).
func (a *app) resolveZone(cmd *cobra.Command, arg string) (string, error) {
	if !strings.Contains(arg, ".") {
		return arg, nil
	}
	zc, err := a.zones()
	if err != nil {
		return "", err
	}
	ctx, cancel := a.rpc(cmd)
	defer cancel()
	resp, err := zc.ListZones(ctx, &dnsv1.ListZonesRequest{AccountId: a.account, Name: arg, PageSize: 2})
	if err != nil {
		return "", err
	}
	switch len(resp.GetZones()) {
	case 0:
		return "", usagef("no zone named %s%s", arg, a.inAccount())
	case 1:
		return resp.GetZones()[0].GetId(), nil
	}
	return "", usagef("several zones are named %s; give --account or the zone id", arg)
}

func (a *app) inAccount() string {
	if a.account == "" {
		return ""
	}
	return " in account " + a.account
}

// print writes msg as JSON, or as the table rows returns.
func (a *app) print(msg proto.Message, header string, rows func(w io.Writer)) error {
	if a.output == "json" {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(msg)
		if err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		_, err = fmt.Fprintln(a.stdout, string(b))
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	if header != "" {
		fmt.Fprintln(tw, header)
	}
	rows(tw)
	return tw.Flush()
}
