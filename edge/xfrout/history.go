package xfrout

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// served is one zone version as the listener transfers it: immutable once
// published, so a transfer that loaded it sends one version from its first
// SOA to its last whatever is installed meanwhile.
type served struct {
	zone *zonecache.Zone
	soa  *dns.SOA
	// enforce is the account's enforce DNS-only every name of this state
	// (and of the history leading to it) was rendered with.
	enforce bool
	// dyn holds the records of the names whose rendering reads more than
	// their node (flattened CNAMEs), as rendered for this version: an AXFR
	// sends these, and the next version's difference starts from them.
	dyn map[string][]dns.RR
	// cuts are the zone's delegation points (answer.Transfer.SetCuts).
	cuts map[string]bool
	// history is the differences that lead to this version, oldest first;
	// the last one ends at soa. records counts the records they hold.
	history []*step
	records int
}

// step is the difference between two consecutive versions (RFC 1995: the
// old SOA, the records deleted, the new SOA, the records added).
type step struct {
	from, to   *dns.SOA
	dels, adds []dns.RR
}

// event is one install or delete seen by the zone set.
type event struct{ old, new *zonecache.Zone }

// maxQueue bounds the events waiting for the history worker. Beyond it
// the events are dropped and every outgoing zone starts a new history
// (transfers fall back to AXFR once), so that a burst never holds many old
// zone versions in memory or blocks the follower.
const maxQueue = 4096

// Installed is the zone set's install hook (zonecache.Set.SetInstalled):
// it queues the pair for the history worker when either version transfers
// out, and returns at once.
func (s *Server) Installed(old, new *zonecache.Zone) {
	if !outgoing(old) && !outgoing(new) {
		return
	}
	s.qmu.Lock()
	if len(s.queue) >= maxQueue {
		s.queue, s.overflow = nil, true
	} else {
		s.queue = append(s.queue, event{old, new})
	}
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func outgoing(z *zonecache.Zone) bool { return z != nil && z.Transfer.Outgoing() }

// runHistory applies queued events in order until ctx ends.
func (s *Server) runHistory(ctx context.Context) {
	for {
		s.qmu.Lock()
		q, overflow := s.queue, s.overflow
		s.queue, s.overflow = nil, false
		s.qmu.Unlock()
		if overflow {
			s.resync(ctx)
		}
		for _, ev := range q {
			s.apply(ctx, ev)
		}
		if len(q) > 0 || overflow {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
	}
}

// resync starts a new history for every outgoing zone the set holds and
// forgets the others: events were lost.
func (s *Server) resync(ctx context.Context) {
	s.log.Warn("outgoing transfer history queue overflowed: every history starts over")
	keep := map[string]*served{}
	for _, name := range s.zones.Names() {
		z := s.zones.Find(name)
		if z != nil && z.Name == name && outgoing(z) {
			keep[name] = s.fresh(ctx, z)
		}
	}
	s.mu.Lock()
	s.states = keep
	s.mu.Unlock()
	s.m.resets.WithLabelValues("overflow").Add(float64(len(keep)))
}

// apply turns one install into the zone's next served state.
func (s *Server) apply(ctx context.Context, ev event) {
	if ev.old != nil && (ev.new == nil || ev.new.Name != ev.old.Name) {
		s.mu.Lock()
		delete(s.states, ev.old.Name)
		s.mu.Unlock()
	}
	if ev.new == nil || !outgoing(ev.new) {
		if ev.new != nil {
			s.mu.Lock()
			delete(s.states, ev.new.Name)
			s.mu.Unlock()
		}
		return
	}
	start := time.Now()
	prev := s.state(ev.new.Name)
	var next *served
	reason := resetReason(prev, ev, s.engine.EnforceDNSOnly(ev.new))
	if reason == "" {
		next = s.advance(ctx, prev, ev.new)
	} else {
		next = s.fresh(ctx, ev.new)
		if prev != nil {
			s.m.resets.WithLabelValues(reason).Inc()
			s.log.Info("outgoing transfer history starts over", zap.String("zone", ev.new.Name),
				zap.Uint32("serial", next.soa.Serial), zap.String("reason", reason))
		}
	}
	s.mu.Lock()
	s.states[ev.new.Name] = next
	s.mu.Unlock()
	s.m.historyApply.Observe(time.Since(start).Seconds())
}

// resetReason says why the next version cannot be expressed as a
// difference from prev ("" when it can): no state yet, a version missed,
// the serial not moving forward, or a setting that changes how every name
// renders (zone status, flatten all CNAMEs, the account's enforce
// DNS-only) changed.
func resetReason(prev *served, ev event, enforce bool) string {
	switch {
	case prev == nil:
		return "new"
	case prev.zone != ev.old:
		return "gap"
	case !serialAfter(ev.new.SOA.Serial, prev.soa.Serial):
		return "serial"
	case active(prev.zone.Header) != active(ev.new.Header),
		prev.zone.Header.GetFlattenAllCnames() != ev.new.Header.GetFlattenAllCnames(),
		prev.zone.Header.GetZoneId() != ev.new.Header.GetZoneId(),
		prev.enforce != enforce:
		return "settings"
	}
	return ""
}

// active mirrors the proxy rule's status test (rules.go, proxiedSet).
func active(h *snapshot.ZoneHeader) bool {
	st := h.GetStatus()
	return st == snapshot.ZoneStatus_ZONE_STATUS_ACTIVE || st == snapshot.ZoneStatus_ZONE_STATUS_UNSPECIFIED
}

// fresh is the served state of z without history: its flattened names are
// rendered now (a walk of the zone looking at CNAME names only).
func (s *Server) fresh(ctx context.Context, z *zonecache.Zone) *served {
	st := &served{zone: z, soa: z.SOA, enforce: s.engine.EnforceDNSOnly(z), dyn: map[string][]dns.RR{}, cuts: map[string]bool{}}
	r := s.engine.Transfer(z, st.enforce)
	z.EachNode(func(n *zonecache.Node) bool {
		if n.Delegation {
			st.cuts[n.Name] = true
		}
		if !n.Has(dns.TypeCNAME) {
			return true
		}
		rrs, info := s.render(ctx, r, n)
		if info.Dynamic {
			st.dyn[n.Name] = rrs
		}
		return true
	})
	return st
}

// render renders one node, counting flattening failures.
func (s *Server) render(ctx context.Context, r *answer.Transfer, n *zonecache.Node) ([]dns.RR, answer.TransferInfo) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.FlattenTimeout)
	defer cancel()
	rrs, info := r.Node(rctx, n, nil)
	if info.Failed {
		s.m.flattenFailed.Inc()
	}
	return rrs, info
}

// advance derives the state of z from prev, the state of the version z
// was installed over: only the names whose node changed, and the
// flattened names, are rendered in both versions and compared.
func (s *Server) advance(ctx context.Context, prev *served, z *zonecache.Zone) *served {
	next := &served{zone: z, soa: z.SOA, enforce: prev.enforce, dyn: make(map[string][]dns.RR, len(prev.dyn)), cuts: prev.cuts}
	cutsChanged := false
	zonecache.ChangedNodes(prev.zone, z, func(name string, o, n *zonecache.Node) {
		if (o != nil && o.Delegation) != (n != nil && n.Delegation) {
			cutsChanged = true
		}
	})
	if cutsChanged {
		// Copied, never written: older states and transfers hold the map.
		next.cuts = make(map[string]bool, len(prev.cuts)+1)
		for k := range prev.cuts {
			next.cuts[k] = true
		}
		zonecache.ChangedNodes(prev.zone, z, func(name string, o, n *zonecache.Node) {
			if n != nil && n.Delegation {
				next.cuts[name] = true
			} else {
				delete(next.cuts, name)
			}
		})
	}
	// Both renderers know the cuts of their version (and so render names
	// below a cut as stored, as the referral answers them).
	ro := s.engine.Transfer(prev.zone, prev.enforce)
	ro.SetCuts(prev.cuts)
	rn := s.engine.Transfer(z, prev.enforce)
	rn.SetCuts(next.cuts)
	d := &differ{}
	seen := map[string]bool{}
	zonecache.ChangedNodes(prev.zone, z, func(name string, o, n *zonecache.Node) {
		seen[name] = true
		var before []dns.RR
		if rrs, ok := prev.dyn[name]; ok {
			before = rrs
		} else if o != nil {
			before, _ = ro.Node(ctx, o, nil) // not dynamic: the node alone
		}
		var after []dns.RR
		if n != nil {
			var info answer.TransferInfo
			after, info = s.render(ctx, rn, n)
			if info.Dynamic {
				next.dyn[name] = after
			}
		}
		d.add(before, after)
	})
	// Flattened names read other names: render them again whatever
	// changed.
	for name, before := range prev.dyn {
		if seen[name] {
			continue
		}
		n := z.Node(name)
		var after []dns.RR
		if n != nil {
			var info answer.TransferInfo
			after, info = s.render(ctx, rn, n)
			if info.Dynamic {
				next.dyn[name] = after
			}
		}
		d.add(before, after)
	}
	st := &step{from: prev.soa, to: z.SOA, dels: d.dels, adds: d.adds}
	size := len(st.dels) + len(st.adds) + 2
	if size > s.cfg.HistoryRecords {
		// Larger than the whole budget: only an AXFR reaches this version.
		s.m.resets.WithLabelValues("size").Inc()
		return next
	}
	// The previous history is shared, never written: transfers may hold it.
	hist := make([]*step, 0, len(prev.history)+1)
	hist = append(append(hist, prev.history...), st)
	total := prev.records + size
	for len(hist) > s.cfg.HistoryVersions || total > s.cfg.HistoryRecords {
		total -= len(hist[0].dels) + len(hist[0].adds) + 2
		hist = hist[1:]
	}
	next.history, next.records = hist, total
	return next
}

// differ accumulates the records deleted and added between two
// renderings of names.
type differ struct{ dels, adds []dns.RR }

// add compares one name's records before and after (a TTL change is a
// delete and an add, as in any IXFR).
func (d *differ) add(before, after []dns.RR) {
	if len(before) == 0 && len(after) == 0 {
		return
	}
	kb := keys(before)
	ka := keys(after)
	for i, k := range kb {
		if !containsKey(ka, k) {
			d.dels = append(d.dels, before[i])
		}
	}
	for i, k := range ka {
		if !containsKey(kb, k) {
			d.adds = append(d.adds, after[i])
		}
	}
}

func containsKey(ks []string, k string) bool {
	for _, o := range ks {
		if o == k {
			return true
		}
	}
	return false
}

// keys returns each record's identity in a transfer: owner, type, class,
// TTL and RDATA in canonical (lower-case owner, uncompressed) wire form.
func keys(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = rrKey(rr)
	}
	return out
}

func rrKey(rr dns.RR) string {
	buf := make([]byte, dns.Len(rr)+64)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return rr.String()
	}
	return string(buf[:n])
}

// condense merges the steps from the one starting at serial from to the
// last into one difference (RFC 1995 section 5): a record added then
// deleted (or deleted then added) cancels out. ok is false when no step
// starts at from.
func condense(hist []*step, from uint32) (dels, adds []dns.RR, ok bool) {
	i := -1
	for j, st := range hist {
		if st.from.Serial == from {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, nil, false
	}
	if i == len(hist)-1 {
		return hist[i].dels, hist[i].adds, true
	}
	type entry struct {
		rr  dns.RR
		add bool
	}
	net := map[string]entry{}
	var order []string
	for _, st := range hist[i:] {
		for _, rr := range st.dels {
			k := rrKey(rr)
			if e, held := net[k]; held && e.add {
				delete(net, k) // added earlier in the range, deleted now
				continue
			}
			if _, held := net[k]; !held {
				order = append(order, k)
			}
			net[k] = entry{rr, false}
		}
		for _, rr := range st.adds {
			k := rrKey(rr)
			if e, held := net[k]; held && !e.add {
				delete(net, k) // deleted earlier in the range, back now
				continue
			}
			if _, held := net[k]; !held {
				order = append(order, k)
			}
			net[k] = entry{rr, true}
		}
	}
	for _, k := range order {
		e, held := net[k]
		if !held {
			continue
		}
		delete(net, k) // a key may be in order twice
		if e.add {
			adds = append(adds, e.rr)
		} else {
			dels = append(dels, e.rr)
		}
	}
	return dels, adds, true
}

// serialAfter reports whether a is after b in RFC 1982 serial arithmetic.
func serialAfter(a, b uint32) bool {
	return a != b && int32(a-b) > 0
}

// u16 reads a big-endian length prefix.
func u16(b []byte) int { return int(binary.BigEndian.Uint16(b)) }
