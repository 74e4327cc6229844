package zonecache

import (
	"errors"
	"testing"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

func TestBuildBytesEqualsBuild(t *testing.T) {
	s := zonetest.Zone(t, zonetest.Header("example.com.", 7), `
www       IN A 192.0.2.1
www       IN A 192.0.2.1
*         IN A 192.0.2.2 ; proxied managed=lb
a.b.ent   IN TXT "x"
deleg     IN NS ns.deleg
alias     IN CNAME www ; flatten
@         IN NS ignored.example.net.
`)
	b, err := snapshot.MarshalZone(s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := BuildBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := describe(got), describe(want); g != w {
		t.Errorf("BuildBytes differs from Build\n got: %s\nwant: %s", g, w)
	}
	// Deltas apply to it like to any zone: the id index is built too.
	d := &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 7, ToVersion: 8, Deletes: []string{s.Records[0].Id}}
	if _, err := ApplyDelta(got, d); err != nil {
		t.Fatal(err)
	}
}

func TestBuildBytesRejectsBadInput(t *testing.T) {
	good, err := snapshot.MarshalZone(zonetest.Zone(t, zonetest.Header("example.com.", 7), "www IN A 192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	otherFormat := zonetest.Header("example.com.", 7)
	otherFormat.Format = 99
	badFormat, _ := snapshot.MarshalZone(&snapshot.Zone{Header: otherFormat})
	pointer, _ := snapshot.MarshalZone(&snapshot.Zone{Header: zonetest.Header("example.com.", 7), RecordsObject: "example.com"})
	garbageRR, _ := snapshot.MarshalZone(&snapshot.Zone{Header: zonetest.Header("example.com.", 7),
		Records: []*snapshot.Record{{Id: "x", Rr: []byte{1, 2, 3}}}})
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrInvalidZone},
		{"truncated", good[:len(good)-3], ErrInvalidZone},
		{"garbage", []byte{0xff, 0xff, 0xff, 0xff}, ErrInvalidZone},
		{"unknown format", badFormat, snapshot.ErrFormat},
		{"records elsewhere", pointer, ErrInvalidZone},
		{"garbage record", garbageRR, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := BuildBytes(tt.b)
			if err == nil {
				t.Fatalf("built %s", z.Name)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}
