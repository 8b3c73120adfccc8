package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// call sends a request and decodes its JSON answer into a new T.
func call[T any](ctx context.Context, c *Client, method, path string, body any) (*T, json.RawMessage, error) {
	v := new(T)
	raw, err := c.Do(ctx, method, path, nil, body, v)
	if err != nil {
		return nil, nil, err
	}
	return v, raw, nil
}

// Patch is a JSON merge patch (RFC 7396): a field absent stays as it is, a nil value (null)
// clears it, any other value sets it.
type Patch map[string]any

// Session is a user's session: its token is a bearer credential.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Login opens a session of the user with email and password.
func (c *Client) Login(ctx context.Context, email, password string) (*Session, error) {
	s, _, err := call[Session](ctx, c, http.MethodPost, c.tenantPath("login"), map[string]string{"email": email, "password": password})
	return s, err
}

// Logout ends the calling session.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.Do(ctx, http.MethodPost, c.tenantPath("logout"), nil, nil, nil)
	return err
}

// Me describes the calling principal.
type Me struct {
	Kind           string     `json:"kind"`
	Tenant         string     `json:"tenant"`
	CredentialID   string     `json:"credentialId"`
	CredentialName string     `json:"credentialName"`
	User           MeUser     `json:"user"`
	Permissions    []string   `json:"permissions"`
	ExpiresAt      *time.Time `json:"expiresAt"`
}

// MeUser is the user a credential acts for.
type MeUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// Me describes the credential the client calls with.
func (c *Client) Me(ctx context.Context) (*Me, json.RawMessage, error) {
	return call[Me](ctx, c, http.MethodGet, c.tenantPath("me"), nil)
}

// RateLimit bounds a key's uses in any period.
type RateLimit struct {
	Limit         int64 `json:"limit"`
	PeriodSeconds int64 `json:"periodSeconds"`
}

// Credits are what a key's verifications may still take.
type Credits struct {
	Remaining int64   `json:"remaining"`
	Refill    *Refill `json:"refill,omitempty"`
}

// Refill sets a key's credits to Amount every DAILY or MONTHLY Interval.
type Refill struct {
	Amount   int64  `json:"amount"`
	Interval string `json:"interval"`
}

// Policy is a key's policy, as shown and as set at creation.
type Policy struct {
	IPAllowlist []string        `json:"ipAllowlist,omitempty"`
	RateLimit   *RateLimit      `json:"rateLimit,omitempty"`
	Credits     *Credits        `json:"credits,omitempty"`
	Meta        json.RawMessage `json:"meta,omitempty"`
}

// APIKey is a tenant-wide API key. Key holds its secret only in the answer that created or
// rotated it.
type APIKey struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Display     string     `json:"display"`
	Permissions []string   `json:"permissions"`
	Active      bool       `json:"active"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	Policy
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	Key        string     `json:"key"`
}

// APIKeyInput creates an API key.
type APIKeyInput struct {
	Name        string     `json:"name"`
	Permissions []string   `json:"permissions"`
	Active      *bool      `json:"active,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	Policy
}

// Rotation asks for a new secret; the old one works for GracePeriodSeconds.
type Rotation struct {
	GracePeriodSeconds int64 `json:"gracePeriodSeconds,omitempty"`
}

// APIKeys returns a page of the tenant's API keys.
func (c *Client) APIKeys(ctx context.Context, cursor string, limit int) (*Page[APIKey], error) {
	return list[APIKey](ctx, c, c.tenantPath("api-keys"), nil, cursor, limit)
}

// APIKey returns the API key of that name.
func (c *Client) APIKey(ctx context.Context, name string) (*APIKey, json.RawMessage, error) {
	return call[APIKey](ctx, c, http.MethodGet, c.tenantPath("api-keys", name), nil)
}

// CreateAPIKey creates an API key; its secret is in Key.
func (c *Client) CreateAPIKey(ctx context.Context, in APIKeyInput) (*APIKey, json.RawMessage, error) {
	return call[APIKey](ctx, c, http.MethodPost, c.tenantPath("api-keys"), in)
}

// UpdateAPIKey changes an API key by a merge patch of name, permissions, active, expiresAt
// and the policy's fields.
func (c *Client) UpdateAPIKey(ctx context.Context, name string, p Patch) (*APIKey, json.RawMessage, error) {
	return call[APIKey](ctx, c, http.MethodPatch, c.tenantPath("api-keys", name), p)
}

// DeleteAPIKey deletes an API key.
func (c *Client) DeleteAPIKey(ctx context.Context, name string) error {
	_, err := c.Do(ctx, http.MethodDelete, c.tenantPath("api-keys", name), nil, nil, nil)
	return err
}

// RotateAPIKey gives an API key a new secret, in Key.
func (c *Client) RotateAPIKey(ctx context.Context, name string, r Rotation) (*APIKey, json.RawMessage, error) {
	return call[APIKey](ctx, c, http.MethodPost, c.tenantPath("api-keys", name, "rotate"), r)
}

// Application groups access keys.
type Application struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	CreatedBy   string    `json:"createdBy"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// ApplicationInput creates an application.
type ApplicationInput struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Applications returns a page of the active applications.
func (c *Client) Applications(ctx context.Context, cursor string, limit int) (*Page[Application], error) {
	return list[Application](ctx, c, c.tenantPath("applications"), nil, cursor, limit)
}

// Application returns an application.
func (c *Client) Application(ctx context.Context, id string) (*Application, json.RawMessage, error) {
	return call[Application](ctx, c, http.MethodGet, c.tenantPath("applications", id), nil)
}

// CreateApplication creates an application.
func (c *Client) CreateApplication(ctx context.Context, in ApplicationInput) (*Application, json.RawMessage, error) {
	return call[Application](ctx, c, http.MethodPost, c.tenantPath("applications"), in)
}

// UpdateApplication changes an application's name or description.
func (c *Client) UpdateApplication(ctx context.Context, id string, p Patch) (*Application, json.RawMessage, error) {
	return call[Application](ctx, c, http.MethodPatch, c.tenantPath("applications", id), p)
}

// RevokeApplication revokes an application and every key in it.
func (c *Client) RevokeApplication(ctx context.Context, id string) (*Application, json.RawMessage, error) {
	return call[Application](ctx, c, http.MethodPost, c.tenantPath("applications", id, "revoke"), nil)
}

// AccessKey is an application's access key. Key holds its secret only in the answer that
// created or rotated it.
type AccessKey struct {
	ID            string     `json:"id"`
	ApplicationID string     `json:"applicationId"`
	Name          string     `json:"name"`
	Description   string     `json:"description"`
	Status        string     `json:"status"`
	Scopes        []string   `json:"scopes"`
	DisplayPrefix string     `json:"displayPrefix"`
	CreatedBy     string     `json:"createdBy"`
	CreatedAt     time.Time  `json:"createdAt"`
	ExpiresAt     *time.Time `json:"expiresAt"`
	Policy
	LastUsedAt *time.Time `json:"lastUsedAt"`
	Key        string     `json:"key"`
}

// AccessKeyInput creates an access key.
type AccessKeyInput struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Scopes      []string   `json:"scopes"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	Policy
}

// AccessKeys returns a page of an application's active and expired keys.
func (c *Client) AccessKeys(ctx context.Context, app, cursor string, limit int) (*Page[AccessKey], error) {
	return list[AccessKey](ctx, c, c.tenantPath("applications", app, "access-keys"), nil, cursor, limit)
}

// AccessKey returns an access key of an application.
func (c *Client) AccessKey(ctx context.Context, app, id string) (*AccessKey, json.RawMessage, error) {
	return call[AccessKey](ctx, c, http.MethodGet, c.tenantPath("applications", app, "access-keys", id), nil)
}

// CreateAccessKey creates an access key in an application; its secret is in Key.
func (c *Client) CreateAccessKey(ctx context.Context, app string, in AccessKeyInput) (*AccessKey, json.RawMessage, error) {
	return call[AccessKey](ctx, c, http.MethodPost, c.tenantPath("applications", app, "access-keys"), in)
}

// UpdateAccessKey changes an access key by a merge patch of name, description and the
// policy's fields.
func (c *Client) UpdateAccessKey(ctx context.Context, app, id string, p Patch) (*AccessKey, json.RawMessage, error) {
	return call[AccessKey](ctx, c, http.MethodPatch, c.tenantPath("applications", app, "access-keys", id), p)
}

// RotateAccessKey gives an access key a new secret, in Key.
func (c *Client) RotateAccessKey(ctx context.Context, app, id string, r Rotation) (*AccessKey, json.RawMessage, error) {
	return call[AccessKey](ctx, c, http.MethodPost, c.tenantPath("applications", app, "access-keys", id, "rotate"), r)
}

// RevokeAccessKey revokes an access key.
func (c *Client) RevokeAccessKey(ctx context.Context, app, id string) (*AccessKey, json.RawMessage, error) {
	return call[AccessKey](ctx, c, http.MethodPost, c.tenantPath("applications", app, "access-keys", id, "revoke"), nil)
}

// User is a user of the tenant. Password holds a generated password only in the answer that
// created the user.
type User struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	Permissions []string  `json:"permissions"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	Password    string    `json:"password"`
}

// UserInput creates a user; the password is generated when nil.
type UserInput struct {
	Email       string   `json:"email"`
	Password    *string  `json:"password,omitempty"`
	Permissions []string `json:"permissions"`
}

// Users returns a page of the tenant's users.
func (c *Client) Users(ctx context.Context, cursor string, limit int) (*Page[User], error) {
	return list[User](ctx, c, c.tenantPath("users"), nil, cursor, limit)
}

// User returns a user.
func (c *Client) User(ctx context.Context, id string) (*User, json.RawMessage, error) {
	return call[User](ctx, c, http.MethodGet, c.tenantPath("users", id), nil)
}

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, in UserInput) (*User, json.RawMessage, error) {
	return call[User](ctx, c, http.MethodPost, c.tenantPath("users"), in)
}

// UpdateUser changes a user's permissions or password (with currentPassword for one's own).
func (c *Client) UpdateUser(ctx context.Context, id string, p Patch) (*User, json.RawMessage, error) {
	return call[User](ctx, c, http.MethodPatch, c.tenantPath("users", id), p)
}

// DeleteUser deletes a user: every credential it owns stops working.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, c.tenantPath("users", id), nil, nil, nil)
	return err
}

// ProductOffering is what contracts sell.
type ProductOffering struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	AccessValidityDays int       `json:"accessValidityDays"`
	CreatedAt          time.Time `json:"createdAt"`
}

// OfferingInput creates a product offering; its id is generated when empty.
type OfferingInput struct {
	ID                 string `json:"id,omitempty"`
	Name               string `json:"name"`
	AccessValidityDays int    `json:"accessValidityDays,omitempty"`
}

// Offerings returns a page of the product offerings.
func (c *Client) Offerings(ctx context.Context, cursor string, limit int) (*Page[ProductOffering], error) {
	return list[ProductOffering](ctx, c, c.tenantPath("product-offerings"), nil, cursor, limit)
}

// CreateOffering creates a product offering.
func (c *Client) CreateOffering(ctx context.Context, in OfferingInput) (*ProductOffering, json.RawMessage, error) {
	return call[ProductOffering](ctx, c, http.MethodPost, c.tenantPath("product-offerings"), in)
}

// Contract binds device accesses to a product offering and a period.
type Contract struct {
	ID                string    `json:"id"`
	ProductOfferingID string    `json:"productOfferingId"`
	CustomerName      string    `json:"customerName"`
	StartDate         time.Time `json:"startDate"`
	EndDate           time.Time `json:"endDate"`
	Status            string    `json:"status"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
}

// ContractInput creates a contract; its status is ACTIVE when empty.
type ContractInput struct {
	ID                string    `json:"id"`
	ProductOfferingID string    `json:"productOfferingId"`
	CustomerName      string    `json:"customerName,omitempty"`
	StartDate         time.Time `json:"startDate"`
	EndDate           time.Time `json:"endDate"`
	Status            string    `json:"status,omitempty"`
}

// Contracts returns a page of the contracts that query (productOfferingId, status) selects.
func (c *Client) Contracts(ctx context.Context, query url.Values, cursor string, limit int) (*Page[Contract], error) {
	return list[Contract](ctx, c, c.tenantPath("contracts"), query, cursor, limit)
}

// Contract returns a contract.
func (c *Client) Contract(ctx context.Context, id string) (*Contract, json.RawMessage, error) {
	return call[Contract](ctx, c, http.MethodGet, c.tenantPath("contracts", id), nil)
}

// CreateContract creates a contract.
func (c *Client) CreateContract(ctx context.Context, in ContractInput) (*Contract, json.RawMessage, error) {
	return call[Contract](ctx, c, http.MethodPost, c.tenantPath("contracts"), in)
}

// UpdateContract changes a contract's status, startDate or endDate.
func (c *Client) UpdateContract(ctx context.Context, id string, p Patch) (*Contract, json.RawMessage, error) {
	return call[Contract](ctx, c, http.MethodPatch, c.tenantPath("contracts", id), p)
}

// Access is a device access. Password is there only in the answer that created it, and in a
// DONE batch task within its retention window.
type Access struct {
	ID              string         `json:"id"`
	ContractID      string         `json:"contractId"`
	DeviceName      string         `json:"deviceName"`
	Username        string         `json:"username"`
	Password        string         `json:"password"`
	ProductOffering OfferingRef    `json:"productOffering"`
	ValidFor        ValidityPeriod `json:"validFor"`
	Status          string         `json:"status"`
	CreatedAt       time.Time      `json:"createdAt"`
	CreatedBy       string         `json:"createdBy"`
}

// OfferingRef names an access's product offering.
type OfferingRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ValidityPeriod is when an access is valid.
type ValidityPeriod struct {
	StartDateTime time.Time `json:"startDateTime"`
	EndDateTime   time.Time `json:"endDateTime"`
}

// AccessInput creates one access; what is empty is generated.
type AccessInput struct {
	ContractID string  `json:"contractId,omitempty"`
	Username   string  `json:"username,omitempty"`
	Password   *string `json:"password,omitempty"`
	DeviceName string  `json:"deviceName,omitempty"`
}

// Accesses returns a page of the accesses that query (contractId, status, createdBy,
// username, deviceName, createdAfter, createdBefore, validAt) selects.
func (c *Client) Accesses(ctx context.Context, query url.Values, cursor string, limit int) (*Page[Access], error) {
	return list[Access](ctx, c, c.tenantPath("access"), query, cursor, limit)
}

// Access returns an access, never its password.
func (c *Client) Access(ctx context.Context, id string) (*Access, json.RawMessage, error) {
	return call[Access](ctx, c, http.MethodGet, c.tenantPath("access", id), nil)
}

// CreateAccess creates one access; its password is in the answer only.
func (c *Client) CreateAccess(ctx context.Context, in AccessInput) (*Access, json.RawMessage, error) {
	return call[Access](ctx, c, http.MethodPost, c.tenantPath("access"), in)
}

// UpdateAccess changes an access's password or status.
func (c *Client) UpdateAccess(ctx context.Context, id string, p Patch) (*Access, json.RawMessage, error) {
	return call[Access](ctx, c, http.MethodPatch, c.tenantPath("access", id), p)
}

// BatchInput asks for accesses in a batch: exactly one of NumberOfAccesses and Accesses.
type BatchInput struct {
	ContractID       string        `json:"contractId"`
	NumberOfAccesses *int          `json:"numberOfAccesses,omitempty"`
	Accesses         []AccessInput `json:"accesses,omitempty"`
}

// BatchTask is a batch with its progress, its errors and, once DONE, a page of its
// accesses with their passwords until PasswordsUntil.
type BatchTask struct {
	ID             string       `json:"id"`
	State          string       `json:"state"`
	Reason         string       `json:"reason"`
	ContractID     string       `json:"contractId"`
	Requested      int          `json:"requested"`
	Processed      int          `json:"processed"`
	Created        int          `json:"created"`
	Failed         int          `json:"failed"`
	Accesses       []Access     `json:"accesses"`
	Errors         []BatchError `json:"errors"`
	CreatedAt      time.Time    `json:"createdAt"`
	PasswordsUntil *time.Time   `json:"passwordsUntil"`
	NextCursor     string       `json:"nextCursor"`
}

// Final reports whether the task has ended.
func (t *BatchTask) Final() bool {
	return t.State == "DONE" || t.State == "FAILED" || t.State == "REJECTED"
}

// BatchError is an item of a batch that failed.
type BatchError struct {
	Index   int    `json:"index"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// CreateBatch submits a batch; the answer names the task (its id and state).
func (c *Client) CreateBatch(ctx context.Context, in BatchInput) (*BatchTask, json.RawMessage, error) {
	return call[BatchTask](ctx, c, http.MethodPost, c.tenantPath("access", "batch"), in)
}

// Batch returns a batch task with the page of its accesses after cursor.
func (c *Client) Batch(ctx context.Context, id, cursor string, limit int) (*BatchTask, json.RawMessage, error) {
	t := new(BatchTask)
	raw, err := c.Do(ctx, http.MethodGet, c.tenantPath("access", "batch", id), pageQuery(nil, cursor, limit), nil, t)
	if err != nil {
		return nil, nil, err
	}
	return t, raw, nil
}

// Batches returns a page of the tenant's batch tasks, newest first, without their accesses.
func (c *Client) Batches(ctx context.Context, cursor string, limit int) (*Page[BatchTask], error) {
	return list[BatchTask](ctx, c, c.tenantPath("access", "batch"), nil, cursor, limit)
}

// Webhook is an endpoint told of the tenant's events. Secret holds its signing secret only
// in the answer that created it.
type Webhook struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Enabled     bool     `json:"enabled"`
	Secret      string   `json:"secret"`
}

// WebhookInput creates a webhook.
type WebhookInput struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
}

// Webhooks returns a page of the tenant's webhooks.
func (c *Client) Webhooks(ctx context.Context, cursor string, limit int) (*Page[Webhook], error) {
	return list[Webhook](ctx, c, c.tenantPath("webhooks"), nil, cursor, limit)
}

// Webhook returns a webhook.
func (c *Client) Webhook(ctx context.Context, id string) (*Webhook, json.RawMessage, error) {
	return call[Webhook](ctx, c, http.MethodGet, c.tenantPath("webhooks", id), nil)
}

// CreateWebhook creates a webhook; its signing secret is in Secret.
func (c *Client) CreateWebhook(ctx context.Context, in WebhookInput) (*Webhook, json.RawMessage, error) {
	return call[Webhook](ctx, c, http.MethodPost, c.tenantPath("webhooks"), in)
}

// UpdateWebhook changes a webhook by a merge patch of url, events, description and enabled.
func (c *Client) UpdateWebhook(ctx context.Context, id string, p Patch) (*Webhook, json.RawMessage, error) {
	return call[Webhook](ctx, c, http.MethodPatch, c.tenantPath("webhooks", id), p)
}

// DeleteWebhook deletes a webhook.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, c.tenantPath("webhooks", id), nil, nil, nil)
	return err
}

// TestWebhook sends the webhook a webhook.test event; the answer is returned as sent.
func (c *Client) TestWebhook(ctx context.Context, id string) (json.RawMessage, error) {
	return c.Do(ctx, http.MethodPost, c.tenantPath("webhooks", id, "test"), nil, nil, nil)
}

// Deliveries returns a page of a webhook's delivery attempts (event id, type, time, response
// status or error), each as sent.
func (c *Client) Deliveries(ctx context.Context, id, cursor string, limit int) (*Page[map[string]any], error) {
	return list[map[string]any](ctx, c, c.tenantPath("webhooks", id, "deliveries"), nil, cursor, limit)
}

// ResendDelivery queues the event of one of a webhook's delivery attempts for it again.
func (c *Client) ResendDelivery(ctx context.Context, id, deliveryID string) error {
	_, err := c.Do(ctx, http.MethodPost, c.tenantPath("webhooks", id, "deliveries", deliveryID, "resend"), nil, nil, nil)
	return err
}
