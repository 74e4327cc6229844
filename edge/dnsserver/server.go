package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Limits of the listeners.
const (
	tcpIdleTimeout = 10 * time.Second
	tcpMaxConns    = 1024
	udpReadSize    = 4096
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

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	slots chan struct{}
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
		deferred: make(chan struct{}, o.MaxDeferred),
		conns:    map[net.Conn]struct{}{},
		slots:    make(chan struct{}, tcpMaxConns),
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

// batchConn moves several datagrams per system call: recvmmsg and
// sendmmsg on Linux, one at a time elsewhere. ipv4.PacketConn and
// ipv6.PacketConn both are one (their Message types are the same).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchConn(c *net.UDPConn) batchConn {
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		return ipv4.NewPacketConn(c)
	}
	return ipv6.NewPacketConn(c)
}

// serveUDP is the reader loop of one socket: it receives a batch, answers
// every query of it inline (no goroutine per packet: the answers come from
// memory), and sends the answers in one batch. Only a query whose answer
// waits on an upstream leaves the loop (deferUDP), so that one slow
// upstream never stalls the socket.
func (s *Server) serveUDP(c *net.UDPConn) {
	defer s.wg.Done()
	bc := newBatchConn(c)
	n := s.opts.Batch
	in := make([]ipv4.Message, n)
	out := make([]ipv4.Message, n)
	outBufs := make([][]byte, n)
	for i := range n {
		// A larger datagram is cut and then fails to parse (and is
		// dropped): queries are small.
		in[i].Buffers = [][]byte{make([]byte, udpReadSize)}
		outBufs[i] = make([]byte, 0, udpOutSize)
		out[i].Buffers = make([][]byte, 1)
	}
	for {
		got, err := bc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("udp read failed", zap.Error(err))
			continue
		}
		k := 0
		for i := range got {
			m := &in[i]
			q := m.Buffers[0][:m.N]
			b, deferred := s.h.ServeInline(s.ctx, q, false, outBufs[k])
			if deferred {
				s.deferUDP(c, q, m.Addr)
				continue
			}
			if b == nil {
				continue
			}
			out[k].Buffers[0] = b
			out[k].Addr = m.Addr
			k++
		}
		s.writeBatch(bc, out[:k])
		for i := range k {
			// Keep the buffers (b may be a grown copy: keep the larger).
			if b := out[i].Buffers[0]; cap(b) >= udpOutSize {
				outBufs[i] = b[:0]
			}
			out[i].Addr = nil
		}
	}
}

// writeBatch sends ms, skipping a datagram the kernel refuses (one bad
// destination must not cost the others their answers).
func (s *Server) writeBatch(bc batchConn, ms []ipv4.Message) {
	for len(ms) > 0 {
		sent, err := bc.WriteBatch(ms, 0)
		// On an error the count may be -1 (the raw system call's).
		sent = min(max(sent, 0), len(ms))
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if sent < len(ms) {
				s.log.Debug("udp write failed", zap.Stringer("client", ms[sent].Addr), zap.Error(err))
				sent++
			}
		}
		ms = ms[sent:]
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
		if b == nil {
			return
		}
		if _, err := c.WriteTo(b, addr); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("udp write failed", zap.Stringer("client", addr), zap.Error(err))
		}
	}()
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
		select {
		case s.slots <- struct{}{}:
		default:
			// Too many connections: shed this one rather than queue it.
			c.Close()
			continue
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveTCP(c)
	}
}

// serveTCP answers length-prefixed queries on one connection in order
// until the client closes it or stays idle.
func (s *Server) serveTCP(c net.Conn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		<-s.slots
		s.wg.Done()
	}()
	var lenBuf [2]byte
	in := make([]byte, 0, 512)
	out := make([]byte, 2, 4096)
	for {
		if err := c.SetReadDeadline(time.Now().Add(tcpIdleTimeout)); err != nil {
			return
		}
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
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
		b := s.h.Serve(s.ctx, in, true, out[2:])
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
		if err := c.SetWriteDeadline(time.Now().Add(tcpIdleTimeout)); err != nil {
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
		out = out[:2]
	}
}
