package main

import (
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/servicetest"
	"github.com/zonegrid/zonegrid/services/transfers"
	"github.com/zonegrid/zonegrid/services/zones"
)

// serveTransfers starts the zone and zone transfer services (with a KEK
// ring) over a real store and returns the endpoint.
func serveTransfers(t *testing.T) string {
	t.Helper()
	log := zaptest.NewLogger(t)
	st := store.New(etcdCli, etcdtest.Prefix(t), log)
	zs, err := zones.New(st, zones.Options{ExtraSuffixes: []string{"example"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keyseal.Generate()
	ring, _ := keyseal.New(k)
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterZoneServiceServer(gs, zs)
		dnsv1.RegisterZoneTransferServiceServer(gs, transfers.New(st, ring, log))
	})
	return conn.Target()
}

// jsonID runs dnsctl -o json and returns the "id" of the object under key
// (the response's field).
func jsonID(t *testing.T, ep, key string, args ...string) string {
	t.Helper()
	code, out, errOut := dnsctl(t, ep, append([]string{"-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v output %q: %v", args, out, err)
	}
	var obj struct{ ID string }
	if err := json.Unmarshal(m[key], &obj); err != nil || obj.ID == "" {
		t.Fatalf("%v output %q: no %s id (%v)", args, out, key, err)
	}
	return obj.ID
}

func TestTransferCommandsAgainstServer(t *testing.T) {
	ep := serveTransfers(t)
	for _, z := range [][]string{
		{"zone", "create", "sec.example", "--account", "acct1", "--plan", "enterprise", "--type", "secondary"},
		{"zone", "create", "full.example", "--account", "acct1", "--plan", "enterprise"},
	} {
		if code, _, errOut := dnsctl(t, ep, z...); code != 0 {
			t.Fatalf("%v: exit %d: %s", z, code, errOut)
		}
	}
	tsig := jsonID(t, ep, "tsig", "transfer", "tsig", "create", "xfr.example.com", "--account", "acct1", "--algorithm", "hmac-sha512")
	peer := jsonID(t, ep, "peer", "transfer", "peer", "create", "--account", "acct1", "--name", "bind", "--ip", "192.0.2.53", "--tsig", tsig, "--ixfr")
	acl := jsonID(t, ep, "acl", "transfer", "acl", "create", "192.0.2.0/24", "--account", "acct1", "--name", "notify")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"tsig create prints the secret", []string{"transfer", "tsig", "create", "k.example", "--account", "acct1"}, 0, "hmac-sha256.", ""},
		{"tsig list has no secret", []string{"-o", "json", "transfer", "tsig", "list", "--account", "acct1"}, 0, "xfr.example.com.", ""},
		{"tsig get", []string{"transfer", "tsig", "get", tsig, "--account", "acct1"}, 0, "hmac-sha512.", ""},
		{"tsig needs an account", []string{"transfer", "tsig", "list"}, 1, "", "--account is required"},
		{"tsig bad algorithm", []string{"transfer", "tsig", "create", "k.example", "--account", "acct1", "--algorithm", "md5"}, 1, "", "algorithm"},
		{"peer get", []string{"transfer", "peer", "get", peer, "--account", "acct1"}, 0, "192.0.2.53", ""},
		{"peer list", []string{"transfer", "peer", "list", "--account", "acct1"}, 0, "bind", ""},
		{"peer bad ip", []string{"transfer", "peer", "create", "--account", "acct1", "--name", "x", "--ip", "nope"}, 1, "", "peer.ip"},
		{"peer update", []string{"transfer", "peer", "update", peer, "--account", "acct1", "--name", "bind9", "--ip", "2001:db8::53", "--tsig", tsig}, 0, "2001:db8::53", ""},
		{"acl too wide", []string{"transfer", "acl", "create", "10.0.0.0/8", "--account", "acct1", "--name", "x"}, 1, "", "acl.ip_range"},
		{"acl list", []string{"transfer", "acl", "list", "--account", "acct1"}, 0, "192.0.2.0/24", ""},
		{"acl get", []string{"transfer", "acl", "get", acl, "--account", "acct1"}, 0, "notify", ""},
		{"incoming get by name before setup", []string{"--account", "acct1", "transfer", "incoming", "get", "sec.example"}, 0, "disabled", ""},
		{"incoming set", []string{"--account", "acct1", "transfer", "incoming", "set", "sec.example", "--refresh", "600", "--peer", peer}, 0, "pending", ""},
		{"incoming get", []string{"--account", "acct1", "transfer", "incoming", "get", "sec.example"}, 0, "600s", ""},
		{"incoming set pre-signed", []string{"--account", "acct1", "transfer", "incoming", "set", "sec.example", "--refresh", "600", "--peer", peer, "--dnssec-presigned"}, 0, "dnssec-presigned:  true", ""},
		{"incoming on a full zone", []string{"--account", "acct1", "transfer", "incoming", "set", "full.example", "--peer", peer}, 1, "", "FailedPrecondition"},
		{"force AXFR", []string{"--account", "acct1", "transfer", "incoming", "force-axfr", "sec.example"}, 0, "600s", "AXFR requested"},
		{"force AXFR of a full zone", []string{"--account", "acct1", "transfer", "incoming", "force-axfr", "full.example"}, 1, "", "FailedPrecondition"},
		{"tsig delete refused while linked", []string{"transfer", "tsig", "delete", tsig, "--account", "acct1"}, 1, "", "links it"},
		{"peer delete refused while linked", []string{"transfer", "peer", "delete", peer, "--account", "acct1"}, 1, "", "links it"},
		{"outgoing needs enable or disable", []string{"--account", "acct1", "transfer", "outgoing", "set", "full.example"}, 1, "", "--enable"},
		{"outgoing set", []string{"--account", "acct1", "transfer", "outgoing", "set", "full.example", "--enable"}, 0, "enabled:  true", ""},
		{"outgoing get on a secondary zone", []string{"--account", "acct1", "transfer", "outgoing", "get", "sec.example"}, 0, "not-applicable", ""},
		{"incoming unlink", []string{"--account", "acct1", "transfer", "incoming", "set", "sec.example"}, 0, "disabled", ""},
		{"peer delete", []string{"transfer", "peer", "delete", peer, "--account", "acct1"}, 0, peer, ""},
		{"tsig delete", []string{"transfer", "tsig", "delete", tsig, "--account", "acct1"}, 0, tsig, ""},
		{"acl delete", []string{"transfer", "acl", "delete", acl, "--account", "acct1"}, 0, acl, ""},
		{"acl gone", []string{"transfer", "acl", "get", acl, "--account", "acct1"}, 1, "", "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := dnsctl(t, ep, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
					code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
			if strings.Contains(tt.name, "no secret") && strings.Contains(strings.ToLower(out), "secret") {
				t.Fatalf("listing shows a secret: %s", out)
			}
		})
	}
}
