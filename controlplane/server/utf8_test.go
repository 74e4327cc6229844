package server

import (
	"bytes"
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// rawBytesCodec puts bytes on the wire as they are: what no client's proto
// marshaller would send.
type rawBytesCodec struct{}

func (rawBytesCodec) Name() string { return "proto" }
func (rawBytesCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawBytesCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

// TestInvalidUTF8IsInvalidArgument: the real control plane, behind
// authentication and authorization, answers a request with invalid UTF-8
// in any string field InvalidArgument naming the field, not Internal; a
// zone id too (which authorization, judging it first, would call
// NotFound).
func TestInvalidUTF8IsInvalidArgument(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := startServer(t, Config{NameserverPool: []string{"ns1.zg.test", "ns2.zg.test"}})
	conn := operatorConn(t, s)
	zr, err := dnsv1.NewZoneServiceClient(conn).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	zid := zr.GetZone().GetId()
	tests := []struct {
		name   string
		method string
		req    proto.Message
		field  string
	}{
		{"record content", dnsv1.RecordService_CreateRecord_FullMethodName,
			&dnsv1.CreateRecordRequest{ZoneId: zid, Record: &dnsv1.Record{Name: "www", Type: "TXT", Content: "XXXX"}}, "record.content"},
		{"zone id", dnsv1.RecordService_CreateRecord_FullMethodName,
			&dnsv1.CreateRecordRequest{ZoneId: "XXXX", Record: &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1"}}, "zone_id"},
		{"zone name", dnsv1.ZoneService_CreateZone_FullMethodName,
			&dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "XXXX.example"}, "name"},
		{"batch post tag", dnsv1.RecordService_BatchRecords_FullMethodName,
			&dnsv1.BatchRecordsRequest{ZoneId: zid, Posts: []*dnsv1.Record{{Name: "a", Type: "A", Content: "192.0.2.1", Tags: []string{"XXXX"}}}},
			"posts[0].tags[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := proto.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.ReplaceAll(b, []byte("XXXX"), []byte{'a', 0xff, 0xfe, 'b'})
			var out []byte
			err = conn.Invoke(ctx, tt.method, b, &out, grpc.ForceCodecV2(rawBytesCodec{}))
			st := grpcstatus.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code %s (%s), want InvalidArgument", st.Code(), st.Message())
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if len(fields) != 1 || fields[0] != tt.field {
				t.Errorf("field violations %v, want [%s]", fields, tt.field)
			}
		})
	}
}
