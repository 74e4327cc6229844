package builder

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// A change after a quiet spell is published at once, but a burst of
// commits must still be coalesced: batches start at least Coalesce apart
// (startBuilder: 5 ms), so a zone is compiled at most once per window
// however many commits the burst holds, and the last state is published.
func TestBurstOfCommitsStartsBatchesAtLeastCoalesceApart(t *testing.T) {
	const coalesce = 5 * time.Millisecond
	e := newEnv(t, 0)
	var (
		mu     sync.Mutex
		starts []time.Time
		revs   []int64
	)
	b, _ := e.startBuilderWith(t, Config{SOARname: "dns.test.", Coalesce: coalesce, Trace: func(bt BatchTrace) {
		mu.Lock()
		defer mu.Unlock()
		starts = append(starts, bt.Coalesced)
		revs = append(revs, bt.Revision)
	}})
	createZone(t, e.st, "zone1", "acct1", "burst.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	eventually(t, "zone published", func() (bool, string) {
		_, err := e.zoneSnapshot(t, "burst.example.")
		return err == nil, fmt.Sprint(err)
	})

	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := &dnsv1.Record{Id: fmt.Sprintf("r%d-%d", w, i),
					Name: fmt.Sprintf("h%d-%d.burst.example.", w, i), Type: "A", Content: "192.0.2.1", Ttl: 60}
				if err := e.st.UpdateRecords(context.Background(), "zone1", func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
					return []store.RecordOp{{Put: r}}, nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	eventually(t, "every record of the burst published", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "burst.example.")
		if err != nil {
			return false, err.Error()
		}
		n := len(recordIDs(z))
		return n >= writers*each, fmt.Sprintf("%d records", n)
	})

	// A batch is traced once its revision is stored, after it published.
	eventually(t, "every batch traced", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		pub := b.published.Load()
		return len(revs) > 0 && revs[len(revs)-1] >= pub, fmt.Sprintf("traced %v, published %d", revs, pub)
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.IsSorted(revs) {
		t.Errorf("batch revisions out of order: %v", revs)
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < coalesce {
			t.Errorf("batch %d started %v after the one before, less than the %v window", i, gap, coalesce)
		}
	}
	t.Logf("%d commits published in %d batches", writers*each, len(starts))
}
