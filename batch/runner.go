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
	"sync/atomic"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
)

// releaseTimeout bounds letting go of a lease when the runner stops.
const releaseTimeout = 2 * time.Second

// Runner claims and runs batch tasks. It does the scheduling: when to take a turn, how big a
// chunk may be, how long a lease lasts, and letting go on shutdown; the service does the work
// of each turn.
type Runner struct {
	Svc *keyhaven.Service
	Log *slog.Logger
	// Owner names this runner in the leases it takes; unique per process.
	Owner string
	// Lease is how long a claim lasts without progress; each stored chunk renews it.
	Lease time.Duration
	// Poll is how often, on the service's clock, the runner looks for work it was not told
	// about (tasks submitted on other nodes, or whose lease ran out).
	Poll time.Duration
	// ChunkSize is the most items one chunk, stored in one transaction, holds.
	ChunkSize int
	// ChunkWork is how long building one chunk may take: a chunk ends at the first item that
	// takes its building past ChunkWork. Items with a chosen password cost an argon2id each,
	// generated ones next to nothing, so chunks of chosen passwords hold fewer items.
	ChunkWork time.Duration

	wake    chan struct{}
	created atomic.Uint64 // accesses this runner's chunks created

	mu   sync.Mutex          // one turn at a time
	held *keyhaven.BatchTurn // the last turn, whose task's lease the runner holds, if any
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

// Created returns how many accesses the chunks this runner stored have created since it
// was made.
func (r *Runner) Created() uint64 { return r.created.Load() }

// Wake tells the runner that a task is waiting.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run runs turns until ctx ends, looking for work when woken and every Poll on the service's
// clock. When ctx ends it stops between two items, drops the chunk it was building and lets
// go of its lease, so that the next run resumes the task at once.
func (r *Runner) Run(ctx context.Context) {
	t := r.Svc.Clock.NewTicker(r.Poll)
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
		case <-t.Chan():
		case <-r.wake:
		}
	}
}

// RunOnce takes one turn: the service claims the task whose turn it is, ends it if it may not
// go on, or builds and stores one chunk of it. The runner keeps the task's lease for the next
// turn, which the store gives to another task, if one waited longer, or back to this one. It
// reports whether there was a task to run. On an error, ctx's end included, it lets go of the
// lease.
func (r *Runner) RunOnce(ctx context.Context) (ran bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if err != nil {
			r.letGo(ctx)
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("batch runner: panic: %v", v)
		}
	}()
	turn, err := r.Svc.ClaimBatchTurn(ctx, r.Owner, r.Lease, r.held)
	if keyhaven.ErrorCode(err) == keyhaven.ENOTFOUND {
		r.held = nil // a task held and unfinished would have been claimed again
		return false, nil
	}
	if err != nil {
		return false, err
	}
	t := turn.Task
	log := r.Log.With("task", t.ID)
	if (r.held == nil || r.held.Task.ID != t.ID) && t.Processed == 0 {
		log.InfoContext(ctx, "batch task started", "requested", t.Requested)
	}
	r.held = turn
	if !t.State.Final() {
		log.DebugContext(ctx, "batch task turn", "processed", t.Processed, "requested", t.Requested)
		before := t.Created
		err := r.Svc.RunBatchTurn(ctx, turn, keyhaven.BatchBudget{Items: r.ChunkSize, Work: r.ChunkWork})
		r.created.Add(uint64(t.Created - before))
		if err != nil {
			return true, fmt.Errorf("batch %s: %w", t.ID, err)
		}
	}
	switch {
	case t.State == keyhaven.BatchDone:
		log.InfoContext(ctx, "batch task done", "created", t.Created, "failed", t.Failed)
	case t.State.Final():
		log.InfoContext(ctx, "batch task ended", "state", t.State, "reason", t.Reason)
	default:
		return true, nil
	}
	r.held = nil
	return true, nil
}

// letGo frees the lease of the task the runner holds, even once ctx has ended.
func (r *Runner) letGo(ctx context.Context) {
	if r.held == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := r.Svc.ReleaseBatchTask(ctx, r.held); err != nil {
		// The lease runs out by itself.
		r.Log.WarnContext(ctx, "batch runner: release lease", "task", r.held.Task.ID, "err", err)
	}
	r.held = nil
}
