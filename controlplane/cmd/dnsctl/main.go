// Command dnsctl manages zonegrid zones, records and settings over the
// control plane's gRPC API.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpcstatus "google.golang.org/grpc/status"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one dnsctl invocation and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	defer a.close()
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		printError(stderr, err)
		return 1
	}
	return 0
}

// printError prints a gRPC status as its code, message and field
// violations, so that the user sees which flag or argument to fix.
func printError(w io.Writer, err error) {
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintln(w, "Error:", usage.msg)
		return
	}
	st, ok := grpcstatus.FromError(err)
	if !ok {
		fmt.Fprintln(w, "Error:", err)
		return
	}
	fmt.Fprintf(w, "Error: %s: %s\n", st.Code(), st.Message())
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				line := v.GetField() + ": " + v.GetDescription()
				if line != st.Message() {
					fmt.Fprintf(w, "  %s\n", line)
				}
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				fmt.Fprintf(w, "  %s %s: %s\n", v.GetType(), v.GetSubject(), v.GetDescription())
			}
		}
	}
}

// usageError is a mistake on the command line found before any request.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }
