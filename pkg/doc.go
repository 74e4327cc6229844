// Package pkg holds what the control plane and the edge share: the snapshot
// wire format (pkg/snapshot), DNS name handling (pkg/dnsname), the closed
// set of products that manage records (pkg/managed), sealing of secrets
// under the key-encryption key (pkg/keyseal), each role's NATS permissions
// (pkg/natsauth), the NOTIFY contract between edges and the control plane
// (pkg/notify) and the watchdog for a JetStream consumer that stops
// delivering (pkg/jsstall).
package pkg
