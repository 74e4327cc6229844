package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

const recordHeader = "ID\tNAME\tTYPE\tCONTENT\tPRIORITY\tTTL\tPROXIED"

func recordRow(w io.Writer, r *dnsv1.Record) {
	ttl := strconv.FormatUint(uint64(r.GetTtl()), 10)
	if r.GetTtl() == 1 {
		ttl = "auto"
	}
	prio := ""
	if r.GetType() == "MX" || r.GetType() == "URI" {
		prio = strconv.FormatUint(uint64(r.GetPriority()), 10)
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%t\n", r.GetId(), r.GetName(), r.GetType(), r.GetContent(), prio, ttl, r.GetProxied())
}

func (a *app) printRecord(r *dnsv1.Record) error {
	return a.print(r, recordHeader, func(w io.Writer) { recordRow(w, r) })
}

// recordFlags are the record fields settable from the command line.
type recordFlags struct {
	name, typ, content, data, comment string
	ttl, priority                     uint32
	proxied, flatten                  bool
	tags                              []string
}

// flagPaths maps each flag to the Record path it sets, for patch masks.
var flagPaths = map[string]string{
	"name": "name", "type": "type", "content": "content", "data": "data", "ttl": "ttl",
	"priority": "priority", "proxied": "proxied", "comment": "comment", "tag": "tags", "flatten": "settings",
}

func (f *recordFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "record name: @, relative to the zone, or fully qualified")
	fs.StringVar(&f.typ, "type", "", "record type (A, AAAA, CNAME, MX, TXT, SRV, ...)")
	fs.StringVar(&f.content, "content", "", "RDATA in presentation format (MX/URI without the priority)")
	fs.StringVar(&f.data, "data", "", `structured RDATA as JSON, e.g. '{"srv":{"priority":10,"weight":5,"port":5223,"target":"x.example.com"}}'`)
	fs.Uint32Var(&f.ttl, "ttl", 1, "TTL in seconds; 1 is automatic")
	fs.Uint32Var(&f.priority, "priority", 0, "MX/URI priority")
	fs.BoolVar(&f.proxied, "proxied", false, "proxy the record (A, AAAA, CNAME)")
	fs.StringVar(&f.comment, "comment", "", "comment")
	fs.StringArrayVar(&f.tags, "tag", nil, "tag name:value (repeatable)")
	fs.BoolVar(&f.flatten, "flatten", false, "flatten this CNAME")
}

func (f *recordFlags) record() (*dnsv1.Record, error) {
	r := &dnsv1.Record{Name: f.name, Type: f.typ, Content: f.content, Ttl: f.ttl, Priority: f.priority,
		Proxied: f.proxied, Comment: f.comment, Tags: f.tags}
	if f.flatten {
		r.Settings = &dnsv1.RecordSettings{FlattenCname: true}
	}
	if f.data != "" {
		r.Data = &dnsv1.RecordData{}
		if err := protojson.Unmarshal([]byte(f.data), r.Data); err != nil {
			return nil, usagef("--data: %v", err)
		}
	}
	return r, nil
}

// mask lists the paths of the flags given on the command line.
func (f *recordFlags) mask(fs *pflag.FlagSet) []string {
	var paths []string
	fs.Visit(func(fl *pflag.Flag) {
		if p, ok := flagPaths[fl.Name]; ok {
			paths = append(paths, p)
		}
	})
	return paths
}

func (a *app) recordCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "record", Short: "Manage the DNS records of a zone (ZONE is an id, or a name with --account)"}
	cmd.AddCommand(a.recordCreateCmd(), a.recordListCmd(), a.recordGetCmd(), a.recordUpdateCmd(),
		a.recordPatchCmd(), a.recordDeleteCmd(), a.recordImportCmd(), a.recordExportCmd(), a.recordManagedByCmd())
	return cmd
}

func (a *app) recordCreateCmd() *cobra.Command {
	var f recordFlags
	cmd := &cobra.Command{
		Use:   "create ZONE --name N --type T (--content C | --data JSON)",
		Short: "Create a record",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := f.record()
			if err != nil {
				return err
			}
			return zoneCall(a, cmd, args[0], a.records, func(ctx context.Context, rc dnsv1.RecordServiceClient, zoneID string) error {
				resp, err := rc.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zoneID, Record: r})
				if err != nil {
					return err
				}
				return a.printRecord(resp.GetRecord())
			})
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func (a *app) recordListCmd() *cobra.Command {
	var (
		typ, match, tagMatch, order   string
		proxied, desc                 bool
		name, content, comment        dnsv1.TextFilter
		tagTests                      [6][]string // present, absent, exact, contains, starts_with, ends_with
		commentPresent, commentAbsent bool
	)
	cmd := &cobra.Command{
		Use:   "list ZONE [--name N] [--name-contains S] [--name-ends-with N] [--type T] [--content C] [--comment-present] [--tag k:v] [--match any] [--order ttl --desc]",
		Short: "List records, filtered and ordered (docs/RECORD_SEARCH.md)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			zoneID, err := a.resolveZone(cmd, args[0])
			if err != nil {
				return err
			}
			rc, err := a.records()
			if err != nil {
				return err
			}
			comment.Present, comment.Absent = commentPresent, commentAbsent
			req := &dnsv1.ListRecordsRequest{ZoneId: zoneID, Type: typ, PageSize: 5000, Descending: desc,
				NameFilter: &name, ContentFilter: &content, Comment: &comment}
			if cmd.Flags().Changed("proxied") {
				req.Proxied = &proxied
			}
			for kind, values := range tagTests {
				for _, v := range values {
					req.Tags = append(req.Tags, tagFilter(kind, v))
				}
			}
			if req.Match, err = matchFlag("match", match); err != nil {
				return err
			}
			if req.TagMatch, err = matchFlag("tag-match", tagMatch); err != nil {
				return err
			}
			o, ok := dnsv1.RecordOrder_value["RECORD_ORDER_"+strings.ToUpper(order)]
			if !ok {
				return fmt.Errorf("--order %q: want name, type, content, ttl or proxied", order)
			}
			req.Order = dnsv1.RecordOrder(o)
			all := &dnsv1.ListRecordsResponse{}
			for {
				ctx, cancel := a.rpc(cmd)
				resp, err := rc.ListRecords(ctx, req)
				cancel()
				if err != nil {
					return err
				}
				all.Records = append(all.Records, resp.GetRecords()...)
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					break
				}
			}
			return a.print(all, recordHeader, func(w io.Writer) {
				for _, r := range all.GetRecords() {
					recordRow(w, r)
				}
			})
		},
	}
	fl := cmd.Flags()
	for _, tf := range []struct {
		flag, what string
		f          *dnsv1.TextFilter
	}{{"name", "names", &name},
		{"content", "content", &content}, {"comment", "comments", &comment}} {
		fl.StringVar(&tf.f.Exact, tf.flag, "", "only records with this exact "+tf.flag)
		fl.StringVar(&tf.f.Contains, tf.flag+"-contains", "", "only "+tf.what+" containing this")
		fl.StringVar(&tf.f.StartsWith, tf.flag+"-starts-with", "", "only "+tf.what+" starting with this")
		fl.StringVar(&tf.f.EndsWith, tf.flag+"-ends-with", "", "only "+tf.what+" ending with this")
	}
	fl.Lookup("name").Usage = "only records with this exact name (relative names and @ accepted)"
	fl.Lookup("name-ends-with").Usage = "only this name and the names below it (relative names and @ accepted; a leading dot: only below)"
	fl.BoolVar(&commentPresent, "comment-present", false, "only records with a comment")
	fl.BoolVar(&commentAbsent, "comment-absent", false, "only records without a comment")
	fl.StringVar(&typ, "type", "", "only records of this type")
	fl.BoolVar(&proxied, "proxied", false, "only proxied (true) or DNS-only (false) records")
	for i, t := range []struct{ flag, usage string }{
		{"tag-present", "only records with a tag of this name (repeatable)"},
		{"tag-absent", "only records without a tag of this name (repeatable)"},
		{"tag", "only records with this name:value tag (repeatable)"},
		{"tag-contains", "name:value: a tag of that name whose value contains value (repeatable)"},
		{"tag-starts-with", "name:value: a tag of that name whose value starts with value (repeatable)"},
		{"tag-ends-with", "name:value: a tag of that name whose value ends with value (repeatable)"},
	} {
		fl.StringArrayVar(&tagTests[i], t.flag, nil, t.usage)
	}
	fl.StringVar(&match, "match", "all", "how the filters combine: all or any (the tag filters count as one)")
	fl.StringVar(&tagMatch, "tag-match", "all", "how the tag filters combine: all or any")
	fl.StringVar(&order, "order", "name", "name, type, content, ttl or proxied")
	fl.BoolVar(&desc, "desc", false, "descending order")
	return cmd
}

// tagFilter is the TagFilter of the kind-th tag flag (the order of
// tagTests).
func tagFilter(kind int, v string) *dnsv1.TagFilter {
	switch kind {
	case 0:
		return &dnsv1.TagFilter{Present: v}
	case 1:
		return &dnsv1.TagFilter{Absent: v}
	case 2:
		return &dnsv1.TagFilter{Exact: v}
	case 3:
		return &dnsv1.TagFilter{Contains: v}
	case 4:
		return &dnsv1.TagFilter{StartsWith: v}
	}
	return &dnsv1.TagFilter{EndsWith: v}
}

// matchFlag parses --match and --tag-match.
func matchFlag(flag, v string) (dnsv1.Match, error) {
	switch strings.ToLower(v) {
	case "", "all":
		return dnsv1.Match_MATCH_ALL, nil
	case "any":
		return dnsv1.Match_MATCH_ANY, nil
	}
	return 0, fmt.Errorf("--%s %q: want all or any", flag, v)
}

func (a *app) recordGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ZONE RECORD_ID",
		Short: "Show a record",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.records, func(ctx context.Context, rc dnsv1.RecordServiceClient, zoneID string) error {
				resp, err := rc.GetRecord(ctx, &dnsv1.GetRecordRequest{ZoneId: zoneID, RecordId: args[1]})
				if err != nil {
					return err
				}
				return a.printRecord(resp.GetRecord())
			})
		},
	}
}

func (a *app) recordUpdateCmd() *cobra.Command {
	var f recordFlags
	cmd := &cobra.Command{
		Use:   "update ZONE RECORD_ID --name N --type T (--content C | --data JSON)",
		Short: "Replace a record (fields not given take their defaults)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := f.record()
			if err != nil {
				return err
			}
			return zoneCall(a, cmd, args[0], a.records, func(ctx context.Context, rc dnsv1.RecordServiceClient, zoneID string) error {
				resp, err := rc.UpdateRecord(ctx, &dnsv1.UpdateRecordRequest{ZoneId: zoneID, RecordId: args[1], Record: r})
				if err != nil {
					return err
				}
				return a.printRecord(resp.GetRecord())
			})
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func (a *app) recordPatchCmd() *cobra.Command {
	var f recordFlags
	cmd := &cobra.Command{
		Use:   "patch ZONE RECORD_ID [--content C] [--ttl T] [...]",
		Short: "Change only the fields whose flags are given",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			paths := f.mask(cmd.Flags())
			if len(paths) == 0 {
				return usagef("give at least one field to change")
			}
			r, err := f.record()
			if err != nil {
				return err
			}
			return zoneCall(a, cmd, args[0], a.records, func(ctx context.Context, rc dnsv1.RecordServiceClient, zoneID string) error {
				resp, err := rc.PatchRecord(ctx, &dnsv1.PatchRecordRequest{ZoneId: zoneID, RecordId: args[1], Record: r,
					UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
				if err != nil {
					return err
				}
				return a.printRecord(resp.GetRecord())
			})
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func (a *app) recordDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ZONE RECORD_ID",
		Short: "Delete a record",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return zoneCall(a, cmd, args[0], a.records, func(ctx context.Context, rc dnsv1.RecordServiceClient, zoneID string) error {
				resp, err := rc.DeleteRecord(ctx, &dnsv1.DeleteRecordRequest{ZoneId: zoneID, RecordId: args[1]})
				if err != nil {
					return err
				}
				return a.print(resp, "", func(w io.Writer) { fmt.Fprintln(w, "deleted record", resp.GetRecordId()) })
			})
		},
	}
}
