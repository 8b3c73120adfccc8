package keyhaven

import (
	"time"

	"github.com/jonboulle/clockwork"
)

// checkTime refuses a time whose year in UTC is outside 0000 to 9999: RFC 3339, in which
// every transport writes times, has four-digit years, so such a time, once stored, would make
// every answer that shows it fail.
func checkTime(field string, t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return Invalid(FieldError{Field: field, Message: "must be between the years 0000 and 9999 in UTC"})
	}
	return nil
}

// Clock tells the time and makes the tickers and timers of every background loop, so that
// tests move a ManualClock instead of sleeping.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
	NewTimer(d time.Duration) Timer
}

// Ticker delivers ticks on Chan at intervals, like time.Ticker.
type Ticker = clockwork.Ticker

// Timer delivers one time on Chan once its duration has passed, like time.Timer.
type Timer = clockwork.Timer

// SystemClock returns the real time.
func SystemClock() Clock { return clockwork.NewRealClock() }

// ManualClock is a Clock that moves only when told to. Advancing it fires the tickers and
// timers that fall due; BlockUntilContext waits until a loop is parked on one.
type ManualClock struct {
	*clockwork.FakeClock
}

// NewManualClock returns a clock standing at t.
func NewManualClock(t time.Time) *ManualClock {
	return &ManualClock{clockwork.NewFakeClockAt(t)}
}
