package postgres_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/postgres"
)

// receive returns the next value of ch, failing t if none comes in a while.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case v := <-ch:
		return v
	case <-deadline.C:
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// TestNotifierReconnectsOnTheClock: when the database ends the listening connection, the
// listener says so, waits its backoff on the clock and listens again, and invalidations are
// heard again.
func TestNotifierReconnectsOnTheClock(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.PostgresDSN(t)
	db := testdb.PostgresAt(dsn)(t)
	clock := keyhaven.NewManualClock(time.Now())
	listening := make(chan bool, 16)
	heard := make(chan string, 16)
	n := &postgres.Notifier{DSN: dsn, DB: db.SQL(), Log: slog.New(slog.DiscardHandler), Clock: clock,
		Heard: func(ids ...string) {
			for _, id := range ids {
				heard <- id
			}
		},
		Listening: func(up bool) { listening <- up },
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { n.Listen(runCtx) })
	defer wg.Wait()
	defer stop()
	parked := func(why string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(why)
		}
	}
	roundTrip := func(id string) {
		t.Helper()
		if err := n.Publish(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, heard, "invalidation heard"); got != id {
			t.Fatalf("heard %q, want %q", got, id)
		}
	}

	if !receive(t, listening, "listener up") {
		t.Fatal("the listener reported a loss before it was up")
	}
	roundTrip("akey_before")

	var ended int
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN '||$1`, postgres.Channel).Scan(&ended); err != nil || ended != 1 {
		t.Fatalf("end the listening connection: %d ended, %v", ended, err)
	}
	if receive(t, listening, "report of the lost listener") {
		t.Fatal("the listener reported up, want lost")
	}
	parked("the listener does not wait on the clock before reconnecting")
	const backoff = 100 * time.Millisecond
	clock.Advance(backoff - time.Nanosecond)
	parked("the listener reconnected before its backoff passed")
	clock.Advance(time.Nanosecond)
	if !receive(t, listening, "listener back up") {
		t.Fatal("the listener reported a loss, want up")
	}
	roundTrip("akey_after")
}
