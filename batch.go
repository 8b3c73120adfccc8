package keyhaven

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// BatchTask is an asynchronous batch creation of accesses. It lives in the database with its
// progress, so that it survives restarts and another node can take it over.
type BatchTask struct {
	ID         string
	TenantID   string
	ContractID string
	CreatedBy  string // user id
	Requested  int
	Processed  int // items handled, created or failed; work resumes here
	Created    int
	Failed     int
	State      BatchState
	Reason     string // why it was REJECTED or FAILED
	// Input is the sealed JSON of the explicit items, empty for numberOfAccesses.
	Input      string
	Owner      string // the runner holding the lease
	LeaseUntil time.Time
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	PurgedAt   time.Time // when its passwords were purged
}

// BatchState is where a batch task stands.
type BatchState string

// Batch task states. A task is ACKNOWLEDGED until a runner first claims it, IN_PROGRESS while
// runners work it, and ends DONE, FAILED (its creator or contract no longer allows it) or
// REJECTED (its contract accepted no accesses before any was made).
const (
	BatchAcknowledged BatchState = "ACKNOWLEDGED"
	BatchInProgress   BatchState = "IN_PROGRESS"
	BatchDone         BatchState = "DONE"
	BatchFailed       BatchState = "FAILED"
	BatchRejected     BatchState = "REJECTED"
)

// Final reports whether a task in state s has ended.
func (s BatchState) Final() bool {
	return s == BatchDone || s == BatchFailed || s == BatchRejected
}

// MaxBatch is the most accesses one batch creates.
const MaxBatch = 100000

// BatchError is one item that failed.
type BatchError struct {
	Index   int    `json:"index"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// BatchInput is a batch request: exactly one of NumberOfAccesses and Accesses.
type BatchInput struct {
	ContractID       string
	NumberOfAccesses *int
	Accesses         []AccessInput
}

// SubmitBatch validates a batch request and records its task. A contract that accepts no
// accesses rejects the batch as a whole: the task is recorded as REJECTED. It needs
// ACCESS_MANAGEMENT. Returns EFORBIDDEN without it, EINVALID if the request is malformed or
// names no contract of the tenant.
func (s *Service) SubmitBatch(ctx context.Context, p *Principal, in BatchInput) (t *BatchTask, err error) {
	e := s.event(ctx, p.TenantID, p, "access.batch.submit", "batch_task", "", map[string]any{"contractId": in.ContractID})
	defer func() { s.failed(ctx, e, err) }()
	if err := p.Require(ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	requested := 0
	switch {
	case in.NumberOfAccesses != nil && in.Accesses != nil:
		return nil, Invalid(FieldError{Field: "body", Message: "give exactly one of numberOfAccesses and accesses, not both"})
	case in.NumberOfAccesses == nil && in.Accesses == nil:
		return nil, Invalid(FieldError{Field: "body", Message: "give exactly one of numberOfAccesses and accesses"})
	case in.NumberOfAccesses != nil:
		requested = *in.NumberOfAccesses
		if requested < 1 || requested > MaxBatch {
			return nil, Invalid(FieldError{Field: "numberOfAccesses", Message: fmt.Sprintf("must be between 1 and %d", MaxBatch)})
		}
	default:
		requested = len(in.Accesses)
		if requested < 1 || requested > MaxBatch {
			return nil, Invalid(FieldError{Field: "accesses", Message: fmt.Sprintf("must hold between 1 and %d items", MaxBatch)})
		}
		for i, a := range in.Accesses {
			if err := validateAccessInput(fmt.Sprintf("accesses[%d].", i), a); err != nil {
				return nil, err
			}
		}
	}
	c, _, err := s.contractFor(ctx, p.TenantID, "contractId", in.ContractID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	t = &BatchTask{
		ID: "job-" + NewID("b")[2:], TenantID: p.TenantID, ContractID: c.ID, CreatedBy: p.UserID,
		Requested: requested, State: BatchAcknowledged, CreatedAt: now,
	}
	if err := c.acceptsAccesses(now); err != nil {
		t.State, t.Reason, t.FinishedAt = BatchRejected, ErrorMessage(err), now
	} else if in.Accesses != nil {
		raw, err := json.Marshal(in.Accesses)
		if err != nil {
			return nil, Internal(err)
		}
		t.Input = s.Sealer.Seal(raw, []byte(t.ID))
	}
	e.TargetID = t.ID
	e.Detail["requested"], e.Detail["state"] = t.Requested, t.State
	if t.State == BatchRejected {
		e.announce(EventAccessBatchCompleted, func() any { return ViewBatch(t, s.BatchRetention) })
	}
	if err := s.store.CreateBatchTask(ctx, t, e); err != nil {
		return nil, err
	}
	if t.State == BatchAcknowledged && s.BatchSubmitted != nil {
		s.BatchSubmitted()
	}
	return t, nil
}

// BatchResult is a task as its owner sees it: its errors and, once DONE, one page of the
// accesses it created, each with its password within the retention window.
type BatchResult struct {
	Task      *BatchTask
	Errors    []BatchError
	Accesses  []*Access // ordered by index
	Passwords []string  // Passwords[i] is Accesses[i]'s, "" once purged
}

// BatchCursor is what a page of a task's accesses that ends with a continues after: the
// Page.After of the next page.
func BatchCursor(a *Access) string { return strconv.Itoa(a.BatchSeq) }

// BatchTask returns a task with all its errors and, once DONE, the page of its accesses that
// page selects, in the order of the batch's items: page.After is the BatchCursor of the
// previous page's last access. It needs ACCESS_MANAGEMENT. Returns EFORBIDDEN without it,
// ENOTFOUND if the tenant has no such task, EINVALID if page.After is no such cursor.
func (s *Service) BatchTask(ctx context.Context, p *Principal, id string, page Page) (*BatchResult, error) {
	return s.batchResult(ctx, p, id, page, true)
}

// BatchAccesses returns what BatchTask does but the errors: a task and one page of its
// accesses, for reading them all page by page. It returns the errors BatchTask does.
func (s *Service) BatchAccesses(ctx context.Context, p *Principal, id string, page Page) (*BatchResult, error) {
	return s.batchResult(ctx, p, id, page, false)
}

func (s *Service) batchResult(ctx context.Context, p *Principal, id string, page Page, withErrors bool) (*BatchResult, error) {
	t, err := s.BatchTaskProgress(ctx, p, id)
	if err != nil {
		return nil, err
	}
	r := &BatchResult{Task: t}
	if withErrors {
		if r.Errors, err = s.store.BatchErrors(ctx, t.ID); err != nil {
			return nil, err
		}
	}
	if t.State != BatchDone {
		return r, nil
	}
	if r.Accesses, err = s.store.BatchAccesses(ctx, p.TenantID, t.ID, page); err != nil {
		return nil, err
	}
	r.Passwords = make([]string, len(r.Accesses))
	for i, a := range r.Accesses {
		if a.BatchSecret == "" {
			continue
		}
		pw, err := s.Sealer.Open(a.BatchSecret, []byte(a.ID))
		if err != nil {
			return nil, Internal(fmt.Errorf("access %s: %w", a.ID, err))
		}
		r.Passwords[i] = string(pw)
	}
	return r, nil
}

// PurgeBatchPasswords purges the passwords of batches finished longer ago than the
// retention window, and returns how many tasks it purged. Returns an error only when the
// store fails.
func (s *Service) PurgeBatchPasswords(ctx context.Context) (int, error) {
	return s.store.PurgeBatchPasswords(ctx, s.now().Add(-s.BatchRetention), s.now())
}

// Now is the service's clock reading, as stores keep it.
func (s *Service) Now() time.Time { return s.now() }

// BatchTaskProgress returns a task without its accesses, for following its progress. It needs
// ACCESS_MANAGEMENT. Returns EFORBIDDEN without it, ENOTFOUND if the tenant has no such task.
func (s *Service) BatchTaskProgress(ctx context.Context, p *Principal, id string) (*BatchTask, error) {
	if err := p.Require(ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	if rest, ok := strings.CutPrefix(id, "job-"); !ok || !ValidID("b", "b_"+rest) {
		return nil, Errorf(ENOTFOUND, "batch task not found") // no task has such an id: never looked up
	}
	return s.store.BatchTask(ctx, p.TenantID, id)
}

// ListBatchTasks lists one page of the batch tasks of p's tenant with their progress, newest
// first: page.After is the id of the previous page's last task. It needs ACCESS_MANAGEMENT.
// Returns EFORBIDDEN without it.
func (s *Service) ListBatchTasks(ctx context.Context, p *Principal, page Page) ([]*BatchTask, error) {
	if err := p.Require(ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	return s.store.ListBatchTasks(ctx, p.TenantID, page)
}

// BatchChunk is one chunk of a task's work, stored atomically with the task's progress.
type BatchChunk struct {
	TaskID   string
	TenantID string
	Owner    string
	Accesses []*Access // each with its BatchSeq
	Errors   []BatchError
	// Finished, when the chunk ends the task, gives the audit event of its end from the
	// task's final counts; the store appends it in the chunk's transaction.
	Finished func(created, failed int) *AuditEvent
	// Processed is the task's progress once this chunk is stored.
	Processed int
	// Done ends the task (DONE) with this chunk.
	Done       bool
	LeaseUntil time.Time
	Now        time.Time
}

// BatchTurn is a runner's turn on the batch task it claimed: the task and what building its
// next chunk needs. A runner keeps the turn it took last while it holds the task's lease, and
// hands it to its next ClaimBatchTurn.
type BatchTurn struct {
	// Task is the task as the turn found it and, once the turn ran, as it left it. Its State
	// is final once the task has ended, in this turn or before.
	Task *BatchTask

	owner    string
	lease    time.Duration
	now      time.Time // when the turn was judged; the chunk's accesses are created at it
	contract *Contract
	offering *ProductOffering
	items    []AccessInput // the task's opened items, nil for numberOfAccesses
}

// BatchBudget bounds the chunk of one turn: it holds at most Items items, and no item is
// begun once building the chunk took Work (zero: no such bound).
type BatchBudget struct {
	Items int
	Work  time.Duration
}

// ClaimBatchTurn gives owner the next turn: the lease, for lease from now, of the task whose
// turn it is (see Store.ClaimBatchTask), and judges whether the task may go on. Its creator
// must still be allowed to create accesses, judged as a request of theirs would be: a live
// user holding ACCESS_MANAGEMENT; otherwise the task ends FAILED. Its contract must accept
// accesses; otherwise the task ends REJECTED if nothing was done yet, else FAILED. A task that
// ends here is stored ended with its audit record, and its turn is returned in its final
// state, with nothing left to run.
//
// held is the turn owner took last, nil if none. When the turn goes to another task, held's
// task is let go, so that any runner may claim it at once; when it goes to held's task again,
// the items held opened are kept rather than opened again.
//
// Returns ENOTFOUND if no task waits for a turn: owner then holds no lease; ECONFLICT (reason
// "lease_lost") if another runner took the task over before it could be ended; EUNAVAILABLE or
// EINTERNAL if the store fails. An error means the judgement could not be made or stored, not
// that the task must end: the lease just claimed is let go.
func (s *Service) ClaimBatchTurn(ctx context.Context, owner string, lease time.Duration, held *BatchTurn) (turn *BatchTurn, err error) {
	now := s.now()
	t, err := s.store.ClaimBatchTask(ctx, owner, now, now.Add(lease))
	if err != nil {
		return nil, err
	}
	turn = &BatchTurn{Task: t, owner: owner, lease: lease, now: now}
	if held != nil && held.Task.ID == t.ID {
		turn.items = held.items
	} else if held != nil {
		s.releaseBatchTask(ctx, held)
	}
	defer func() {
		if err != nil {
			s.releaseBatchTask(ctx, turn)
		}
	}()
	end, reason, err := s.judgeBatchTurn(ctx, turn)
	if err != nil {
		return nil, err
	}
	if end == "" && t.Input != "" && turn.items == nil {
		if turn.items, err = s.batchItems(t); err != nil {
			end, reason = BatchFailed, "the task's input cannot be read"
		}
	}
	if end != "" {
		t.State, t.Reason, t.FinishedAt = end, reason, s.now()
		if err := s.store.FinishBatchTask(ctx, t, owner, s.batchFinishedEvent(ctx, t)); err != nil {
			return nil, err
		}
	}
	return turn, nil
}

// judgeBatchTurn decides whether turn's task may go on with another chunk (see
// ClaimBatchTurn), reading the contract and offering the chunk is built under. It returns the
// state the task must end in and why, or no state when it may go on. An error means the
// judgement could not be made.
func (s *Service) judgeBatchTurn(ctx context.Context, turn *BatchTurn) (end BatchState, reason string, err error) {
	t := turn.Task
	u, err := s.store.User(ctx, t.TenantID, t.CreatedBy)
	if ErrorCode(err) == ENOTFOUND {
		return BatchFailed, "the batch's creator was deleted", nil
	}
	if err != nil {
		return "", "", err
	}
	creator := &Principal{TenantID: t.TenantID, UserID: u.ID, UserEmail: u.Email, Permissions: u.Permissions.Expand()}
	if creator.Require(ACCESS_MANAGEMENT) != nil {
		return BatchFailed, "the batch's creator no longer holds the ACCESS_MANAGEMENT permission", nil
	}
	if turn.contract, err = s.store.Contract(ctx, t.TenantID, t.ContractID); err != nil {
		return "", "", err
	}
	if turn.offering, err = s.store.ProductOffering(ctx, t.TenantID, turn.contract.ProductOfferingID); err != nil {
		return "", "", err
	}
	if err := turn.contract.acceptsAccesses(turn.now); err != nil {
		if t.Processed == 0 {
			return BatchRejected, ErrorMessage(err), nil // nothing was done: the batch as a whole cannot run
		}
		return BatchFailed, ErrorMessage(err), nil
	}
	return "", "", nil
}

// RunBatchTurn builds the next chunk of turn's task, from its stored progress, within budget,
// and stores it with the task's progress in one transaction that renews the lease for the
// turn's lease from now. An item whose username is taken becomes an item error. The chunk that
// holds the last item ends the task DONE, with its audit record. When ctx ends, it stops
// between two items and drops the chunk, which whoever resumes the task builds again. It
// leaves turn.Task as the chunk left the task. A turn whose task has ended runs nothing.
//
// Returns ECONFLICT (reason "lease_lost") and stores nothing if owner no longer holds the
// lease; EUNAVAILABLE (reason "busy") if ctx ends while an item waits for a password hash,
// and ctx's error if it ends between two items.
func (s *Service) RunBatchTurn(ctx context.Context, turn *BatchTurn, budget BatchBudget) error {
	t := turn.Task
	if t.State.Final() {
		return nil
	}
	// The work budget bounds the real time spent building, mostly password hashes, so that
	// the next turn comes about that soon: it is measured on the wall clock, which the
	// hashes take, not on the service's clock, which tests move by hand.
	began := time.Now()
	from := t.Processed
	end := min(from+max(budget.Items, 1), t.Requested)
	chunk := &BatchChunk{TaskID: t.ID, TenantID: t.TenantID, Owner: turn.owner, Accesses: make([]*Access, 0, end-from)}
	for i := from; i < end; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var in AccessInput
		if turn.items != nil {
			in = turn.items[i]
		}
		a, err := s.buildBatchAccess(ctx, t, turn.contract, turn.offering, in, i, turn.now)
		if err != nil {
			return err
		}
		chunk.Accesses = append(chunk.Accesses, a)
		if budget.Work > 0 && time.Since(began) >= budget.Work {
			break
		}
	}
	chunk.Processed = from + len(chunk.Accesses)
	chunk.Done = chunk.Processed == t.Requested
	chunk.Now = s.now()
	chunk.LeaseUntil = chunk.Now.Add(turn.lease)
	if chunk.Done {
		chunk.Finished = func(created, failed int) *AuditEvent {
			done := *t
			done.State, done.Created, done.Failed = BatchDone, created, failed
			done.Processed, done.FinishedAt = chunk.Processed, chunk.Now
			return s.batchFinishedEvent(ctx, &done)
		}
	}
	created, err := s.store.SaveBatchChunk(ctx, chunk)
	if err != nil {
		return err
	}
	t.Created += created
	t.Failed += chunk.Processed - t.Processed - created
	t.Processed = chunk.Processed
	if chunk.Done {
		t.State, t.FinishedAt = BatchDone, chunk.Now
	}
	return nil
}

// ReleaseBatchTask lets go of the lease turn's owner holds on its task, so that any runner may
// claim the task at once: for a runner that stops, or gives up its turn on an error. A task
// that ended holds no lease: then it does nothing. Returns an error only when the store
// fails; the lease then runs out by itself.
func (s *Service) ReleaseBatchTask(ctx context.Context, turn *BatchTurn) error {
	if turn == nil || turn.Task.State.Final() {
		return nil
	}
	return s.store.ReleaseBatchTask(ctx, turn.Task.ID, turn.owner)
}

// releaseTimeout bounds letting go of a lease the service took.
const releaseTimeout = 2 * time.Second

// releaseBatchTask is ReleaseBatchTask for a lease the service lets go of itself, even once
// ctx has ended (a runner stopping mid-claim): a failure is logged, and the lease runs out by
// itself.
func (s *Service) releaseBatchTask(ctx context.Context, turn *BatchTurn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := s.ReleaseBatchTask(ctx, turn); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "batch: release lease", "task", turn.Task.ID, "err", err)
	}
}

// batchItems opens a task's explicit items; nil for numberOfAccesses.
func (s *Service) batchItems(t *BatchTask) ([]AccessInput, error) {
	if t.Input == "" {
		return nil, nil
	}
	raw, err := s.Sealer.Open(t.Input, []byte(t.ID))
	if err != nil {
		return nil, Internal(fmt.Errorf("batch %s: %w", t.ID, err))
	}
	var items []AccessInput
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, Internal(err)
	}
	return items, nil
}

// buildBatchAccess makes item index of task t under contract c and offering o at now,
// sealing its password for the retention window. A chosen password waits its turn for a slow
// hash rather than being shed; it returns an error only when ctx ends while it waits.
func (s *Service) buildBatchAccess(ctx context.Context, t *BatchTask, c *Contract, o *ProductOffering, in AccessInput, index int, now time.Time) (*Access, error) {
	if in.Password != nil {
		release, err := s.Hashes.acquire(ctx, true)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	a, password := s.buildAccess(c, o, in, now, t.ID)
	a.BatchSeq = index
	a.BatchSecret = s.Sealer.Seal([]byte(password), []byte(a.ID))
	return a, nil
}

// batchFinishedEvent returns the audit event of t's end, with its final state and counts:
// the store appends it with the write that ends the task. A batch that did not end DONE is
// recorded as a failure with its reason.
func (s *Service) batchFinishedEvent(ctx context.Context, t *BatchTask) *AuditEvent {
	e := s.event(ctx, t.TenantID, &Principal{Kind: "batch", CredentialID: t.ID, UserID: t.CreatedBy}, "access.batch.finish", "batch_task", t.ID,
		map[string]any{"state": t.State, "requested": t.Requested, "created": t.Created, "failed": t.Failed})
	if t.State != BatchDone {
		e.Outcome, e.Detail["error"] = OutcomeFailure, "batch_"+string(t.State)
	}
	// Its accesses are announced with it, not one by one: they are read with its GET.
	e.announce(EventAccessBatchCompleted, func() any { return ViewBatch(t, s.BatchRetention) })
	return e
}
