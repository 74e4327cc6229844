package dnsserver

import (
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpBatch moves the datagrams of one UDP socket in batches: a read fills
// up to the batch size, the loop answers them and queues replies, a write
// sends the queued replies. The packet, source and reply views are valid
// until the next read. On Linux it is mmsgBatch (udp_linux.go: recvmmsg
// and sendmmsg over buffers allocated once); elsewhere, and where that
// cannot be had, xnetBatch (x/net's ReadBatch and WriteBatch, which
// allocate the source address of every datagram).
type udpBatch interface {
	// read receives at least one datagram, waiting for it, and reports
	// how many it received.
	read() (int, error)
	// packet returns datagram i of the last read.
	packet(i int) []byte
	// sourceIP returns the source address of datagram i as a view (no
	// allocation), for the rate limiter.
	sourceIP(i int) net.IP
	// sourceAddr returns the source of datagram i as a net.Addr of its
	// own (it may allocate: for the rare paths, NOTIFY and deferred
	// answers).
	sourceAddr(i int) net.Addr
	// setReply queues b as reply k, to the source of datagram i.
	setReply(k int, b []byte, i int)
	// write sends replies [from, to) and reports how many went; on an
	// error the first not sent is the one the kernel refused.
	write(from, to int) (int, error)
	// replyAddr returns the destination of reply k (for logging).
	replyAddr(k int) net.Addr
}

// newUDPBatch returns the batch mover of c for batches of n datagrams:
// the Linux one unless portable is set or it cannot be had (raw: its
// system calls raw, unless Options.UDPPlainSyscalls).
func newUDPBatch(c *net.UDPConn, n int, portable, raw bool) udpBatch {
	if !portable {
		if b := newMmsgBatch(c, n, raw); b != nil {
			return b
		}
	}
	return newXnetBatch(c, n)
}

// batchConn moves several datagrams per system call: recvmmsg and
// sendmmsg on Linux, one at a time elsewhere. ipv4.PacketConn and
// ipv6.PacketConn both are one (their Message types are the same).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// xnetBatch is the portable udpBatch.
type xnetBatch struct {
	bc      batchConn
	in, out []ipv4.Message
}

func newXnetBatch(c *net.UDPConn, n int) *xnetBatch {
	x := &xnetBatch{in: make([]ipv4.Message, n), out: make([]ipv4.Message, n)}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		x.bc = ipv4.NewPacketConn(c)
	} else {
		x.bc = ipv6.NewPacketConn(c)
	}
	for i := range n {
		// A larger datagram is cut and then fails to parse (and is
		// dropped): queries are small.
		x.in[i].Buffers = [][]byte{make([]byte, udpReadSize)}
		x.out[i].Buffers = make([][]byte, 1)
	}
	return x
}

func (x *xnetBatch) read() (int, error) {
	for i := range x.out {
		x.out[i].Addr = nil // not kept alive by a reply sent already
	}
	return x.bc.ReadBatch(x.in, 0)
}

func (x *xnetBatch) packet(i int) []byte { return x.in[i].Buffers[0][:x.in[i].N] }

func (x *xnetBatch) sourceIP(i int) net.IP {
	if ua, ok := x.in[i].Addr.(*net.UDPAddr); ok {
		return ua.IP
	}
	return nil
}

func (x *xnetBatch) sourceAddr(i int) net.Addr { return x.in[i].Addr }

func (x *xnetBatch) setReply(k int, b []byte, i int) {
	x.out[k].Buffers[0], x.out[k].Addr = b, x.in[i].Addr
}

func (x *xnetBatch) write(from, to int) (int, error) {
	n, err := x.bc.WriteBatch(x.out[from:to], 0)
	// On an error the count may be -1 (the raw system call's).
	return max(n, 0), err
}

func (x *xnetBatch) replyAddr(k int) net.Addr { return x.out[k].Addr }
