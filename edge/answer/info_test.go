package answer

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

func answerInfo(e *Engine, name string, qtype uint16, upstream bool) (*dns.Msg, Info) {
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	resp := new(dns.Msg)
	resp.SetReply(req)
	info := e.AnswerQuery(context.Background(), req.Question[0], resp, upstream)
	return resp, info
}

func TestAnswerInfoSaysWhatTheAnswerDependsOn(t *testing.T) {
	e := ruleEngine(t, ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE})
	tests := []struct {
		name        string
		qname       string
		qtype       uint16
		upstream    bool
		cacheable   bool
		usesAccount bool
		deferred    bool
		zone        string
	}{
		{"dns-only record depends on its zone only", "dnsonly.proxy.test.", dns.TypeA, true, true, false, false, "proxy.test."},
		{"nxdomain depends on its zone only", "nope.proxy.test.", dns.TypeA, true, true, false, false, "proxy.test."},
		{"proxied record depends on the account setting", "web.proxy.test.", dns.TypeA, true, true, true, false, "proxy.test."},
		{"name outside every zone is refused and cacheable", "www.unserved.org.", dns.TypeA, true, true, false, false, ""},
		{"flattening within the zone is cacheable", "pcf.proxy.test.", dns.TypeTXT, true, true, false, false, "proxy.test."},
		{"flattening into another zone is not cacheable", "fl.proxy.test.", dns.TypeA, true, false, false, false, "proxy.test."},
		{"external flattening is not cacheable", "ext.proxy.test.", dns.TypeA, true, false, false, false, "proxy.test."},
		{"external flattening without upstream is deferred", "ext.proxy.test.", dns.TypeA, false, false, false, true, "proxy.test."},
		{"ds at an apex is not cacheable", "proxy.test.", dns.TypeDS, true, false, false, false, "proxy.test."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, info := answerInfo(e, tt.qname, tt.qtype, tt.upstream)
			if info.Cacheable != tt.cacheable || info.UsesAccount != tt.usesAccount || info.Deferred != tt.deferred {
				t.Errorf("info = %+v, want cacheable %v usesAccount %v deferred %v", info, tt.cacheable, tt.usesAccount, tt.deferred)
			}
			if info.Zone != tt.zone {
				t.Errorf("zone %q, want %q", info.Zone, tt.zone)
			}
		})
	}
}

// cachedOnly resolves nothing but answers from a fixed cache without
// blocking, as a resolver implementing CachedResolver does.
type cachedOnly struct{ fakeResolver }

func (c cachedOnly) Cached(name string, qtype uint16) ([]dns.RR, bool) {
	rrs, ok := c.fakeResolver[name+dns.TypeToString[qtype]]
	return rrs, ok
}

func TestAnswerWithoutUpstreamUsesCachedTargets(t *testing.T) {
	e := ruleEngine(t, ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE})
	e.resolver = cachedOnly{e.resolver.(fakeResolver)}
	resp, info := answerInfo(e, "ext.proxy.test.", dns.TypeA, false)
	if info.Deferred || len(resp.Answer) != 1 {
		t.Errorf("cached target deferred=%v answer=%v, want answered inline", info.Deferred, resp.Answer)
	}
	_, info = answerInfo(e, "bad.proxy.test.", dns.TypeA, false)
	if !info.Deferred {
		t.Errorf("uncached target not deferred")
	}
}

func TestUnchangedFollowsZoneVersionAndAccount(t *testing.T) {
	e := ruleEngine(t, ruleEnv{status: snapshot.ZoneStatus_ZONE_STATUS_ACTIVE})
	_, proxied := answerInfo(e, "web.proxy.test.", dns.TypeA, true)
	_, plain := answerInfo(e, "dnsonly.proxy.test.", dns.TypeA, true)
	_, refused := answerInfo(e, "www.unserved.org.", dns.TypeA, true)
	if !e.Unchanged("web.proxy.test.", &proxied) || !e.Unchanged("dnsonly.proxy.test.", &plain) || !e.Unchanged("www.unserved.org.", &refused) {
		t.Fatal("fresh answers reported changed")
	}

	e.accounts.Put(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 2, EnforceDnsOnly: true})
	if e.Unchanged("web.proxy.test.", &proxied) {
		t.Error("proxied answer still valid after enforce_dns_only flipped")
	}
	if !e.Unchanged("dnsonly.proxy.test.", &plain) {
		t.Error("dns-only answer invalidated by an account setting it did not read")
	}

	z, err := zonecache.Build(zonetest.Zone(t, zonetest.Header("proxy.test.", 2), proxyZone))
	if err != nil {
		t.Fatal(err)
	}
	e.zones.Put(z)
	if e.Unchanged("dnsonly.proxy.test.", &plain) {
		t.Error("answer still valid after a new zone version")
	}
	z, err = zonecache.Build(zonetest.Zone(t, zonetest.Header("unserved.org.", 1), "www IN A 192.0.2.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	e.zones.Put(z)
	if e.Unchanged("www.unserved.org.", &refused) {
		t.Error("refusal still valid after the zone appeared")
	}
}
