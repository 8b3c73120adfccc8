package keyhaven

import (
	"context"
	"strings"
	"time"
)

// AuditEvent is one entry of a tenant's append-only audit log. It never holds a secret:
// Detail carries names, ids and counts only.
type AuditEvent struct {
	ID          string         `json:"id"`
	TenantID    string         `json:"-"`
	At          time.Time      `json:"at"`
	ActorKind   string         `json:"actorKind"` // credential kind, or "system"
	ActorID     string         `json:"actorId,omitempty"`
	ActorUserID string         `json:"actorUserId,omitempty"`
	Action      string         `json:"action"` // noun.verb, e.g. "user.create"
	TargetType  string         `json:"targetType"`
	TargetID    string         `json:"targetId,omitempty"`
	Outcome     string         `json:"outcome"` // success, denied, failure
	RemoteAddr  string         `json:"remoteAddr,omitempty"`
	RequestID   string         `json:"requestId,omitempty"`
	Detail      map[string]any `json:"detail,omitempty"`
	// Notices are the events the change announces to webhooks: the store writes them to the
	// outbox with the record, in the change's transaction, when the change succeeds.
	Notices []Notice `json:"-"`
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
	OutcomeFailure = "failure"
)

// AuditFilter selects audit events.
type AuditFilter struct {
	Action  string
	ActorID string
	Outcome string
	Page    Page
}

// outcomeOf returns the audit outcome of an operation that ended with err.
func outcomeOf(err error) string {
	switch ErrorCode(err) {
	case "":
		return OutcomeSuccess
	case EFORBIDDEN, EUNAUTHORIZED:
		return OutcomeDenied
	}
	return OutcomeFailure
}

// event returns the audit event of a change by p (nil for the system), to be stored by the
// store in the change's own transaction. Its outcome is success until failed says otherwise.
func (s *Service) event(ctx context.Context, tenantID string, p *Principal, action, targetType, targetID string, detail map[string]any) *AuditEvent {
	info := RequestInfoFrom(ctx)
	e := &AuditEvent{
		ID:         NewID("evt"),
		TenantID:   tenantID,
		At:         s.now(),
		ActorKind:  "system",
		Action:     action,
		TargetType: targetType,
		TargetID:   auditText(targetID),
		Outcome:    OutcomeSuccess,
		RemoteAddr: info.RemoteAddr,
		RequestID:  info.RequestID,
		Detail:     detail,
	}
	if p != nil {
		e.ActorKind, e.ActorID, e.ActorUserID = string(p.Kind), p.CredentialID, p.UserID
	}
	return e
}

// auditText is a caller-sent string as the audit log keeps it: valid UTF-8 without NULs
// (which PostgreSQL text cannot hold) and at most 200 bytes, so that a refusal of nonsense is
// recorded rather than lost.
func auditText(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "")
	}
	return s
}

// failed records e on its own when the change it describes ended with err instead of
// happening: a refused or failed change changed nothing, so its record stands alone. A
// change that happened was recorded with it. A failure to record a refusal is logged; the
// operation's own result stands.
func (s *Service) failed(ctx context.Context, e *AuditEvent, err error) {
	if err == nil {
		return
	}
	e.Outcome = outcomeOf(err)
	e.Notices = nil // nothing happened: nothing to announce
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	e.Detail["error"] = ErrorReason(err)
	if werr := s.store.AppendAudit(context.WithoutCancel(ctx), e); werr != nil {
		s.Log.ErrorContext(ctx, "audit write failed", "action", e.Action, "err", werr)
	}
}

// record appends an audit event that goes with no change (a refused sign-in, a burst of
// failed verifications) for an operation by p (nil for the system) that ended with err.
func (s *Service) record(ctx context.Context, tenantID string, p *Principal, action, targetType, targetID string, err error, detail map[string]any) {
	e := s.event(ctx, tenantID, p, action, targetType, targetID, detail)
	if err == nil {
		if werr := s.store.AppendAudit(context.WithoutCancel(ctx), e); werr != nil {
			s.Log.ErrorContext(ctx, "audit write failed", "action", action, "err", werr)
		}
		return
	}
	s.failed(ctx, e, err)
}

// ListAudit returns p's tenant's audit events; it needs AUDIT_READ.
//
// Returns EFORBIDDEN (missing_permission) unless p holds AUDIT_READ; EINVALID if a filter is
// not text without control characters.
func (s *Service) ListAudit(ctx context.Context, p *Principal, f AuditFilter) ([]*AuditEvent, error) {
	if err := p.Require(AUDIT_READ); err != nil {
		return nil, err
	}
	if err := validFilters(map[string]string{"action": f.Action, "actorId": f.ActorID, "outcome": f.Outcome}); err != nil {
		return nil, err
	}
	return s.store.ListAudit(ctx, p.TenantID, f)
}

// AuditActors returns the email of the user each event's actor acted for, by user id, read
// in one query for all of them; a deleted user keeps its email here. It needs AUDIT_READ.
//
// Returns EFORBIDDEN (missing_permission) unless p holds AUDIT_READ.
func (s *Service) AuditActors(ctx context.Context, p *Principal, events []*AuditEvent) (map[string]string, error) {
	if err := p.Require(AUDIT_READ); err != nil {
		return nil, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, e := range events {
		if e.ActorUserID != "" && !seen[e.ActorUserID] {
			seen[e.ActorUserID] = true
			ids = append(ids, e.ActorUserID)
		}
	}
	return s.store.UserEmails(ctx, p.TenantID, ids)
}
