// Package status builds the gRPC status errors every zonegrid service
// returns, so that clients see the same codes and error details whichever
// service rejected them.
package status

import (
	"context"
	"errors"

	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/controlplane/store"
)

// FieldViolation names one invalid request field and why it is invalid.
type FieldViolation struct {
	Field       string
	Description string
}

// InvalidArgument returns a codes.InvalidArgument error carrying a
// google.rpc.BadRequest detail that names the offending field, so clients
// can point at the field rather than parse the message.
func InvalidArgument(field, description string) error {
	return InvalidArguments(FieldViolation{Field: field, Description: description})
}

// InvalidArguments is InvalidArgument for several violations at once; the
// message is the first violation's, every violation is in the details.
func InvalidArguments(violations ...FieldViolation) error {
	if len(violations) == 0 {
		return grpcstatus.Error(codes.InvalidArgument, "invalid argument")
	}
	br := &errdetails.BadRequest{}
	for _, v := range violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       v.Field,
			Description: v.Description,
		})
	}
	msg := violations[0].Field + ": " + violations[0].Description
	if len(violations) > 1 {
		msg += " (and more, see details)"
	}
	st, err := grpcstatus.New(codes.InvalidArgument, msg).WithDetails(br)
	if err != nil {
		// WithDetails only fails on a nil/unmarshalable detail; keep the code.
		return grpcstatus.Error(codes.InvalidArgument, msg)
	}
	return st.Err()
}

// FailedPrecondition returns a codes.FailedPrecondition error carrying a
// google.rpc.PreconditionFailure detail of the given type and subject.
func FailedPrecondition(violationType, subject, description string) error {
	pf := &errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type: violationType, Subject: subject, Description: description,
	}}}
	st, err := grpcstatus.New(codes.FailedPrecondition, description).WithDetails(pf)
	if err != nil {
		return grpcstatus.Error(codes.FailedPrecondition, description)
	}
	return st.Err()
}

// FromStore maps an error of the storage layer to a gRPC status error. An
// error that already is a gRPC status passes through unchanged. Unknown
// errors become codes.Internal with a generic message: the cause is for the
// server log, not for clients.
func FromStore(err error) error {
	if err == nil {
		return nil
	}
	// Only an error that IS a status passes through (as the records service's
	// validation errors do); a status wrapped inside a store error comes from
	// etcd and its message would leak internals.
	if _, ok := err.(interface{ GRPCStatus() *grpcstatus.Status }); ok {
		return err
	}
	// Before the context errors: a server-side bound on an etcd call ends
	// in context.DeadlineExceeded too, but it is etcd's failure, not the
	// client's deadline, and a retry later may succeed.
	var ue *store.UnavailableError
	if errors.As(err, &ue) {
		return grpcstatus.Error(codes.Unavailable, "etcd unavailable: "+ue.Reason+"; retry later")
	}
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return grpcstatus.Error(codes.Unavailable, "etcd unavailable, retry later")
	case errors.Is(err, store.ErrNotFound):
		return grpcstatus.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrAlreadyExists):
		return grpcstatus.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, store.ErrBadPageToken):
		return InvalidArgument("page_token", "is not a token of this listing")
	case errors.Is(err, store.ErrConflict):
		return grpcstatus.Error(codes.Aborted, "concurrent modification, retry the request")
	case errors.Is(err, context.Canceled):
		return grpcstatus.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return grpcstatus.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	if st, ok := grpcstatus.FromError(err); ok {
		switch st.Code() {
		case codes.Canceled:
			return grpcstatus.Error(codes.Canceled, "request canceled")
		case codes.DeadlineExceeded:
			return grpcstatus.Error(codes.DeadlineExceeded, "deadline exceeded")
		case codes.Unavailable:
			return grpcstatus.Error(codes.Unavailable, "etcd unavailable, retry later")
		}
	}
	return grpcstatus.Error(codes.Internal, "internal error")
}

// Failed maps a service's write or read error to the status its client
// gets (FromStore) and logs, as "<service> failure", the ones a client
// cannot act on (Internal). A replayed request id passes through: the
// idempotency layer answers it.
func Failed(log *zap.Logger, service, op string, err error) error {
	if errors.Is(err, store.ErrIdempotentReplay) {
		return err
	}
	st := FromStore(err)
	if grpcstatus.Code(st) == codes.Internal {
		log.Error(service+" failure", zap.String("op", op), zap.Error(err))
	}
	return st
}
