package eventually

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalTB records Fatalf and ends its goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWithin(t *testing.T) {
	t.Run("returns once the condition holds", func(t *testing.T) {
		calls := 0
		Within(t, time.Minute, func() error {
			calls++
			if calls < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		if calls != 3 {
			t.Fatalf("%d calls, want 3", calls)
		}
	})
	t.Run("fails with the last error past the deadline", func(t *testing.T) {
		f := &fatalTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Within(f, 3*Every, func() error { return errors.New("still waiting") })
		}()
		<-done
		if !strings.Contains(f.msg, "still waiting") {
			t.Fatalf("failure %q, want the condition's last error", f.msg)
		}
	})
}
