package zonecache

// MatchKind says how a name matched inside a zone.
type MatchKind uint8

// Kinds of Match.
const (
	// Exact: the name exists (possibly as an empty non-terminal).
	Exact MatchKind = iota
	// Wildcard: the name does not exist but a wildcard at its closest
	// encloser covers it; Node is the wildcard node.
	Wildcard
	// NXDomain: the name does not exist and no wildcard covers it; Node is
	// the closest encloser.
	NXDomain
	// Delegation: the name is at or below a zone cut; Node is the cut.
	Delegation
)

// Match is the result of Zone.Lookup.
type Match struct {
	Kind MatchKind
	Node *Node
}

// maxLabels bounds the labels of a wire-format name (255 octets).
const maxLabels = 128

// Lookup finds name (lower-case, fully qualified, inside the zone) the way
// RFC 1034 4.3.2 and RFC 4592 describe: walk down from the apex; a cut on
// the way refers (except a DS query at the cut itself, which the parent
// answers); the first missing label makes the deepest existing name the
// closest encloser, whose "*" child (if any) is the source of synthesis.
// Any existing name, empty non-terminals included, therefore stops
// wildcards at and below itself. It does not allocate.
func (z *Zone) Lookup(name string, dsQuery bool) Match {
	prefix := len(name) - len(z.Name)
	if z.Name == "." {
		prefix = len(name) - 1
	}
	if prefix <= 0 {
		return Match{Kind: Exact, Node: z.Apex}
	}
	var starts [maxLabels]int
	n := 1
	for i := 0; i < prefix-1 && n < maxLabels; i++ {
		switch name[i] {
		case '\\':
			i++
		case '.':
			starts[n] = i + 1
			n++
		}
	}
	prev := z.Apex
	for j := n - 1; j >= 0; j-- {
		node := z.nodes.get(name[starts[j]:])
		if node == nil {
			if prev.Wildcard != nil {
				return Match{Kind: Wildcard, Node: prev.Wildcard}
			}
			return Match{Kind: NXDomain, Node: prev}
		}
		if node.Delegation && !(j == 0 && dsQuery) {
			return Match{Kind: Delegation, Node: node}
		}
		prev = node
	}
	return Match{Kind: Exact, Node: prev}
}
