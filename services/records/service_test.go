package records_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

type env struct {
	st     *store.Store
	client dnsv1.RecordServiceClient
	zone   *dnsv1.Zone
}

var zoneSeq atomic.Int64

// newEnv serves the record service over gRPC on 127.0.0.1 in front of a
// real store, with one zone example.com of the given plan.
func newEnv(t *testing.T, plan dnsv1.Plan) *env {
	t.Helper()
	return newEnvWith(t, plan, store.Config{})
}

// newEnvWith is newEnv with a store configuration (the prefix is set here).
func newEnvWith(t *testing.T, plan dnsv1.Plan, cfg store.Config) *env {
	t.Helper()
	log := zaptest.NewLogger(t)
	cfg.Prefix = etcdtest.Prefix(t)
	st := store.NewWithConfig(etcdCli, cfg, log)
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterRecordServiceServer(gs, records.New(st, records.Options{}, log))
	})
	e := &env{st: st, client: dnsv1.NewRecordServiceClient(conn)}
	e.zone = e.newZone(t, "example.com.", plan)
	return e
}

func (e *env) newZone(t *testing.T, name string, plan dnsv1.Plan) *dnsv1.Zone {
	t.Helper()
	id := fmt.Sprintf("zone%d", zoneSeq.Add(1))
	z, err := e.st.CreateZone(ctx(t), "acct1", name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: "acct1", Name: name, Plan: plan, Type: dnsv1.ZoneType_ZONE_TYPE_FULL}, nil
	})
	if err != nil {
		t.Fatalf("create zone: %v", err)
	}
	return z
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func (e *env) create(t *testing.T, r *dnsv1.Record) *dnsv1.Record {
	t.Helper()
	resp, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(), Record: r})
	if err != nil {
		t.Fatalf("create %v: %v", r, err)
	}
	return resp.GetRecord()
}

func (e *env) all(t *testing.T) []*dnsv1.Record {
	t.Helper()
	resp, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: e.zone.GetId(), PageSize: 5000})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return resp.GetRecords()
}

// violation returns the code and the first field violation of err.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	code, got := servicetest.Violation(err)
	if code != codes.InvalidArgument || got != field {
		t.Fatalf("error = %v (field %q), want InvalidArgument on %q", err, got, field)
	}
}

func TestCreateStoresCanonicalRecord(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	tests := []struct {
		name string
		in   *dnsv1.Record
		want *dnsv1.Record // compared on name, type, content, data, priority, ttl, proxied, proxiable
	}{
		{"A at apex", &dnsv1.Record{Name: "@", Type: "a", Content: "192.0.2.1"},
			&dnsv1.Record{Name: "example.com.", Type: "A", Content: "192.0.2.1", Ttl: 1, Proxiable: true}},
		{"AAAA relative name canonical content", &dnsv1.Record{Name: "v6", Type: "AAAA", Content: "2001:db8:0:0::1", Ttl: 3600},
			&dnsv1.Record{Name: "v6.example.com.", Type: "AAAA", Content: "2001:db8::1", Ttl: 3600, Proxiable: true}},
		{"proxied record TTL forced to automatic", &dnsv1.Record{Name: "www.Example.com", Type: "A", Content: "192.0.2.2", Ttl: 3600, Proxied: true},
			&dnsv1.Record{Name: "www.example.com.", Type: "A", Content: "192.0.2.2", Ttl: 1, Proxied: true, Proxiable: true}},
		{"proxied wildcard", &dnsv1.Record{Name: "*.app", Type: "CNAME", Content: "origin.example.net", Proxied: true},
			&dnsv1.Record{Name: "*.app.example.com.", Type: "CNAME", Content: "origin.example.net.", Ttl: 1, Proxied: true, Proxiable: true}},
		{"non-proxiable CNAME target not proxiable", &dnsv1.Record{Name: "selector1._domainkey", Type: "CNAME", Content: "selector1-x._domainkey.contoso.onmicrosoft.com"},
			&dnsv1.Record{Name: "selector1._domainkey.example.com.", Type: "CNAME", Content: "selector1-x._domainkey.contoso.onmicrosoft.com.", Ttl: 1}},
		{"MX priority", &dnsv1.Record{Name: "@", Type: "MX", Content: "mx1.example.net", Priority: 10, Ttl: 300},
			&dnsv1.Record{Name: "example.com.", Type: "MX", Content: "mx1.example.net.", Priority: 10, Ttl: 300}},
		{"SRV from data", &dnsv1.Record{Name: "_xmpp._tcp", Type: "SRV", Data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Priority: 10, Weight: 5, Port: 5223, Target: "server.example.com"}}}},
			&dnsv1.Record{Name: "_xmpp._tcp.example.com.", Type: "SRV", Content: "10 5 5223 server.example.com.", Ttl: 1,
				Data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Priority: 10, Weight: 5, Port: 5223, Target: "server.example.com."}}}}},
		{"TXT quoted", &dnsv1.Record{Name: "@", Type: "TXT", Content: "v=spf1 -all"},
			&dnsv1.Record{Name: "example.com.", Type: "TXT", Content: `"v=spf1 -all"`, Ttl: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.create(t, tt.in)
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got.GetId()) {
				t.Errorf("id %q is not 32 hex characters", got.GetId())
			}
			if got.GetZoneId() != e.zone.GetId() || got.GetCreatedOn() == nil || got.GetModifiedOn() == nil {
				t.Errorf("zone id / times not set: %v", got)
			}
			cmp := proto.Clone(got).(*dnsv1.Record)
			cmp.Id, cmp.ZoneId, cmp.CreatedOn, cmp.ModifiedOn = "", "", nil, nil
			if !proto.Equal(cmp, tt.want) {
				t.Errorf("stored\n %v\nwant\n %v", cmp, tt.want)
			}
			fetched, err := e.client.GetRecord(ctx(t), &dnsv1.GetRecordRequest{ZoneId: e.zone.GetId(), RecordId: got.GetId()})
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if !proto.Equal(fetched.GetRecord(), got) {
				t.Errorf("get returned %v, create returned %v", fetched.GetRecord(), got)
			}
		})
	}
}

func TestCreateRejectsInvalidRecordsWithoutWriting(t *testing.T) {
	free := newEnv(t, dnsv1.Plan_PLAN_FREE)
	tests := []struct {
		name  string
		in    *dnsv1.Record
		field string
	}{
		{"missing record", nil, "record"},
		{"name outside zone", &dnsv1.Record{Name: "www.example.org.", Type: "A", Content: "192.0.2.1"}, "record.name"},
		{"label too long", &dnsv1.Record{Name: strings.Repeat("a", 64), Type: "A", Content: "192.0.2.1"}, "record.name"},
		{"empty name", &dnsv1.Record{Type: "A", Content: "192.0.2.1"}, "record.name"},
		{"unsupported type", &dnsv1.Record{Name: "@", Type: "SOA", Content: "x"}, "record.type"},
		{"A short form", &dnsv1.Record{Name: "@", Type: "A", Content: "1.2.3"}, "record.content"},
		{"AAAA IPv4-mapped", &dnsv1.Record{Name: "@", Type: "AAAA", Content: "::ffff:192.0.2.1"}, "record.content"},
		{"SRV port", &dnsv1.Record{Name: "_s._tcp", Type: "SRV", Data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Port: 65536, Target: "a.example.com"}}}}, "record.data.srv.port"},
		{"TTL below 60 on free", &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.1", Ttl: 30}, "record.ttl"},
		{"TTL above a day", &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.1", Ttl: 86401}, "record.ttl"},
		{"proxied MX", &dnsv1.Record{Name: "@", Type: "MX", Content: "mx.example.net", Proxied: true}, "record.proxied"},
		{"proxied non-proxiable CNAME", &dnsv1.Record{Name: "k1._domainkey", Type: "CNAME", Content: "dkim2.mcsv.net", Proxied: true}, "record.proxied"},
		{"proxied amazonses subdomain", &dnsv1.Record{Name: "x._domainkey", Type: "CNAME", Content: "abc.dkim.amazonses.com", Proxied: true}, "record.proxied"},
		{"flatten on free plan", &dnsv1.Record{Name: "www", Type: "CNAME", Content: "a.example.net", Settings: &dnsv1.RecordSettings{FlattenCname: true}}, "record.settings.flatten_cname"},
		{"flatten on A", &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1", Settings: &dnsv1.RecordSettings{FlattenCname: true}}, "record.settings.flatten_cname"},
		{"comment over 100 on free", &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.1", Comment: strings.Repeat("c", 101)}, "record.comment"},
		{"tags on free plan", &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.1", Tags: []string{"team:web"}}, "record.tags"},
		{"CNAME to itself", &dnsv1.Record{Name: "loop", Type: "CNAME", Content: "loop.example.com"}, "record.content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := free.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: free.zone.GetId(), Record: tt.in})
			wantInvalid(t, err, tt.field)
		})
	}
	if n := len(free.all(t)); n != 0 {
		t.Fatalf("%d records written by rejected creates", n)
	}
}

func manyTags(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("t%d:v", i))
	}
	return out
}

func TestPlanDependentRules(t *testing.T) {
	ent := newEnv(t, dnsv1.Plan_PLAN_ENTERPRISE)
	pro := ent.newZone(t, "pro.example.", dnsv1.Plan_PLAN_PRO)
	r := ent.create(t, &dnsv1.Record{Name: "fast", Type: "A", Content: "192.0.2.1", Ttl: 30})
	if r.GetTtl() != 30 {
		t.Errorf("enterprise TTL 30 stored as %d", r.GetTtl())
	}
	r = ent.create(t, &dnsv1.Record{Name: "www", Type: "CNAME", Content: "a.example.net", Settings: &dnsv1.RecordSettings{FlattenCname: true}, Comment: strings.Repeat("c", 500)})
	if !r.GetSettings().GetFlattenCname() {
		t.Errorf("flatten_cname not stored on enterprise")
	}
	tests := []struct {
		name   string
		zoneID string
		in     *dnsv1.Record
		field  string
	}{
		{"TTL below 30 on enterprise", ent.zone.GetId(), &dnsv1.Record{Name: "x", Type: "A", Content: "192.0.2.1", Ttl: 29}, "record.ttl"},
		{"TTL 30 on pro", pro.GetId(), &dnsv1.Record{Name: "x", Type: "A", Content: "192.0.2.1", Ttl: 30}, "record.ttl"},
		{"flatten at apex", pro.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "a.example.net", Settings: &dnsv1.RecordSettings{FlattenCname: true}}, "record.settings.flatten_cname"},
		{"flatten proxied", pro.GetId(), &dnsv1.Record{Name: "p", Type: "CNAME", Content: "a.example.net", Proxied: true, Settings: &dnsv1.RecordSettings{FlattenCname: true}}, "record.settings.flatten_cname"},
		{"comment over 500", pro.GetId(), &dnsv1.Record{Name: "x", Type: "A", Content: "192.0.2.1", Comment: strings.Repeat("c", 501)}, "record.comment"},
		{"bad tag", pro.GetId(), &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.1", Tags: []string{"bad name:x"}}, "record.tags[0]"},
		{"too many tags", pro.GetId(), &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.1", Tags: manyTags(21)}, "record.tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ent.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: tt.zoneID, Record: tt.in})
			wantInvalid(t, err, tt.field)
		})
	}
	t.Run("flatten when the zone flattens all CNAMEs", func(t *testing.T) {
		if _, err := ent.st.UpdateZoneSettings(ctx(t), pro.GetId(), func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
			cur.FlattenAllCnames = true
			return cur, nil
		}); err != nil {
			t.Fatal(err)
		}
		_, err := ent.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: pro.GetId(),
			Record: &dnsv1.Record{Name: "f", Type: "CNAME", Content: "a.example.net", Settings: &dnsv1.RecordSettings{FlattenCname: true}}})
		wantInvalid(t, err, "record.settings.flatten_cname")
	})
}

func TestCrossRecordRules(t *testing.T) {
	tests := []struct {
		name     string
		existing []*dnsv1.Record
		in       *dnsv1.Record
		field    string // "" means accepted
	}{
		{"CNAME where an A exists", []*dnsv1.Record{{Name: "www", Type: "A", Content: "192.0.2.1"}},
			&dnsv1.Record{Name: "www", Type: "CNAME", Content: "a.example.net"}, "record.name"},
		{"CNAME where a TXT exists", []*dnsv1.Record{{Name: "www", Type: "TXT", Content: "hello"}},
			&dnsv1.Record{Name: "www", Type: "CNAME", Content: "a.example.net"}, "record.name"},
		{"second CNAME", []*dnsv1.Record{{Name: "www", Type: "CNAME", Content: "a.example.net"}},
			&dnsv1.Record{Name: "www", Type: "CNAME", Content: "b.example.net"}, "record.name"},
		{"A where a CNAME exists", []*dnsv1.Record{{Name: "www", Type: "CNAME", Content: "a.example.net"}},
			&dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1"}, "record.name"},
		{"CNAME at the apex next to MX and TXT", []*dnsv1.Record{{Name: "@", Type: "MX", Content: "mx.example.net", Priority: 10}, {Name: "@", Type: "TXT", Content: "v=spf1 -all"}},
			&dnsv1.Record{Name: "@", Type: "CNAME", Content: "a.example.net"}, ""},
		{"MX at the apex next to a CNAME", []*dnsv1.Record{{Name: "@", Type: "CNAME", Content: "a.example.net"}},
			&dnsv1.Record{Name: "@", Type: "MX", Content: "mx.example.net", Priority: 10}, ""},
		{"CNAME at the apex where an A exists", []*dnsv1.Record{{Name: "@", Type: "A", Content: "192.0.2.1"}},
			&dnsv1.Record{Name: "@", Type: "CNAME", Content: "a.example.net"}, "record.name"},
		{"AAAA at the apex where a CNAME exists", []*dnsv1.Record{{Name: "@", Type: "CNAME", Content: "a.example.net"}},
			&dnsv1.Record{Name: "@", Type: "AAAA", Content: "2001:db8::1"}, "record.name"},
		{"several A records at one name", []*dnsv1.Record{{Name: "www", Type: "A", Content: "192.0.2.1"}},
			&dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.2"}, ""},
		{"identical record", []*dnsv1.Record{{Name: "www", Type: "A", Content: "192.0.2.1"}},
			&dnsv1.Record{Name: "WWW", Type: "A", Content: "192.0.2.1", Ttl: 120}, "record.content"},
		{"identical after canonicalization", []*dnsv1.Record{{Name: "v6", Type: "AAAA", Content: "2001:db8::1"}},
			&dnsv1.Record{Name: "v6", Type: "AAAA", Content: "2001:0db8:0::1"}, "record.content"},
		{"MX same host other priority", []*dnsv1.Record{{Name: "@", Type: "MX", Content: "mx.example.net", Priority: 10}},
			&dnsv1.Record{Name: "@", Type: "MX", Content: "mx.example.net", Priority: 20}, ""},
		{"A at delegated name", []*dnsv1.Record{{Name: "blog", Type: "NS", Content: "ns1.other.net"}},
			&dnsv1.Record{Name: "blog", Type: "A", Content: "192.0.2.1"}, "record.name"},
		{"AAAA below delegated name", []*dnsv1.Record{{Name: "blog", Type: "NS", Content: "ns1.other.net"}},
			&dnsv1.Record{Name: "x.y.blog", Type: "AAAA", Content: "2001:db8::1"}, "record.name"},
		{"TXT at delegated name allowed", []*dnsv1.Record{{Name: "blog", Type: "NS", Content: "ns1.other.net"}},
			&dnsv1.Record{Name: "blog", Type: "TXT", Content: "x"}, ""},
		{"NS above an A", []*dnsv1.Record{{Name: "a.blog", Type: "A", Content: "192.0.2.1"}},
			&dnsv1.Record{Name: "blog", Type: "NS", Content: "ns1.other.net"}, "record.name"},
		{"NS at the apex does not delegate", []*dnsv1.Record{{Name: "@", Type: "NS", Content: "ns1.other.net"}},
			&dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1"}, ""},
		{"NS at the apex above records", []*dnsv1.Record{{Name: "www", Type: "A", Content: "192.0.2.1"}},
			&dnsv1.Record{Name: "@", Type: "NS", Content: "ns1.other.net"}, ""},
		{"TXT sum at a name over 8192", []*dnsv1.Record{
			{Name: "t", Type: "TXT", Content: strings.Repeat("a", 2048)}, {Name: "t", Type: "TXT", Content: strings.Repeat("b", 2048)},
			{Name: "t", Type: "TXT", Content: strings.Repeat("c", 2048)}, {Name: "t", Type: "TXT", Content: strings.Repeat("d", 2048)}},
			&dnsv1.Record{Name: "t", Type: "TXT", Content: "e"}, "record.content"},
		{"TXT sum exactly 8192", []*dnsv1.Record{
			{Name: "t", Type: "TXT", Content: strings.Repeat("a", 2048)}, {Name: "t", Type: "TXT", Content: strings.Repeat("b", 2048)},
			{Name: "t", Type: "TXT", Content: strings.Repeat("c", 2048)}},
			&dnsv1.Record{Name: "t", Type: "TXT", Content: strings.Repeat("d", 2048)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, dnsv1.Plan_PLAN_FREE)
			for _, r := range tt.existing {
				e.create(t, r)
			}
			_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(), Record: tt.in})
			if tt.field == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			wantInvalid(t, err, tt.field)
			if n := len(e.all(t)); n != len(tt.existing) {
				t.Fatalf("%d records after a rejected create, want %d", n, len(tt.existing))
			}
		})
	}
}

func TestDelegationErrorNamesTheNSName(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	e.create(t, &dnsv1.Record{Name: "blog", Type: "NS", Content: "ns1.other.net"})
	_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(), Record: &dnsv1.Record{Name: "www.blog", Type: "A", Content: "192.0.2.1"}})
	if !strings.Contains(grpcstatus.Convert(err).Message(), "blog.example.com.") {
		t.Fatalf("message %q does not name the NS name", grpcstatus.Convert(err).Message())
	}
}

func TestUnknownZoneAndRecordAreNotFound(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	r := e.create(t, &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1"})
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"create in missing zone", func() error {
			_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: "nope", Record: &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.1"}})
			return err
		}, "nope"},
		{"list missing zone", func() error {
			_, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: "nope"})
			return err
		}, "nope"},
		{"get missing record", func() error {
			_, err := e.client.GetRecord(ctx(t), &dnsv1.GetRecordRequest{ZoneId: e.zone.GetId(), RecordId: "deadbeef"})
			return err
		}, "deadbeef"},
		{"get record of another zone", func() error {
			other := e.newZone(t, "other.example.", dnsv1.Plan_PLAN_FREE)
			_, err := e.client.GetRecord(ctx(t), &dnsv1.GetRecordRequest{ZoneId: other.GetId(), RecordId: r.GetId()})
			return err
		}, r.GetId()},
		{"update missing record", func() error {
			_, err := e.client.UpdateRecord(ctx(t), &dnsv1.UpdateRecordRequest{ZoneId: e.zone.GetId(), RecordId: "deadbeef", Record: &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.1"}})
			return err
		}, "deadbeef"},
		{"delete missing record", func() error {
			_, err := e.client.DeleteRecord(ctx(t), &dnsv1.DeleteRecordRequest{ZoneId: e.zone.GetId(), RecordId: "deadbeef"})
			return err
		}, "deadbeef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			st := grpcstatus.Convert(err)
			if st.Code() != codes.NotFound || !strings.Contains(st.Message(), tt.want) {
				t.Fatalf("error = %v, want NotFound naming %q", err, tt.want)
			}
		})
	}
}

func TestUpdateReplacesAndKeepsReadOnlyFields(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_PRO)
	orig := e.create(t, &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1", Ttl: 600, Comment: "c", Tags: []string{"team:web"}})
	resp, err := e.client.UpdateRecord(ctx(t), &dnsv1.UpdateRecordRequest{ZoneId: e.zone.GetId(), RecordId: orig.GetId(),
		Record: &dnsv1.Record{Name: "web", Type: "CNAME", Content: "a.example.net", Meta: &dnsv1.RecordMeta{ManagedBy: "me"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetRecord()
	if got.GetId() != orig.GetId() || got.GetName() != "web.example.com." || got.GetType() != "CNAME" || got.GetTtl() != 1 ||
		got.GetComment() != "" || len(got.GetTags()) != 0 || got.GetMeta().GetManagedBy() != "" ||
		!proto.Equal(got.GetCreatedOn(), orig.GetCreatedOn()) {
		t.Fatalf("update result %v", got)
	}
	if recs := e.all(t); len(recs) != 1 || recs[0].GetName() != "web.example.com." {
		t.Fatalf("records after rename: %v", recs)
	}
}

// setMeta marks a record as managed by a product, as only the platform
// can (the authorization table keeps SetRecordManagedBy to the operator).
func setMeta(t *testing.T, e *env, id, by string) {
	t.Helper()
	if _, err := e.client.SetRecordManagedBy(ctx(t), &dnsv1.SetRecordManagedByRequest{ZoneId: e.zone.GetId(), RecordId: id, ManagedBy: by}); err != nil {
		t.Fatal(err)
	}
}

// A record managed by a product is read-only to the record API: update,
// patch, delete and a batch touching it fail with FailedPrecondition and
// change nothing; clearing the mark makes it editable again. managed_by is
// a closed set.
func TestManagedRecordsAreReadOnly(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_PRO)
	r := e.create(t, &dnsv1.Record{Name: "bucket", Type: "CNAME", Content: "public.r2.example.net", Proxied: true})
	setMeta(t, e, r.GetId(), "r2")
	got, err := e.client.GetRecord(ctx(t), &dnsv1.GetRecordRequest{ZoneId: e.zone.GetId(), RecordId: r.GetId()})
	if err != nil || got.GetRecord().GetMeta().GetManagedBy() != "r2" {
		t.Fatalf("managed_by after SetRecordManagedBy: %v, %v", got, err)
	}
	zid, id := e.zone.GetId(), r.GetId()
	writes := []struct {
		name  string
		call  func() error
		field string
	}{
		{"update", func() error {
			_, err := e.client.UpdateRecord(ctx(t), &dnsv1.UpdateRecordRequest{ZoneId: zid, RecordId: id, Record: &dnsv1.Record{Name: "bucket", Type: "CNAME", Content: "elsewhere.example.net"}})
			return err
		}, "record_id"},
		{"patch", func() error {
			_, err := e.client.PatchRecord(ctx(t), &dnsv1.PatchRecordRequest{ZoneId: zid, RecordId: id, Record: &dnsv1.Record{Proxied: false},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"proxied"}}})
			return err
		}, "record_id"},
		{"delete", func() error {
			_, err := e.client.DeleteRecord(ctx(t), &dnsv1.DeleteRecordRequest{ZoneId: zid, RecordId: id})
			return err
		}, "record_id"},
		{"batch delete", func() error {
			_, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: zid, Deletes: []string{id},
				Posts: []*dnsv1.Record{{Name: "other", Type: "A", Content: "192.0.2.9"}}})
			return err
		}, "deletes[0]"},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			err := w.call()
			if grpcstatus.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "managed by r2") {
				t.Fatalf("%s of a managed record: %v", w.name, err)
			}
			if v := precondition(t, err); v.GetSubject() != w.field || v.GetType() != "MANAGED_RECORD" {
				t.Errorf("violation %v, want subject %s", v, w.field)
			}
		})
	}
	if recs := e.all(t); len(recs) != 1 || recs[0].GetContent() != "public.r2.example.net." || !recs[0].GetProxied() {
		t.Fatalf("records after refused writes: %v", recs)
	}

	for _, bad := range []string{"lb", "R2", "other", "load-balancing"} {
		_, err := e.client.SetRecordManagedBy(ctx(t), &dnsv1.SetRecordManagedByRequest{ZoneId: zid, RecordId: id, ManagedBy: bad})
		if grpcstatus.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "managed_by") {
			t.Errorf("managed_by %q: %v", bad, err)
		}
	}

	setMeta(t, e, id, "")
	if _, err := e.client.DeleteRecord(ctx(t), &dnsv1.DeleteRecordRequest{ZoneId: zid, RecordId: id}); err != nil {
		t.Fatalf("delete after the mark was cleared: %v", err)
	}
}

// precondition returns the one PreconditionFailure violation of err.
func precondition(t *testing.T, err error) *errdetails.PreconditionFailure_Violation {
	t.Helper()
	for _, d := range grpcstatus.Convert(err).Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok && len(pf.GetViolations()) == 1 {
			return pf.GetViolations()[0]
		}
	}
	t.Fatalf("no precondition violation in %v", err)
	return nil
}

func TestPatchChangesOnlyMaskedFields(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_PRO)
	orig := e.create(t, &dnsv1.Record{Name: "_s._tcp", Type: "SRV", Content: "1 2 80 a.example.net", Ttl: 600, Comment: "keep"})
	tests := []struct {
		name  string
		in    *dnsv1.Record
		paths []string
		check func(t *testing.T, r *dnsv1.Record)
		field string
	}{
		{"ttl only", &dnsv1.Record{Ttl: 120, Comment: "ignored"}, []string{"ttl"}, func(t *testing.T, r *dnsv1.Record) {
			if r.GetTtl() != 120 || r.GetComment() != "keep" || r.GetContent() != "1 2 80 a.example.net." {
				t.Errorf("patched %v", r)
			}
		}, ""},
		{"data only replaces content", &dnsv1.Record{Data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Priority: 5, Weight: 5, Port: 443, Target: "b.example.net"}}}}, []string{"data"},
			func(t *testing.T, r *dnsv1.Record) {
				if r.GetContent() != "5 5 443 b.example.net." || r.GetData().GetSrv().GetPort() != 443 {
					t.Errorf("patched %v", r)
				}
			}, ""},
		{"content only replaces data", &dnsv1.Record{Content: "1 1 8080 c.example.net"}, []string{"content"},
			func(t *testing.T, r *dnsv1.Record) {
				if r.GetData().GetSrv().GetPort() != 8080 {
					t.Errorf("patched %v", r)
				}
			}, ""},
		{"unknown path", &dnsv1.Record{}, []string{"meta"}, nil, "update_mask"},
		{"empty mask", &dnsv1.Record{}, nil, nil, "update_mask"},
		{"invalid value", &dnsv1.Record{Ttl: 5}, []string{"ttl"}, nil, "record.ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.client.PatchRecord(ctx(t), &dnsv1.PatchRecordRequest{ZoneId: e.zone.GetId(), RecordId: orig.GetId(),
				Record: tt.in, UpdateMask: &fieldmaskpb.FieldMask{Paths: tt.paths}})
			if tt.field != "" {
				wantInvalid(t, err, tt.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, resp.GetRecord())
		})
	}
}

func TestDeleteRemovesRecord(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	r := e.create(t, &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1"})
	resp, err := e.client.DeleteRecord(ctx(t), &dnsv1.DeleteRecordRequest{ZoneId: e.zone.GetId(), RecordId: r.GetId()})
	if err != nil || resp.GetRecordId() != r.GetId() {
		t.Fatalf("delete: %v %v", resp, err)
	}
	if n := len(e.all(t)); n != 0 {
		t.Fatalf("%d records left", n)
	}
	// The name is free again for a CNAME.
	e.create(t, &dnsv1.Record{Name: "www", Type: "CNAME", Content: "a.example.net"})
}

func TestListFiltersAndPages(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	for i := range 5 {
		e.create(t, &dnsv1.Record{Name: "www", Type: "A", Content: fmt.Sprintf("192.0.2.%d", i+1), Proxied: i%2 == 0})
	}
	e.create(t, &dnsv1.Record{Name: "v6", Type: "AAAA", Content: "2001:db8::1"})
	e.create(t, &dnsv1.Record{Name: "@", Type: "TXT", Content: "x"})
	yes := true
	tests := []struct {
		name string
		req  *dnsv1.ListRecordsRequest
		want int
	}{
		{"all", &dnsv1.ListRecordsRequest{}, 7},
		{"by relative name", &dnsv1.ListRecordsRequest{Name: "www"}, 5},
		{"by apex", &dnsv1.ListRecordsRequest{Name: "@"}, 1},
		{"by type", &dnsv1.ListRecordsRequest{Type: "aaaa"}, 1},
		{"by non-canonical content", &dnsv1.ListRecordsRequest{Type: "AAAA", Content: "2001:db8:0::1"}, 1},
		{"by proxied", &dnsv1.ListRecordsRequest{Proxied: &yes}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.ZoneId = e.zone.GetId()
			resp, err := e.client.ListRecords(ctx(t), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetRecords()) != tt.want {
				t.Fatalf("%d records, want %d", len(resp.GetRecords()), tt.want)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		seen := map[string]bool{}
		tok := ""
		for range 10 {
			resp, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: e.zone.GetId(), PageSize: 3, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetRecords()) > 3 {
				t.Fatalf("page of %d", len(resp.GetRecords()))
			}
			for _, r := range resp.GetRecords() {
				seen[r.GetId()] = true
			}
			if tok = resp.GetNextPageToken(); tok == "" {
				break
			}
		}
		if len(seen) != 7 {
			t.Fatalf("paged through %d records, want 7", len(seen))
		}
	})
	t.Run("bad page token", func(t *testing.T) {
		_, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: e.zone.GetId(), PageToken: "garbage!"})
		wantInvalid(t, err, "page_token")
	})
	t.Run("negative page size", func(t *testing.T) {
		_, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: e.zone.GetId(), PageSize: -1})
		wantInvalid(t, err, "page_size")
	})
}

func TestBatchIsOrderedAndAtomic(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	cname := e.create(t, &dnsv1.Record{Name: "www", Type: "CNAME", Content: "a.example.net"})
	a := e.create(t, &dnsv1.Record{Name: "api", Type: "A", Content: "192.0.2.1"})
	txt := e.create(t, &dnsv1.Record{Name: "t", Type: "TXT", Content: "one"})

	t.Run("rejected batch writes nothing", func(t *testing.T) {
		_, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: e.zone.GetId(),
			Deletes: []string{txt.GetId()},
			Patches: []*dnsv1.RecordPatch{{RecordId: a.GetId(), Record: &dnsv1.Record{Ttl: 600}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ttl"}}}},
			Posts: []*dnsv1.Record{
				{Name: "new", Type: "A", Content: "192.0.2.9"},
				{Name: "new", Type: "CNAME", Content: "b.example.net"}, // conflicts with the post before it
			}})
		wantInvalid(t, err, "posts[1].name")
		recs := e.all(t)
		if len(recs) != 3 {
			t.Fatalf("%d records after rejected batch, want 3", len(recs))
		}
		for _, r := range recs {
			if r.GetId() == a.GetId() && r.GetTtl() != 1 {
				t.Fatalf("patch of rejected batch applied: %v", r)
			}
		}
	})
	t.Run("delete before post frees the name", func(t *testing.T) {
		resp, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: e.zone.GetId(),
			Deletes: []string{cname.GetId()},
			Puts:    []*dnsv1.RecordPut{{RecordId: a.GetId(), Record: &dnsv1.Record{Name: "api", Type: "A", Content: "192.0.2.2"}}},
			Posts: []*dnsv1.Record{
				{Name: "www", Type: "A", Content: "192.0.2.3"},
				{Name: "www", Type: "AAAA", Content: "2001:db8::3"},
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetDeleted()) != 1 || len(resp.GetPut()) != 1 || len(resp.GetPosted()) != 2 || resp.GetPut()[0].GetContent() != "192.0.2.2" {
			t.Fatalf("response %v", resp)
		}
		if n := len(e.all(t)); n != 4 {
			t.Fatalf("%d records, want 4", n)
		}
	})
	t.Run("errors name the operation", func(t *testing.T) {
		_, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: e.zone.GetId(),
			Puts: []*dnsv1.RecordPut{{RecordId: a.GetId(), Record: &dnsv1.Record{Name: "api", Type: "A", Content: "nope"}}}})
		wantInvalid(t, err, "puts[0].record.content")
		_, err = e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: e.zone.GetId(),
			Deletes: []string{a.GetId(), a.GetId()}})
		if st := grpcstatus.Convert(err); st.Code() != codes.NotFound || !strings.Contains(st.Message(), "deletes[1]") {
			t.Fatalf("double delete: %v", err)
		}
	})
	t.Run("free plan batch limit", func(t *testing.T) {
		posts := make([]*dnsv1.Record, 201)
		for i := range posts {
			posts[i] = &dnsv1.Record{Name: fmt.Sprintf("h%d", i), Type: "A", Content: "192.0.2.1"}
		}
		_, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: e.zone.GetId(), Posts: posts})
		wantInvalid(t, err, "posts")
	})
}

// TestConcurrentConflictingWritesOneWins: a CNAME and an A at one name
// created at the same time must not both be stored.
func TestConcurrentConflictingWritesOneWins(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	for round := range 5 {
		name := fmt.Sprintf("race%d", round)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, r := range []*dnsv1.Record{
			{Name: name, Type: "CNAME", Content: "a.example.net"},
			{Name: name, Type: "A", Content: "192.0.2.1"},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(), Record: r})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if c, _ := servicetest.Violation(err); c != codes.InvalidArgument && !errors.Is(err, context.Canceled) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of the conflicting creates succeeded: %v", round, ok, errs)
		}
	}
}
