// Package batch runs batch tasks durably. A task and its progress live in the database: the
// runner claims a task with a lease, does its work in chunks, and stores each chunk's accesses
// and the task's progress in one transaction. After a crash, the same node on restart or
// another node once the lease runs out resumes at the stored progress, so no access is
// created twice and none is lost.
//
// Tasks take turns of one chunk each, chosen by the store so that every node takes part: the
// next turn goes to the tenant that waited longest, so that one tenant's batch delays
// another's by about one chunk, and a chunk is sized by the work it takes (about a second).
package batch

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"keyhaven"
	"keyhaven/secret"
)

// releaseTimeout bounds letting go of a lease when the runner stops.
const releaseTimeout = 2 * time.Second

// Runner claims and runs batch tasks.
type Runner struct {
	Svc *keyhaven.Service
	Log *slog.Logger
	// Owner names this runner in the leases it takes; unique per process.
	Owner string
	// Lease is how long a claim lasts without progress; each stored chunk renews it.
	Lease time.Duration
	// Poll is how often the runner looks for work it was not told about (tasks submitted
	// on other nodes, or whose lease ran out).
	Poll time.Duration
	// ChunkSize is the most items one chunk, stored in one transaction, holds.
	ChunkSize int
	// ChunkWork is how long building one chunk may take: a chunk ends at the first item that
	// takes its building past ChunkWork. Items with a chosen password cost an argon2id each,
	// generated ones next to nothing, so chunks of chosen passwords hold fewer items.
	ChunkWork time.Duration

	wake chan struct{}

	mu    sync.Mutex // one turn at a time
	held  string     // the task whose lease the runner holds between turns, if any
	items []keyhaven.AccessInput
}

// New returns a runner with the default settings.
func New(svc *keyhaven.Service, log *slog.Logger) *Runner {
	host, _ := os.Hostname()
	return &Runner{
		Svc: svc, Log: log,
		Owner:     fmt.Sprintf("%s-%d-%s", host, os.Getpid(), secret.RandomString(6)),
		Lease:     15 * time.Second,
		Poll:      time.Second,
		ChunkSize: 2000,
		ChunkWork: time.Second,
		wake:      make(chan struct{}, 1),
	}
}

// Wake tells the runner that a task is waiting.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run runs turns until ctx ends. When ctx ends it stops between two items, drops the chunk
// it was building and lets go of its lease, so that the next run resumes the task at once.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for {
		for {
			ran, err := r.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				r.Log.ErrorContext(ctx, "batch runner", "err", err)
			}
			if !ran || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// RunOnce takes one turn: it claims the task whose turn it is, checks that the task may go
// on, and builds and stores one chunk of it, or ends it. It keeps the task's lease for the
// next turn, which the store gives to another task, if one waited longer, or back to this
// one. It reports whether there was a task to run. On an error, ctx's end included, it lets
// go of the lease.
func (r *Runner) RunOnce(ctx context.Context) (ran bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if err != nil {
			r.letGo(ctx)
		}
	}()
	now := r.Svc.Now()
	t, err := r.Svc.ClaimBatchTask(ctx, r.Owner, now.Add(r.Lease))
	if keyhaven.ErrorCode(err) == keyhaven.ENOTFOUND {
		r.letGo(ctx) // nothing held is left: a task held and unfinished would have been claimed again
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if r.held != t.ID {
		// Another task's turn: the one held so far goes back to every runner.
		r.letGo(ctx)
		r.held = t.ID
		if t.Processed == 0 {
			r.Log.InfoContext(ctx, "batch task started", "task", t.ID, "requested", t.Requested)
		}
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("batch %s: panic: %v", t.ID, v)
		}
	}()
	return true, r.turn(ctx, t)
}

// turn works one chunk of a claimed task.
func (r *Runner) turn(ctx context.Context, t *keyhaven.BatchTask) error {
	log := r.Log.With("task", t.ID)
	log.DebugContext(ctx, "batch task turn", "processed", t.Processed, "requested", t.Requested)
	if t.Input != "" && r.items == nil {
		items, err := r.Svc.BatchItems(t)
		if err != nil {
			return r.finish(ctx, t, keyhaven.BatchFailed, "the task's input cannot be read")
		}
		r.items = items
	}
	turn, err := r.Svc.NextBatchTurn(ctx, t)
	if err != nil {
		return err
	}
	if turn.End != "" {
		return r.finish(ctx, t, turn.End, turn.Reason)
	}
	chunk, err := r.build(ctx, t, turn)
	if err != nil {
		return err
	}
	chunk.LeaseUntil = r.Svc.Now().Add(r.Lease)
	if chunk.Done {
		chunk.Finished = func(created, failed int) *keyhaven.AuditEvent {
			done := *t
			done.State, done.Created, done.Failed = keyhaven.BatchDone, created, failed
			return r.Svc.BatchFinishedEvent(ctx, &done)
		}
	}
	created, err := r.Svc.SaveBatchChunk(ctx, chunk)
	if err != nil {
		return err
	}
	t.Created += created
	t.Failed += (chunk.Processed - t.Processed) - created
	t.Processed = chunk.Processed
	if chunk.Done {
		t.State = keyhaven.BatchDone
		log.InfoContext(ctx, "batch task done", "created", t.Created, "failed", t.Failed)
		r.forget()
	}
	return nil
}

// build makes the next chunk of t, from its stored progress, under turn. It adds items until
// the chunk holds ChunkSize of them or building them took ChunkWork, and stops between two
// items when ctx ends: what it built is dropped, and built again by whoever resumes.
func (r *Runner) build(ctx context.Context, t *keyhaven.BatchTask, turn *keyhaven.BatchTurn) (*keyhaven.BatchChunk, error) {
	began := time.Now()
	from := t.Processed
	end := min(from+max(r.ChunkSize, 1), t.Requested)
	chunk := &keyhaven.BatchChunk{
		TaskID: t.ID, TenantID: t.TenantID, Owner: r.Owner, Now: turn.Now,
		Accesses: make([]*keyhaven.Access, 0, end-from),
	}
	for i := from; i < end; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var in keyhaven.AccessInput
		if r.items != nil {
			in = r.items[i]
		}
		a, err := r.Svc.BuildBatchAccess(ctx, t, turn.Contract, turn.Offering, in, i, turn.Now)
		if err != nil {
			return nil, err
		}
		chunk.Accesses = append(chunk.Accesses, a)
		if r.ChunkWork > 0 && time.Since(began) >= r.ChunkWork {
			break
		}
	}
	chunk.Processed = from + len(chunk.Accesses)
	chunk.Done = chunk.Processed == t.Requested
	return chunk, nil
}

func (r *Runner) finish(ctx context.Context, t *keyhaven.BatchTask, state keyhaven.BatchState, reason string) error {
	t.State, t.Reason, t.FinishedAt = state, reason, r.Svc.Now()
	if err := r.Svc.FinishBatchTask(ctx, t, r.Owner); err != nil {
		return err
	}
	r.Log.InfoContext(ctx, "batch task ended", "task", t.ID, "state", state, "reason", reason)
	r.forget()
	return nil
}

// letGo frees the lease of the task the runner holds, even once ctx has ended, and forgets
// the task's items.
func (r *Runner) letGo(ctx context.Context) {
	if r.held == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := r.Svc.ReleaseBatchTask(ctx, r.held, r.Owner); err != nil {
		// The lease runs out by itself.
		r.Log.WarnContext(ctx, "batch runner: release lease", "task", r.held, "err", err)
	}
	r.forget()
}

// forget drops what the runner keeps of the task it held, which has ended or was let go.
func (r *Runner) forget() { r.held, r.items = "", nil }
