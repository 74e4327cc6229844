// Package pkg holds what the control plane and the edge share: the snapshot
// wire format (pkg/snapshot) and DNS name handling (pkg/dnsname).
package pkg
