package dnsserver

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestMmsgBatchReadsSourcesAsTheKernelWroteThem checks the Linux batch's
// view of a datagram's source, which the rate limiter (sourceIP), NOTIFY
// access control and deferred answers (sourceAddr) rely on, on IPv4 and
// IPv6, and that a reply queued for a datagram reaches its sender, with
// plain and with raw system calls.
func TestMmsgBatchReadsSourcesAsTheKernelWroteThem(t *testing.T) {
	for _, tc := range []struct {
		addr string
		raw  bool
	}{{"127.0.0.1:0", false}, {"[::1]:0", false}, {"127.0.0.1:0", true}, {"[::1]:0", true}} {
		addr := tc.addr
		t.Run(fmt.Sprintf("%s raw=%v", addr, tc.raw), func(t *testing.T) {
			conns, err := listenUDP(addr, 1)
			if err != nil {
				t.Skipf("cannot listen on %s: %v", addr, err)
			}
			srv := conns[0]
			defer srv.Close()
			ub := newMmsgBatch(srv, 4, tc.raw)
			if ub == nil {
				t.Fatal("no Linux batch for a UDP socket")
			}
			cl, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			for _, p := range []string{"one", "two"} {
				if _, err := cl.Write([]byte(p)); err != nil {
					t.Fatal(err)
				}
			}
			want := cl.LocalAddr().(*net.UDPAddr)
			got := 0
			for got < 2 {
				n, err := ub.read()
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					if ip := ub.sourceIP(i); !ip.Equal(want.IP) {
						t.Errorf("sourceIP %v, want %v", ip, want.IP)
					}
					if a, ok := ub.sourceAddr(i).(*net.UDPAddr); !ok || !a.IP.Equal(want.IP) || a.Port != want.Port {
						t.Errorf("sourceAddr %v, want %v", ub.sourceAddr(i), want)
					}
					ub.setReply(i, append([]byte("re-"), ub.packet(i)...), i)
				}
				if sent, err := ub.write(0, n); err != nil || sent != n {
					t.Fatalf("write: %d of %d, %v", sent, n, err)
				}
				got += n
			}
			buf := make([]byte, 64)
			for _, want := range []string{"re-one", "re-two"} {
				cl.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err := cl.Read(buf)
				if err != nil || string(buf[:n]) != want {
					t.Errorf("reply %q, %v; want %q", buf[:n], err, want)
				}
			}
		})
	}
}
