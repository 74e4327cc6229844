package zonecache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortBaseOrdersAsComparing: the id index sorted by radix comes out
// in compareEntry's order, repeated ids resolved as by a comparison sort
// (the greatest name kept), whether the ids are random (the control
// plane's) or share long prefixes (sequential ones).
func TestSortBaseOrdersAsComparing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	nodes := make([]*Node, 50)
	for i := range nodes {
		nodes[i] = &Node{Name: fmt.Sprintf("n%02d.example.", i)}
	}
	ids := map[string]func(i, n int) string{
		"random":     func(_, _ int) string { return fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()) },
		"sequential": func(i, _ int) string { return fmt.Sprintf("%032x", i) },
		"repeated":   func(_, n int) string { return fmt.Sprintf("%032x", rng.IntN(n/3+1)<<40) },
	}
	for kind, id := range ids {
		for _, n := range []int{0, 1, 2, 47, 49, 1000, 20000} {
			entries := make([]idEntry, n)
			for i := range entries {
				entries[i] = idEntry{id: keyOf(id(i, n)), node: nodes[rng.IntN(len(nodes))]}
			}
			rng.Shuffle(n, func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
			want := slices.Clone(entries)
			slices.SortFunc(want, compareEntry)
			got := slices.Clone(entries)
			radixSort(got, 0)
			if !slices.Equal(got, want) {
				t.Fatalf("%s ids, %d entries: radix order differs from compareEntry's", kind, n)
			}
			x := idIndex{base: slices.Clone(entries)}
			x.sortBase()
			for i, e := range x.base {
				if i > 0 && compareID(x.base[i-1].id, e.id) >= 0 {
					t.Fatalf("%s ids, %d entries: entry %d not after the one before", kind, n, i)
				}
				// The kept entry of an id is its last in compareEntry's order.
				j, _ := slices.BinarySearchFunc(want, e.id, func(w idEntry, k idKey) int { return compareID(w.id, k) })
				for j+1 < len(want) && want[j+1].id == e.id {
					j++
				}
				if want[j] != e {
					t.Fatalf("%s ids, %d entries: id %x keeps %s, want %s", kind, n, e.id, e.node.Name, want[j].node.Name)
				}
			}
		}
	}
}

// BenchmarkSortIDs sorts the id index of a million-record zone (random ids,
// as the control plane's) by radix (sortBase) and by comparison.
//
//	go test -run '^$' -bench SortIDs ./zonecache/
func BenchmarkSortIDs(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	nodes := make([]*Node, 1000)
	for i := range nodes {
		nodes[i] = &Node{Name: fmt.Sprintf("n%03d.example.", i)}
	}
	entries := make([]idEntry, 1283040)
	for i := range entries {
		entries[i] = idEntry{id: keyOf(fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())), node: nodes[i%len(nodes)]}
	}
	a := make([]idEntry, len(entries))
	for _, s := range []struct {
		name string
		sort func([]idEntry)
	}{
		{"radix", func(a []idEntry) { radixSort(a, 0) }},
		{"compare", func(a []idEntry) { slices.SortFunc(a, compareEntry) }},
	} {
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				copy(a, entries)
				s.sort(a)
			}
		})
	}
}

// TestKeyOfDecodesLowerHexOnly: a 32-character lower-case hex id is its 16
// bytes; any other id (upper case, another length, other characters) is
// the first 16 bytes of its SHA-256, as before the one-pass decoding.
func TestKeyOfDecodesLowerHexOnly(t *testing.T) {
	reference := func(id string) idKey {
		var k idKey
		lower := true
		for _, c := range []byte(id) {
			lower = lower && ('0' <= c && c <= '9' || 'a' <= c && c <= 'f')
		}
		if len(id) == 32 && lower {
			if _, err := hex.Decode(k[:], []byte(id)); err == nil {
				return k
			}
		}
		sum := sha256.Sum256([]byte(id))
		copy(k[:], sum[:16])
		return k
	}
	rng := rand.New(rand.NewPCG(7, 8))
	ids := []string{"", "x", "0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789abcdef",
		"0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdefa", "0123456789abcdef0123456789abcdeg",
		"g123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcde\xff", "rec-1"}
	const alphabet = "0123456789abcdefABCDEFgz/:@`\x00\xff"
	for range 20000 {
		b := make([]byte, 32)
		for i := range b {
			if rng.IntN(200) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = "0123456789abcdef"[rng.IntN(16)]
			}
		}
		ids = append(ids, string(b))
	}
	for _, id := range ids {
		if got, want := keyOf(id), reference(id); got != want {
			t.Fatalf("keyOf(%q) = %x, want %x", id, got, want)
		}
		if got, want := keyOf([]byte(id)), reference(id); got != want {
			t.Fatalf("keyOf([]byte(%q)) = %x, want %x", id, got, want)
		}
	}
}
