package zonecache

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// describe renders every name of a zone with its sets, flags and wildcard,
// so that two zones can be compared whatever their internal layout.
func describe(z *Zone) string {
	var lines []string
	z.nodes.each(func(n *Node) bool {
		if z.Node(n.Name) != n {
			lines = append(lines, "unreachable in the index: "+n.Name)
		}
		var sets []string
		for _, s := range n.Sets() {
			var rrs []string
			for _, rr := range s.RRs {
				rrs = append(rrs, rr.String())
			}
			slices.Sort(rrs)
			sets = append(sets, fmt.Sprintf("%d p=%v m=%v f=%v ttl=%d %s", s.Type, s.Proxied, s.Managed, s.Flatten, s.MinTTL, strings.Join(rrs, "|")))
		}
		slices.Sort(sets)
		wc := ""
		if n.Wildcard != nil {
			wc = n.Wildcard.Name
		}
		lines = append(lines, fmt.Sprintf("%s deleg=%v wc=%s children=%d [%s]", n.Name, n.Delegation, wc, n.children, strings.Join(sets, "; ")))
		return true
	})
	slices.Sort(lines)
	return fmt.Sprintf("%s v%d serial=%d apex=%v names=%d\n%s", z.Name, z.Version, z.SOA.Serial, z.Apex == z.Node(z.Name), z.Len(), strings.Join(lines, "\n"))
}

// records returns a snapshot's records by id.
func records(s *snapshot.Zone) map[string]*snapshot.Record {
	m := map[string]*snapshot.Record{}
	for _, r := range s.GetRecords() {
		m[r.GetId()] = r
	}
	return m
}

func fullZone(name string, version uint64, recs map[string]*snapshot.Record) *snapshot.Zone {
	s := &snapshot.Zone{Header: zonetest.Header(name, version)}
	for _, r := range recs {
		s.Records = append(s.Records, r)
	}
	return s
}

func TestApplyDeltaEqualsFullBuild(t *testing.T) {
	const name = "example.com."
	base := zonetest.Zone(t, zonetest.Header(name, 10), `
@         IN A 192.0.2.1
www       IN A 192.0.2.1
www       IN AAAA 2001:db8::1
*         IN A 192.0.2.2
a.b.ent   IN A 192.0.2.3
deleg     IN NS ns.deleg
ns.deleg  IN A 192.0.2.4
*.sub     IN TXT "sub wildcard"
alias     IN CNAME www ; flatten
prox      IN A 192.0.2.9 ; proxied managed=lb
`)
	tests := []struct {
		name    string
		deletes []string
		upserts string // zone-file text; ids u0, u1, ...
		reuse   map[int]string
	}{
		{name: "add a record at a new deep name creates the empty non-terminals", upserts: "x.y.z IN A 192.0.2.50"},
		{name: "add to an existing set", upserts: "www IN A 192.0.2.77"},
		{name: "delete the only record of a deep name removes its empty parents", deletes: []string{"re4"}},
		{name: "delete the wildcard unlinks it", deletes: []string{"rd3"}},
		{name: "delete a delegation", deletes: []string{"rf5"}},
		{name: "replace a record by id moves it to another name", upserts: "moved IN A 192.0.2.1", reuse: map[int]string{0: "rb1"}},
		{name: "new wildcard below an existing name", upserts: "*.www IN A 192.0.2.60"},
		{name: "duplicate rr under two ids stays while one remains", upserts: "www IN A 192.0.2.1", reuse: map[int]string{0: "dup"}},
		{name: "unknown delete is ignored", deletes: []string{"nope"}},
		{name: "apex ns and soa upserts are not data", upserts: "@ IN NS ns9.example.net.\n@ IN SOA a. b. 1 2 3 4 5"},
		{name: "delete and re-add everything at a name", deletes: []string{"rb1", "rc2"}, upserts: "www IN TXT \"back\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, err := Build(base)
			if err != nil {
				t.Fatal(err)
			}
			want := records(base)
			d := &snapshot.ZoneDelta{Name: name, FromVersion: 10, ToVersion: 12, Deletes: tt.deletes}
			for _, id := range tt.deletes {
				delete(want, id)
			}
			if tt.upserts != "" {
				ups := zonetest.Zone(t, zonetest.Header(name, 12), tt.upserts).Records
				for i, r := range ups {
					r.Id = fmt.Sprintf("u%d", i)
					if id, ok := tt.reuse[i]; ok {
						r.Id = id
					}
					want[r.Id] = r
				}
				d.Upserts = ups
			}
			before := describe(held)
			got, err := ApplyDelta(held, d)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := Build(fullZone(name, 12, want))
			if err != nil {
				t.Fatal(err)
			}
			if g, w := describe(got), describe(exp); g != w {
				t.Errorf("delta result differs from full build\n got: %s\nwant: %s", g, w)
			}
			if describe(held) != before {
				t.Error("the held zone changed under its readers")
			}
		})
	}
}

func TestApplyDeltaRandomChainsMatchFullBuilds(t *testing.T) {
	const name = "rand.test."
	rng := rand.New(rand.NewPCG(1, 2))
	labels := []string{"a", "b", "c", "*", "d"}
	randName := func() string {
		n := 1 + rng.IntN(3)
		var parts []string
		for range n {
			parts = append(parts, labels[rng.IntN(len(labels))])
		}
		return strings.Join(parts, ".")
	}
	types := []string{"IN A 192.0.2.%d", "IN TXT \"t%d\"", "IN NS ns%d.example.net.", "IN AAAA 2001:db8::%d"}
	recText := func() string {
		return randName() + " " + fmt.Sprintf(types[rng.IntN(len(types))], rng.IntN(5))
	}
	cur := map[string]*snapshot.Record{}
	z, err := Build(fullZone(name, 1, cur))
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	for v := uint64(2); v < 300; v++ {
		d := &snapshot.ZoneDelta{Name: name, FromVersion: v - 1, ToVersion: v}
		ids := make([]string, 0, len(cur))
		for id := range cur {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for range rng.IntN(3) {
			if len(ids) > 0 {
				id := ids[rng.IntN(len(ids))]
				d.Deletes = append(d.Deletes, id)
				delete(cur, id)
			}
		}
		for range rng.IntN(4) {
			r := zonetest.Zone(t, zonetest.Header(name, v), recText()).Records[0]
			if len(ids) > 0 && rng.IntN(3) == 0 {
				r.Id = ids[rng.IntN(len(ids))] // replace an existing record
			} else {
				r.Id = fmt.Sprintf("n%d", next)
				next++
			}
			d.Upserts = append(d.Upserts, r)
			cur[r.Id] = r
		}
		if z, err = ApplyDelta(z, d); err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		exp, err := Build(fullZone(name, v, cur))
		if err != nil {
			t.Fatal(err)
		}
		if g, w := describe(z), describe(exp); g != w {
			t.Fatalf("version %d: delta chain differs from full build\n got: %s\nwant: %s", v, g, w)
		}
	}
}

func TestApplyDeltaRejectsWhatDoesNotApply(t *testing.T) {
	z := build(t, "example.com.", 5, "www IN A 192.0.2.1")
	good := zonetest.Zone(t, zonetest.Header("example.com.", 6), "x IN A 192.0.2.2").Records
	tests := []struct {
		name string
		d    *snapshot.ZoneDelta
	}{
		{"other zone", &snapshot.ZoneDelta{Name: "example.org.", FromVersion: 5, ToVersion: 6}},
		{"gap", &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 6, ToVersion: 7}},
		{"already held", &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 4, ToVersion: 5}},
		{"not forward", &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 5, ToVersion: 5}},
		{"other zone id", &snapshot.ZoneDelta{Name: "example.com.", ZoneId: "other", FromVersion: 5, ToVersion: 6}},
		{"garbage record", &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 5, ToVersion: 6,
			Upserts: append(good, &snapshot.Record{Id: "bad", Rr: []byte{1, 2}})}},
		{"record outside the zone", &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 5, ToVersion: 6,
			Upserts: []*snapshot.Record{{Id: "o", Rr: packRR(t, "www.example.org. 300 IN A 192.0.2.1")}}}},
		{"header of another version", &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 5, ToVersion: 6,
			Header: zonetest.Header("example.com.", 7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := describe(z)
			if _, err := ApplyDelta(z, tt.d); err == nil {
				t.Fatal("applied")
			}
			if describe(z) != before {
				t.Error("a rejected delta changed the held zone")
			}
		})
	}
}

func TestApplyDeltaHeaderReplacesSOAAndNS(t *testing.T) {
	z := build(t, "example.com.", 5, "www IN A 192.0.2.1")
	h := zonetest.Header("example.com.", 9)
	h.NameServers = []string{"ns7.zonegrid.test.", "ns8.zonegrid.test."}
	h.Soa.Minimum = 60
	nz, err := ApplyDelta(z, &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 5, ToVersion: 9, Header: h})
	if err != nil {
		t.Fatal(err)
	}
	if nz.Version != 9 || nz.SOA.Serial != 9 || nz.NegSOA.Hdr.Ttl != 60 {
		t.Errorf("header not applied: version %d serial %d neg ttl %d", nz.Version, nz.SOA.Serial, nz.NegSOA.Hdr.Ttl)
	}
	if got := nz.Apex.Set(2).RRs[0].String(); !strings.Contains(got, "ns7.zonegrid.test.") {
		t.Errorf("apex NS %s, want ns7", got)
	}
	// Without a header, only version and serial move; a delta starting
	// before the held version (a full snapshot taken while the zone did not
	// change) applies too.
	nz2, err := ApplyDelta(nz, &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 8, ToVersion: 11})
	if err != nil {
		t.Fatal(err)
	}
	if nz2.SOA.Serial != 11 || nz2.Header.GetVersion() != 11 || nz.SOA.Serial != 9 || nz2.NegSOA.Hdr.Ttl != 60 {
		t.Errorf("serial %d version %d (old serial %d)", nz2.SOA.Serial, nz2.Header.GetVersion(), nz.SOA.Serial)
	}
}

// Readers of a held zone keep seeing one consistent version while deltas
// derive newer ones (run with -race).
func TestApplyDeltaIsSafeForConcurrentReaders(t *testing.T) {
	s := NewSet()
	s.Put(build(t, "example.com.", 1, "www IN A 192.0.2.1"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := uint64(0)
		for {
			select {
			case <-stop:
				return
			default:
			}
			z := s.Find("www.example.com.")
			if z.Version < last {
				t.Errorf("version went back from %d to %d", last, z.Version)
				return
			}
			last = z.Version
			if m := z.Lookup("www.example.com.", false); m.Kind != Exact || len(m.Node.Sets()) != 1 {
				t.Errorf("version %d: www %v", z.Version, m)
				return
			}
		}
	}()
	for v := uint64(2); v < 200; v++ {
		ups := zonetest.Zone(t, zonetest.Header("example.com.", v), fmt.Sprintf("www IN A 192.0.2.%d", v%250)).Records
		ups[0].Id = "ra0"
		nz, err := ApplyDelta(s.Get("example.com."), &snapshot.ZoneDelta{Name: "example.com.", FromVersion: v - 1, ToVersion: v, Upserts: ups})
		if err != nil {
			t.Fatal(err)
		}
		if !s.Put(nz) {
			t.Fatalf("version %d not installed", v)
		}
	}
	close(stop)
	wg.Wait()
}

// The sharded index keeps lookups free of allocations, also on a zone
// derived by a delta.
func TestLookupDoesNotAllocate(t *testing.T) {
	z := build(t, "example.com.", 1, "www IN A 192.0.2.1\n* IN A 192.0.2.2")
	ups := zonetest.Zone(t, zonetest.Header("example.com.", 2), "x.y IN A 192.0.2.3").Records
	z, err := ApplyDelta(z, &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 1, ToVersion: 2, Upserts: ups})
	if err != nil {
		t.Fatal(err)
	}
	name := []byte("x.y.example.com.")
	if n := testing.AllocsPerRun(100, func() {
		_ = z.Lookup("a.b.www.example.com.", false)
		_ = z.Lookup("nope.example.com.", false)
		_ = z.NodeBytes(name)
	}); n != 0 {
		t.Errorf("%v allocations per lookup", n)
	}
}
