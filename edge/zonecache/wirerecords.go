package zonecache

// WireRecord is one stored record of a node in the wire form the node
// keeps it in (packed.go): its owner is the node's name and its class IN.
// For readers that send records on as they are stored (an outgoing AXFR),
// which then need not decode each record into a dns.RR and pack it again.
type WireRecord struct {
	Type uint16
	TTL  uint32
	// Rdata is uncompressed, as dns.PackRR writes it. It shares the
	// node's memory (immutable, like the zone): never modify it.
	Rdata string
}

// AppendWire appends to dst the node's served records (duplicates left
// out, as Sets leaves them out) in the order Sets returns them: sets in
// the order of their first record, each set's records in stored order.
// At the apex the synthesized SOA and NS are among them, as in Sets.
// Nothing is decoded; the query path never calls it.
func (n *Node) AppendWire(dst []WireRecord) []WireRecord {
	start := len(dst)
	grouped := true
	var typesBuf [8]uint16
	types := typesBuf[:0]
	for off := 0; off < len(n.data); {
		r := packedRec{n.data, off}
		off = r.end()
		if !r.served() {
			continue
		}
		t := r.rrtype()
		if len(types) == 0 || types[len(types)-1] != t {
			// A type met again after another: the sets are interleaved
			// and must be regrouped below.
			for _, x := range types {
				if x == t {
					grouped = false
				}
			}
			if grouped {
				types = append(types, t)
			}
		}
		dst = append(dst, WireRecord{Type: t, TTL: r.ttl(), Rdata: r.rdata()})
	}
	if grouped {
		return dst
	}
	// Rare (records of one type added apart): regroup by the order of
	// each type's first record, stably.
	recs := append([]WireRecord(nil), dst[start:]...)
	dst = dst[:start]
	for i, r := range recs {
		first := true
		for _, o := range recs[:i] {
			if o.Type == r.Type {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		for _, o := range recs[i:] {
			if o.Type == r.Type {
				dst = append(dst, o)
			}
		}
	}
	return dst
}

// Touch returns the first and last bytes of the node's records xored (0
// for an empty node). It does nothing else: a reader about to walk many
// nodes (an outgoing AXFR) reads them for a batch of nodes first, so that
// their cache misses (one or two lines each) overlap instead of coming one
// at a time.
func (n *Node) Touch() byte {
	if n.data == "" {
		return 0
	}
	return n.data[0] ^ n.data[len(n.data)-1]
}
