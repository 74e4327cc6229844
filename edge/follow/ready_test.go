package follow

import (
	"context"
	"testing"
	"time"

	"github.com/zonegrid/zonegrid/edge/internal/natstest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// An edge must not call itself ready on an incomplete listing: the zones
// it lacks would be answered REFUSED although they exist.
func TestFollowerIsNotReadyOnAnIncompleteListing(t *testing.T) {
	cases := []struct {
		name string
		// before runs before the follower starts; it leaves the listing
		// incomplete. repair makes it complete.
		before, repair func(t *testing.T, url string) *natstest.Publisher
		want           string
		// later: the zone may arrive just after ready (see below).
		later bool
	}{
		{
			name:   "no buckets yet",
			before: func(*testing.T, string) *natstest.Publisher { return nil },
			repair: func(t *testing.T, url string) *natstest.Publisher {
				p := natstest.NewPublisher(t, url)
				p.PutZone(zone(t, "small.test.", 3))
				return p
			},
			want:  "small.test.",
			later: true,
		},
		{
			name: "zone object missing",
			before: func(t *testing.T, url string) *natstest.Publisher {
				p := natstest.NewPublisher(t, url)
				p.PutZone(zone(t, "small.test.", 3))
				// The pointer names an object the store does not hold.
				p.PutZone(&snapshot.Zone{Header: zone(t, "large.test.", 5).GetHeader(), RecordsObject: snapshot.ZoneKey("large.test.")})
				return p
			},
			repair: func(t *testing.T, url string) *natstest.Publisher {
				p := natstest.NewPublisher(t, url)
				p.PutZoneObject(zone(t, "large.test.", 6))
				return p
			},
			want: "large.test.",
		},
		{
			// The control plane writes the object before the pointer, so
			// this is a fetch that failed (a timeout on a loaded NATS):
			// nothing publishes the pointer again, the edge must retry.
			name: "zone object missing, then stored without a new pointer",
			before: func(t *testing.T, url string) *natstest.Publisher {
				p := natstest.NewPublisher(t, url)
				p.PutZone(&snapshot.Zone{Header: zone(t, "large.test.", 5).GetHeader(), RecordsObject: snapshot.ZoneKey("large.test.")})
				return p
			},
			repair: func(t *testing.T, url string) *natstest.Publisher {
				p := natstest.NewPublisher(t, url)
				p.PutObjectOnly(zone(t, "large.test.", 5))
				return p
			},
			want: "large.test.",
		},
		{
			name: "bucket being refilled",
			before: func(t *testing.T, url string) *natstest.Publisher {
				p := natstest.NewPublisher(t, url)
				setFilling(t, p, true)
				p.PutZone(zone(t, "small.test.", 3))
				return p
			},
			repair: func(t *testing.T, url string) *natstest.Publisher {
				p := natstest.NewPublisher(t, url)
				p.PutZone(zone(t, "later.test.", 4))
				setFilling(t, p, false)
				return p
			},
			want: "later.test.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := natstest.Start(t, t.TempDir(), 0)
			t.Cleanup(srv.Stop)
			tc.before(t, srv.URL())
			f, zones, _ := startFollower(t, srv.URL())
			select {
			case <-f.Ready():
				t.Fatal("ready on an incomplete listing")
			case <-time.After(time.Second):
			}
			tc.repair(t, srv.URL())
			select {
			case <-f.Ready():
			case <-time.After(wait):
				t.Fatal("never ready after the repair")
			}
			// "No buckets yet" is repaired by a publisher that creates the
			// buckets before its first put: the follower may rightly go
			// ready on the (complete, empty) listing in between, and take
			// the zone from the watch a moment later.
			deadline := time.Now().Add(wait)
			for zones.Get(tc.want) == nil {
				if !tc.later || time.Now().After(deadline) {
					t.Fatalf("ready, and never served zone %s", tc.want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// setFilling sets or clears the mark the control plane puts on a bucket it
// recreated and is still filling.
func setFilling(t *testing.T, p *natstest.Publisher, on bool) {
	t.Helper()
	ctx := context.Background()
	st, err := p.Zones.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.Config()
	if cfg.Metadata == nil {
		cfg.Metadata = map[string]string{}
	}
	if on {
		cfg.Metadata[snapshot.FillingMetadata] = "test"
	} else {
		delete(cfg.Metadata, snapshot.FillingMetadata)
	}
	if _, err := p.JS.UpdateKeyValue(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// A ready edge whose fetch of a newer version's object failed serves the
// version it holds and fetches the object again, without waiting for the
// control plane to publish yet another version.
func TestFollowerFetchesAnObjectAgainAfterAFailedFetch(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	p := natstest.NewPublisher(t, srv.URL())
	p.PutZoneObject(zone(t, "large.test.", 5))
	f, zones, _ := startFollower(t, srv.URL())
	select {
	case <-f.Ready():
	case <-time.After(wait):
		t.Fatal("never ready")
	}
	// Version 6's pointer arrives before its object: the fetch fails.
	if err := p.Objects.Delete(context.Background(), snapshot.ZoneKey("large.test.")); err != nil {
		t.Fatal(err)
	}
	p.PutZone(&snapshot.Zone{Header: zone(t, "large.test.", 6).GetHeader(), RecordsObject: snapshot.ZoneKey("large.test.")})
	time.Sleep(300 * time.Millisecond)
	if z := zones.Get("large.test."); z == nil || z.Version != 5 {
		t.Fatalf("while version 6's object is missing: want version 5 served, got %+v", z)
	}
	p.PutObjectOnly(zone(t, "large.test.", 6))
	deadline := time.Now().Add(wait)
	for {
		if z := zones.Get("large.test."); z != nil && z.Version == 6 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("version 6 never served after its object was stored")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
