package main

import (
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	dnssecsvc "github.com/zonegrid/zonegrid/services/dnssec"
	"github.com/zonegrid/zonegrid/services/servicetest"
	"github.com/zonegrid/zonegrid/services/zones"
)

// serveDnssec starts the zone and DNSSEC services (with a KEK ring) over a
// real store and returns the endpoint.
func serveDnssec(t *testing.T) string {
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
		dnsv1.RegisterDnssecServiceServer(gs, dnssecsvc.New(st, ring, cpdnssec.Policy{}, log))
	})
	return conn.Target()
}

func TestDnssecCommandsAgainstServer(t *testing.T) {
	ep := serveDnssec(t)
	if code, _, errOut := dnsctl(t, ep, "zone", "create", "sig.example", "--account", "acct1", "--plan", "free"); code != 0 {
		t.Fatalf("zone create: exit %d: %s", code, errOut)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"show before enable", []string{"--account", "acct1", "dnssec", "show", "sig.example"}, 0, []string{"status:       deleted"}, ""},
		{"roll-ksk without DNSSEC", []string{"--account", "acct1", "dnssec", "roll-ksk", "sig.example"}, 1, nil, "FailedPrecondition"},
		{"enable prints the DS", []string{"--account", "acct1", "dnssec", "enable", "sig.example"}, 0, []string{"status:       pending", "IN  DS  "}, ""},
		{"roll-ksk prints the new DS and both published", []string{"--account", "acct1", "dnssec", "roll-ksk", "sig.example"}, 0,
			[]string{"KSK rollover", "waiting for the new DS above at the parent", "DS records published:"}, ""},
		{"show during the KSK rollover", []string{"--account", "acct1", "dnssec", "show", "sig.example"}, 0, []string{"KSK rollover", "DS records published:"}, ""},
		{"second roll-ksk refused", []string{"--account", "acct1", "dnssec", "roll-ksk", "sig.example"}, 1, nil, "already in progress"},
		{"roll-zsk during a KSK rollover", []string{"--account", "acct1", "dnssec", "roll-zsk", "sig.example"}, 0, []string{"published"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := dnsctl(t, ep, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stderr containing %q", code, out, errOut, tt.wantCode, tt.wantErr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout %q lacks %q", out, w)
				}
			}
		})
	}
}
