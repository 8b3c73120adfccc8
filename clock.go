package keyhaven

import (
	"sync"
	"time"
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

// Clock tells the time. Tests move a ManualClock instead of sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real time.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when told to.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock standing at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
