package keyhaven

import (
	"context"
	"testing"
	"time"
)

// TestHashLimiterBoundsAndSheds: at most n slow hashes run at once; an interactive caller
// that finds every slot taken for MaxWait is shed with EUNAVAILABLE, while background work
// waits for a slot.
func TestHashLimiterBoundsAndSheds(t *testing.T) {
	h := NewHashLimiter(2)
	h.MaxWait = 10 * time.Millisecond
	ctx := context.Background()
	r1, err := h.acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := h.acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.acquire(ctx, false); ErrorCode(err) != EUNAVAILABLE {
		t.Fatalf("third interactive acquire: %v, want %s", err, EUNAVAILABLE)
	}
	got := make(chan struct{})
	go func() {
		release, err := h.acquire(ctx, true)
		if err == nil {
			release()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("background acquire did not wait for a slot")
	case <-time.After(50 * time.Millisecond):
	}
	r1()
	<-got
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
