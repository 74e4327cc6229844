// Package grpccodec is the control plane's gRPC codec: protobuf, as gRPC's
// own, except that a request with invalid UTF-8 in a string field is
// rejected with codes.InvalidArgument and a google.rpc.BadRequest field
// violation naming the field ("record.content", "posts[1].tags[0]"),
// instead of the codes.Internal gRPC reports for every decoding error.
//
// gRPC writes a codec's error to the client as Internal before any handler
// or interceptor runs, so the codec cannot fail such a request itself.
// Instead it decodes the request with the bad strings made valid (each
// run of invalid bytes replaced by U+FFFD) and notes the fields, and an
// interceptor fails the call before a handler sees it:
//
//	grpc.ChainUnaryInterceptor(metrics, logging, grpccodec.UnaryInterceptor, authz)
//	grpc.NewServer(append(opts, grpccodec.ServerOptions()...)...)
package grpccodec

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/zonegrid/zonegrid/services/status"
)

// std is the codec of ServerOptions and UnaryInterceptor.
var std = New()

// ServerOptions installs the codec, and the check of streamed messages, on
// a gRPC server; UnaryInterceptor must be in its unary chain too.
func ServerOptions() []grpc.ServerOption { return std.ServerOptions() }

// UnaryInterceptor fails a unary call whose request held invalid UTF-8.
// Put it before any interceptor that reads the request or can fail the
// call (authentication, authorization): it must see every decoded request,
// or its note would stay behind, and authorization would judge the request
// by its repaired strings (a zone id with U+FFFD is NotFound, not an
// invalid argument). gRPC itself decodes before any interceptor runs, so
// a malformed request failing before authentication is gRPC's order too.
func UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return std.UnaryInterceptor(ctx, req, info, handler)
}

// New returns a Codec wrapping gRPC's proto codec.
func New() *Codec { return &Codec{base: encoding.GetCodecV2(grpcproto.Name)} }

// ServerOptions is the package's ServerOptions for this codec.
func (c *Codec) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(c),
		// The single stream slot, so the outermost: RecvMsg fails for
		// whoever reads the message.
		grpc.StreamInterceptor(c.checkStream),
	}
}

// Codec is the proto codec that notes invalid UTF-8 instead of failing.
type Codec struct {
	base encoding.CodecV2
	// bad maps a request message (the pointer the handler receives) to
	// the paths of its fields that held invalid UTF-8.
	bad sync.Map
}

// Name is the proto codec's: this codec replaces it for every call.
func (c *Codec) Name() string { return grpcproto.Name }

// Marshal is the proto codec's.
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

// Unmarshal decodes data into v. When the proto codec fails on invalid
// UTF-8 it decodes the data with those strings made valid and notes the
// fields for the interceptors; any other failure is returned unchanged.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m := messageOf(v)
	if m == nil {
		return err
	}
	fixed, paths, werr := Sanitize(m.ProtoReflect().Descriptor(), data.Materialize())
	if werr != nil || len(paths) == 0 {
		return err
	}
	if uerr := proto.Unmarshal(fixed, m); uerr != nil {
		return fmt.Errorf("grpccodec: decode with strings made valid: %w", uerr)
	}
	c.bad.Store(v, paths)
	return nil
}

func messageOf(v any) proto.Message {
	switch m := v.(type) {
	case proto.Message:
		return m
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(m)
	}
	return nil
}

// take returns the error for request v if the codec noted invalid UTF-8 in
// it, forgetting the note.
func (c *Codec) take(v any) error {
	p, ok := c.bad.LoadAndDelete(v)
	if !ok {
		return nil
	}
	paths := p.([]string)
	vs := make([]status.FieldViolation, len(paths))
	for i, f := range paths {
		vs[i] = status.FieldViolation{Field: f, Description: "is not valid UTF-8"}
	}
	return status.InvalidArguments(vs...)
}

// UnaryInterceptor is the package's UnaryInterceptor for this codec.
func (c *Codec) UnaryInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := c.take(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// checkStream fails RecvMsg for a message with invalid UTF-8, right after
// it is decoded, for whoever reads it.
func (c *Codec) checkStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &checkedStream{ServerStream: ss, c: c})
}

type checkedStream struct {
	grpc.ServerStream
	c *Codec
}

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.c.take(m)
}

// Sanitize returns b, a message of type md in wire form, with every string
// field holding invalid UTF-8 made valid, and the paths of those fields:
// field names joined by dots, a repeated field's index in brackets, a map
// entry's field as key or value ("labels.value"). It fails only on bytes
// that are not a message.
func Sanitize(md protoreflect.MessageDescriptor, b []byte) ([]byte, []string, error) {
	var paths []string
	out, err := sanitize(md, b, "", nil, &paths)
	return out, paths, err
}

func sanitize(md protoreflect.MessageDescriptor, b []byte, prefix string, out []byte, paths *[]string) ([]byte, error) {
	var seen map[protowire.Number]int // occurrences of repeated fields
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("grpccodec: %s: %w", md.FullName(), protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, fmt.Errorf("grpccodec: %s field %d: %w", md.FullName(), num, protowire.ParseError(m))
		}
		field := b[:n+m]
		b = b[n+m:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType ||
			(fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.MessageKind) {
			out = append(out, field...)
			continue
		}
		v, _ := protowire.ConsumeBytes(field[n:])
		path := prefix + string(fd.Name())
		if fd.IsList() {
			if seen == nil {
				seen = make(map[protowire.Number]int)
			}
			path = fmt.Sprintf("%s[%d]", path, seen[num])
			seen[num]++
		}
		if fd.Kind() == protoreflect.StringKind {
			if utf8.Valid(v) {
				out = append(out, field...)
				continue
			}
			*paths = append(*paths, path)
			out = protowire.AppendTag(out, num, protowire.BytesType)
			out = protowire.AppendString(out, strings.ToValidUTF8(string(v), "\uFFFD"))
			continue
		}
		before := len(*paths)
		inner, err := sanitize(fd.Message(), v, path+".", nil, paths)
		if err != nil {
			return nil, err
		}
		if len(*paths) == before {
			out = append(out, field...)
			continue
		}
		out = protowire.AppendTag(out, num, protowire.BytesType)
		out = protowire.AppendBytes(out, inner)
	}
	return out, nil
}
