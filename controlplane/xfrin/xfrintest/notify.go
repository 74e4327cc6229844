package xfrintest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Update writes a new zone file and makes the primary load it (SIGHUP,
// or the primary's reload command when it has one and tb is a test).
func (b *Primary) Update(tb testing.TB, zoneFile string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, "zone.db"), []byte(zoneFile), 0o644); err != nil {
		tb.Fatal(err)
	}
	if b.reloadCmd != nil {
		b.reloadCmd(tb)
		return
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		tb.Fatal(err)
	}
}

// Notify says where a primary sends NOTIFY when its zone changes: the
// addresses (host:port, e.g. our edges') and the key it signs them with
// (nil: unsigned).
type Notify struct {
	Targets []string
	Key     *Key
}

func splitHostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("notify target %q: %v", addr, err)
	}
	return h, p
}

// StartBINDNotify is StartBIND that also sends NOTIFY to n.Targets on
// every change (notify explicit, also-notify, no notify delay), signed
// with n.Key when set. Without targets it sends none.
func StartBINDNotify(t testing.TB, zone string, key Key, zoneFile string, n Notify) *Primary {
	named := FindTool(t, "named")
	b := newPeer(t, zoneFile)
	var also, keys strings.Builder
	keys.WriteString(fmt.Sprintf("key %q { algorithm hmac-sha256; secret %q; };\n", strings.TrimSuffix(key.Name, "."), key.Secret))
	if n.Key != nil && n.Key.Name != key.Name {
		keys.WriteString(fmt.Sprintf("key %q { algorithm hmac-sha256; secret %q; };\n", strings.TrimSuffix(n.Key.Name, "."), n.Key.Secret))
	}
	for _, a := range n.Targets {
		h, p := splitHostPort(t, a)
		also.WriteString(h + " port " + p)
		if n.Key != nil {
			also.WriteString(fmt.Sprintf(" key %q", strings.TrimSuffix(n.Key.Name, ".")))
		}
		also.WriteString("; ")
	}
	alsoNotify := ""
	if also.Len() > 0 {
		alsoNotify = "also-notify { " + also.String() + "}; "
	}
	conf := filepath.Join(b.dir, "named.conf")
	writeConf(t, conf, fmt.Sprintf(`
options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]s { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify explicit;
	notify-delay 0;
	ixfr-from-differences yes;
	dnssec-validation no;
};
%[3]s
zone "%[5]s" { type primary; file "%[1]s/zone.db"; allow-transfer { key "%[4]s"; }; %[6]s};
`, b.dir, portOf(b.Addr), keys.String(), strings.TrimSuffix(key.Name, "."), strings.TrimSuffix(zone, "."), alsoNotify))
	b.run(t, named, "-g", "-c", conf, "-n", "1")
	return b
}

// StartKnotNotify is StartKnot that also sends NOTIFY to n.Targets on
// every change, signed with n.Key when set (which must then be key).
func StartKnotNotify(t testing.TB, zone string, key Key, zoneFile string, n Notify) *Primary {
	knotd := FindTool(t, "knotd")
	knotc := FindTool(t, "knotc")
	b := newPeer(t, zoneFile)
	var remotes strings.Builder
	var ids []string
	for i, a := range n.Targets {
		h, p := splitHostPort(t, a)
		id := fmt.Sprintf("edge%d", i)
		ids = append(ids, id)
		remotes.WriteString(fmt.Sprintf("  - id: %s\n    address: %s@%s\n", id, h, p))
		if n.Key != nil {
			remotes.WriteString("    key: " + strings.TrimSuffix(n.Key.Name, ".") + "\n")
		}
	}
	conf := filepath.Join(b.dir, "knot.conf")
	writeConf(t, conf, fmt.Sprintf(`
server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]s
database:
    storage: "%[1]s"
key:
  - id: %[3]s
    algorithm: hmac-sha256
    secret: %[4]s
remote:
%[6]s
acl:
  - id: xfr
    key: %[3]s
    action: transfer
zone:
  - domain: %[5]s
    file: "%[1]s/zone.db"
    acl: xfr
    notify: [%[7]s]
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
log:
  - target: stderr
    any: info
`, b.dir, portOf(b.Addr), strings.TrimSuffix(key.Name, "."), key.Secret, strings.TrimSuffix(zone, "."),
		remotes.String(), strings.Join(ids, ", ")))
	b.run(t, knotd, "-c", conf)
	b.reloadCmd = knotReload(knotc, conf, zone)
	return b
}

// StartNSDNotify is StartNSD that also sends NOTIFY to n.Targets when a
// reload changes the zone, signed with n.Key when set (which must then be
// key).
func StartNSDNotify(t testing.TB, zone string, key Key, zoneFile string, n Notify) *Primary {
	nsd := FindTool(t, "nsd")
	b := newPeer(t, zoneFile)
	var notify strings.Builder
	for _, a := range n.Targets {
		h, p := splitHostPort(t, a)
		k := "NOKEY"
		if n.Key != nil {
			k = strings.TrimSuffix(n.Key.Name, ".")
		}
		notify.WriteString(fmt.Sprintf("    notify: %s@%s %s\n", h, p, k))
	}
	conf := filepath.Join(b.dir, "nsd.conf")
	writeConf(t, conf, fmt.Sprintf(`
server:
    ip-address: 127.0.0.1
    port: %[2]s
    zonesdir: "%[1]s"
    pidfile: "%[1]s/nsd.pid"
    database: ""
    xfrdfile: "%[1]s/xfrd.state"
    zonelistfile: "%[1]s/zone.list"
    username: ""
    chroot: ""
    server-count: 1
    verbosity: 2
key:
    name: "%[3]s"
    algorithm: hmac-sha256
    secret: "%[4]s"
zone:
    name: "%[5]s"
    zonefile: "%[1]s/zone.db"
    provide-xfr: 127.0.0.1 %[3]s
%[6]s`, b.dir, portOf(b.Addr), strings.TrimSuffix(key.Name, "."), key.Secret, strings.TrimSuffix(zone, "."), notify.String()))
	b.run(t, nsd, "-d", "-c", conf)
	return b
}
