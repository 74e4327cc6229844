package main

import (
	"strings"
	"testing"
)

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad v4 pool", []string{"--insecure-unsigned-snapshots", "--anycast-v4", "192.0.2.1,not-an-ip"}, "--anycast-v4"},
		{"v6 address in the v4 pool", []string{"--insecure-unsigned-snapshots", "--anycast-v4", "2001:db8::1"}, "anycast IPv4 pool"},
		{"bad v6 pool", []string{"--insecure-unsigned-snapshots", "--anycast-v6", "nope"}, "--anycast-v6"},
		{"bad upstream", []string{"--insecure-unsigned-snapshots", "--upstream", "no-port"}, "upstream"},
		{"unknown flag", []string{"--bogus"}, "bogus"},
		{"negative rrl rate", []string{"--insecure-unsigned-snapshots", "--rrl-rate", "-1"}, "rrl"},
		{"rrl prefix out of range", []string{"--insecure-unsigned-snapshots", "--rrl-ipv4-prefix", "33"}, "prefix"},
		{"zero tcp connections", []string{"--insecure-unsigned-snapshots", "--tcp-max-conns", "0"}, "--tcp-max-conns"},
		{"no trust keys and not insecure", nil, "--snapshot-trust-keys is required"},
		{"trust keys and insecure", []string{"--snapshot-trust-keys", "k.pem", "--insecure-unsigned-snapshots"}, "exclude each other"},
		{"missing trust key file", []string{"--snapshot-trust-keys", "/nonexistent/k.pem"}, "snapshot trust key"},
		{"trust key file without a key", []string{"--snapshot-trust-keys", "main.go"}, "no PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error about %s", tt.args, err, tt.want)
			}
		})
	}
}

func TestParseAddrsSkipsBlanks(t *testing.T) {
	got, err := parseAddrs(" 192.0.2.10, ,192.0.2.11,")
	if err != nil || len(got) != 2 || got[1].String() != "192.0.2.11" {
		t.Errorf("parseAddrs = %v, %v", got, err)
	}
}
