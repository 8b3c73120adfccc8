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
// ACCESS_MANAGEMENT.
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
	if err := s.store.CreateBatchTask(ctx, t, e); err != nil {
		return nil, err
	}
	if t.State == BatchAcknowledged && s.BatchSubmitted != nil {
		s.BatchSubmitted()
	}
	return t, nil
}

// BatchItems opens a task's explicit items; nil for numberOfAccesses.
func (s *Service) BatchItems(t *BatchTask) ([]AccessInput, error) {
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
// previous page's last access. It needs ACCESS_MANAGEMENT. Returns EINVALID if page.After is
// no such cursor.
func (s *Service) BatchTask(ctx context.Context, p *Principal, id string, page Page) (*BatchResult, error) {
	return s.batchResult(ctx, p, id, page, true)
}

// BatchAccesses returns what BatchTask does but the errors: a task and one page of its
// accesses, for reading them all page by page.
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

// BuildBatchAccess makes item index of task t under contract c and offering o at now,
// sealing its password for the retention window. A chosen password waits its turn for a slow
// hash rather than being shed; it returns an error only when ctx ends while it waits.
func (s *Service) BuildBatchAccess(ctx context.Context, t *BatchTask, c *Contract, o *ProductOffering, in AccessInput, index int, now time.Time) (*Access, error) {
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

// BatchTurn is what the next chunk of a task is built under, judged at Now.
type BatchTurn struct {
	Contract *Contract
	Offering *ProductOffering
	Now      time.Time
	// End, when set, is the state the task must end in instead of going on (REJECTED or
	// FAILED), and Reason says why.
	End    BatchState
	Reason string
}

// NextBatchTurn decides whether task t may go on with another chunk. Its creator must still be
// allowed to create accesses, judged as a request of theirs would be: a live user holding
// ACCESS_MANAGEMENT; otherwise the task FAILS. Its contract must accept accesses; otherwise
// the task is REJECTED if nothing was done yet, else it FAILS. An error means the judgement
// could not be made (the store failed), not that the task must end.
func (s *Service) NextBatchTurn(ctx context.Context, t *BatchTask) (*BatchTurn, error) {
	now := s.now()
	turn := &BatchTurn{Now: now}
	u, err := s.store.User(ctx, t.TenantID, t.CreatedBy)
	if ErrorCode(err) == ENOTFOUND {
		turn.End, turn.Reason = BatchFailed, "the batch's creator was deleted"
		return turn, nil
	}
	if err != nil {
		return nil, err
	}
	creator := &Principal{TenantID: t.TenantID, UserID: u.ID, UserEmail: u.Email, Permissions: u.Permissions.Expand()}
	if creator.Require(ACCESS_MANAGEMENT) != nil {
		turn.End, turn.Reason = BatchFailed, "the batch's creator no longer holds the ACCESS_MANAGEMENT permission"
		return turn, nil
	}
	if turn.Contract, err = s.store.Contract(ctx, t.TenantID, t.ContractID); err != nil {
		return nil, err
	}
	if turn.Offering, err = s.store.ProductOffering(ctx, t.TenantID, turn.Contract.ProductOfferingID); err != nil {
		return nil, err
	}
	if err := turn.Contract.acceptsAccesses(now); err != nil {
		turn.End, turn.Reason = BatchFailed, ErrorMessage(err)
		if t.Processed == 0 {
			turn.End = BatchRejected // nothing was done: the batch as a whole cannot run
		}
	}
	return turn, nil
}

// BatchFinishedEvent returns the audit event of t's end, with its final state and counts:
// the store appends it with the write that ends the task. A batch that did not end DONE is
// recorded as a failure with its reason.
func (s *Service) BatchFinishedEvent(ctx context.Context, t *BatchTask) *AuditEvent {
	e := s.event(ctx, t.TenantID, &Principal{Kind: "batch", CredentialID: t.ID, UserID: t.CreatedBy}, "access.batch.finish", "batch_task", t.ID,
		map[string]any{"state": t.State, "requested": t.Requested, "created": t.Created, "failed": t.Failed})
	if t.State != BatchDone {
		e.Outcome, e.Detail["error"] = OutcomeFailure, "batch_"+string(t.State)
	}
	return e
}

// PurgeBatchPasswords purges the passwords of batches finished longer ago than the
// retention window.
func (s *Service) PurgeBatchPasswords(ctx context.Context) (int, error) {
	return s.store.PurgeBatchPasswords(ctx, s.now().Add(-s.BatchRetention), s.now())
}

// Now is the service's clock reading, as stores keep it.
func (s *Service) Now() time.Time { return s.now() }

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

// BatchTaskProgress returns a task without its accesses, for following its progress. It needs
// ACCESS_MANAGEMENT.
func (s *Service) BatchTaskProgress(ctx context.Context, p *Principal, id string) (*BatchTask, error) {
	if err := p.Require(ACCESS_MANAGEMENT); err != nil {
		return nil, err
	}
	if rest, ok := strings.CutPrefix(id, "job-"); !ok || !ValidID("b", "b_"+rest) {
		return nil, Errorf(ENOTFOUND, "batch task not found") // no task has such an id: never looked up
	}
	return s.store.BatchTask(ctx, p.TenantID, id)
}

// ClaimBatchTask gives owner the lease, until leaseUntil, of the task whose turn it is.
// Returns ENOTFOUND if no task is waiting.
func (s *Service) ClaimBatchTask(ctx context.Context, owner string, leaseUntil time.Time) (*BatchTask, error) {
	return s.store.ClaimBatchTask(ctx, owner, s.now(), leaseUntil)
}

// SaveBatchChunk stores a chunk and the task's progress, and returns how many accesses it
// created.
func (s *Service) SaveBatchChunk(ctx context.Context, c *BatchChunk) (int, error) {
	return s.store.SaveBatchChunk(ctx, c)
}

// FinishBatchTask ends t in its State with its Reason.
func (s *Service) FinishBatchTask(ctx context.Context, t *BatchTask, owner string) error {
	return s.store.FinishBatchTask(ctx, t, owner, s.BatchFinishedEvent(ctx, t))
}

// ReleaseBatchTask lets go of owner's lease on a task.
func (s *Service) ReleaseBatchTask(ctx context.Context, id, owner string) error {
	return s.store.ReleaseBatchTask(ctx, id, owner)
}
