package main

import (
	"strings"
	"testing"

	"github.com/zonegrid/zonegrid/edge/node"
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

// TestFlagsReachTheNodeConfig: what the command line says is what the
// node is given, defaults included.
func TestFlagsReachTheNodeConfig(t *testing.T) {
	base := []string{"--insecure-unsigned-snapshots"}
	tests := []struct {
		name  string
		args  []string
		check func(node.Config) bool
	}{
		{"raw UDP system calls by default", nil, func(c node.Config) bool { return !c.UDPPlainSyscalls }},
		{"plain UDP system calls on request", []string{"--udp-raw-syscalls=false"}, func(c node.Config) bool { return c.UDPPlainSyscalls }},
		{"UDP sockets", []string{"--udp-sockets", "3"}, func(c node.Config) bool { return c.UDPSockets == 3 }},
		{"--listen serves UDP and TCP", []string{"--listen", "127.0.0.1:5353"}, func(c node.Config) bool {
			return c.UDPAddr == "127.0.0.1:5353" && c.TCPAddr == "127.0.0.1:5353"
		}},
		{"TCP follows --udp-addr", []string{"--udp-addr", "127.0.0.1:5354"}, func(c node.Config) bool {
			return c.UDPAddr == "127.0.0.1:5354" && c.TCPAddr == "127.0.0.1:5354"
		}},
		{"answer cache and RRL", []string{"--answer-cache", "-1", "--rrl-rate", "0"}, func(c node.Config) bool {
			return c.AnswerCacheSlots == -1 && c.RRL.Rate == 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := parseFlags(append(append([]string(nil), base...), tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(set.cfg) {
				t.Errorf("parseFlags(%q) gave %+v", tt.args, set.cfg)
			}
		})
	}
}
