package grpccodec

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// rawCodec sends and receives bytes as they are, so that a test can put
// on the wire what no proto marshaller would produce.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

// badUTF8 marshals m, then overwrites every "XXXX" with four bytes that
// are not UTF-8 (lengths stay right).
func badUTF8(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("XXXX")) {
		t.Fatal("no XXXX placeholder in the message")
	}
	return bytes.ReplaceAll(b, []byte("XXXX"), []byte{0xff, 0xfe, 'a', 0xc0})
}

// recordServer counts the calls that reach it and checks they carry valid
// strings only.
type recordServer struct {
	dnsv1.UnimplementedRecordServiceServer
	calls atomic.Int32
}

func (s *recordServer) CreateRecord(_ context.Context, req *dnsv1.CreateRecordRequest) (*dnsv1.CreateRecordResponse, error) {
	s.calls.Add(1)
	return &dnsv1.CreateRecordResponse{Record: req.GetRecord()}, nil
}

func (s *recordServer) BatchRecords(context.Context, *dnsv1.BatchRecordsRequest) (*dnsv1.BatchRecordsResponse, error) {
	s.calls.Add(1)
	return &dnsv1.BatchRecordsResponse{}, nil
}

func serve(t *testing.T, opts ...grpc.ServerOption) (*grpc.ClientConn, *recordServer, *Codec) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := New()
	// As the control plane does: metrics and logging (here opts), then
	// the check, then authorization.
	opts = append([]grpc.ServerOption{grpc.ChainUnaryInterceptor(c.UnaryInterceptor)}, opts...)
	s := grpc.NewServer(append(opts, c.ServerOptions()...)...)
	rs := &recordServer{}
	dnsv1.RegisterRecordServiceServer(s, rs)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, rs, c
}

func TestInvalidUTF8IsInvalidArgumentNamingTheField(t *testing.T) {
	conn, rs, _ := serve(t)
	create := dnsv1.RecordService_CreateRecord_FullMethodName
	batch := dnsv1.RecordService_BatchRecords_FullMethodName
	tests := []struct {
		name   string
		method string
		req    proto.Message
		fields []string // nil: the call reaches the handler
	}{
		{name: "valid request reaches the handler", method: create,
			req: &dnsv1.CreateRecordRequest{ZoneId: "z1", Record: &dnsv1.Record{Name: "www", Type: "TXT", Content: "héllo"}}},
		{name: "top-level string", method: create,
			req: &dnsv1.CreateRecordRequest{ZoneId: "XXXX", Record: &dnsv1.Record{Name: "www"}}, fields: []string{"zone_id"}},
		{name: "nested string", method: create,
			req:    &dnsv1.CreateRecordRequest{ZoneId: "z1", Record: &dnsv1.Record{Name: "www", Type: "TXT", Content: "XXXX"}},
			fields: []string{"record.content"}},
		{name: "repeated string in a nested message", method: create,
			req:    &dnsv1.CreateRecordRequest{ZoneId: "z1", Record: &dnsv1.Record{Name: "www", Tags: []string{"ok", "XXXX"}}},
			fields: []string{"record.tags[1]"}},
		{name: "every bad field is named", method: create,
			req:    &dnsv1.CreateRecordRequest{ZoneId: "z1", Record: &dnsv1.Record{Name: "XXXX", Comment: "a XXXX b"}},
			fields: []string{"record.name", "record.comment"}},
		{name: "repeated message and repeated string", method: batch,
			req: &dnsv1.BatchRecordsRequest{ZoneId: "z1", Deletes: []string{"r1", "XXXX"},
				Posts: []*dnsv1.Record{{Name: "a"}, {Name: "b", Content: "XXXX"}}},
			fields: []string{"deletes[1]", "posts[1].content"}},
		{name: "record inside a put", method: batch,
			req:    &dnsv1.BatchRecordsRequest{ZoneId: "z1", Puts: []*dnsv1.RecordPut{{RecordId: "r1", Record: &dnsv1.Record{Type: "XXXX"}}}},
			fields: []string{"puts[0].record.type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []byte
			if tt.fields == nil {
				in, _ = proto.Marshal(tt.req)
			} else {
				in = badUTF8(t, tt.req)
			}
			before := rs.calls.Load()
			var out []byte
			err := conn.Invoke(context.Background(), tt.method, in, &out, grpc.ForceCodecV2(rawCodec{}))
			reached := rs.calls.Load() != before
			if tt.fields == nil {
				if err != nil || !reached {
					t.Fatalf("valid request: err %v, reached handler %v", err, reached)
				}
				return
			}
			if reached {
				t.Error("a request with invalid UTF-8 reached the handler")
			}
			st := grpcstatus.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code %s (%s), want InvalidArgument", st.Code(), st.Message())
			}
			var got []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						got = append(got, v.GetField())
						if !strings.Contains(v.GetDescription(), "UTF-8") {
							t.Errorf("description %q does not say UTF-8", v.GetDescription())
						}
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("field violations %v, want %v", got, tt.fields)
			}
		})
	}
}

// TestCheckRunsBeforeAuthorization: an interceptor after the check (as
// authorization is) never sees a request with invalid UTF-8, and no note
// stays behind.
func TestCheckRunsBeforeAuthorization(t *testing.T) {
	var seen atomic.Int32
	authz := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		seen.Add(1)
		return nil, grpcstatus.Error(codes.NotFound, "no such zone")
	}
	conn, _, c := serve(t, grpc.ChainUnaryInterceptor(authz))
	in := badUTF8(t, &dnsv1.CreateRecordRequest{ZoneId: "XXXX"})
	var out []byte
	err := conn.Invoke(context.Background(), dnsv1.RecordService_CreateRecord_FullMethodName, in, &out, grpc.ForceCodecV2(rawCodec{}))
	if c := grpcstatus.Code(err); c != codes.InvalidArgument || seen.Load() != 0 {
		t.Fatalf("code %s, authorization called %d times; want InvalidArgument before it", c, seen.Load())
	}
	n := 0
	c.bad.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("%d notes left behind", n)
	}
}

func TestOtherDecodingErrorsAreUnchanged(t *testing.T) {
	conn, rs, _ := serve(t)
	var out []byte
	err := conn.Invoke(context.Background(), dnsv1.RecordService_CreateRecord_FullMethodName, []byte{0x0a, 0x05, 'a'}, &out, grpc.ForceCodecV2(rawCodec{}))
	if c := grpcstatus.Code(err); c != codes.Internal {
		t.Errorf("truncated message: code %s, want gRPC's Internal", c)
	}
	if rs.calls.Load() != 0 {
		t.Error("a truncated message reached the handler")
	}
}

func TestSanitize(t *testing.T) {
	b := badUTF8(t, &dnsv1.CreateRecordRequest{ZoneId: "z1", Record: &dnsv1.Record{Content: "aXXXXb", Tags: []string{"XXXX"}}})
	fixed, paths, err := Sanitize((&dnsv1.CreateRecordRequest{}).ProtoReflect().Descriptor(), b)
	if err != nil {
		t.Fatal(err)
	}
	var m dnsv1.CreateRecordRequest
	if err := proto.Unmarshal(fixed, &m); err != nil {
		t.Fatalf("sanitized bytes do not decode: %v", err)
	}
	if m.GetZoneId() != "z1" || m.GetRecord().GetContent() != "a\uFFFDa\uFFFDb" || m.GetRecord().GetTags()[0] != "\uFFFDa\uFFFD" {
		t.Errorf("sanitized = %v", &m)
	}
	if strings.Join(paths, ",") != "record.content,record.tags[0]" {
		t.Errorf("paths %v", paths)
	}
	if _, _, err := Sanitize((&dnsv1.CreateRecordRequest{}).ProtoReflect().Descriptor(), []byte{0x0a, 0x05, 'a'}); err == nil {
		t.Error("truncated message sanitized without error")
	}
}
