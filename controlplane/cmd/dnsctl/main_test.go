package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records"
	"github.com/zonegrid/zonegrid/services/servicetest"
	"github.com/zonegrid/zonegrid/services/settings"
	"github.com/zonegrid/zonegrid/services/zones"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

// serve starts the record, zone and settings services on 127.0.0.1 over a
// real store, creates zone example.com. in account acct1 through dnsctl and
// returns the endpoint and the zone id.
func serve(t *testing.T) (string, string) {
	t.Helper()
	log := zaptest.NewLogger(t)
	st := store.New(etcdCli, etcdtest.Prefix(t), log)
	zs, err := zones.New(st, zones.Options{ExtraSuffixes: []string{"example"}}, log) // pro.example
	if err != nil {
		t.Fatal(err)
	}
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterRecordServiceServer(gs, records.New(st, records.Options{}, log))
		dnsv1.RegisterZoneServiceServer(gs, zs)
		dnsv1.RegisterSettingsServiceServer(gs, settings.New(st, log))
	})
	ep := conn.Target()
	code, out, errOut := dnsctl(t, ep, "-o", "json", "zone", "create", "example.com", "--account", "acct1")
	if code != 0 {
		t.Fatalf("zone create: exit %d: %s", code, errOut)
	}
	var z struct{ ID string }
	if err := json.Unmarshal([]byte(out), &z); err != nil || z.ID == "" {
		t.Fatalf("zone create output %q: %v", out, err)
	}
	return ep, z.ID
}

func dnsctl(t *testing.T, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"--endpoint", endpoint}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRecordCommandsAgainstServer(t *testing.T) {
	ep, zone := serve(t)

	code, out, errOut := dnsctl(t, ep, "-o", "json", "record", "create", zone, "--name", "www", "--type", "A", "--content", "192.0.2.1", "--ttl", "300")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	var created struct{ ID string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || len(created.ID) != 32 {
		t.Fatalf("create output %q: %v", out, err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"patch only given flags", []string{"record", "patch", zone, created.ID, "--ttl", "600"}, 0, "192.0.2.1", ""},
		{"get by zone name", []string{"--account", "acct1", "record", "get", "example.com", created.ID}, 0, "600", ""},
		{"list filter", []string{"record", "list", zone, "--type", "A"}, 0, "www.example.com.", ""},
		{"invalid content shows field", []string{"record", "create", zone, "--name", "x", "--type", "A", "--content", "1.2.3"}, 1, "", "record.content"},
		{"conflict shows message", []string{"record", "create", zone, "--name", "www", "--type", "CNAME", "--content", "a.example.net"}, 1, "", "InvalidArgument"},
		{"structured data", []string{"record", "create", zone, "--name", "_sip._tcp", "--type", "SRV", "--data", `{"srv":{"priority":1,"weight":2,"port":5060,"target":"sip.example.com"}}`}, 0, "1 2 5060 sip.example.com.", ""},
		{"unknown zone name", []string{"record", "list", "nope.example"}, 1, "", "no zone named"},
		{"patch without flags", []string{"record", "patch", zone, created.ID}, 1, "", "at least one field"},
		{"mark managed", []string{"-o", "json", "record", "managed-by", zone, created.ID, "r2"}, 0, `"r2"`, ""},
		{"a managed record is read-only", []string{"record", "delete", zone, created.ID}, 1, "", "managed by r2"},
		{"an unknown product names the field", []string{"record", "managed-by", zone, created.ID, "lb"}, 1, "", "managed_by"},
		{"clear the mark", []string{"-o", "json", "record", "managed-by", zone, created.ID}, 0, created.ID, ""},
		{"delete", []string{"record", "delete", zone, created.ID}, 0, created.ID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := dnsctl(t, ep, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
					code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}

func TestZoneAndSettingsCommandsAgainstServer(t *testing.T) {
	ep, zone := serve(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"create needs an account", []string{"zone", "create", "other.example"}, 1, "", "--account is required"},
		{"create rejects unknown plan", []string{"zone", "create", "other.example", "--account", "acct1", "--plan", "gold"}, 1, "", "--plan"},
		{"create on pro", []string{"zone", "create", "pro.example", "--account", "acct1", "--plan", "pro"}, 0, "pro.example.", ""},
		{"get by id", []string{"zone", "get", zone}, 0, "example.com.", ""},
		{"get by name", []string{"--account", "acct1", "zone", "get", "example.com"}, 0, zone, ""},
		{"list by account", []string{"zone", "list", "--account", "acct1"}, 0, "pro.example.", ""},
		{"activate", []string{"zone", "activate", zone}, 0, "example.com.", ""},
		{"get missing zone", []string{"zone", "get", "nosuchzone"}, 1, "", "NotFound"},
		{"flatten all refused on free", []string{"settings", "zone", "set", zone, "--flatten-all-cnames=true"}, 1, "", "settings.flatten_all_cnames"},
		{"zone settings set by name", []string{"--account", "acct1", "settings", "zone", "set", "pro.example", "--flatten-all-cnames=true", "--ns-ttl", "3600"}, 0, "flatten_all_cnames    true", ""},
		{"zone settings get by name", []string{"--account", "acct1", "settings", "zone", "get", "pro.example"}, 0, "ns_ttl                3600", ""},
		{"zone settings set needs a flag", []string{"settings", "zone", "set", zone}, 1, "", "at least one setting"},
		{"account settings set", []string{"settings", "account", "set", "acct1", "--enforce-dns-only=true"}, 0, "enforce_dns_only  true", ""},
		{"account settings get json", []string{"-o", "json", "settings", "account", "get", "acct1"}, 0, `"enforceDnsOnly"`, ""},
		{"soa edit refused on pro", []string{"--account", "acct1", "settings", "zone", "set", "pro.example", "--soa-ttl", "1800"}, 1, "", "settings.soa_ttl"},
		{"create on enterprise", []string{"zone", "create", "ent.example", "--account", "acct1", "--plan", "enterprise"}, 0, "ent.example.", ""},
		{"soa set on enterprise", []string{"--account", "acct1", "settings", "zone", "set", "ent.example", "--soa-rname", "john.doe@example.com", "--soa-ttl", "1800"}, 0, `john\.doe.example.com.`, ""},
		{"soa ttl out of range", []string{"--account", "acct1", "settings", "zone", "set", "ent.example", "--soa-ttl", "600"}, 1, "", "settings.soa_ttl"},
		{"zone defaults set", []string{"settings", "account", "zone-defaults", "set", "acct1", "--nameserver-method", "account-custom", "--nameserver-set", "2", "--ns-ttl", "600"}, 0, "account-custom", ""},
		{"zone defaults get", []string{"settings", "account", "zone-defaults", "get", "acct1"}, 0, "ns_ttl               600", ""},
		{"zone defaults unknown method", []string{"settings", "account", "zone-defaults", "set", "acct1", "--nameserver-method", "gold"}, 1, "", "--nameserver-method"},
		{"zone defaults set needs a flag", []string{"settings", "account", "zone-defaults", "set", "acct1"}, 1, "", "at least one default"},
		{"bad output format", []string{"-o", "yaml", "zone", "list"}, 1, "", "--output"},
		{"delete", []string{"zone", "delete", zone}, 0, zone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := dnsctl(t, ep, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
					code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}
