package zonecache

import (
	"fmt"
	"testing"
)

// Many zones: every one is found by its names, counted once, and deleting
// one leaves the others (the sharded copy-on-write keeps them all).
func TestSetHoldsManyZones(t *testing.T) {
	s := NewSet()
	const n = 5000
	for i := 0; i < n; i++ {
		if !s.Put(&Zone{Name: fmt.Sprintf("z%d.test.", i), Version: 1}) {
			t.Fatalf("zone %d not installed", i)
		}
	}
	if s.Len() != n || len(s.Names()) != n {
		t.Fatalf("Len = %d, Names = %d, want %d", s.Len(), len(s.Names()), n)
	}
	for i := 0; i < n; i += 97 {
		want := fmt.Sprintf("z%d.test.", i)
		if z := s.Find("www." + want); z == nil || z.Name != want {
			t.Fatalf("Find(www.%s) = %v", want, z)
		}
	}
	if !s.Delete("z7.test.") || s.Delete("z7.test.") {
		t.Fatal("Delete should succeed once")
	}
	if s.Find("a.z7.test.") != nil || s.Find("a.z8.test.") == nil || s.Len() != n-1 {
		t.Fatal("delete removed the wrong zones")
	}
}

// BenchmarkSetPutMany is the initial load of an edge serving many zones.
func BenchmarkSetPutMany(b *testing.B) {
	names := make([]string, 10000)
	for i := range names {
		names[i] = fmt.Sprintf("zone%d.test.", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := NewSet()
		for _, n := range names {
			s.Put(&Zone{Name: n, Version: 1})
		}
	}
}
