// Package pkg holds what the control plane and the edge share: the snapshot
// wire format (pkg/snapshot), DNS name handling (pkg/dnsname) and the closed
// set of products that manage records (pkg/managed).
package pkg
