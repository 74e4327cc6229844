package answer

import (
	"context"
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Anycast picks for zone ids "id-proxy.test" etc. depend on the hash, so
// tests compare against the engine's own pick.
func poolA(e *Engine, zoneID, owner string, qtype uint16) []string {
	var out []string
	pool := e.v4
	if qtype == dns.TypeAAAA {
		pool = e.v6
	}
	start, k := pick(zoneID, len(pool), e.pick)
	for i := range k {
		ip := pool[(start+i)%len(pool)]
		out = append(out, owner+" 300 IN "+dns.TypeToString[qtype]+" "+ip.String())
	}
	return out
}

const proxyZone = `
@        IN CNAME origin.external.net.
@        IN MX    10 mail.proxy.test.
@        IN TXT   "apex txt"
mail     IN A     192.0.2.25
web      IN A     198.51.100.1 ; proxied
web      IN TXT   "web txt"
mixed    IN A     198.51.100.2 ; proxied
mixed    IN A     198.51.100.3
mixed    IN AAAA  2001:db8:1::3
v4only   IN A     198.51.100.4 ; proxied
pc       IN CNAME origin.external.net. ; proxied
pcf      IN CNAME inzone ; proxied flatten
inzone   IN A     192.0.2.60
managed  IN A     198.51.100.5 ; proxied managed=workers
r2       IN A     198.51.100.11 ; proxied managed=r2
spectrum IN A     198.51.100.12 ; proxied managed=spectrum
web3     IN A     198.51.100.13 ; proxied managed=web3
tunmgd   IN CNAME app.tunnel-origin.example. ; proxied managed=tunnel
tun      IN CNAME 6ff42ae2-765d.cfargotunnel.com. ; proxied
tunbare  IN CNAME cfargotunnel.com. ; proxied
tunfake  IN CNAME x.cfargotunnel.com.evil.example. ; proxied
lb       IN A     198.51.100.14 ; proxied managed=load_balancing
route    IN A     198.51.100.15 ; proxied managed=worker_route
saas     IN A     198.51.100.16 ; proxied managed=saas_fallback
future   IN A     198.51.100.17 ; proxied managed=a_future_product
ownhttps IN A     198.51.100.6 ; proxied
ownhttps IN HTTPS 1 . alpn="h2"
dnsonly  IN A     192.0.2.7
*.wild   IN A     198.51.100.8 ; proxied
fl       120 IN CNAME step1 ; flatten
step1    600 IN CNAME other.served.test.
fla      IN CNAME pxy.served.test. ; flatten
plain    IN CNAME inzone
dang     IN CNAME missing.served.test. ; flatten
loopa    IN CNAME loopb ; flatten
loopb    IN CNAME loopa
ext      IN CNAME origin.external.net. ; flatten
bad      IN CNAME broken.external.net. ; flatten
`

const servedZone = `
other    60 IN A  192.0.2.70
other    60 IN AAAA 2001:db8::70
pxy      IN A  198.51.100.9 ; proxied
`

type fakeResolver map[string][]dns.RR

func (f fakeResolver) Resolve(_ context.Context, name string, qtype uint16) ([]dns.RR, error) {
	rrs, ok := f[name+dns.TypeToString[qtype]]
	if !ok {
		return nil, errors.New("upstream failed")
	}
	return rrs, nil
}

func rr(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return r
}

type ruleEnv struct {
	status  snapshot.ZoneStatus
	enforce bool
	flatAll bool
}

func ruleEngine(t *testing.T, env ruleEnv) *Engine {
	t.Helper()
	h := zonetest.Header("proxy.test.", 1)
	h.Status = env.status
	h.FlattenAllCnames = env.flatAll
	e, _, acc := newEngine(t,
		zonetest.Zone(t, h, proxyZone),
		zonetest.Zone(t, zonetest.Header("served.test.", 1), servedZone))
	acc.Put(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 1, EnforceDnsOnly: env.enforce})
	e.tunnel = tunnelDomain("CFArgoTunnel.com")
	e.resolver = fakeResolver{
		"origin.external.net.A":    {rr("origin.external.net. 200 IN CNAME lb.external.net."), rr("lb.external.net. 50 IN A 203.0.113.1")},
		"origin.external.net.AAAA": {rr("origin.external.net. 200 IN CNAME lb.external.net.")},
	}
	return e
}

const proxyNegSOA = "proxy.test. 1800 IN SOA ns1.zonegrid.test. dns.zonegrid.test. 1 10000 2400 604800 1800"

func TestAnswerTimeRules(t *testing.T) {
	active := ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE}
	enforced := ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE, enforce: true}
	pool := func(owner string, qtype uint16) func(e *Engine) []string {
		return func(e *Engine) []string { return poolA(e, "id-proxy.test", owner, qtype) }
	}
	fixed := func(rrs ...string) func(*Engine) []string { return func(*Engine) []string { return rrs } }
	tests := []struct {
		row    string
		env    ruleEnv
		qname  string
		qtype  uint16
		rcode  int
		answer func(e *Engine) []string
		ns     []string
	}{
		{"P1 proxied A answers anycast v4", active, "web.proxy.test.", dns.TypeA, 0, pool("web.proxy.test.", dns.TypeA), nil},
		{"P1 proxied A answers anycast v6 for AAAA", active, "v4only.proxy.test.", dns.TypeAAAA, 0, pool("v4only.proxy.test.", dns.TypeAAAA), nil},
		{"P2 any proxied address makes all proxied", active, "mixed.proxy.test.", dns.TypeA, 0, pool("mixed.proxy.test.", dns.TypeA), nil},
		{"P2 proxied A hides the AAAA too", active, "mixed.proxy.test.", dns.TypeAAAA, 0, pool("mixed.proxy.test.", dns.TypeAAAA), nil},
		{"P3 proxied CNAME answers A with anycast, no CNAME", active, "pc.proxy.test.", dns.TypeA, 0, pool("pc.proxy.test.", dns.TypeA), nil},
		{"P3 proxied wildcard answers under the query name", active, "x.wild.proxy.test.", dns.TypeA, 0, pool("x.wild.proxy.test.", dns.TypeA), nil},
		{"P4 HTTPS synthesized at a proxied name", active, "web.proxy.test.", dns.TypeHTTPS, 0, func(e *Engine) []string {
			v4, v6 := poolA(e, "id-proxy.test", "", dns.TypeA), poolA(e, "id-proxy.test", "", dns.TypeAAAA)
			return []string{`web.proxy.test. 300 IN HTTPS 1 . alpn="h3,h2" ipv4hint="` + trimType(v4) + `" ipv6hint="` + trimType(v6) + `"`}
		}, nil},
		{"P4 own HTTPS record wins", active, "ownhttps.proxy.test.", dns.TypeHTTPS, 0, fixed(`ownhttps.proxy.test. 300 IN HTTPS 1 . alpn="h2"`), nil},
		{"P4 no HTTPS synthesized at a DNS-only name", active, "dnsonly.proxy.test.", dns.TypeHTTPS, 0, fixed(), []string{proxyNegSOA}},
		{"P5 pending zone answers proxied records DNS-only", ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_PENDING}, "web.proxy.test.", dns.TypeA, 0,
			fixed("web.proxy.test. 300 IN A 198.51.100.1"), nil},
		{"P6 other types at a proxied name answered normally", active, "web.proxy.test.", dns.TypeTXT, 0, fixed(`web.proxy.test. 300 IN TXT "web txt"`), nil},
		{"E1 enforce DNS-only shows origin addresses", ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE, enforce: true}, "mixed.proxy.test.", dns.TypeA, 0,
			fixed("mixed.proxy.test. 300 IN A 198.51.100.2", "mixed.proxy.test. 300 IN A 198.51.100.3"), nil},
		{"E1 enforce DNS-only shows the CNAME target", ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE, enforce: true}, "pc.proxy.test.", dns.TypeA, 0,
			fixed("pc.proxy.test. 300 IN CNAME origin.external.net."), nil},
		{"E1 enforce DNS-only still flattens a flattened CNAME", ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE, enforce: true}, "pcf.proxy.test.", dns.TypeA, 0,
			fixed("pcf.proxy.test. 300 IN A 192.0.2.60"), nil},
		{"E2 Workers custom domains stay proxied under enforce", enforced, "managed.proxy.test.", dns.TypeA, 0,
			pool("managed.proxy.test.", dns.TypeA), nil},
		{"E2 R2 custom domains stay proxied under enforce", enforced, "r2.proxy.test.", dns.TypeA, 0, pool("r2.proxy.test.", dns.TypeA), nil},
		{"E2 Spectrum applications stay proxied under enforce", enforced, "spectrum.proxy.test.", dns.TypeAAAA, 0, pool("spectrum.proxy.test.", dns.TypeAAAA), nil},
		{"E2 Web3 gateways stay proxied under enforce", enforced, "web3.proxy.test.", dns.TypeA, 0, pool("web3.proxy.test.", dns.TypeA), nil},
		{"E2 Tunnel records stay proxied under enforce", enforced, "tunmgd.proxy.test.", dns.TypeA, 0, pool("tunmgd.proxy.test.", dns.TypeA), nil},
		{"E2 exempt records keep their synthesized HTTPS", enforced, "r2.proxy.test.", dns.TypeHTTPS, 0, func(e *Engine) []string {
			v4, v6 := poolA(e, "id-proxy.test", "", dns.TypeA), poolA(e, "id-proxy.test", "", dns.TypeAAAA)
			return []string{`r2.proxy.test. 300 IN HTTPS 1 . alpn="h3,h2" ipv4hint="` + trimType(v4) + `" ipv6hint="` + trimType(v6) + `"`}
		}, nil},
		{"E3 a CNAME to a tunnel subdomain stays proxied without managed_by", enforced, "tun.proxy.test.", dns.TypeA, 0, pool("tun.proxy.test.", dns.TypeA), nil},
		{"E3 the tunnel domain itself is not a tunnel subdomain", enforced, "tunbare.proxy.test.", dns.TypeA, 0,
			fixed("tunbare.proxy.test. 300 IN CNAME cfargotunnel.com."), nil},
		{"E3 a look-alike of the tunnel domain is forced DNS-only", enforced, "tunfake.proxy.test.", dns.TypeA, 0,
			fixed("tunfake.proxy.test. 300 IN CNAME x.cfargotunnel.com.evil.example."), nil},
		{"E1 Load Balancing records are forced DNS-only", enforced, "lb.proxy.test.", dns.TypeA, 0, fixed("lb.proxy.test. 300 IN A 198.51.100.14"), nil},
		{"E1 records matching a Worker route are forced DNS-only", enforced, "route.proxy.test.", dns.TypeA, 0, fixed("route.proxy.test. 300 IN A 198.51.100.15"), nil},
		{"E1 the SaaS fallback origin is forced DNS-only", enforced, "saas.proxy.test.", dns.TypeA, 0, fixed("saas.proxy.test. 300 IN A 198.51.100.16"), nil},
		{"E1 a product this edge does not know is forced DNS-only", enforced, "future.proxy.test.", dns.TypeA, 0, fixed("future.proxy.test. 300 IN A 198.51.100.17"), nil},
		{"E3 without enforce a tunnel CNAME is an ordinary proxied CNAME", active, "tunfake.proxy.test.", dns.TypeA, 0, pool("tunfake.proxy.test.", dns.TypeA), nil},
		{"F1 apex CNAME is flattened through the resolver, lowest TTL", active, "proxy.test.", dns.TypeA, 0,
			fixed("proxy.test. 50 IN A 203.0.113.1"), nil},
		{"F1 apex own MX answered from its records", active, "proxy.test.", dns.TypeMX, 0, fixed("proxy.test. 300 IN MX 10 mail.proxy.test."), nil},
		{"F1 apex own TXT answered from its records", active, "proxy.test.", dns.TypeTXT, 0, fixed(`proxy.test. 300 IN TXT "apex txt"`), nil},
		{"F1 apex NS from the header", active, "proxy.test.", dns.TypeNS, 0,
			fixed("proxy.test. 86400 IN NS ns1.zonegrid.test.", "proxy.test. 86400 IN NS ns2.zonegrid.test."), nil},
		{"F2 flatten all CNAMEs", ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE, flatAll: true}, "plain.proxy.test.", dns.TypeA, 0,
			fixed("plain.proxy.test. 300 IN A 192.0.2.60"), nil},
		{"F2 without flatten all the CNAME is shown", active, "plain.proxy.test.", dns.TypeA, 0,
			fixed("plain.proxy.test. 300 IN CNAME inzone.proxy.test.", "inzone.proxy.test. 300 IN A 192.0.2.60"), nil},
		{"F3+F4 flattened chain across served zones, lowest TTL", active, "fl.proxy.test.", dns.TypeAAAA, 0,
			fixed("fl.proxy.test. 60 IN AAAA 2001:db8::70"), nil},
		{"F3 CNAME query at a flattened name shows the CNAME", active, "fl.proxy.test.", dns.TypeCNAME, 0,
			fixed("fl.proxy.test. 120 IN CNAME step1.proxy.test."), nil},
		{"F10 other types at a flattened name without own records are NODATA", active, "fl.proxy.test.", dns.TypeTXT, 0, fixed(), []string{proxyNegSOA}},
		{"F6 flattened onto a proxied target answers anycast", active, "fla.proxy.test.", dns.TypeA, 0,
			func(e *Engine) []string { return poolA(e, "id-served.test", "fla.proxy.test.", dns.TypeA) }, nil},
		{"F7 flattening loop is NODATA", active, "loopa.proxy.test.", dns.TypeA, 0, fixed(), []string{proxyNegSOA}},
		{"F8 dangling flattened target is NODATA", active, "dang.proxy.test.", dns.TypeA, 0, fixed(), []string{proxyNegSOA}},
		{"F5 external target without the type is NODATA", active, "ext.proxy.test.", dns.TypeAAAA, 0, fixed(), []string{proxyNegSOA}},
		{"F11 upstream failure is SERVFAIL", active, "bad.proxy.test.", dns.TypeA, dns.RcodeServerFailure, fixed(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.row, func(t *testing.T) {
			e := ruleEngine(t, tt.env)
			resp := ask(e, tt.qname, tt.qtype)
			check(t, resp, want{rcode: tt.rcode, aa: true, answer: tt.answer(e), ns: tt.ns})
		})
	}
}

// trimType turns "owner 300 IN A 192.0.2.10" lines into "192.0.2.10,...".
func trimType(lines []string) string {
	s := ""
	for i, l := range lines {
		f := l[len(" 300 IN A "):]
		if l[len(" 300 IN "):len(" 300 IN ")+4] == "AAAA" {
			f = l[len(" 300 IN AAAA "):]
		}
		if i > 0 {
			s += ","
		}
		s += f
	}
	return s
}

func TestEnforceDNSOnlyFlipsWithoutRebuild(t *testing.T) {
	e := ruleEngine(t, ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE})
	want := poolA(e, "id-proxy.test", "web.proxy.test.", dns.TypeA)
	check(t, ask(e, "web.proxy.test.", dns.TypeA), want2(want))
	e.accounts.Put(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 2, EnforceDnsOnly: true})
	check(t, ask(e, "web.proxy.test.", dns.TypeA), want2([]string{"web.proxy.test. 300 IN A 198.51.100.1"}))
	e.accounts.Put(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 3})
	check(t, ask(e, "web.proxy.test.", dns.TypeA), want2(want))
}

func want2(answer []string) want { return want{aa: true, answer: answer} }
