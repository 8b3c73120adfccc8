package postgres

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"keyhaven.dev/keyhaven"
)

// Channel is the notification channel that carries invalidations between nodes.
const Channel = "keyhaven_invalidate"

// Notifier carries cache invalidations between the nodes of a cluster with PostgreSQL's own
// LISTEN/NOTIFY: every node publishes the ids whose credentials changed, and every node,
// itself included, hears them within milliseconds.
type Notifier struct {
	DSN string
	DB  *sql.DB
	Log *slog.Logger
	// Heard is given the ids of every notification.
	Heard func(ids ...string)
	// Listening is told when the listening connection is up (true) or lost (false): while
	// it is lost, notifications may be missed, so caches must not be trusted.
	Listening func(bool)
	// Clock times the waits between reconnections (nil: the system clock).
	Clock keyhaven.Clock
}

// maxPayload keeps each notification under PostgreSQL's 8000-byte payload limit.
const maxPayload = 7900

// Publish sends ids to every node.
func (n *Notifier) Publish(ctx context.Context, ids ...string) error {
	for len(ids) > 0 {
		var b strings.Builder
		for len(ids) > 0 && b.Len()+len(ids[0])+1 <= maxPayload {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(ids[0])
			ids = ids[1:]
		}
		if b.Len() == 0 { // an id longer than a payload: drop it rather than loop
			ids = ids[1:]
			continue
		}
		if _, err := n.DB.ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// Listen holds a connection listening on Channel until ctx ends, reconnecting with backoff,
// timed by Clock, when it is lost.
func (n *Notifier) Listen(ctx context.Context) {
	clock := n.Clock
	if clock == nil {
		clock = keyhaven.SystemClock()
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.listen(ctx)
		n.Listening(false)
		if ctx.Err() != nil {
			return
		}
		n.Log.WarnContext(ctx, "invalidation listener lost; caches bypassed until it is back", "err", err)
		t := clock.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (n *Notifier) listen(ctx context.Context) error {
	cfg, err := pgconnConfig(n.DSN)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	n.Listening(true)
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		n.Heard(strings.Split(note.Payload, ",")...)
	}
}
