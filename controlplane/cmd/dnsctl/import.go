package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records/zonefile"
)

func (a *app) recordImportCmd() *cobra.Command {
	var proxied bool
	cmd := &cobra.Command{
		Use:   "import ZONE FILE",
		Short: "Import the records of a BIND zone file (one atomic change per 256 KiB)",
		Long: `Import the records of a BIND zone file with ImportRecords. A file of at most
256 KiB is one atomic change: all its records or, when any line is bad, none,
every bad line reported. A larger file is imported in parts of at most
256 KiB, split at record boundaries: each part is atomic on its own, the whole
file is not (a failed part leaves the parts before it imported).

The SOA and the NS records at the zone apex are skipped (the platform makes
them). --proxied proxies the records that can be, unless a record's
cf-proxied tag says otherwise.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("read zone file: %w", err)
			}
			zoneID, err := a.resolveZone(cmd, args[0])
			if err != nil {
				return err
			}
			rc, err := a.records()
			if err != nil {
				return err
			}
			var p *bool
			if cmd.Flags().Changed("proxied") {
				p = &proxied
			}
			if len(data) <= zonefile.MaxSize {
				resp, err := a.importPart(cmd, rc, &dnsv1.ImportRecordsRequest{ZoneId: zoneID, ZoneFile: data, Proxied: p}, "")
				if err != nil {
					return err
				}
				for _, s := range resp.GetSkipped() {
					fmt.Fprintf(a.stderr, "skipped line %d: %s\n", s.GetLine(), s.GetReason())
				}
				return a.printImported(resp)
			}
			return a.importParts(cmd, rc, zoneID, args[1], data, p)
		},
	}
	cmd.Flags().BoolVar(&proxied, "proxied", false, "proxy the imported records that can be proxied (a record's cf-proxied tag wins)")
	return cmd
}

func (a *app) printImported(resp *dnsv1.ImportRecordsResponse) error {
	return a.print(resp, "", func(w io.Writer) {
		fmt.Fprintf(w, "%s records added (%s read, %d skipped)\n", thousands(int(resp.GetRecsAdded())),
			thousands(int(resp.GetTotalRecordsParsed())), len(resp.GetSkipped()))
	})
}

// importParts imports a file above 256 KiB: it is read here (every bad
// line is reported before anything is sent), and its records written back
// in parts of at most 256 KiB with the zonefile writer, so that each part
// keeps every record's name, TTL, comment and tags whatever $ORIGIN and
// $TTL were in force where it was read.
func (a *app) importParts(cmd *cobra.Command, rc dnsv1.RecordServiceClient, zoneID, file string, data []byte, proxied *bool) error {
	zc, err := a.zones()
	if err != nil {
		return err
	}
	ctx, cancel := a.rpc(cmd)
	zresp, err := zc.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: zoneID})
	cancel()
	if err != nil {
		return err
	}
	res := zonefile.Read(data, zresp.GetZone().GetName())
	if len(res.Errors) > 0 {
		for _, e := range res.Errors {
			fmt.Fprintf(a.stderr, "%s:%d: %s\n", file, e.Line, e.Message)
		}
		return usagef("%s has %d bad lines; nothing was imported", file, len(res.Errors))
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(a.stderr, "skipped line %d: %s\n", s.Line, s.Reason)
	}
	parts := splitParts(zresp.GetZone().GetName(), res.Entries)
	fmt.Fprintf(a.stderr, "%s is %s bytes, above the 256 KiB of one import: importing %s records in %d parts.\n"+
		"Each part is atomic on its own; the whole file is not: if a part fails, the parts before it stay imported.\n",
		file, thousands(len(data)), thousands(len(res.Entries)), len(parts))
	total := &dnsv1.ImportRecordsResponse{TotalRecordsParsed: int32(res.Parsed)}
	for _, s := range res.Skipped {
		total.Skipped = append(total.Skipped, &dnsv1.SkippedRecord{Line: int32(s.Line), Reason: s.Reason})
	}
	for i, part := range parts {
		label := fmt.Sprintf("part %d/%d", i+1, len(parts))
		// One request id per part: a retry of a part whose answer was
		// lost is answered from what the server remembered, not applied
		// twice.
		resp, err := a.importPart(cmd, rc, &dnsv1.ImportRecordsRequest{ZoneId: zoneID, ZoneFile: part.data, Proxied: proxied, RequestId: newRequestID()}, label)
		if err != nil {
			fmt.Fprintf(a.stderr, "%s failed; %s records of parts 1-%d stay imported, nothing of parts %d-%d was.\n",
				label, thousands(int(total.GetRecsAdded())), i, i+1, len(parts))
			return part.fileLines(err, file)
		}
		total.RecsAdded += resp.GetRecsAdded()
		for _, s := range resp.GetSkipped() {
			// The server skipped it (an apex NS): report the file's line.
			if n := int(s.GetLine()); n >= 1 && n <= len(part.lines) && part.lines[n-1] > 0 {
				total.Skipped = append(total.Skipped, &dnsv1.SkippedRecord{Line: int32(part.lines[n-1]), Reason: s.GetReason()})
			}
		}
		fmt.Fprintf(a.stderr, "%s: %s records added\n", label, thousands(int(resp.GetRecsAdded())))
	}
	return a.printImported(total)
}

// importPart sends one ImportRecords, waiting out the per-user rate limit
// (three imports a minute) as the server's RetryInfo says.
func (a *app) importPart(cmd *cobra.Command, rc dnsv1.RecordServiceClient, req *dnsv1.ImportRecordsRequest, label string) (*dnsv1.ImportRecordsResponse, error) {
	for {
		ctx, cancel := a.rpc(cmd)
		resp, err := rc.ImportRecords(ctx, req)
		cancel()
		wait, limited := retryDelay(err)
		if !limited {
			return resp, err
		}
		if label == "" {
			label = "import"
		}
		fmt.Fprintf(a.stderr, "%s: rate limited (3 imports a minute), waiting %s\n", label, wait.Round(time.Second))
		select {
		case <-time.After(wait):
		case <-cmd.Context().Done():
			return nil, cmd.Context().Err()
		}
	}
}

func retryDelay(err error) (time.Duration, bool) {
	st, ok := grpcstatus.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// part is one ImportRecords of a split file; lines maps each line of the
// part to the line of the file it came from.
type part struct {
	data  []byte
	lines []int
}

// splitParts writes entries as zone files of at most zonefile.MaxSize
// bytes each.
func splitParts(origin string, entries []zonefile.Entry) []part {
	head := fmt.Sprintf("$ORIGIN %s\n", origin)
	var out []part
	cur := part{data: []byte(head), lines: []int{0}}
	for _, e := range entries {
		line := zonefile.Line(e) + "\n"
		if len(cur.data)+len(line) > zonefile.MaxSize && len(cur.lines) > 1 {
			out = append(out, cur)
			cur = part{data: []byte(head), lines: []int{0}}
		}
		cur.data = append(cur.data, line...)
		cur.lines = append(cur.lines, e.Line)
	}
	if len(cur.lines) > 1 {
		out = append(out, cur)
	}
	return out
}

var partLine = regexp.MustCompile(`line (\d+):`)

// fileLines rewrites the "line N:" of an error about this part into the
// line of the file the record came from.
func (p part) fileLines(err error, file string) error {
	st, ok := grpcstatus.FromError(err)
	if !ok {
		return err
	}
	fix := func(s string) string {
		return partLine.ReplaceAllStringFunc(s, func(m string) string {
			n, _ := strconv.Atoi(partLine.FindStringSubmatch(m)[1])
			if n >= 1 && n <= len(p.lines) && p.lines[n-1] > 0 {
				return fmt.Sprintf("%s line %d:", file, p.lines[n-1])
			}
			return m
		})
	}
	out := grpcstatus.New(st.Code(), fix(st.Message()))
	var details []*errdetails.BadRequest
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			c := &errdetails.BadRequest{}
			for _, v := range br.GetFieldViolations() {
				c.FieldViolations = append(c.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.GetField(), Description: fix(v.GetDescription())})
			}
			details = append(details, c)
		}
	}
	for _, d := range details {
		if withD, err := out.WithDetails(d); err == nil {
			out = withD
		}
	}
	return out.Err()
}

// thousands writes n with comma separators ("12,799").
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b bytes.Buffer
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
