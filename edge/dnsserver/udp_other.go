//go:build !linux

package dnsserver

import "net"

// newMmsgBatch: recvmmsg and sendmmsg are Linux's; elsewhere the portable
// path serves.
func newMmsgBatch(*net.UDPConn, int, bool) udpBatch { return nil }
