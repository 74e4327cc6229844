package zonecache

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// TestNodeIndexKeepsEveryNameReachable writes and deletes random names
// through writers (copied shards, growth, deletion that moves entries
// back) and checks the index against a map after every version, and that
// older versions are untouched.
func TestNodeIndexKeepsEveryNameReachable(t *testing.T) {
	for _, start := range []int{0, 1, 300, 5000, 40000} { // 40000: three groups of shards
		t.Run(fmt.Sprint(start), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(start), 7))
			x := newNodeIndex(start + 1)
			want := map[string]*Node{}
			for i := range start {
				n := &Node{Name: fmt.Sprintf("n%d.test.", i)}
				x.set(n)
				want[n.Name] = n
			}
			check := func(x nodeIndex, want map[string]*Node) {
				t.Helper()
				seen := 0
				x.each(func(n *Node) bool { seen++; return true })
				if seen != len(want) {
					t.Fatalf("index holds %d names, want %d", seen, len(want))
				}
				for name, n := range want {
					if got := x.get(name); got != n {
						t.Fatalf("get(%q) = %v, want %v", name, got, n)
					}
					if got := nodeBytes(&x, []byte(name)); got != n {
						t.Fatalf("nodeBytes(%q) = %v, want %v", name, got, n)
					}
				}
				if x.get("absent.test.") != nil {
					t.Fatal("absent name found")
				}
			}
			check(x, want)
			for range 200 {
				prev, prevWant := x, maps.Clone(want)
				w := newNodeWriter(x)
				for range rng.IntN(50) {
					name := fmt.Sprintf("n%d.test.", rng.IntN(start+200))
					if rng.IntN(2) == 0 {
						n := &Node{Name: name}
						w.set(n)
						want[name] = n
					} else {
						w.del(name)
						delete(want, name)
					}
				}
				x = w.s
				check(x, want)
				check(prev, prevWant)
			}
		})
	}
}
