package status

import (
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of zonegrid's errors.
const ErrorDomain = "zonegrid"

// CodedViolation is a field violation that also carries one of the source
// documents' numbered errors (e.g. 1099), so that clients written against
// those codes can keep matching on them.
type CodedViolation struct {
	FieldViolation
	// Reason is the machine-readable ErrorInfo reason (UPPER_SNAKE_CASE).
	Reason string
	// Code is the documents' error code; 0 when they give none.
	Code int
}

// InvalidArgumentCoded returns codes.InvalidArgument with a BadRequest
// detail naming the field and a google.rpc.ErrorInfo detail carrying the
// reason and, in its metadata, the documented code ("code") and the field.
func InvalidArgumentCoded(v CodedViolation) error {
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
		Field: v.Field, Description: v.Description,
	}}}
	info := &errdetails.ErrorInfo{Reason: v.Reason, Domain: ErrorDomain, Metadata: map[string]string{"field": v.Field}}
	if v.Code != 0 {
		info.Metadata["code"] = strconv.Itoa(v.Code)
	}
	msg := v.Field + ": " + v.Description
	st, err := grpcstatus.New(codes.InvalidArgument, msg).WithDetails(br, info)
	if err != nil {
		return grpcstatus.Error(codes.InvalidArgument, msg)
	}
	return st.Err()
}
