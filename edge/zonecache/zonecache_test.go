package zonecache

import (
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

func build(t *testing.T, name string, version uint64, text string) *Zone {
	t.Helper()
	z, err := Build(zonetest.Zone(t, zonetest.Header(name, version), text))
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func packRR(t *testing.T, s string) []byte {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 512)
	n, err := dns.PackRR(rr, b, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return b[:n]
}

func TestBuildRejectsBadSnapshots(t *testing.T) {
	good := zonetest.Header("example.com.", 1)
	tests := []struct {
		name string
		zone *snapshot.Zone
	}{
		{"no header", &snapshot.Zone{}},
		{"name not normalized", &snapshot.Zone{Header: zonetest.Header("Example.COM", 1)}},
		{"records left in the object store", &snapshot.Zone{Header: good, RecordsObject: "example.com"}},
		{"garbage record", &snapshot.Zone{Header: good, Records: []*snapshot.Record{{Id: "x", Rr: []byte{1, 2, 3}}}}},
		{"empty record", &snapshot.Zone{Header: good, Records: []*snapshot.Record{{Id: "x"}}}},
		{"owner outside the zone", &snapshot.Zone{Header: good, Records: []*snapshot.Record{{Id: "x", Rr: packRR(t, "www.example.org. 300 IN A 192.0.2.1")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if z, err := Build(tt.zone); err == nil {
				t.Errorf("built %v", z.Name)
			}
		})
	}
}

func TestLookupFollowsClosestEncloserRules(t *testing.T) {
	z := build(t, "example.com.", 1, `
www       IN A 192.0.2.1
*         IN A 192.0.2.2
a.b.ent   IN A 192.0.2.3
deleg     IN NS ns.deleg
ns.deleg  IN A 192.0.2.4
x.*.lit   IN A 192.0.2.5
*.sub     IN TXT "sub wildcard"
`)
	tests := []struct {
		name     string
		qname    string
		ds       bool
		kind     MatchKind
		nodeName string
	}{
		{"apex", "example.com.", false, Exact, "example.com."},
		{"exact", "www.example.com.", false, Exact, "www.example.com."},
		{"wildcard", "nope.example.com.", false, Wildcard, "*.example.com."},
		{"wildcard below an existing name's sibling", "x.y.example.com.", false, Wildcard, "*.example.com."},
		{"below an exact name is nxdomain", "x.www.example.com.", false, NXDomain, "www.example.com."},
		{"empty non-terminal exists", "b.ent.example.com.", false, Exact, "b.ent.example.com."},
		{"below empty non-terminal", "z.ent.example.com.", false, NXDomain, "ent.example.com."},
		{"delegation at cut", "deleg.example.com.", false, Delegation, "deleg.example.com."},
		{"delegation below cut", "a.b.deleg.example.com.", false, Delegation, "deleg.example.com."},
		{"ds at cut is parent side", "deleg.example.com.", true, Exact, "deleg.example.com."},
		{"ds below cut is referred", "ns.deleg.example.com.", true, Delegation, "deleg.example.com."},
		{"empty literal-star name is no wildcard", "q.lit.example.com.", false, NXDomain, "lit.example.com."},
		{"deeper wildcard wins", "q.sub.example.com.", false, Wildcard, "*.sub.example.com."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := z.Lookup(tt.qname, tt.ds)
			if m.Kind != tt.kind || m.Node.Name != tt.nodeName {
				t.Errorf("got kind %d node %s, want kind %d node %s", m.Kind, m.Node.Name, tt.kind, tt.nodeName)
			}
		})
	}
}

func TestSetNeverGoesBackInVersion(t *testing.T) {
	s := NewSet()
	steps := []struct {
		version uint64
		applied bool
		held    uint64
	}{{5, true, 5}, {4, false, 5}, {5, false, 5}, {6, true, 6}}
	for _, st := range steps {
		if got := s.Put(build(t, "example.com.", st.version, "")); got != st.applied {
			t.Errorf("put version %d applied=%v, want %v", st.version, got, st.applied)
		}
		if v, _ := s.Version("example.com."); v != st.held {
			t.Errorf("after version %d held %d, want %d", st.version, v, st.held)
		}
	}
	if !s.Delete("example.com.") || s.Get("example.com.") != nil {
		t.Errorf("delete failed")
	}
}

func TestSetFindsLongestZone(t *testing.T) {
	s := NewSet()
	for _, n := range []string{"com.", "example.com.", "sub.example.com."} {
		s.Put(build(t, n, 1, ""))
	}
	tests := map[string]string{
		"a.b.sub.example.com.": "sub.example.com.",
		"sub.example.com.":     "sub.example.com.",
		"xsub.example.com.":    "example.com.",
		"other.com.":           "com.",
		"example.org.":         "",
		".":                    "",
	}
	for q, want := range tests {
		got := ""
		if z := s.Find(q); z != nil {
			got = z.Name
		}
		if got != want {
			t.Errorf("Find(%q) = %q, want %q", q, got, want)
		}
	}
	s.Put(build(t, ".", 1, ""))
	if z := s.Find("example.org."); z == nil || z.Name != "." {
		t.Errorf("root zone not found for example.org.")
	}
}

func TestSetReadersSeeWholeZonesDuringUpdates(t *testing.T) {
	s := NewSet()
	s.Put(build(t, "example.com.", 1, "www IN A 192.0.2.1\n"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				z := s.Find("www.example.com.")
				if z == nil || z.Node("www.example.com.") == nil {
					t.Error("reader saw a missing zone or name")
					return
				}
			}
		})
	}
	for v := uint64(2); v < 200; v++ {
		s.Put(build(t, "example.com.", v, "www IN A 192.0.2.1\n"))
	}
	close(stop)
	wg.Wait()
}

func TestAccountsVersioned(t *testing.T) {
	a := NewAccounts()
	a.Put(&snapshot.Account{AccountId: "a", Version: 2, EnforceDnsOnly: true})
	a.Put(&snapshot.Account{AccountId: "a", Version: 1})
	if !a.EnforceDNSOnly("a") {
		t.Error("older account settings replaced newer ones")
	}
	if a.EnforceDNSOnly("unknown") {
		t.Error("unknown account enforces DNS-only")
	}
	a.Delete("a")
	if a.EnforceDNSOnly("a") {
		t.Error("deleted account still enforces")
	}
}
