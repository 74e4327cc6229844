//go:build !linux

package dnsserver

import "syscall"

// reusePortSupported: elsewhere one socket serves the address.
const reusePortSupported = false

func setReusePort(_, _ string, _ syscall.RawConn) error { return nil }
