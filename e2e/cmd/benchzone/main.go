// Command benchzone generates the reference zone and query mix of the
// benchmark harness (deploy/bench): about 10,000 names with A, AAAA, CNAME,
// MX and TXT records, and a dnsperf query file of mostly existing names,
// about 10% NXDOMAIN and some CNAMEs. The output is deterministic for a seed.
//
// It also writes the same queries with the letters of every name in random
// case (queries-mixed.txt): what resolvers that use 0x20 (draft-vixie-dnsext-
// dns0x20) send, and what the answer must echo exactly (RFC 4343).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	var (
		zone    = flag.String("zone", "bench.test.", "zone name, fully qualified")
		names   = flag.Int("names", 10000, "number of owner names")
		queries = flag.Int("queries", 200000, "number of queries in the query file")
		out     = flag.String("out", ".bench", "output directory")
		seed    = flag.Uint64("seed", 1, "random seed")
	)
	flag.Parse()
	if err := run(*zone, *names, *queries, *out, *seed); err != nil {
		log.Fatal(err)
	}
}

type owner struct {
	name  string
	types []string
}

func run(zone string, n, nq int, out string, seed uint64) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	zf, err := os.Create(filepath.Join(out, "zone.db"))
	if err != nil {
		return fmt.Errorf("create zone file: %w", err)
	}
	defer zf.Close()
	w := bufio.NewWriter(zf)
	fmt.Fprintf(w, "$ORIGIN %s\n$TTL 300\n", zone)
	fmt.Fprintf(w, "@ 3600 IN SOA ns1.%s hostmaster.%s 1 10000 2400 604800 1800\n", zone, zone)
	fmt.Fprintf(w, "@ 86400 IN NS ns1.%s\n@ 86400 IN NS ns2.%s\n", zone, zone)
	fmt.Fprintf(w, "ns1 IN A 192.0.2.53\nns2 IN A 192.0.2.54\n")
	fmt.Fprintf(w, "@ IN A 192.0.2.1\n@ IN MX 10 mail.%s\n@ IN TXT \"v=spf1 -all\"\n", zone)

	owners := make([]owner, 0, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("host%05d", i)
		o := owner{name: name}
		switch r := rng.IntN(100); {
		case r < 55: // plain address
			fmt.Fprintf(w, "%s IN A 10.%d.%d.%d\n", name, i>>16&255, i>>8&255, i&255)
			o.types = append(o.types, "A")
			if rng.IntN(3) == 0 {
				fmt.Fprintf(w, "%s IN AAAA 2001:db8::%x:%x\n", name, i>>16, i&0xffff)
				o.types = append(o.types, "AAAA")
			}
		case r < 70: // alias to an earlier address name in the zone
			target := 0
			if i > 0 {
				target = rng.IntN(i)
			}
			fmt.Fprintf(w, "%s IN CNAME host%05d\n", name, target)
			o.types = append(o.types, "CNAME")
		case r < 80:
			fmt.Fprintf(w, "%s IN AAAA 2001:db8::%x:%x\n", name, i>>16, i&0xffff)
			o.types = append(o.types, "AAAA")
		case r < 90:
			fmt.Fprintf(w, "%s IN MX 10 mx%d.example.net.\n%s IN A 10.%d.%d.%d\n", name, i%7, name, i>>16&255, i>>8&255, i&255)
			o.types = append(o.types, "MX", "A")
		default:
			fmt.Fprintf(w, "%s IN TXT \"token-%d-%x\"\n", name, i, rng.Uint64())
			o.types = append(o.types, "TXT")
		}
		owners = append(owners, o)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write zone file: %w", err)
	}

	qf, err := os.Create(filepath.Join(out, "queries.txt"))
	if err != nil {
		return fmt.Errorf("create query file: %w", err)
	}
	defer qf.Close()
	mf, err := os.Create(filepath.Join(out, "queries-mixed.txt"))
	if err != nil {
		return fmt.Errorf("create mixed-case query file: %w", err)
	}
	defer mf.Close()
	qw, mw := bufio.NewWriter(qf), bufio.NewWriter(mf)
	// A generator of its own for the case, so that queries.txt stays the
	// same as before the mixed-case file existed.
	caseRng := rand.New(rand.NewPCG(seed^0x20, seed))
	for i := 0; i < nq; i++ {
		var name, t string
		if rng.IntN(10) == 0 {
			name, t = fmt.Sprintf("nx%08x.%s", rng.Uint32(), zone), "A"
		} else {
			o := owners[rng.IntN(len(owners))]
			t = o.types[rng.IntN(len(o.types))]
			if t == "CNAME" {
				t = "A" // what a resolver asks; the answer carries the chain
			}
			name = o.name + "." + zone
		}
		fmt.Fprintf(qw, "%s %s\n", name, t)
		fmt.Fprintf(mw, "%s %s\n", mixCase(caseRng, name), t)
	}
	if err := qw.Flush(); err != nil {
		return fmt.Errorf("write query file: %w", err)
	}
	if err := mw.Flush(); err != nil {
		return fmt.Errorf("write mixed-case query file: %w", err)
	}
	return nil
}

// mixCase returns name with each letter upper-cased with probability one
// half, as a 0x20 resolver spells a question.
func mixCase(rng *rand.Rand, name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' && rng.IntN(2) == 0 {
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
