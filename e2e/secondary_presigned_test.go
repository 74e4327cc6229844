package e2e

// Pre-signed DNSSEC at the edge, end to end with a real validating
// resolver: a zone signed by BIND's dnssec-signzone (NSEC, NSEC3 with
// "-3 -", and NSEC3 with opt-out), served by a real BIND primary, transferred to our secondary zone
// marked pre-signed (IncomingTransfer.dnssec_presigned); unbound, given the
// primary's DS as its trust anchor and the edge as the zones' stub server,
// must set the AD bit on a plain A, an MX, a wildcard, an NXDOMAIN, a
// NODATA (also at an empty non-terminal), a delegation's DS and its
// absence, the DNSKEY and the apex NS sets: every signature and denial
// record it sees is the primary's, as the edge stores it. Skipped without
// unbound or BIND unless ZONEGRID_INTEROP=required.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/controlplane/lifecycle"
	"github.com/zonegrid/zonegrid/controlplane/xfrin/xfrintest"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// presignedZoneFile is the primary's zone before signing: its apex NS set
// is the platform's name servers for the zone (a pre-signed zone's NS RRSIG
// then verifies what the edges answer, docs/ZONE_TRANSFERS.md).
func presignedZoneFile(zone string, ns []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n", zone)
	b.WriteString("@ IN SOA ns1.primary.test. admin.primary.test. 2026112801 7200 3600 1209600 300\n")
	for _, n := range ns {
		fmt.Fprintf(&b, "@ IN NS %s\n", dns.Fqdn(n))
	}
	b.WriteString(`@ IN A 192.0.2.1
@ IN MX 10 mail
mail IN A 192.0.2.25
www IN A 192.0.2.2
www IN A 192.0.2.3
*.wild IN A 192.0.2.99
a.b.ent IN A 192.0.2.4
secure IN NS ns.elsewhere.net.
secure IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
insecure IN NS ns.elsewhere.net.
`)
	return b.String()
}

// Denial chains dnssec-signzone makes.
const (
	chainNSEC   = "nsec"
	chainNSEC3  = "nsec3"  // no salt, no extra iteration: "-3 - -H 0"
	chainOptOut = "optout" // NSEC3 with opt-out: "-3 - -H 0 -A"
)

// signWithBIND signs a zone file with BIND's own tools: a KSK and a ZSK
// (ECDSA P-256) made by dnssec-keygen, dnssec-signzone with the chain
// asked. It returns the signed zone file and the KSK's DS record.
func signWithBIND(t *testing.T, zone, file, chain string) (signed, ds string) {
	t.Helper()
	keygen := xfrintest.FindTool(t, "dnssec-keygen")
	signzone := xfrintest.FindTool(t, "dnssec-signzone")
	dsfromkey := xfrintest.FindTool(t, "dnssec-dsfromkey")
	dir := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("%s %v: %v\n%s", name, args, err, stderr)
		}
		return strings.TrimSpace(string(out))
	}
	ksk := run(keygen, "-q", "-K", dir, "-a", "ECDSAP256SHA256", "-f", "KSK", "-n", "ZONE", zone)
	run(keygen, "-q", "-K", dir, "-a", "ECDSAP256SHA256", "-n", "ZONE", zone)
	in := filepath.Join(dir, "zone.db")
	if err := os.WriteFile(in, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "zone.signed")
	args := []string{"-q", "-S", "-K", dir, "-d", dir, "-o", zone, "-f", out}
	switch chain {
	case chainNSEC3:
		args = append(args, "-3", "-", "-H", "0")
	case chainOptOut:
		args = append(args, "-3", "-", "-H", "0", "-A")
	}
	run(signzone, append(args, in)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), run(dsfromkey, "-2", filepath.Join(dir, ksk+".key"))
}

// presignedSecondary creates the secondary zone name, signs its zone with
// BIND's tools, serves it from a real BIND primary and transfers it
// pre-signed; it returns the primary's DS and address.
func presignedSecondary(t *testing.T, c *cluster, name, chain string) (ds, primary string) {
	t.Helper()
	zone := dns.Fqdn(name)
	zr, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: "acme", Name: name, Plan: dnsv1.Plan_PLAN_ENTERPRISE, Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY})
	if err != nil {
		t.Fatal(err)
	}
	z := zr.GetZone()
	if len(z.GetNameServers()) == 0 {
		t.Fatalf("zone %s has no name servers assigned", name)
	}
	signed, ds := signWithBIND(t, zone, presignedZoneFile(zone, z.GetNameServers()), chain)
	key := xfrintest.Key{Name: "xfr." + zone, Secret: "cHJlc2lnbmVkLWVkZ2UtdGVzdC1rZXktMTIzNDU2Nzg="}
	bind := xfrintest.StartBIND(t, zone, key, signed)
	bind.WaitSerial(t, zone, key, 2026112801)

	xfr := dnsv1.NewZoneTransferServiceClient(c.conn)
	tk, err := xfr.CreateTsig(c.ctx(), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: key.Name, Secret: key.Secret})
	if err != nil {
		t.Fatal(err)
	}
	host, portText, _ := net.SplitHostPort(bind.Addr)
	port, _ := strconv.Atoi(portText)
	peer, err := xfr.CreatePeer(c.ctx(), &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{
		Name: "bind " + name, Ip: host, Port: uint32(port), TsigId: tk.GetTsig().GetId()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xfr.UpdateIncoming(c.ctx(), &dnsv1.UpdateIncomingRequest{ZoneId: z.GetId(), AutoRefreshSeconds: 3600,
		Peers: []string{peer.GetPeer().GetId()}, DnssecPresigned: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.cp.RefreshSecondary(c.ctx(), z.GetId()); err != nil {
		t.Fatal(err)
	}
	// Served, and served signed: the RRSIG comes with the answer asked
	// with DO.
	c.eventually(name+" transferred pre-signed", func(addr string) error {
		q := new(dns.Msg)
		q.SetQuestion("www."+zone, dns.TypeA)
		q.SetEdns0(4096, true)
		m, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(q, addr)
		if err != nil {
			return err
		}
		if !hasRRSIG(m.Answer, dns.TypeA) {
			return fmt.Errorf("www.%s A with DO: %v", zone, m.Answer)
		}
		return nil
	})
	return ds, bind.Addr
}

func hasRRSIG(rrs []dns.RR, covered uint16) bool {
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == covered {
			return true
		}
	}
	return false
}

func TestSecondaryPresignedZoneValidatesInUnbound(t *testing.T) {
	interopTool(t, "unbound")
	xfrintest.FindTool(t, "named")
	c := newCluster(t, 1, withLifecycle(lifecycle.Policy{}, 200*time.Millisecond))
	nsecDS, nsecPrimary := presignedSecondary(t, c, "pre-nsec.test", chainNSEC)
	nsec3DS, nsec3Primary := presignedSecondary(t, c, "pre-nsec3.test", chainNSEC3)
	optOutDS, optOutPrimary := presignedSecondary(t, c, "pre-optout.test", chainOptOut)
	primaries := map[string]string{"pre-nsec.test.": nsecPrimary, "pre-nsec3.test.": nsec3Primary, "pre-optout.test.": optOutPrimary}
	res := unbound(t, c.edges[0].UDPAddr(), []string{nsecDS, nsec3DS, optOutDS}, "pre-nsec.test", "pre-nsec3.test", "pre-optout.test")
	// The same edge behind a trust anchor that names another key: the
	// answers must be bogus (SERVFAIL), so the AD bits below come from
	// validation, not from an unbound that validates nothing.
	wrong := strings.Fields(nsecDS)
	digest := []byte(wrong[len(wrong)-1])
	if digest[0] == '0' {
		digest[0] = '1'
	} else {
		digest[0] = '0'
	}
	wrong[len(wrong)-1] = string(digest)
	bogus := unbound(t, c.edges[0].UDPAddr(), []string{strings.Join(wrong, " ")}, "pre-nsec.test")
	if m := validated(t, bogus, "www.pre-nsec.test.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("with a wrong trust anchor: rcode %s AD %v, want SERVFAIL", dns.RcodeToString[m.Rcode], m.AuthenticatedData)
	}

	// NSEC3 with opt-out: what exists validates (AD); a proof whose
	// covering NSEC3 has the opt-out bit (NXDOMAIN, a wildcard, the DS of
	// an unsigned delegation, which has no NSEC3 of its own: the closest
	// provable encloser proof) leaves the answer insecure (RFC 5155 6,
	// "Opt-Out"): no AD, and not bogus (no SERVFAIL).
	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		rcode int
		ad    bool
	}{
		{"plain A", "www.pre-optout.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"NODATA", "www.pre-optout.test.", dns.TypeTXT, dns.RcodeSuccess, true},
		{"a delegation's DS", "secure.pre-optout.test.", dns.TypeDS, dns.RcodeSuccess, true},
		{"DNSKEY", "pre-optout.test.", dns.TypeDNSKEY, dns.RcodeSuccess, true},
		{"no DS at an unsigned delegation", "insecure.pre-optout.test.", dns.TypeDS, dns.RcodeSuccess, false},
		{"NXDOMAIN", "nope.pre-optout.test.", dns.TypeA, dns.RcodeNameError, false},
		{"wildcard", "anything.wild.pre-optout.test.", dns.TypeA, dns.RcodeSuccess, false},
	} {
		t.Run("pre-optout.test./"+tc.name, func(t *testing.T) {
			m := validated(t, res, tc.qname, tc.qtype)
			if m.Rcode != tc.rcode || m.AuthenticatedData != tc.ad {
				t.Fatalf("rcode %s AD %v, want %s AD %v:\n%v", dns.RcodeToString[m.Rcode], m.AuthenticatedData, dns.RcodeToString[tc.rcode], tc.ad, m)
			}
		})
	}

	// The edge gives the same proofs as the primary serving the same
	// zone: the same NSEC or NSEC3 records, for every kind of denial.
	for zone, primary := range primaries {
		for _, q := range []struct {
			name  string
			qtype uint16
		}{
			{"nope." + zone, dns.TypeA}, {"x.y.www." + zone, dns.TypeA}, {"www." + zone, dns.TypeTXT},
			{"b.ent." + zone, dns.TypeA}, {"anything.wild." + zone, dns.TypeA}, {"x.y.wild." + zone, dns.TypeA},
			{"anything.wild." + zone, dns.TypeMX}, {"insecure." + zone, dns.TypeDS}, {"www.insecure." + zone, dns.TypeA},
			{"secure." + zone, dns.TypeDS}, {"www.secure." + zone, dns.TypeA},
		} {
			t.Run(zone+"/the same proof as BIND: "+q.name+" "+dns.TypeToString[q.qtype], func(t *testing.T) {
				ours, theirs := askDO(t, c.edges[0].TCPAddr(), q.name, q.qtype), askDO(t, primary, q.name, q.qtype)
				if ours.Rcode != theirs.Rcode || !slices.Equal(denialOwners(ours.Ns), denialOwners(theirs.Ns)) {
					t.Errorf("edge: %s %v\nBIND: %s %v", dns.RcodeToString[ours.Rcode], denialOwners(ours.Ns), dns.RcodeToString[theirs.Rcode], denialOwners(theirs.Ns))
				}
			})
		}
	}

	for _, zone := range []string{"pre-nsec.test.", "pre-nsec3.test."} {
		for _, tc := range []struct {
			name  string
			qname string
			qtype uint16
			rcode int
			// answer holds RDATA the answer must contain (nil: none of
			// the type asked, a denial; empty: a set of the type asked).
			answer []string
		}{
			{"plain A", "www." + zone, dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.2", "192.0.2.3"}},
			{"MX at the apex", zone, dns.TypeMX, dns.RcodeSuccess, []string{"10 mail." + zone}},
			{"wildcard", "anything.wild." + zone, dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.99"}},
			{"wildcard two labels down", "x.y.wild." + zone, dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.99"}},
			{"NXDOMAIN", "nope." + zone, dns.TypeA, dns.RcodeNameError, nil},
			{"NXDOMAIN below an existing name", "x.y.www." + zone, dns.TypeA, dns.RcodeNameError, nil},
			{"NODATA", "www." + zone, dns.TypeTXT, dns.RcodeSuccess, nil},
			{"NODATA at an empty non-terminal", "b.ent." + zone, dns.TypeA, dns.RcodeSuccess, nil},
			{"NODATA under a wildcard", "anything.wild." + zone, dns.TypeMX, dns.RcodeSuccess, nil},
			{"a delegation's DS", "secure." + zone, dns.TypeDS, dns.RcodeSuccess,
				[]string{"12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
			{"no DS at an insecure delegation", "insecure." + zone, dns.TypeDS, dns.RcodeSuccess, nil},
			{"DNSKEY", zone, dns.TypeDNSKEY, dns.RcodeSuccess, []string{}},
			{"the apex NS, our name servers as the primary lists them", zone, dns.TypeNS, dns.RcodeSuccess, []string{}},
			{"the SOA, the primary's", zone, dns.TypeSOA, dns.RcodeSuccess, []string{}},
		} {
			t.Run(zone+"/"+tc.name, func(t *testing.T) {
				m := validated(t, res, tc.qname, tc.qtype)
				if m.Rcode != tc.rcode || !m.AuthenticatedData {
					t.Fatalf("rcode %s AD %v, want %s with AD:\n%v", dns.RcodeToString[m.Rcode], m.AuthenticatedData, dns.RcodeToString[tc.rcode], m)
				}
				got := map[string]bool{}
				for _, rr := range m.Answer {
					if rr.Header().Rrtype == tc.qtype {
						got[strings.ToLower(rdata(rr))] = true
					}
				}
				for _, w := range tc.answer {
					if !got[strings.ToLower(w)] {
						t.Errorf("answer lacks %q: %v", w, m.Answer)
					}
				}
				if tc.answer == nil && len(got) != 0 {
					t.Errorf("want no %s, got %v", dns.TypeToString[tc.qtype], m.Answer)
				}
				if tc.answer != nil && len(tc.answer) == 0 && len(got) == 0 {
					t.Errorf("want a %s set, got %v", dns.TypeToString[tc.qtype], m.Answer)
				}
			})
		}
		if zone == "pre-nsec3.test." {
			// RFC 5155 7.2.8: an NSEC3 owner name is not a name of the
			// zone; the edge holds it as one, and still denies it.
			owner := strings.ToLower(dns.HashName("www."+zone, dns.SHA1, 0, "")) + "." + zone
			t.Run(zone+"/an NSEC3 owner name is NXDOMAIN", func(t *testing.T) {
				if m := validated(t, res, owner, dns.TypeA); m.Rcode != dns.RcodeNameError || !m.AuthenticatedData {
					t.Fatalf("rcode %s AD %v, want NXDOMAIN with AD:\n%v", dns.RcodeToString[m.Rcode], m.AuthenticatedData, m)
				}
			})
		}
		// What unbound validated is the primary's denial chain, not one
		// made at the edge: the NXDOMAIN's proof at the edge is the
		// transferred NSEC or NSEC3 records.
		t.Run(zone+"/the edge's denial records are the primary's chain", func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion("nope."+zone, dns.TypeA)
			q.SetEdns0(4096, true)
			m, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(q, c.edges[0].UDPAddr())
			if err != nil {
				t.Fatal(err)
			}
			want := dns.TypeNSEC
			if zone == "pre-nsec3.test." {
				want = dns.TypeNSEC3
			}
			n := 0
			for _, rr := range m.Ns {
				switch v := rr.(type) {
				case *dns.NSEC:
					n++
					if v.Header().Rrtype != want || strings.HasPrefix(v.NextDomain, `\000.`) {
						t.Errorf("an NSEC made at the edge: %v", v)
					}
				case *dns.NSEC3:
					n++
					if v.Header().Rrtype != want {
						t.Errorf("unexpected %v", v)
					}
				}
			}
			if m.Rcode != dns.RcodeNameError || n == 0 {
				t.Errorf("rcode %s, %d denial records: %v", dns.RcodeToString[m.Rcode], n, m.Ns)
			}
		})
	}
}

// denialOwners returns the NSEC and NSEC3 records of an authority section
// as "owner type" lines, sorted.
func denialOwners(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if t := rr.Header().Rrtype; t == dns.TypeNSEC || t == dns.TypeNSEC3 {
			out = append(out, strings.ToLower(rr.Header().Name)+" "+dns.TypeToString[t])
		}
	}
	slices.Sort(out)
	return out
}

// askDO asks a server directly (no recursion) with DO set.
func askDO(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(4096, true)
	m, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatalf("ask %s %s %s: %v", addr, name, dns.TypeToString[qtype], err)
	}
	return m
}
