package dnsserver

import (
	"net"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgBatch is the Linux udpBatch: recvmmsg and sendmmsg called directly
// over message headers, iovecs and socket addresses allocated once per
// socket, so that a datagram costs no allocation (x/net's ReadBatch
// allocates a net.UDPAddr and its IP for every one: the garbage collector's
// work grows with the query rate). A reply's destination is the query's
// source address copied as the kernel wrote it, never decoded. The socket
// stays in Go's poller: RawConn.Read and Write wait for readiness.
//
// The calls are raw system calls unless Options.UDPPlainSyscalls asks for
// plain ones (unix.Syscall6, as x/net's). A plain call tells the scheduler it
// entered the kernel: the first one after the reader parked wakes sysmon
// from its deep sleep, which then runs every 20 µs while the reader is busy
// (it shares the reader's core: two context switches each time) and takes
// the processor away from a sendmmsg longer than a tick, handing it to
// another thread. In the profile under dnsperf that is 12-16 % of the
// edge's CPU (sysmon) and 6 % (hand-offs). Raw calls (the socket is
// non-blocking: they never wait) leave sysmon asleep and the processor
// where it is: less CPU per answer, and 1.4 x the queries/s at capacity on
// a core the edge has to itself (docs/BENCHMARKS.md, "Raw system calls").
// The price is on a core shared with other busy processes of the same
// cgroup: a reader the kernel descheduled keeps its processor, which
// sysmon takes back only from a thread inside a plain system call, so the
// edge's other goroutines (the snapshot follower, TCP) wait for it, and
// the kernel shares the core among threads, where plain calls' extra
// threads win the edge a larger share. In 2-minute soaks at the edge's
// saturation beside a test loop in the same cgroup, a change reached the
// answers 1.4-1.8 x later at p99 with raw calls (31-42 against 22-24 ms);
// with the edge in a cgroup of its own (a container, a systemd service)
// raw calls were not slower (62-80 against 102-227 ms). A processor kept
// spare for the other goroutines (GOMAXPROCS above the sockets) cost raw
// calls 35-45 % of their queries/s on one core: the reader then hops
// between threads. Hence raw by default, plain for edges sharing their
// cgroup (docs/BENCHMARKS.md, "Raw system calls by default").
type mmsgBatch struct {
	rc            syscall.RawConn
	raw           bool // raw system calls (see above)
	in, out       []unix.Mmsghdr
	inIov, outIov []unix.Iovec
	// inName and outName hold IPv4 or IPv6 socket addresses (an IPv4
	// one is a prefix of the IPv6 layout's size).
	inName, outName []unix.RawSockaddrInet6
	bufs            [][]byte
	got             int // datagrams of the last read

	// The current call's arguments and results, for readFn and writeFn:
	// closures made once, as one made per call would be allocated.
	from, to, done  int
	errno           syscall.Errno
	readFn, writeFn func(fd uintptr) bool
}

func newMmsgBatch(c *net.UDPConn, n int, raw bool) udpBatch {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	m := &mmsgBatch{
		rc: rc, raw: raw,
		in: make([]unix.Mmsghdr, n), out: make([]unix.Mmsghdr, n),
		inIov: make([]unix.Iovec, n), outIov: make([]unix.Iovec, n),
		inName: make([]unix.RawSockaddrInet6, n), outName: make([]unix.RawSockaddrInet6, n),
		bufs: make([][]byte, n),
	}
	// The receive buffers are slices of one slab, a cache line more than
	// udpReadSize apart: buffers allocated one by one (a page each) map
	// every datagram of a batch to the same few sets of the processor's
	// cache, where they evict each other between the kernel's copy and our
	// parse (the copy to user space cost four times its share in Knot's
	// profile; docs/BENCHMARKS.md).
	const stride = udpReadSize + 64
	slab := make([]byte, n*stride)
	for i := range n {
		// A larger datagram is cut and then fails to parse (and is
		// dropped): queries are small.
		m.bufs[i] = slab[i*stride : i*stride+udpReadSize : i*stride+udpReadSize]
		m.inIov[i].Base = &m.bufs[i][0]
		m.inIov[i].SetLen(udpReadSize)
		m.in[i].Hdr.Iov, m.in[i].Hdr.Iovlen = &m.inIov[i], 1
		m.in[i].Hdr.Name = (*byte)(unsafe.Pointer(&m.inName[i]))
		m.in[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		m.out[i].Hdr.Iov, m.out[i].Hdr.Iovlen = &m.outIov[i], 1
		m.out[i].Hdr.Name = (*byte)(unsafe.Pointer(&m.outName[i]))
	}
	m.readFn = m.recv
	m.writeFn = m.send
	return m
}

// recv is one recvmmsg; false (would block) has the poller wait.
func (m *mmsgBatch) recv(fd uintptr) bool {
	return m.call(unix.SYS_RECVMMSG, fd, unsafe.Pointer(&m.in[0]), len(m.in))
}

// send is one sendmmsg of replies [from, to).
func (m *mmsgBatch) send(fd uintptr) bool {
	return m.call(unix.SYS_SENDMMSG, fd, unsafe.Pointer(&m.out[m.from]), m.to-m.from)
}

// call is one recvmmsg or sendmmsg of n headers at hdrs, retried on EINTR;
// false when it would block.
func (m *mmsgBatch) call(trap, fd uintptr, hdrs unsafe.Pointer, n int) bool {
	for {
		var done uintptr
		var e syscall.Errno
		if m.raw {
			done, _, e = unix.RawSyscall6(trap, fd, uintptr(hdrs), uintptr(n), 0, 0, 0)
		} else {
			done, _, e = unix.Syscall6(trap, fd, uintptr(hdrs), uintptr(n), 0, 0, 0)
		}
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		m.done, m.errno = int(done), e
		return true
	}
}

func (m *mmsgBatch) read() (int, error) {
	for i := range m.got {
		// The kernel wrote the lengths of the last sources there.
		m.in[i].Hdr.Namelen = unix.SizeofSockaddrInet6
	}
	m.got = 0
	if err := m.rc.Read(m.readFn); err != nil {
		return 0, err // closed
	}
	if m.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", m.errno)
	}
	m.got = m.done
	return m.got, nil
}

func (m *mmsgBatch) packet(i int) []byte {
	return m.bufs[i][:min(int(m.in[i].Len), udpReadSize)]
}

func (m *mmsgBatch) sourceIP(i int) net.IP {
	sa := &m.inName[i]
	switch sa.Family {
	case unix.AF_INET:
		return net.IP((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr[:])
	case unix.AF_INET6:
		return net.IP(sa.Addr[:])
	}
	return nil
}

func (m *mmsgBatch) sourceAddr(i int) net.Addr { return udpAddrOf(&m.inName[i]) }

func (m *mmsgBatch) setReply(k int, b []byte, i int) {
	m.outName[k] = m.inName[i]
	m.out[k].Hdr.Namelen = m.in[i].Hdr.Namelen
	m.outIov[k].Base = &b[0]
	m.outIov[k].SetLen(len(b))
}

func (m *mmsgBatch) write(from, to int) (int, error) {
	m.from, m.to = from, to
	if err := m.rc.Write(m.writeFn); err != nil {
		return 0, err // closed
	}
	if m.errno != 0 {
		return 0, os.NewSyscallError("sendmmsg", m.errno)
	}
	return m.done, nil
}

func (m *mmsgBatch) replyAddr(k int) net.Addr { return udpAddrOf(&m.outName[k]) }

// udpAddrOf decodes a socket address the kernel wrote.
func udpAddrOf(sa *unix.RawSockaddrInet6) net.Addr {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return &net.UDPAddr{IP: net.IPv4(sa4.Addr[0], sa4.Addr[1], sa4.Addr[2], sa4.Addr[3]), Port: netPort(sa4.Port)}
	case unix.AF_INET6:
		a := &net.UDPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: netPort(sa.Port)}
		if sa.Scope_id != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.Scope_id)); err == nil {
				a.Zone = ifi.Name
			} else {
				a.Zone = strconv.Itoa(int(sa.Scope_id))
			}
		}
		return a
	}
	return &net.UDPAddr{}
}

// netPort reads a port stored in network byte order.
func netPort(p uint16) int {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return int(b[0])<<8 | int(b[1])
}
