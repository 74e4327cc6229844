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
)

// Limits of the TCP listener.
const (
	tcpIdleTimeout = 10 * time.Second
	tcpMaxConns    = 1024
	udpReadSize    = 4096
)

// Server serves a Handler on one UDP socket and one TCP listener.
type Server struct {
	h    *Handler
	log  *zap.Logger
	udp  *net.UDPConn
	tcp  net.Listener
	wg   sync.WaitGroup
	stop context.CancelFunc
	ctx  context.Context

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	slots chan struct{}
}

// Listen binds the UDP and TCP addresses (port 0 picks a free port).
func Listen(udpAddr, tcpAddr string, h *Handler, log *zap.Logger) (*Server, error) {
	ua, err := net.ResolveUDPAddr("udp", udpAddr)
	if err != nil {
		return nil, fmt.Errorf("resolve udp address %q: %w", udpAddr, err)
	}
	uc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("listen udp %q: %w", udpAddr, err)
	}
	tl, err := net.Listen("tcp", tcpAddr)
	if err != nil {
		uc.Close()
		return nil, fmt.Errorf("listen tcp %q: %w", tcpAddr, err)
	}
	return &Server{
		h: h, log: log, udp: uc, tcp: tl,
		conns: map[net.Conn]struct{}{},
		slots: make(chan struct{}, tcpMaxConns),
	}, nil
}

// UDPAddr returns the bound UDP address.
func (s *Server) UDPAddr() string { return s.udp.LocalAddr().String() }

// TCPAddr returns the bound TCP address.
func (s *Server) TCPAddr() string { return s.tcp.Addr().String() }

// Start starts serving in the background; ctx is passed to every query.
func (s *Server) Start(ctx context.Context) {
	s.ctx, s.stop = context.WithCancel(ctx)
	// Many more readers than CPUs: a query whose answer waits on an
	// upstream (an uncached flattening target) holds its reader, and the
	// others must keep serving meanwhile.
	for range max(32, 16*runtime.GOMAXPROCS(0)) {
		s.wg.Add(1)
		go s.serveUDP()
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
	err := errors.Join(s.udp.Close(), s.tcp.Close())
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

func (s *Server) serveUDP() {
	defer s.wg.Done()
	// Queries are small; a larger datagram is cut and then fails to parse
	// (and is dropped). Answers over UDP are at most EDNSBufferSize.
	in := make([]byte, udpReadSize)
	out := make([]byte, 0, 2*EDNSBufferSize)
	for {
		n, addr, err := s.udp.ReadFromUDPAddrPort(in)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("udp read failed", zap.Error(err))
			continue
		}
		b := s.h.Serve(s.ctx, in[:n], false, out)
		if b == nil {
			continue
		}
		if _, err := s.udp.WriteToUDPAddrPort(b, addr); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("udp write failed", zap.Stringer("client", addr), zap.Error(err))
		}
	}
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
