package dnsserver

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortSupported: Linux spreads the datagrams of one address over the
// sockets bound to it with SO_REUSEPORT (by a hash of the client's address
// and port), and only among sockets of the same user.
const reusePortSupported = true

func setReusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return fmt.Errorf("set SO_REUSEPORT: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("set SO_REUSEPORT: %w", serr)
	}
	return nil
}
