package notify

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestNoticeRoundTripsAndBadOnesAreRefused(t *testing.T) {
	good := Notice{ZoneID: "z1", Zone: "sec.example.", Source: "192.0.2.1", Serial: 7, HasSerial: true, Received: 1}
	b, err := Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Unmarshal(b); err != nil || got != good {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, c := range []struct {
		name string
		in   string
	}{
		{"not json", "nope"},
		{"no zone id", `{"zone":"a.","source":"192.0.2.1"}`},
		{"relative zone name", `{"zone_id":"z","zone":"a","source":"192.0.2.1"}`},
		{"bad source", `{"zone_id":"z","zone":"a.","source":"x"}`},
		{"too large", `{"zone_id":"` + string(make([]byte, MaxSize)) + `"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Unmarshal([]byte(c.in)); !errors.Is(err, ErrBadNotice) {
				t.Fatalf("err %v, want ErrBadNotice", err)
			}
		})
	}
	if Subject("sec.example.") != "zonegrid.notify.sec.example" {
		t.Fatal(Subject("sec.example."))
	}
}

// A flood for one key passes the first item at once and then one per
// interval, the last offered; other keys are not held back by it.
func TestCoalescerPassesLeadingAndLastTrailingItemPerInterval(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]int{}
	c := &Coalescer[int]{Interval: 100 * time.Millisecond, Emit: func(k string, v int) {
		mu.Lock()
		got[k] = append(got[k], v)
		mu.Unlock()
	}}
	start := time.Now()
	for i := 0; time.Since(start) < 350*time.Millisecond; i++ {
		c.Offer("flood", i)
		time.Sleep(time.Millisecond)
	}
	last := -1
	c.Offer("quiet", 1)
	time.Sleep(250 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	n := len(got["flood"])
	if n < 3 || n > 6 {
		t.Fatalf("flood of ~350 items over 350ms passed %d (%v), want about 4-5", n, got["flood"])
	}
	if got["flood"][0] != 0 {
		t.Fatalf("first item not passed at once: %v", got["flood"])
	}
	for _, v := range got["flood"] {
		if v <= last {
			t.Fatalf("items out of order: %v", got["flood"])
		}
		last = v
	}
	if len(got["quiet"]) != 1 {
		t.Fatalf("another key held back: %v", got["quiet"])
	}
}
