package store

import (
	"strings"
	"testing"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func ids(rs []*dnsv1.Record) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.GetId())
	}
	return strings.Join(out, ",")
}

func TestRecordIndexAnswersNamesAndSubtrees(t *testing.T) {
	x := newRecordIndex()
	for _, r := range []*dnsv1.Record{
		{Id: "apex", Name: "example.com."},
		{Id: "w2", Name: "www.example.com."},
		{Id: "w1", Name: "www.example.com."},
		{Id: "deep", Name: "a.b.www.example.com."},
		{Id: "mail", Name: "mail.example.com."},
		{Id: "moved", Name: "old.example.com."},
		{Id: "gone", Name: "x.y.example.com."},
	} {
		x.put(r)
	}
	x.put(&dnsv1.Record{Id: "moved", Name: "new.www.example.com."}) // rename
	x.remove("gone")
	x.remove("never-existed")

	tests := []struct {
		name string
		got  []*dnsv1.Record
		want string
	}{
		{"exact name, by id", x.at("www.example.com."), "w1,w2"},
		{"name without records", x.at("b.www.example.com."), ""},
		{"unknown name", x.at("nope.example.com."), ""},
		{"renamed record left its old name", x.at("old.example.com."), ""},
		{"subtree, parents first", x.under("www.example.com."), "w1,w2,deep,moved"},
		{"whole zone", x.under("example.com."), "apex,mail,w1,w2,deep,moved"},
		{"deleted subtree", x.under("y.example.com."), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(tt.got); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, ok := x.nodes["y.example.com."]; ok {
		t.Error("names emptied by a delete are not pruned")
	}
	// Reads are clones: changing one does not change the index.
	x.at("www.example.com.")[0].Name = "changed."
	if x.byID["w1"].GetName() != "www.example.com." {
		t.Error("a read record aliases the index")
	}
}
