// Package e2e holds the end-to-end tests and benchmarks: each one starts real
// etcd and NATS servers (embedded, as libraries), a control plane and edges
// in-process, drives them through the gRPC API and queries the edges with a
// real DNS client over UDP and TCP.
package e2e
