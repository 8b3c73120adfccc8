// Package eventually waits in tests for what a test cannot drive by a clock: a server
// process, a browser, work another goroutine does after a ManualClock fired its timer. It
// polls a condition until it holds or a deadline passes; nothing in it sleeps.
package eventually

import (
	"testing"
	"time"
)

// Every is how often a condition is polled.
const Every = 10 * time.Millisecond

// Within calls cond at once and then every Every until it returns nil, and fails t with the
// last error cond returned if within passes first. cond runs on the calling goroutine, so
// it may call t.Fatal.
func Within(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	if err := Try(within, cond); err != nil {
		t.Fatalf("after %v: %v", within, err)
	}
}

// Try calls cond at once and then every Every until it returns nil, and returns the last
// error cond returned if within passes first, for a caller that does not fail on it.
func Try(within time.Duration, cond func() error) error {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(Every)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
}
