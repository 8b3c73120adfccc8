package keyhaven

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNetworkKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"}, // one /64
		{"198.51.100.1", "::ffff:198.51.100.1"},                 // an IPv4 client, mapped or not
		{"fe80::1%eth0", "fe80::2"},                             // zones name no other network
	} {
		if networkKey(tc.a) != networkKey(tc.b) {
			t.Errorf("networkKey(%s) = %q, networkKey(%s) = %q, want the same", tc.a, networkKey(tc.a), tc.b, networkKey(tc.b))
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"198.51.100.1", "198.51.100.2"},
	} {
		if networkKey(tc.a) == networkKey(tc.b) {
			t.Errorf("networkKey(%s) = networkKey(%s) = %q, want different", tc.a, tc.b, networkKey(tc.a))
		}
	}
	if k := networkKey(""); k != "" {
		t.Errorf(`networkKey("") = %q, want ""`, k)
	}
}

func TestGuessLimiter(t *testing.T) {
	l := NewGuessLimiter(60, 3)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if l.blocked("k", now) {
			t.Fatalf("blocked after %d failures, want not before 3", i)
		}
		if _, ok := l.hold("k", now); !ok {
			t.Fatalf("failure %d refused, want 3 held", i)
		}
	}
	if _, ok := l.hold("k", now); ok {
		t.Fatal("a fourth failure held, want the budget of 3 used up")
	}
	if !l.blocked("k", now) {
		t.Fatal("not blocked after 3 failures")
	}
	if l.blocked("other", now) {
		t.Fatal("another key blocked by k's failures")
	}
	if !l.blocked("k", now.Add(999*time.Millisecond)) || l.blocked("k", now.Add(time.Second)) {
		t.Fatal("want one more try a second after the burst")
	}
	var nilLimiter *GuessLimiter
	g, ok := nilLimiter.hold("k", now)
	g.release()
	if !ok || nilLimiter.blocked("k", now) {
		t.Fatal("a nil limiter limits")
	}
}

// TestGuessLimiterForgets: keys whose budget refilled are forgotten, so that memory follows the
// keys failing now, not every key that ever failed.
func TestGuessLimiterForgets(t *testing.T) {
	l := NewGuessLimiter(60, 2)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		l.hold(fmt.Sprint("old-", i), now)
	}
	now = now.Add(2 * time.Minute)
	l.hold("new", now)
	if n := l.tracked(); n != 1 {
		t.Fatalf("tracked %d keys after the old ones refilled, want 1", n)
	}
}

// TestKeysAreBounded: a key takes at most a few hundred bytes, whatever a caller sends.
func TestKeysAreBounded(t *testing.T) {
	long := strings.Repeat("a", 64<<10)
	for _, k := range []string{emailKey(long, long+"@acme.test"), deviceKey("tnt_1", long), networkKey(long)} {
		if len(k) > 3*maxKeyPart {
			t.Errorf("key of %d bytes, want at most %d", len(k), 3*maxKeyPart)
		}
	}
	if emailKey("acme", long) == emailKey("acme", "admin@acme.test") {
		t.Error("an overlong email shares a real email's key")
	}
}

// TestGuessesHeldAtOnce: attempts made at once each hold a failure before they are checked,
// so that no more of them are checked than the budget has room for; a right answer gives its
// failure back.
func TestGuessesHeldAtOnce(t *testing.T) {
	l := NewGuessLimiter(1, 5)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var held atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, ok := l.hold("k", now); ok {
				held.Add(1)
			}
		})
	}
	wg.Wait()
	if n := held.Load(); n != 5 {
		t.Fatalf("%d of 100 attempts at once held a failure, want the budget's 5", n)
	}

	l = NewGuessLimiter(1, 2)
	for i := range 10 {
		g, ok := l.hold("right", now)
		if !ok {
			t.Fatalf("right answer %d refused", i)
		}
		g.release()
	}
	if l.blocked("right", now) {
		t.Fatal("right answers used up the budget")
	}
}
