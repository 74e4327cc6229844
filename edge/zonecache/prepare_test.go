package zonecache

import (
	"testing"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// The DNSSEC signer is attached by the prepare hook, which must see every
// version that becomes visible, whether it came as a full snapshot or as a
// delta, and none that Put refuses.
func TestPrepareRunsOnEveryInstalledVersion(t *testing.T) {
	s := NewSet()
	var seen []uint64
	s.SetPrepare(func(z *Zone) { seen = append(seen, z.Version) })
	z, err := Build(zonetest.Zone(t, zonetest.Header("example.com.", 5), "www IN A 192.0.2.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		zone func() *Zone
		want bool
	}{
		{"full snapshot", func() *Zone { return z }, true},
		{"delta", func() *Zone {
			nz, err := ApplyDelta(s.Get("example.com."), &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 5, ToVersion: 6})
			if err != nil {
				t.Fatal(err)
			}
			return nz
		}, true},
		{"an older version is refused unprepared", func() *Zone { return z }, false},
	}
	for _, st := range steps {
		before := len(seen)
		zz := st.zone()
		if got := s.Put(zz); got != st.want {
			t.Fatalf("%s: Put = %v", st.name, got)
		}
		if prepared := len(seen) > before; prepared != st.want {
			t.Errorf("%s: prepared = %v, want %v", st.name, prepared, st.want)
		}
	}
	if len(seen) != 2 || seen[0] != 5 || seen[1] != 6 {
		t.Errorf("prepared versions %v, want [5 6]", seen)
	}
}
