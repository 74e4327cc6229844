package xfrout

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/xfrauth"
	"github.com/zonegrid/zonegrid/edge/zonecache"
)

// chunkBytes is the uncompressed size after which an AXFR/IXFR message is
// sent and the next one started: well under the 65,535 bytes of a TCP DNS
// message even with a TSIG, and small enough that a stalled client is
// noticed at the next write.
const chunkBytes = 16 << 10

func (s *Server) serveTCP(ctx context.Context, l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("xfr accept failed", zap.Error(err))
			time.Sleep(50 * time.Millisecond)
			continue
		}
		src := xfrauth.SourceOf(c.RemoteAddr())
		if !s.admit(c, src) {
			s.m.requests.WithLabelValues("conn", "busy").Inc()
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.release(c, src)
			s.serveConn(ctx, c, src)
		}()
	}
}

// admit registers a connection unless the total or the source's share is
// used up.
func (s *Server) admit(c net.Conn, src netip.Addr) bool {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	k := src.String()
	if !s.started || len(s.conns) >= s.cfg.MaxConns || s.perSrc[k] >= s.cfg.MaxConnsPerSource {
		return false
	}
	s.conns[c] = struct{}{}
	s.perSrc[k]++
	return true
}

func (s *Server) release(c net.Conn, src netip.Addr) {
	c.Close()
	s.cmu.Lock()
	defer s.cmu.Unlock()
	delete(s.conns, c)
	k := src.String()
	if s.perSrc[k]--; s.perSrc[k] <= 0 {
		delete(s.perSrc, k)
	}
}

// serveConn answers the requests of one TCP connection until it is idle
// for IdleTimeout, closes, or a write fails.
func (s *Server) serveConn(ctx context.Context, c net.Conn, src netip.Addr) {
	var lenBuf [2]byte
	var out []byte
	write := func(b []byte) error {
		if len(b) > dns.MaxMsgSize {
			return fmt.Errorf("message of %d bytes", len(b))
		}
		c.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		// One write per message (length and body), from a buffer reused
		// for the connection's life.
		out = append(binary.BigEndian.AppendUint16(out[:0], uint16(len(b))), b...)
		_, err := c.Write(out)
		return err
	}
	for ctx.Err() == nil {
		c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		n := u16(lenBuf[:])
		if n < 12 {
			return // not even a header: nothing to answer
		}
		raw := make([]byte, n)
		if _, err := io.ReadFull(c, raw); err != nil {
			return
		}
		if err := s.handle(ctx, raw, src, true, write); err != nil {
			s.log.Info("outgoing transfer ended early", zap.String("client", src.String()), zap.Error(err))
			return
		}
	}
}

func (s *Server) serveUDP(ctx context.Context, pc net.PacketConn) {
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n < 12 {
			continue
		}
		raw := append([]byte(nil), buf[:n]...)
		_ = s.handle(ctx, raw, xfrauth.SourceOf(from), false, func(b []byte) error {
			_, err := pc.WriteTo(b, from)
			return err
		})
	}
}

// handle answers one request. The error is a failed write (the connection
// is then closed); every DNS-level failure is an answer.
func (s *Server) handle(ctx context.Context, raw []byte, src netip.Addr, tcp bool, write func([]byte) error) error {
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil {
		if raw[2]&0x80 != 0 {
			return nil // a response: never answered
		}
		s.m.requests.WithLabelValues("other", "formerr").Inc()
		return write(headerOnly(raw, dns.RcodeFormatError))
	}
	if req.Response {
		return nil
	}
	typ := "other"
	if len(req.Question) == 1 {
		switch req.Question[0].Qtype {
		case dns.TypeSOA:
			typ = "soa"
		case dns.TypeAXFR:
			typ = "axfr"
		case dns.TypeIXFR:
			typ = "ixfr"
		}
	}
	fail := func(rcode int, result string) error {
		s.m.requests.WithLabelValues(typ, result).Inc()
		m := new(dns.Msg)
		m.SetRcode(req, rcode)
		b, err := m.Pack()
		if err != nil {
			return err
		}
		return write(b)
	}
	if req.Opcode != dns.OpcodeQuery {
		return fail(dns.RcodeNotImplemented, "formerr")
	}
	if len(req.Question) != 1 {
		return fail(dns.RcodeFormatError, "formerr")
	}
	q := req.Question[0]
	st := s.state(strings.ToLower(dns.Fqdn(q.Name)))
	// Unknown zone, not transferred out, or not for this source: the same
	// REFUSED, so that a stranger learns nothing about which zones exist.
	if st == nil || q.Qclass != dns.ClassINET || !st.zone.Transfer.TransferAllowed(src) {
		return fail(dns.RcodeRefused, "refused")
	}
	key := st.zone.Transfer.TSIG()
	var tsig *dns.TSIG
	if t := req.IsTsig(); t != nil {
		tsig = t
		if res, ok := s.checkTSIG(raw, req, t, key); !ok {
			s.m.requests.WithLabelValues(typ, "notauth").Inc()
			return write(res)
		}
	} else if key != nil {
		// A key is linked: "all peers are expected to also use the same
		// TSIG"; an unsigned request is refused like a stranger's.
		return fail(dns.RcodeRefused, "refused")
	}
	w := &signer{write: write}
	if tsig != nil {
		w.key, w.mac = key, tsig.MAC
	}
	switch q.Qtype {
	case dns.TypeSOA:
		s.m.requests.WithLabelValues(typ, "soa").Inc()
		return w.send(s.reply(req, st.soa))
	case dns.TypeIXFR:
		if len(req.Ns) != 1 || req.Ns[0].Header().Rrtype != dns.TypeSOA {
			return fail(dns.RcodeFormatError, "formerr")
		}
		have := req.Ns[0].(*dns.SOA).Serial
		// Up to date, or ahead of us (RFC 1995 section 2: "If an IXFR
		// query with the same or newer version number than that of the
		// server is received, it is replied to with a single SOA record of
		// the server's current version"), or over UDP, where the single
		// SOA tells the client to come back over TCP.
		if !tcp || !serialAfter(st.soa.Serial, have) {
			s.m.requests.WithLabelValues(typ, "uptodate").Inc()
			return w.send(s.reply(req, st.soa))
		}
		return s.transfer(ctx, req, st, w, typ, have)
	case dns.TypeAXFR:
		if !tcp {
			// RFC 5936 section 4.2: AXFR is a TCP exchange.
			return fail(dns.RcodeFormatError, "formerr")
		}
		return s.transfer(ctx, req, st, w, typ, 0)
	}
	return fail(dns.RcodeRefused, "refused")
}

// checkTSIG verifies a signed request against the zone's key (RFC 8945
// section 5.2): an unknown key or algorithm is BADKEY and a wrong MAC
// BADSIG, answered NOTAUTH unsigned; a time outside the fudge is BADTIME,
// answered NOTAUTH and signed. ok is true when the request verifies.
func (s *Server) checkTSIG(raw []byte, req *dns.Msg, t *dns.TSIG, key *xfrauth.Key) ([]byte, bool) {
	tsigErr := uint16(dns.RcodeBadKey)
	if key != nil && strings.EqualFold(t.Hdr.Name, key.Name) && strings.EqualFold(dns.Fqdn(t.Algorithm), key.Algorithm) {
		// A copy: TsigVerify rewrites the header it strips in place.
		err := dns.TsigVerify(append([]byte(nil), raw...), key.Secret, "", false)
		switch {
		case err == nil:
			return nil, true
		case errors.Is(err, dns.ErrTime):
			tsigErr = dns.RcodeBadTime
		default:
			tsigErr = dns.RcodeBadSig
		}
	}
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeNotAuth)
	m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	rr := m.Extra[0].(*dns.TSIG)
	rr.Error = tsigErr
	rr.OrigId = req.Id
	secret, mac := "", ""
	if tsigErr == dns.RcodeBadTime {
		secret, mac = key.Secret, t.MAC
	}
	b, _, err := dns.TsigGenerate(m, secret, mac, false)
	if err != nil {
		m.Extra = nil
		b, _ = m.Pack()
	}
	return b, false
}

// reply is an authoritative answer to req holding rrs.
func (s *Server) reply(req *dns.Msg, rrs ...dns.RR) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.Compress = true
	m.Answer = rrs
	return m
}

// transfer sends the reply to an IXFR (have: the client's serial) or an
// AXFR (have 0 and typ "axfr") from one served state, held from the first
// SOA to the last.
func (s *Server) transfer(ctx context.Context, req *dns.Msg, st *served, w *signer, typ string, have uint32) error {
	select {
	case s.slots <- struct{}{}:
	default:
		s.m.requests.WithLabelValues(typ, "busy").Inc()
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeRefused)
		return w.send(m)
	}
	defer func() { <-s.slots }()
	s.m.inFlight.Inc()
	defer s.m.inFlight.Dec()
	start := time.Now()
	c := &chunker{s: s, req: req, w: w}
	result := "axfr"
	var err error
	if typ == "ixfr" {
		if dels, adds, ok := condense(st.history, have); ok {
			result = "ixfr"
			from := st.history[0].from
			for _, h := range st.history {
				if h.from.Serial == have {
					from = h.from
					break
				}
			}
			// RFC 1995 section 4: the current SOA, then the old SOA, the
			// deleted records, the new SOA and the added records, and the
			// current SOA again.
			err = c.add(st.soa, from)
			err = errors.Join(err, c.add(dels...))
			err = errors.Join(err, c.add(st.soa))
			err = errors.Join(err, c.add(adds...))
			err = errors.Join(err, c.add(st.soa))
			if err == nil {
				err = c.flush()
			}
			s.finish(typ, result, c.sent, start, err)
			return err
		}
	}
	// AXFR, or IXFR for a serial the history does not hold: the whole
	// zone, AXFR-style (RFC 1995 section 4: the client tells the two
	// apart by the second record).
	err = s.axfr(ctx, st, c)
	s.finish(typ, result, c.sent, start, err)
	return err
}

func (s *Server) finish(typ, result string, sent int, start time.Time, err error) {
	if err != nil {
		result = "error"
	}
	s.m.requests.WithLabelValues(typ, result).Inc()
	s.m.records.Add(float64(sent))
	s.m.duration.WithLabelValues(result).Observe(time.Since(start).Seconds())
}

// axfr sends the whole zone between two copies of its SOA.
func (s *Server) axfr(ctx context.Context, st *served, c *chunker) error {
	if err := c.add(st.soa); err != nil {
		return err
	}
	var err error
	if st.zone.Presigned != nil {
		// Not transferred out (secondary zones), but should one be, its
		// names go the general way: sendWire is not checked for it.
		err = s.eachRendered(ctx, st, func(rrs []dns.RR) error { return c.add(rrs...) })
	} else {
		err = s.sendWire(ctx, st, c)
	}
	if err != nil {
		return err
	}
	if err := c.add(st.soa); err != nil {
		return err
	}
	return c.flush()
}

// eachRendered calls fn with the records of every name of st's zone as
// the answer rules render them (answer.Transfer.Node, or the flattened
// names' records the state holds), in the order of the zone's walk: the
// general way of an AXFR, which sendWire takes only for the names that
// render other than they are stored.
func (s *Server) eachRendered(ctx context.Context, st *served, fn func([]dns.RR) error) error {
	r := s.engine.Transfer(st.zone, st.enforce)
	r.SetCuts(st.cuts)
	var buf []dns.RR
	var err error
	st.zone.EachNode(func(n *zonecache.Node) bool {
		if err = ctx.Err(); err != nil {
			return false
		}
		if rrs, ok := st.dyn[n.Name]; ok {
			err = fn(rrs)
			return err == nil
		}
		buf, _ = r.Node(ctx, n, buf[:0])
		err = fn(buf)
		return err == nil
	})
	return err
}

// sendWire adds the records of every name of st's zone to c, in the order
// of eachRendered and the same records: as stored (addWire) for the names
// whose rendering is their stored records (render), as eachRendered
// renders them for the others. The names are read a batch at a time
// (warm).
func (s *Server) sendWire(ctx context.Context, st *served, c *chunker) error {
	r := s.engine.Transfer(st.zone, st.enforce)
	r.SetCuts(st.cuts)
	var buf []dns.RR
	var recs []zonecache.WireRecord
	send := func(batch []*zonecache.Node) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.sink ^= warm(batch)
		for _, n := range batch {
			if n.Empty() {
				continue
			}
			recs = n.AppendWire(recs[:0])
			var err error
			switch rrs, how := st.render(n, recs); how {
			case renderDyn:
				err = c.add(rrs...)
			case renderRules:
				buf, _ = r.Node(ctx, n, buf[:0])
				err = c.add(buf...)
			default:
				err = c.addWire(n.Name, recs)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	batch := make([]*zonecache.Node, 0, warmBatch)
	st.zone.EachNode(func(n *zonecache.Node) bool {
		if batch = append(batch, n); len(batch) == warmBatch {
			err, batch = send(batch), batch[:0]
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	return send(batch)
}

// chunker packs records into messages of about chunkBytes.
type chunker struct {
	s    *Server
	req  *dns.Msg
	w    *signer
	rrs  []dns.RR
	size int
	sent int
	// slab holds the stored records of the message being filled
	// (addWire).
	slab []wireRR
	sink byte // warm's
}

func (c *chunker) add(rrs ...dns.RR) error {
	for _, rr := range rrs {
		c.rrs = append(c.rrs, rr)
		c.size += sizeOf(rr)
		if c.size >= chunkBytes {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *chunker) flush() error {
	if len(c.rrs) == 0 {
		return nil
	}
	m := c.s.reply(c.req, c.rrs...)
	m.Compress = compressXfr
	if err := c.w.send(m); err != nil {
		return err
	}
	c.sent += len(c.rrs)
	clear(c.rrs) // nothing kept alive by the slice's spare room
	c.rrs, c.size, c.slab = c.rrs[:0], 0, c.slab[:0]
	return nil
}

// sizeOf is an upper bound of rr's uncompressed wire size, cheap for the
// common types (dns.Len walks every name).
func sizeOf(rr dns.RR) int {
	h := rr.Header()
	const fixed = 10 + 1 // type, class, TTL, rdlength; the name's last label
	switch v := rr.(type) {
	case *dns.A:
		return len(h.Name) + fixed + 4
	case *dns.AAAA:
		return len(h.Name) + fixed + 16
	case *dns.CNAME:
		return len(h.Name) + fixed + len(v.Target) + 1
	case *dns.NS:
		return len(h.Name) + fixed + len(v.Ns) + 1
	case *dns.MX:
		return len(h.Name) + fixed + 2 + len(v.Mx) + 1
	}
	return dns.Len(rr)
}

// signer writes the messages of one reply, each TSIG-signed when the
// request was (RFC 8945 section 5.3.1: the first over the request's MAC,
// each next one over the previous message's MAC with the timers only, as
// miekg/dns's server and transfer client do).
type signer struct {
	write func([]byte) error
	key   *xfrauth.Key
	mac   string
	n     int
	buf   []byte
}

func (w *signer) send(m *dns.Msg) error {
	if w.key == nil {
		if w.buf == nil {
			w.buf = make([]byte, dns.MaxMsgSize)
		}
		b, err := m.PackBuffer(w.buf)
		if err != nil {
			return fmt.Errorf("pack reply: %w", err)
		}
		return w.write(b)
	}
	m.SetTsig(w.key.Name, w.key.Algorithm, 300, time.Now().Unix())
	b, mac, err := dns.TsigGenerate(m, w.key.Secret, w.mac, w.n > 0)
	if err != nil {
		return fmt.Errorf("sign reply: %w", err)
	}
	w.mac = mac
	w.n++
	return w.write(b)
}

// headerOnly is a reply with rcode to a request that does not unpack: its
// id and opcode echoed, no sections.
func headerOnly(raw []byte, rcode int) []byte {
	out := make([]byte, 12)
	copy(out, raw[:2])
	out[2] = 0x80 | raw[2]&0x78 // QR, the request's opcode
	out[3] = byte(rcode & 0x0f)
	return out
}
