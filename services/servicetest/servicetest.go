// Package servicetest serves gRPC services on 127.0.0.1 for tests, over a
// real network connection, and reads the field a status error names.
package servicetest

import (
	"net"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Serve starts a gRPC server on a free 127.0.0.1 port with the services
// register adds, and returns a client connection to it (its Target is the
// server's address). Both are closed when tb ends.
func Serve(tb testing.TB, register func(*grpc.Server), opts ...grpc.ServerOption) *grpc.ClientConn {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer(opts...)
	register(gs)
	go gs.Serve(lis)
	tb.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// Violation returns the code of err and the first field its BadRequest
// detail names ("" when there is none).
func Violation(err error) (codes.Code, string) {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return st.Code(), br.GetFieldViolations()[0].GetField()
		}
	}
	return st.Code(), ""
}
