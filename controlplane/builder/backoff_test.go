package builder

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRestartBackoff(t *testing.T) {
	crash := errors.New("connect to NATS: connection refused")
	deposed := fmt.Errorf("publish delta of zone z.: %w: renew lease 1: context deadline exceeded", errDeposed)
	for _, tc := range []struct {
		name string
		prev time.Duration
		err  error
		ran  time.Duration
		want time.Duration
	}{
		{"first failure", 0, crash, time.Second, minBackoff},
		{"failures in a row double", 800 * time.Millisecond, crash, time.Second, 1600 * time.Millisecond},
		{"capped", 8 * time.Second, crash, time.Second, maxBackoff},
		{"a run of over a minute starts over", maxBackoff, crash, 2 * time.Minute, minBackoff},
		// The soak (a loaded 2-core machine, lease 2 s) lost leadership every
		// ~20 s; doubling made a lone builder wait 10 s after each lapse.
		{"leadership lost: campaign again at once", maxBackoff, deposed, 20 * time.Second, minBackoff},
		{"leadership lost the first time", 0, deposed, time.Second, minBackoff},
	} {
		if got := restartBackoff(tc.prev, tc.err, tc.ran); got != tc.want {
			t.Errorf("%s: restartBackoff(%v, %v, %v) = %v, want %v", tc.name, tc.prev, tc.err, tc.ran, got, tc.want)
		}
	}
}
