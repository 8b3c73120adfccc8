package keyhaven

import (
	"context"
	"time"
)

// Page selects one page of a list ordered by id: up to Limit items with ids after After.
type Page struct {
	Limit int
	After string
}

// EndSessions names the sessions of a user that a change ends: all of them but Keep (which
// may be empty).
type EndSessions struct{ Keep string }

// Store is keyhaven's storage. Every implementation passes the conformance suite in storetest.
// Methods that take a tenant id only ever see that tenant's rows: another tenant's id answers
// ENOTFOUND exactly like an unknown one.
//
// Every method that changes something takes the change's audit event (nil for the system's
// own housekeeping) and appends it in the change's own transaction: a change and its record
// commit together or not at all.
//
// A state change is one method that reads the row, hands it to the domain's change function
// and writes what that function left, in one transaction that holds the row against every
// other writer until it commits (a row lock on PostgreSQL, a write transaction begun at once
// on SQLite), the way dex's UpdateClient does. The change function runs once, must be quick
// (no password hashing) and must not call the store's writing methods; its error aborts the
// change and is returned unchanged. So a rule the function checks ("TERMINATED is final")
// holds against every concurrent writer.
type Store interface {
	// Ping reports whether the database can be reached.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	// CreateTenant creates t with its first admin user and the admin's bootstrap API key, in
	// one transaction. Returns ECONFLICT if the name is taken.
	CreateTenant(ctx context.Context, t *Tenant, admin *User, key *Credential, e *AuditEvent) error
	// TenantByName returns ENOTFOUND if there is no such tenant.
	TenantByName(ctx context.Context, name string) (*Tenant, error)
	// CountTenants returns how many tenants exist.
	CountTenants(ctx context.Context) (int, error)
	// SetTenantLimits changes a tenant's limits. Returns ENOTFOUND if there is no such tenant.
	SetTenantLimits(ctx context.Context, tenantID string, l Limits, e *AuditEvent) error

	// CreateUser returns ECONFLICT if a live user of the tenant has the same email.
	CreateUser(ctx context.Context, u *User, e *AuditEvent) error
	// User returns a live user, ENOTFOUND if there is none with that id in the tenant.
	User(ctx context.Context, tenantID, id string) (*User, error)
	// UserByEmail returns a live user, ENOTFOUND if there is none.
	UserByEmail(ctx context.Context, tenantID, email string) (*User, error)
	// ListUsers returns live users ordered by id.
	ListUsers(ctx context.Context, tenantID string, page Page) ([]*User, error)
	// UpdateUser changes a live user (see Store): it stores the permissions, password hash
	// and UpdatedAt change left and, when end is set, deletes every session of the user but
	// end.Keep. Returns ENOTFOUND if the user is gone.
	UpdateUser(ctx context.Context, tenantID, id string, change func(*User) error, end *EndSessions, e *AuditEvent) (*User, error)
	// DeleteUser marks a live user deleted at the given time when check, given the user held
	// against concurrent changes, allows it and, in the same transaction, revokes the
	// applications it created (with all their keys) and the access keys it owns, and deletes
	// its sessions and API keys. Returns ENOTFOUND if there is no live user with that id.
	DeleteUser(ctx context.Context, tenantID, id string, check func(*User) error, at time.Time, e *AuditEvent) error
	// UserEmails returns the emails of the tenant's users with the given ids, by id, deleted
	// users included (a record of what they did outlives them); an id of no user of the
	// tenant is absent. It reads them in one query.
	UserEmails(ctx context.Context, tenantID string, ids []string) (map[string]string, error)
	// CountOwnedCredentials returns how many credentials a user owns that could still work.
	CountOwnedCredentials(ctx context.Context, tenantID, userID string, now time.Time) (int, error)

	// CreateCredential stores c. Returns ECONFLICT (reason "duplicate") if a live API key of
	// the tenant has the same name (an expired one, at c.CreatedAt, is deleted to make room),
	// or (reason "limit_reached") when c is an API key and the tenant already has its limit of
	// live API keys (sessions do not count). The check and the insert are atomic across
	// processes.
	CreateCredential(ctx context.Context, c *Credential, e *AuditEvent) error
	// ResolveCredential returns the credential with that hash, its tenant and owner, or
	// ENOTFOUND. It is the verification path's read: it fills what judging a credential
	// needs (not its description, display prefix or creation time).
	ResolveCredential(ctx context.Context, hash string) (*Resolution, error)
	// DeleteCredential deletes a credential. Returns ENOTFOUND if there is none.
	DeleteCredential(ctx context.Context, tenantID, id string, e *AuditEvent) error
	// DeleteExpiredCredentials deletes sessions and API keys that expired before now and
	// returns how many it deleted.
	DeleteExpiredCredentials(ctx context.Context, now time.Time) (int, error)
	// RotateCredential replaces the secret of an API key or access key of the tenant (see
	// Store): change, given the credential held, checks the rotation and sets its new Hash
	// and Display. The old hash is kept as a retired secret that resolves to the credential,
	// with SecretExpiresAt retireAt. Returns ENOTFOUND if there is no such credential.
	RotateCredential(ctx context.Context, tenantID, id string, retireAt time.Time, change func(*Credential) error, e *AuditEvent) (*Credential, error)
	// DeleteRetiredSecrets forgets retired secrets that stopped working before cutoff and
	// returns how many it deleted.
	DeleteRetiredSecrets(ctx context.Context, cutoff time.Time) (int, error)
	// TakeCredits takes cost from a credential's credits if at least cost remain, in one
	// write that holds across processes; credits whose refill period (in periods, the
	// interval's period at this instant) began after the one they belong to are first set to
	// the refill amount. Returns the credits remaining after and whether cost was taken, or
	// ENOTFOUND if the credential has no credits.
	TakeCredits(ctx context.Context, credentialID string, cost int64, periods RefillPeriods) (remaining int64, ok bool, err error)
	// TakeRateWindow: see ratelimit.Store. Keys are credential ids.
	TakeRateWindow(ctx context.Context, key string, start, prevStart time.Time, take func(prev, cur int64) int64) (prev, cur int64, err error)
	// DeleteRateWindows forgets rate windows that started before cutoff and returns how many
	// it deleted.
	DeleteRateWindows(ctx context.Context, cutoff time.Time) (int, error)

	// CreateApplication stores a. Returns ECONFLICT (reason "limit_reached") when the tenant
	// already has its limit of active applications, or (reason "duplicate") when an active
	// application has the same name. The check and the insert are atomic across processes.
	CreateApplication(ctx context.Context, a *Application, e *AuditEvent) error
	// Application returns an application, revoked or not, or ENOTFOUND.
	Application(ctx context.Context, tenantID, id string) (*Application, error)
	// ListApplications returns active applications ordered by id; when createdBy is set, only
	// those that user created.
	ListApplications(ctx context.Context, tenantID, createdBy string, page Page) ([]*Application, error)
	// UpdateApplication changes an application, revoked or not (see Store): it stores the
	// name, description, UpdatedAt and RevokedAt change left; when change revokes it, every
	// one of its keys is revoked at the same instant in the same transaction. Returns
	// ENOTFOUND if there is no such application, ECONFLICT on a duplicate name.
	UpdateApplication(ctx context.Context, tenantID, id string, change func(*Application) error, e *AuditEvent) (*Application, error)

	// CreateAccessKey stores c in its application. Returns ENOTFOUND unless the application
	// is active, ECONFLICT (reason "limit_reached") when it already has its limit of active
	// keys (neither revoked nor expired at now), ECONFLICT (reason "duplicate") on a name taken
	// by another of its keys. The check and the insert are atomic across processes.
	CreateAccessKey(ctx context.Context, c *Credential, now time.Time, e *AuditEvent) error
	// AccessKey returns an access key of an application, revoked or not, or ENOTFOUND.
	AccessKey(ctx context.Context, tenantID, appID, id string) (*Credential, error)
	// ListAccessKeys returns an application's keys that are not revoked, ordered by id.
	ListAccessKeys(ctx context.Context, tenantID, appID string, page Page) ([]*Credential, error)
	// UpdateAccessKey changes an access key of an application, revoked or not (see Store):
	// it stores the name, description, policy and RevokedAt change left. Returns ENOTFOUND if there
	// is no such key, ECONFLICT if another key of the application has the name.
	UpdateAccessKey(ctx context.Context, tenantID, appID, id string, change func(*Credential) error, e *AuditEvent) (*Credential, error)

	// APIKeyByName returns the tenant's API key with that name, or ENOTFOUND, also for one
	// expired at now: an expired API key is deleted, whether or not garbage collection has
	// run yet.
	APIKeyByName(ctx context.Context, tenantID, name string, now time.Time) (*Credential, error)
	// ListAPIKeys returns every API key of the tenant not expired at now, ordered by name.
	ListAPIKeys(ctx context.Context, tenantID string, now time.Time) ([]*Credential, error)
	// ListAPIKeysPage returns one page of the API keys of the tenant not expired at now,
	// ordered by id.
	ListAPIKeysPage(ctx context.Context, tenantID string, now time.Time, page Page) ([]*Credential, error)
	// UpdateAPIKey changes the API key named name (see Store): it stores the name,
	// permissions, active flag, expiry and policy change left. Returns ENOTFOUND if it is gone or
	// expired at now, ECONFLICT if another live key has the new name.
	UpdateAPIKey(ctx context.Context, tenantID, name string, now time.Time, change func(*Credential) error, e *AuditEvent) (*Credential, error)

	// CreateProductOffering returns ECONFLICT if the id is taken.
	CreateProductOffering(ctx context.Context, o *ProductOffering, e *AuditEvent) error
	// ProductOffering returns ENOTFOUND if there is none.
	ProductOffering(ctx context.Context, tenantID, id string) (*ProductOffering, error)
	// ListProductOfferings returns offerings ordered by id.
	ListProductOfferings(ctx context.Context, tenantID string, page Page) ([]*ProductOffering, error)
	// CreateContract returns ECONFLICT if the id is taken.
	CreateContract(ctx context.Context, c *Contract, e *AuditEvent) error
	// Contract returns ENOTFOUND if there is none.
	Contract(ctx context.Context, tenantID, id string) (*Contract, error)
	// ListContracts returns contracts ordered by id.
	ListContracts(ctx context.Context, tenantID string, f ContractFilter) ([]*Contract, error)
	// UpdateContract changes a contract (see Store): it stores the status, dates and
	// UpdatedAt change left. Returns ENOTFOUND if there is none.
	UpdateContract(ctx context.Context, tenantID, id string, change func(*Contract) error, e *AuditEvent) (*Contract, error)

	// CreateAccess returns ECONFLICT (reason "username_taken") if the tenant has an access
	// with the same username.
	CreateAccess(ctx context.Context, a *Access, e *AuditEvent) error
	// Access returns an access with its offering's name and contract's status, or ENOTFOUND.
	Access(ctx context.Context, tenantID, id string) (*Access, error)
	// AccessByUsername returns an access by username, like Access.
	AccessByUsername(ctx context.Context, tenantID, username string) (*Access, error)
	// ListAccesses returns accesses ordered by id.
	ListAccesses(ctx context.Context, tenantID string, f AccessFilter) ([]*Access, error)
	// UpdateAccess changes an access (see Store): it stores the password hash, status and
	// UpdatedAt change left. Returns ENOTFOUND if there is none.
	UpdateAccess(ctx context.Context, tenantID, id string, change func(*Access) error, e *AuditEvent) (*Access, error)

	// CreateBatchTask stores a new task.
	CreateBatchTask(ctx context.Context, t *BatchTask, e *AuditEvent) error
	// BatchTask returns a task of the tenant, or ENOTFOUND.
	BatchTask(ctx context.Context, tenantID, id string) (*BatchTask, error)
	// ListBatchTasks returns one page of the tenant's tasks, newest first (by id, descending):
	// up to page.Limit of them whose id is below page.After (empty for the first page).
	ListBatchTasks(ctx context.Context, tenantID string, page Page) ([]*BatchTask, error)
	// BatchErrors returns a task's item errors ordered by index.
	BatchErrors(ctx context.Context, taskID string) ([]BatchError, error)
	// BatchAccesses returns one page of the accesses a task of the tenant created, ordered by
	// their index (BatchSeq): up to page.Limit of them whose index is above page.After, the
	// decimal index of the previous page's last access (empty for the first page). Returns
	// EINVALID if page.After is not an index.
	BatchAccesses(ctx context.Context, tenantID, taskID string, page Page) ([]*Access, error)
	// ClaimBatchTask gives owner the lease, until leaseUntil, of the unfinished task whose
	// turn it is among those whose lease is free, has run out at now, or is owner's already,
	// and marks it IN_PROGRESS. Tenants take turns: the task goes to the tenant whose latest
	// turn (a claim or a stored chunk of any of its tasks) is oldest, then to that tenant's
	// task whose latest turn is oldest, then to the oldest task. Returns ENOTFOUND when there
	// is none. Two owners never hold one task's lease at once.
	ClaimBatchTask(ctx context.Context, owner string, now, leaseUntil time.Time) (*BatchTask, error)
	// ReleaseBatchTask frees a task's lease if owner holds it, so that any runner may claim
	// the task at once.
	ReleaseBatchTask(ctx context.Context, id, owner string) error
	// SaveBatchChunk stores one chunk of a task's work in one transaction: its accesses
	// (an item whose username is taken becomes an error "username_taken" instead), its
	// errors, and the task's progress, which counts as a turn. Returns how many accesses it
	// created, or ECONFLICT (reason "lease_lost") and nothing stored if owner no longer holds
	// the lease.
	SaveBatchChunk(ctx context.Context, c *BatchChunk) (int, error)
	// FinishBatchTask ends a task held by owner in a final state with a reason.
	FinishBatchTask(ctx context.Context, t *BatchTask, owner string, e *AuditEvent) error
	// ReleaseBatchLeases frees every lease; for a single node starting up, whose earlier
	// leases died with its earlier process.
	ReleaseBatchLeases(ctx context.Context) error
	// PurgeBatchPasswords deletes the sealed passwords of tasks finished before cutoff and
	// returns how many tasks it purged.
	PurgeBatchPasswords(ctx context.Context, cutoff, now time.Time) (int, error)
	// UnfinishedBatchTasks returns how many batch tasks, of every tenant, have not ended
	// (ACKNOWLEDGED or IN_PROGRESS): the batch runners' queue.
	UnfinishedBatchTasks(ctx context.Context) (int, error)

	// PutIdempotencyKey stores r unless the same tenant, credential and key are stored
	// already. It returns the stored record and whether it was r.
	PutIdempotencyKey(ctx context.Context, r *IdempotencyRecord) (*IdempotencyRecord, bool, error)
	// CompleteIdempotencyKey stores r's status and response.
	CompleteIdempotencyKey(ctx context.Context, r *IdempotencyRecord) error
	// DeleteIdempotencyKey forgets a key, so that the request can be tried again.
	DeleteIdempotencyKey(ctx context.Context, tenantID, credentialID, key string) error
	// DeleteIdempotencyKeys forgets keys stored before cutoff.
	DeleteIdempotencyKeys(ctx context.Context, cutoff time.Time) (int, error)

	// AppendAudit appends an event to the audit log on its own: for outcomes that changed
	// nothing (a refusal, a failure). A change's own event goes with the change.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns a tenant's audit events, newest first.
	ListAudit(ctx context.Context, tenantID string, f AuditFilter) ([]*AuditEvent, error)

	// SealingStore tells whether a secret key opens the database's sealed values.
	SealingStore
	// SigningKeyStore keeps the keys that sign access tokens and the revoked tokens.
	SigningKeyStore
	// WebhookStore keeps webhooks and the outbox of the events they are sent.
	WebhookStore
	// UsageStore keeps the usage counts of credentials.
	UsageStore
}

// WebhookStore keeps webhooks, the outbox of events for them and its deliveries.
//
// Every change's audit event may carry notices (AuditEvent.Notices): with the event, in the
// change's transaction (so only if the change commits), the store writes each to the outbox
// as one message, queued for every enabled webhook of the tenant subscribed to its type (or
// for the notice's one webhook), at the end of that webhook's order. Notices that no webhook
// is sent write nothing.
type WebhookStore interface {
	// CreateWebhook stores w. Returns ECONFLICT (limit_reached) when the tenant has max
	// webhooks already; the count and the insert are atomic across processes.
	CreateWebhook(ctx context.Context, w *Webhook, max int, e *AuditEvent) error
	// Webhook returns a webhook of the tenant, or ENOTFOUND.
	Webhook(ctx context.Context, tenantID, id string) (*Webhook, error)
	// ListWebhooks returns the tenant's webhooks ordered by id.
	ListWebhooks(ctx context.Context, tenantID string, page Page) ([]*Webhook, error)
	// UpdateWebhook changes a webhook (see Store): it stores the URL, events, description,
	// enabled flag and UpdatedAt change left. Returns ENOTFOUND if there is none.
	UpdateWebhook(ctx context.Context, tenantID, id string, change func(*Webhook) error, e *AuditEvent) (*Webhook, error)
	// DeleteWebhook deletes a webhook with its queue and its attempts. Returns ENOTFOUND if
	// there is none.
	DeleteWebhook(ctx context.Context, tenantID, id string, e *AuditEvent) error
	// ListWebhookAttempts returns a webhook's delivery attempts, newest first: Page.After is
	// the last id of the previous page.
	ListWebhookAttempts(ctx context.Context, tenantID, webhookID string, page Page) ([]*WebhookAttempt, error)
	// ResendWebhookMessage queues the message of a webhook's attempt for it again, due at
	// now, at the end of its order. Returns ENOTFOUND if the webhook has no such attempt (or
	// its message is gone).
	ResendWebhookMessage(ctx context.Context, tenantID, webhookID, attemptID string, now time.Time, e *AuditEvent) error
	// ClaimWebhookDeliveries gives owner the lease, until leaseUntil, of up to n queued
	// messages, each the first of an enabled webhook's queue, due at now, whose lease is free
	// or has run out at now; Attempt is the number of the attempt to make. Two owners never
	// hold one message's lease at once, and a webhook's next message is never claimed while
	// the one before it is queued.
	ClaimWebhookDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, n int) ([]*WebhookDelivery, error)
	// FinishWebhookAttempt records attempt a of the queued message deliveryID that owner
	// holds and, in the same transaction, takes the message off the queue (next zero) or
	// frees it to be tried again at next. Returns ECONFLICT (lease_lost) and records nothing
	// if owner does not hold it.
	FinishWebhookAttempt(ctx context.Context, deliveryID, owner string, a *WebhookAttempt, next time.Time) error
	// ReleaseWebhookLeases frees every lease on queued messages; for a single node starting
	// up, whose earlier leases died with its earlier process.
	ReleaseWebhookLeases(ctx context.Context) error
	// CountPendingWebhookDeliveries returns how many messages are queued, over every tenant.
	CountPendingWebhookDeliveries(ctx context.Context) (int, error)
	// DeleteWebhookHistory forgets attempts made before cutoff, and messages written before
	// cutoff that are neither queued nor attempted, and returns how many attempts it deleted.
	DeleteWebhookHistory(ctx context.Context, cutoff time.Time) (int, error)
	// NoteUsageExceeded marks a credential's credits as announced exceeded at at, if they are
	// not since they were set or refilled (the refill period holding at given by periods),
	// with a conditional write; if it marked them, it appends the event that event returns,
	// given the credential as marked, in the same transaction. It reports whether it marked
	// them: of several callers at once, exactly one does.
	NoteUsageExceeded(ctx context.Context, credentialID string, at time.Time, periods RefillPeriods, event func(*Credential) *AuditEvent) (bool, error)
	// NoteExpiring raises to stage the expiry notice stage of every API key and access key,
	// not revoked, that expires after now and no later than before and whose stage is below
	// stage, each in its own transaction with a conditional write and the event that event
	// returns for it, as marked. It returns how many it raised: of several callers at once,
	// exactly one raises each key.
	NoteExpiring(ctx context.Context, stage int, now, before time.Time, event func(*Credential) *AuditEvent) (int, error)
}
