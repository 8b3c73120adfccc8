package keyhaven

import (
	"context"
	"testing"
	"time"
)

// TestHashLimiterBoundsAndSheds: at most n slow hashes run at once; an interactive caller
// that finds every slot taken for MaxWait on the limiter's clock is shed with EUNAVAILABLE,
// not before, while background work waits for a slot however long it takes.
func TestHashLimiterBoundsAndSheds(t *testing.T) {
	clock := NewManualClock(time.Now())
	h := NewHashLimiter(2)
	h.Clock = clock
	ctx := context.Background()
	r1, err := h.acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := h.acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	shed := make(chan error, 1)
	go func() {
		_, err := h.acquire(ctx, false)
		shed <- err
	}()
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(waitCtx, 1); err != nil {
		t.Fatalf("the third interactive acquire does not wait on the clock: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		release, err := h.acquire(ctx, true)
		if err == nil {
			release()
		}
		got <- err
	}()
	clock.Advance(h.MaxWait - time.Nanosecond)
	select {
	case err := <-shed:
		t.Fatalf("third interactive acquire gave up before MaxWait: %v", err)
	default:
	}
	clock.Advance(time.Nanosecond)
	if err := <-shed; ErrorCode(err) != EUNAVAILABLE {
		t.Fatalf("third interactive acquire: %v, want %s", err, EUNAVAILABLE)
	}
	clock.Advance(time.Hour)
	select {
	case err := <-got:
		t.Fatalf("background acquire did not wait for a slot: %v", err)
	default:
	}
	r1()
	if err := <-got; err != nil {
		t.Fatalf("background acquire: %v", err)
	}
	r2()
	if h.Peak() != 2 {
		t.Fatalf("peak %d, want 2", h.Peak())
	}
	if h.Computed() != 3 {
		t.Fatalf("computed %d, want 3", h.Computed())
	}
}

func TestHashSlots(t *testing.T) {
	if n := HashSlots(200, 19*1024); n < 1 || n > 2 {
		t.Fatalf("HashSlots(200 MiB, 19 MiB) = %d, want 1 or 2 (a quarter of the limit)", n)
	}
	if n := HashSlots(10, 19*1024); n != 1 {
		t.Fatalf("HashSlots(10 MiB) = %d, want at least 1", n)
	}
}
