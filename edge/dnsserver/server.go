package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/rrl"
	"github.com/zonegrid/zonegrid/edge/xfrauth"
)

// Limits of the listeners.
const (
	udpReadSize = 4096
	// udpOutSize holds any UDP answer (at most EDNSBufferSize) with room
	// for the packer to work in.
	udpOutSize = 2 * EDNSBufferSize
	// udpSocketBuffer is the kernel buffer asked for each UDP socket, so
	// that a burst is queued rather than dropped while a reader works.
	udpSocketBuffer = 4 << 20
)

// Defaults of Options.
const (
	DefaultBatch       = 32
	DefaultMaxDeferred = 1024
	// DefaultTCPMaxConns is the number of TCP connections open at once.
	DefaultTCPMaxConns = 1024
	// DefaultTCPMaxConnsPerSource is how many of them one source (an IPv4
	// address, an IPv6 /64) may hold: a sixteenth of the default total,
	// generous for a resolver that pipelines, far from a lock-out.
	DefaultTCPMaxConnsPerSource = 64
	// DefaultTCPIdleTimeout is how long a connection may wait for its
	// next query while fewer than half the connections are open (RFC 7766
	// 6.2.3 suggests seconds, not minutes); above half it shrinks.
	DefaultTCPIdleTimeout = 10 * time.Second
	// minTCPIdleTimeout is the floor the idle timeout shrinks to.
	minTCPIdleTimeout = 500 * time.Millisecond
)

// Options configure a Server.
type Options struct {
	// UDPAddr and TCPAddr are the listen addresses ("127.0.0.1:0" picks a
	// free port, the same for every UDP socket).
	UDPAddr, TCPAddr string
	// UDPSockets is how many UDP sockets share UDPAddr through
	// SO_REUSEPORT (Linux; elsewhere always one), each with one reader
	// that answers inline; the kernel spreads clients over them. 0 means
	// GOMAXPROCS, one per core.
	UDPSockets int
	// Batch is how many datagrams one receive or send system call moves
	// (recvmmsg/sendmmsg on Linux); 0 means DefaultBatch.
	Batch int
	// MaxDeferred bounds the queries waiting on an upstream lookup at
	// once; more are dropped (the client retries). 0 means
	// DefaultMaxDeferred.
	MaxDeferred int
	// TCPMaxConns bounds the open TCP connections; at the bound a new
	// connection closes the one idle longest (RFC 7766 6.2.3) rather than
	// being refused. 0 means DefaultTCPMaxConns.
	TCPMaxConns int
	// TCPMaxConnsPerSource bounds the connections of one source (IPv4
	// address, IPv6 /64); more are refused. 0 means
	// DefaultTCPMaxConnsPerSource, negative no bound.
	TCPMaxConnsPerSource int
	// TCPIdleTimeout is how long a connection may stay idle between
	// queries while at most half of TCPMaxConns are open; above that it
	// shrinks in proportion to the room left, down to 500 ms. 0 means
	// DefaultTCPIdleTimeout.
	TCPIdleTimeout time.Duration
	// RRL limits the rate of UDP responses (nil: no limit). TCP answers
	// are never limited: a TCP client cannot spoof its address.
	RRL *rrl.Limiter

	// UDPPlainSyscalls makes the Linux UDP path call recvmmsg and
	// sendmmsg as plain system calls, which the Go scheduler sees, rather
	// than raw ones (udp_linux.go explains the difference). Raw calls cost
	// less CPU per answer and answer 1.4 x the queries/s at capacity; plain
	// ones suit an edge that shares its cgroup with other busy processes,
	// where raw calls slow the propagation of changes at saturation
	// (docs/BENCHMARKS.md, "Raw system calls by default").
	UDPPlainSyscalls bool

	// portableUDP forces the portable UDP path (x/net batches) where the
	// Linux one (udp_linux.go) would serve: for tests and benchmarks.
	portableUDP bool
}

// Server serves a Handler on UDP sockets and one TCP listener.
type Server struct {
	h    *Handler
	log  *zap.Logger
	opts Options
	udp  []*net.UDPConn
	tcp  net.Listener
	wg   sync.WaitGroup
	stop context.CancelFunc
	ctx  context.Context

	// deferred holds a slot per query handed off a reader loop because
	// its answer waits on an upstream.
	deferred chan struct{}

	// mu guards the TCP connections and their count per source; only
	// accepting and closing take it, never a query.
	mu        sync.Mutex
	conns     map[*tcpConn]struct{}
	perSource map[netip.Addr]int
	// open is len(conns), read without mu by every connection when it
	// sets its idle deadline.
	open atomic.Int64
}

// tcpConn is one TCP connection and what eviction needs to know of it.
type tcpConn struct {
	net.Conn
	source netip.Addr
	// idleSince is when the connection started waiting for its next
	// query (Unix nanoseconds), 0 while it reads or answers one: only
	// idle connections are evicted, so that no answer is cut.
	idleSince atomic.Int64
	removed   bool // under Server.mu
}

// Listen binds the UDP and TCP addresses (port 0 picks a free port) with
// default Options.
func Listen(udpAddr, tcpAddr string, h *Handler, log *zap.Logger) (*Server, error) {
	return ListenOptions(Options{UDPAddr: udpAddr, TCPAddr: tcpAddr}, h, log)
}

// ListenOptions binds the listeners o describes.
func ListenOptions(o Options, h *Handler, log *zap.Logger) (*Server, error) {
	if o.UDPSockets <= 0 {
		o.UDPSockets = runtime.GOMAXPROCS(0)
	}
	if !reusePortSupported {
		o.UDPSockets = 1
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.MaxDeferred <= 0 {
		o.MaxDeferred = DefaultMaxDeferred
	}
	if o.TCPMaxConns <= 0 {
		o.TCPMaxConns = DefaultTCPMaxConns
	}
	if o.TCPMaxConnsPerSource == 0 {
		o.TCPMaxConnsPerSource = DefaultTCPMaxConnsPerSource
	}
	if o.TCPIdleTimeout <= 0 {
		o.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	udp, err := listenUDP(o.UDPAddr, o.UDPSockets)
	if err != nil {
		return nil, err
	}
	tl, err := net.Listen("tcp", o.TCPAddr)
	if err != nil {
		closeAll(udp)
		return nil, fmt.Errorf("listen tcp %q: %w", o.TCPAddr, err)
	}
	return &Server{
		h: h, log: log, opts: o, udp: udp, tcp: tl,
		deferred:  make(chan struct{}, o.MaxDeferred),
		conns:     map[*tcpConn]struct{}{},
		perSource: map[netip.Addr]int{},
	}, nil
}

// listenUDP binds n sockets to addr; the first one fixes the port when
// addr asks for any.
func listenUDP(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{}
	if n > 1 {
		lc.Control = setReusePort
	}
	var conns []*net.UDPConn
	for i := range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("listen udp %q (socket %d of %d): %w", addr, i+1, n, err)
		}
		c := pc.(*net.UDPConn)
		// Best effort: the kernel caps it at net.core.rmem_max/wmem_max.
		_ = c.SetReadBuffer(udpSocketBuffer)
		_ = c.SetWriteBuffer(udpSocketBuffer)
		conns = append(conns, c)
		addr = c.LocalAddr().String()
	}
	return conns, nil
}

func closeAll(conns []*net.UDPConn) {
	for _, c := range conns {
		c.Close()
	}
}

// UDPAddr returns the bound UDP address.
func (s *Server) UDPAddr() string { return s.udp[0].LocalAddr().String() }

// TCPAddr returns the bound TCP address.
func (s *Server) TCPAddr() string { return s.tcp.Addr().String() }

// Start starts serving in the background; ctx is passed to every query.
func (s *Server) Start(ctx context.Context) {
	s.ctx, s.stop = context.WithCancel(ctx)
	for _, c := range s.udp {
		s.wg.Add(1)
		go s.serveUDP(c)
	}
	s.wg.Add(1)
	go s.acceptTCP()
}

// Close stops the listeners, closes open TCP connections and waits for the
// serving goroutines.
func (s *Server) Close() error {
	if s.stop != nil {
		s.stop()
	}
	var errs []error
	for _, c := range s.udp {
		errs = append(errs, c.Close())
	}
	errs = append(errs, s.tcp.Close())
	err := errors.Join(errs...)
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close dns listeners: %w", err)
	}
	return nil
}

// serveUDP is the reader loop of one socket: it receives a batch, answers
// every query of it inline (no goroutine per packet: the answers come from
// memory), and sends the answers in one batch. Only a query whose answer
// waits on an upstream leaves the loop (deferUDP), so that one slow
// upstream never stalls the socket.
func (s *Server) serveUDP(c *net.UDPConn) {
	defer s.wg.Done()
	n := s.opts.Batch
	ub := newUDPBatch(c, n, s.opts.portableUDP, !s.opts.UDPPlainSyscalls)
	outBufs := make([][]byte, n)
	replies := make([][]byte, n)
	qs := make([]fastQuery, n)
	fast := make([]bool, n)
	for i := range n {
		outBufs[i] = make([]byte, 0, udpOutSize)
	}
	for {
		got, err := ub.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("udp read failed", zap.Error(err))
			continue
		}
		k := 0
		// One clock reading a batch: the limiter counts in windows of a
		// second, the batch takes microseconds.
		var now int64
		if s.opts.RRL != nil {
			now = time.Now().UnixNano()
		}
		// Parse the whole batch first, then read the cache entries it
		// will hit at once (Handler.prefetch), then answer.
		for i := range got {
			q := ub.packet(i)
			fast[i] = !s.h.wantsNotify(q) && s.h.parse(q, &qs[i])
		}
		s.h.prefetch(qs[:got], fast[:got])
		for i := range got {
			q := ub.packet(i)
			var b []byte
			if !fast[i] && s.h.wantsNotify(q) { // notify.go: needs the source
				if b = s.h.ServeNotify(q, xfrauth.SourceOf(ub.sourceAddr(i)), false, outBufs[k]); b == nil {
					continue
				}
			} else {
				var deferred bool
				var wild string
				b, deferred = s.h.serveUDPParsed(s.ctx, q, &qs[i], fast[i], outBufs[k], &wild)
				if deferred {
					s.deferUDP(c, q, ub.sourceAddr(i))
					continue
				}
				if b = s.limit(now, ub.sourceIP(i), b, wild); b == nil {
					continue
				}
			}
			ub.setReply(k, b, i)
			replies[k] = b
			k++
		}
		s.writeReplies(ub, k)
		for i := range k {
			// Keep the buffers (b may be a grown copy: keep the larger).
			if b := replies[i]; cap(b) >= udpOutSize {
				outBufs[i] = b[:0]
			}
			replies[i] = nil
		}
	}
}

// writeReplies sends the k queued replies, skipping a datagram the kernel
// refuses (one bad destination must not cost the others their answers).
func (s *Server) writeReplies(ub udpBatch, k int) {
	for from := 0; from < k; {
		sent, err := ub.write(from, k)
		sent = min(max(sent, 0), k-from)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if sent < k-from {
				s.log.Debug("udp write failed", zap.Stringer("client", ub.replyAddr(from+sent)), zap.Error(err))
				sent++
			}
		} else if sent == 0 {
			sent = 1 // never loop on a call that moved nothing
		}
		from += sent
	}
}

// deferUDP answers a query that waits on an upstream on its own
// goroutine, within the MaxDeferred bound.
func (s *Server) deferUDP(c *net.UDPConn, query []byte, addr net.Addr) {
	select {
	case s.deferred <- struct{}{}:
	default:
		s.h.metrics.dropped("busy")
		return
	}
	q := append([]byte(nil), query...) // the read buffer is reused
	s.wg.Add(1)
	go func() {
		defer func() {
			<-s.deferred
			s.wg.Done()
		}()
		b := s.h.Serve(s.ctx, q, false, make([]byte, 0, udpOutSize))
		if ua, ok := addr.(*net.UDPAddr); ok && s.opts.RRL != nil {
			// A wildcard answer waiting on an upstream (flattening) is
			// rare: counted under its query name.
			b = s.limit(time.Now().UnixNano(), ua.IP, b, "")
		}
		if b == nil {
			return
		}
		if _, err := c.WriteTo(b, addr); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("udp write failed", zap.Stringer("client", addr), zap.Error(err))
		}
	}()
}

// limit applies response rate limiting to UDP answer b for source ip: b,
// nil (dropped) or the slip answer made of b.
func (s *Server) limit(now int64, ip net.IP, b []byte, wildcardZone string) []byte {
	if s.opts.RRL == nil || b == nil || ip == nil {
		return b
	}
	switch s.opts.RRL.Check(now, ip, b, wildcardZone) {
	case rrl.Drop:
		s.h.metrics.rrlDropped.Inc()
		return nil
	case rrl.Slip:
		s.h.metrics.rrlSlipped.Inc()
		return rrl.Truncate(b)
	}
	return b
}

func (s *Server) acceptTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("tcp accept failed", zap.Error(err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		tc := &tcpConn{Conn: c, source: tcpSource(c.RemoteAddr())}
		tc.idleSince.Store(time.Now().UnixNano())
		if !s.admit(tc) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go s.serveTCP(tc)
	}
}

// tcpSource is the key connections are counted under: the IPv4 address,
// or the IPv6 /64 (one host may hold a whole /64).
func tcpSource(a net.Addr) netip.Addr {
	ip := xfrauth.SourceOf(a)
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// admit registers c, or refuses it when its source holds its share. At
// the global bound it evicts the connection idle longest (RFC 7766 6.2.3:
// a server under pressure frees idle connections first) instead of
// refusing the newcomer, so that a client holding many connections cannot
// lock others out by keeping them barely alive.
func (s *Server) admit(c *tcpConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit := s.opts.TCPMaxConnsPerSource; limit > 0 && s.perSource[c.source] >= limit {
		s.h.metrics.tcpRefused.Inc()
		return false
	}
	for len(s.conns) >= s.opts.TCPMaxConns {
		victim := s.idlest()
		if victim == nil {
			// Every connection is busy answering: shed the newcomer
			// rather than cut an answer.
			s.h.metrics.tcpRefused.Inc()
			return false
		}
		s.removeLocked(victim)
		victim.Close() // its reader sees the error and leaves
		s.h.metrics.tcpEvicted.Inc()
	}
	s.conns[c] = struct{}{}
	s.perSource[c.source]++
	s.open.Add(1)
	s.h.metrics.tcpOpen.Inc()
	return true
}

// idlest returns the connection waiting longest for a query, nil when
// none waits. A scan: it runs only when the table is full, and is
// microseconds for thousands of connections.
func (s *Server) idlest() *tcpConn {
	var victim *tcpConn
	oldest := int64(0)
	for c := range s.conns {
		if t := c.idleSince.Load(); t != 0 && (victim == nil || t < oldest) {
			victim, oldest = c, t
		}
	}
	return victim
}

// removeLocked forgets c once (its reader and an eviction both call it).
func (s *Server) removeLocked(c *tcpConn) {
	if c.removed {
		return
	}
	c.removed = true
	delete(s.conns, c)
	if s.perSource[c.source]--; s.perSource[c.source] <= 0 {
		delete(s.perSource, c.source)
	}
	s.open.Add(-1)
	s.h.metrics.tcpOpen.Dec()
}

// idleTimeout is the wait allowed for the next query with open
// connections open: the full timeout up to half the bound, then shrinking
// in proportion to the room left (RFC 7766 6.2.3: servers under pressure
// may shorten idle timeouts), never under minTCPIdleTimeout.
func (s *Server) idleTimeout(open int) time.Duration {
	bound, full := s.opts.TCPMaxConns, s.opts.TCPIdleTimeout
	if open <= bound/2 {
		return full
	}
	t := time.Duration(float64(full) * float64(bound-open) / float64(bound-bound/2))
	return min(full, max(t, minTCPIdleTimeout))
}

// serveTCP answers length-prefixed queries on one connection in order
// (pipelined, RFC 7766 6.2.1.1) until the client closes it, it stays idle
// or it is evicted.
func (s *Server) serveTCP(c *tcpConn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		s.removeLocked(c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	var lenBuf [2]byte
	in := make([]byte, 0, 512)
	out := make([]byte, 2, 4096)
	for {
		c.idleSince.Store(time.Now().UnixNano())
		if err := c.SetReadDeadline(time.Now().Add(s.idleTimeout(int(s.open.Load())))); err != nil {
			return
		}
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		c.idleSince.Store(0)
		// The rest of the query is not idleness: a fixed deadline.
		if err := c.SetReadDeadline(time.Now().Add(s.opts.TCPIdleTimeout)); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if cap(in) < n {
			in = make([]byte, n)
		}
		in = in[:n]
		if _, err := io.ReadFull(c, in); err != nil {
			return
		}
		var b []byte
		if s.h.wantsNotify(in) { // notify.go: needs the source
			b = s.h.ServeNotify(in, xfrauth.SourceOf(c.RemoteAddr()), true, out[2:])
		} else {
			b = s.h.Serve(s.ctx, in, true, out[2:])
		}
		if b == nil {
			continue
		}
		if len(b)+2 > cap(out) {
			out = make([]byte, 2, len(b)+2)
		}
		// Length and message in one write: one segment per answer.
		out = out[:2+len(b)]
		copy(out[2:], b)
		binary.BigEndian.PutUint16(out, uint16(len(b)))
		if err := c.SetWriteDeadline(time.Now().Add(s.opts.TCPIdleTimeout)); err != nil {
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
		out = out[:2]
	}
}
