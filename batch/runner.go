// Package batch runs batch tasks durably. A task and its progress live in the database: the
// runner claims a task with a lease, does its work in chunks, and stores each chunk's accesses
// and the task's progress in one transaction. After a crash, the same node on restart or
// another node once the lease runs out resumes at the stored progress, so no access is
// created twice and none is lost.
package batch

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"keyhaven"
	"keyhaven/secret"
)

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
	// ChunkSize is how many items one transaction stores.
	ChunkSize int

	wake chan struct{}
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

// Run runs tasks until ctx ends.
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

// RunOnce claims one task and works on it until it ends or the lease is lost. It reports
// whether there was a task to run.
func (r *Runner) RunOnce(ctx context.Context) (ran bool, err error) {
	now := r.Svc.Now()
	t, err := r.Svc.Store.ClaimBatchTask(ctx, r.Owner, now, now.Add(r.Lease))
	if keyhaven.ErrorCode(err) == keyhaven.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("batch %s: panic: %v", t.ID, v)
		}
	}()
	return true, r.run(ctx, t)
}

// step is one unit of work the builder hands to the writer: a chunk to store, or the reason
// the task must end.
type step struct {
	chunk         *keyhaven.BatchChunk
	from          int
	state, reason string // set when the contract no longer accepts accesses
	err           error
}

// run works on a claimed task. One goroutine builds the next chunk (generating credentials,
// hashing, sealing) while this one stores the current, so that the CPU work and the
// database's overlap; whatever is built but not stored when the runner stops is simply
// built again by whoever resumes.
func (r *Runner) run(ctx context.Context, t *keyhaven.BatchTask) error {
	log := r.Log.With("task", t.ID)
	log.InfoContext(ctx, "batch task claimed", "processed", t.Processed, "requested", t.Requested)
	items, err := r.Svc.BatchItems(t)
	if err != nil {
		return r.finish(ctx, t, keyhaven.BatchFailed, "the task's input cannot be read")
	}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	steps := make(chan step, 1)
	go r.build(bctx, t, items, steps)
	for s := range steps {
		switch {
		case s.err != nil:
			return s.err
		case s.state != "":
			return r.finish(ctx, t, s.state, s.reason)
		}
		s.chunk.LeaseUntil = r.Svc.Now().Add(r.Lease)
		created, err := r.Svc.Store.SaveBatchChunk(ctx, s.chunk)
		if err != nil {
			return err
		}
		t.Created += created
		t.Failed += (s.chunk.Processed - s.from) - created
		t.Processed = s.chunk.Processed
	}
	if t.Processed < t.Requested {
		return ctx.Err()
	}
	t.State = keyhaven.BatchDone
	log.InfoContext(ctx, "batch task done", "created", t.Created, "failed", t.Failed)
	r.Svc.RecordBatchFinished(ctx, t)
	return nil
}

// build makes t's remaining chunks in order, checking before each that the contract still
// accepts accesses, and sends them to steps until the work or ctx ends.
func (r *Runner) build(ctx context.Context, t *keyhaven.BatchTask, items []keyhaven.AccessInput, steps chan<- step) {
	defer close(steps)
	send := func(s step) bool {
		select {
		case steps <- s:
			return true
		case <-ctx.Done():
			return false
		}
	}
	defer func() {
		if v := recover(); v != nil {
			send(step{err: fmt.Errorf("batch %s: panic: %v", t.ID, v)})
		}
	}()
	for from := t.Processed; from < t.Requested; {
		c, err := r.Svc.Store.Contract(ctx, t.TenantID, t.ContractID)
		var o *keyhaven.ProductOffering
		if err == nil {
			o, err = r.Svc.Store.ProductOffering(ctx, t.TenantID, c.ProductOfferingID)
		}
		if err != nil {
			send(step{err: err})
			return
		}
		now := r.Svc.Now()
		if err := r.Svc.ContractAccepts(c, now); err != nil {
			state := keyhaven.BatchFailed
			if from == 0 {
				state = keyhaven.BatchRejected // nothing was done: the batch as a whole cannot run
			}
			send(step{state: state, reason: keyhaven.ErrorMessage(err)})
			return
		}
		end := min(from+r.ChunkSize, t.Requested)
		chunk := &keyhaven.BatchChunk{
			TaskID: t.ID, TenantID: t.TenantID, Owner: r.Owner, Processed: end, Done: end == t.Requested,
			Now: now, Accesses: make([]*keyhaven.Access, 0, end-from),
		}
		for i := from; i < end; i++ {
			var in keyhaven.AccessInput
			if items != nil {
				in = items[i]
			}
			chunk.Accesses = append(chunk.Accesses, r.Svc.BuildBatchAccess(t, c, o, in, i, now))
		}
		if !send(step{chunk: chunk, from: from}) {
			return
		}
		from = end
	}
}

func (r *Runner) finish(ctx context.Context, t *keyhaven.BatchTask, state, reason string) error {
	t.State, t.Reason, t.FinishedAt = state, reason, r.Svc.Now()
	if err := r.Svc.Store.FinishBatchTask(ctx, t, r.Owner); err != nil {
		return err
	}
	r.Log.InfoContext(ctx, "batch task ended", "task", t.ID, "state", state, "reason", reason)
	r.Svc.RecordBatchFinished(ctx, t)
	return nil
}
