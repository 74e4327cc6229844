package xfrout

import (
	"errors"
	"fmt"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/zonecache"
)

// An AXFR sends most names as stored: the zone index keeps each node's
// records in wire form (zonecache, packed.go), and decoding every one into
// a dns.RR only for miekg/dns to pack it again was most of a large zone's
// transfer (docs/BENCHMARKS.md, "Outgoing transfers"). Such records go
// into the reply's dns.Msg as dns.PrivateRR values whose rdata is the
// stored bytes: miekg/dns still packs the message (header, question, each
// record's owner, type, class and TTL) and signs it with its own TSIG code,
// but the rdata is copied, not decoded and re-encoded. The types are never
// registered (dns.PrivateHandle): a PrivateRR packs without it, and
// registering would change how the process unpacks those types.

// rawRdata is stored rdata, packed as it is. Only Pack and Len are used
// (by dns.Msg.Pack); the rest satisfy dns.PrivateRdata.
type rawRdata struct{ b string }

var errRawRdata = errors.New("xfrout: stored rdata is only packed")

func (r *rawRdata) String() string { return fmt.Sprintf(`\# %d %x`, len(r.b), r.b) }

func (r *rawRdata) Parse([]string) error { return errRawRdata }

func (r *rawRdata) Pack(b []byte) (int, error) {
	if len(b) < len(r.b) {
		return 0, dns.ErrBuf
	}
	return copy(b, r.b), nil
}

func (r *rawRdata) Unpack([]byte) (int, error) { return 0, errRawRdata }

func (r *rawRdata) Copy(d dns.PrivateRdata) error {
	o, ok := d.(*rawRdata)
	if !ok {
		return errRawRdata
	}
	o.b = r.b
	return nil
}

func (r *rawRdata) Len() int { return len(r.b) }

// wireRR is a stored record as the reply's message holds it: the record
// and its rdata in one slot of a slab, so that a message's records cost no
// allocation each.
type wireRR struct {
	rr   dns.PrivateRR
	data rawRdata
}

// wireSlab is how many records a slab holds: a 16 KiB message of address
// records is 400-600 of them.
const wireSlab = 1024

// addWire adds the stored records of the node named owner (AppendWire's)
// to the reply, as add does decoded ones.
func (c *chunker) addWire(owner string, recs []zonecache.WireRecord) error {
	for i := range recs {
		r := &recs[i]
		if len(c.slab) == cap(c.slab) {
			// The records already in the message point into the full
			// slab: a new one, and the full one is dropped with the
			// message (flush keeps the last).
			c.slab = make([]wireRR, 0, wireSlab)
		}
		c.slab = c.slab[:len(c.slab)+1]
		w := &c.slab[len(c.slab)-1]
		w.data.b = r.Rdata
		w.rr.Hdr = dns.RR_Header{Name: owner, Rrtype: r.Type, Class: dns.ClassINET, Ttl: r.TTL, Rdlength: uint16(len(r.Rdata))}
		w.rr.Data = &w.data
		c.rrs = append(c.rrs, &w.rr)
		// An upper bound of the record's wire size, as sizeOf's: the
		// owner takes at most one byte more in wire form than in
		// presentation form.
		c.size += len(owner) + 11 + len(r.Rdata)
		if c.size >= chunkBytes {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// how says how an AXFR sends one name.
type how int

const (
	// renderWire: the node's records as stored (AppendWire).
	renderWire how = iota
	// renderDyn: the records rendered when the version was installed
	// (served.dyn: flattened CNAMEs).
	renderDyn
	// renderRules: what the answer rules render for it now
	// (answer.Transfer.Node).
	renderRules
)

// render says how an AXFR of st sends node n, whose served records are
// recs (AppendWire), and with renderDyn the records. answer.Transfer.Node
// renders a name other than what it stores only at the apex (the served
// NS, no SOA), at a name with a proxied record (n.Proxied: without one no
// set is proxied) and at a CNAME it flattens (the apex's, every one with
// flatten all CNAMEs, or one asking for it): those names, and the
// flattened ones the state holds, go through the rules as before; every
// other name renders as stored (appendStored: every served set in Sets
// order, which AppendWire keeps), at or below a zone cut too.
// TestAXFRWireMatchesRules checks it against Node for every name.
func (st *served) render(n *zonecache.Node, recs []zonecache.WireRecord) ([]dns.RR, how) {
	cname := false
	for i := range recs {
		if recs[i].Type == dns.TypeCNAME {
			cname = true
			break
		}
	}
	// Only a name holding a CNAME renders as Dynamic (the flattening
	// case), so only such a name can be in dyn.
	if cname && len(st.dyn) > 0 {
		if rrs, ok := st.dyn[n.Name]; ok {
			return rrs, renderDyn
		}
	}
	if n == st.zone.Apex || n.Proxied() {
		return nil, renderRules
	}
	if cname {
		if st.zone.Header.GetFlattenAllCnames() {
			return nil, renderRules
		}
		if set, ok := n.Info(dns.TypeCNAME); ok && set.Flatten {
			return nil, renderRules
		}
	}
	return nil, renderWire
}

// compressXfr says whether AXFR and IXFR messages compress names. Off:
// a message of stored records is larger uncompressed (16 KiB against about
// 10), but compressing fills a map with every owner name, which made a
// 200,000-name AXFR 0.20 s instead of 0.14 (docs/BENCHMARKS.md). Replies
// of one SOA (reply) are compressed as before.
const compressXfr = false

// warmBatch is how many names an AXFR reads ahead (warm).
const warmBatch = 64

// warm reads the memory the AXFR is about to read for each node of batch
// (the node, then its name's and its records' first and last bytes: a
// string may cross a cache line), a batch of independent loads at a time.
// Walking a large zone, each of the three is a cache miss (the zone heap is far larger than the caches); reading
// them one node after the other waited for each miss in turn, about half
// of a transfer's time in the profile (docs/BENCHMARKS.md), where a loop
// of independent loads has the processor wait for many at once. The
// caller keeps the result (chunker.sink), so that the reads stay.
func warm(batch []*zonecache.Node) byte {
	var x byte
	var lens [warmBatch]int
	for i, n := range batch {
		lens[i] = len(n.Name)
	}
	for i, n := range batch {
		if lens[i] > 0 {
			x ^= n.Name[0] ^ n.Name[lens[i]-1]
		}
		x ^= n.Touch()
	}
	return x
}
