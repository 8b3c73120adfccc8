// Package view is how keyhaven shows its objects to the world: each object's JSON as the
// REST API's GET answers it. The REST API serves these types, and webhooks describe the
// objects they announce with the same ones, so that a receiver reads an object exactly as a
// GET would have shown it. They hold plain data only: the domain (package keyhaven) fills
// them, and never with a secret but in the fields that say so.
package view

import (
	"encoding/json"
	"time"
)

// Permission is a permission name of keyhaven's vocabulary.
type Permission string

// APIKey is an API key as the API shows it: never its secret, except once, in Key, in the
// response that creates or rotates it.
type APIKey struct {
	ID          string       `json:"id" example:"key_06bq5xk2hz1f8m3v9c4r7t0w"`
	Name        string       `json:"name" example:"billing_sync"`
	Display     string       `json:"display" doc:"The key masked: its prefix and first characters, to tell keys apart" example:"khk_3xQ0aB********"`
	Permissions []Permission `json:"permissions"`
	Active      bool         `json:"active" doc:"An inactive key is refused everywhere"`
	ExpiresAt   *time.Time   `json:"expiresAt,omitempty" doc:"When the key stops working and is deleted"`
	KeyPolicy
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty" doc:"Written about once a minute"`
	Key        string     `json:"key,omitempty" doc:"The secret: only in the response that created or rotated the key"`
}

// KeyPolicy is a key's policy as the API shows it, for API keys and access keys alike.
type KeyPolicy struct {
	IPAllowlist []string   `json:"ipAllowlist" doc:"The addresses and CIDR ranges the key is good from; empty: any"`
	RateLimit   *RateLimit `json:"rateLimit,omitempty" doc:"The key's rate limit, when it has one"`
	Credits     *Credits   `json:"credits,omitempty" doc:"The key's credits, when it has some; remaining is as of the request, a due refill applied"`
	Meta        Meta       `json:"meta" doc:"The key's metadata for the downstream service ({} when none)"`
}

// RateLimit bounds a key's uses: every VALID verification takes its cost, every request on
// keyhaven's own API made with the key takes 1.
type RateLimit struct {
	Limit         int64 `json:"limit" minimum:"1" maximum:"1000000000" doc:"Units of use in any period"`
	PeriodSeconds int64 `json:"periodSeconds" minimum:"1" maximum:"86400"`
}

// Credits are what a key's verifications may still take, and how they refill.
type Credits struct {
	Remaining int64   `json:"remaining" minimum:"0" maximum:"1000000000000"`
	Refill    *Refill `json:"refill,omitempty" doc:"Sets remaining to amount at the start of every UTC day or month"`
}

// Refill sets a key's credits to Amount at the start of every Interval (UTC).
type Refill struct {
	Amount   int64  `json:"amount" minimum:"1" maximum:"1000000000000"`
	Interval string `json:"interval" enum:"DAILY,MONTHLY"`
}

// Meta is a key's metadata: a JSON object of at most 4 KiB, kept as the caller wrote it
// (compacted).
type Meta json.RawMessage

// MarshalJSON writes {} for no metadata.
func (m Meta) MarshalJSON() ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	return m, nil
}

// UnmarshalJSON keeps the JSON value as it is; the domain checks it.
func (m *Meta) UnmarshalJSON(b []byte) error {
	*m = append((*m)[:0], b...)
	return nil
}

// AccessKey is an access key as the API shows it: never its secret, except once, in Key, in
// the response that creates it.
type AccessKey struct {
	ID            string       `json:"id" example:"akey_06bq5xk2hz1f8m3v9c4r7t0w"`
	ApplicationID string       `json:"applicationId"`
	Name          string       `json:"name"`
	Description   string       `json:"description"`
	Status        string       `json:"status" enum:"ACTIVE,REVOKED,EXPIRED" doc:"Computed at the time of the request"`
	Scopes        []Permission `json:"scopes" doc:"Fixed at creation"`
	DisplayPrefix string       `json:"displayPrefix" doc:"The start of the key, to tell keys apart" example:"kha_3xQ0aB"`
	CreatedBy     string       `json:"createdBy" doc:"The user the key is bound to"`
	CreatedAt     time.Time    `json:"createdAt"`
	ExpiresAt     *time.Time   `json:"expiresAt,omitempty"`
	KeyPolicy
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	Key        string     `json:"key,omitempty" doc:"The secret: only in the response that created or rotated the key"`
}

// Application is an application as the API shows it.
type Application struct {
	ID          string    `json:"id" example:"app_06bq5xk2hz1f8m3v9c4r7t0w"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Status      string    `json:"status" enum:"ACTIVE,REVOKED"`
	CreatedBy   string    `json:"createdBy" doc:"The user the application is bound to"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Access is a device access as a TMF-style RealizingResource. Password is present only in
// the response that created it (and in a DONE batch task within its retention window).
type Access struct {
	ID              string         `json:"id" example:"acc_06bq5xk2hz1f8m3v9c4r7t0w"`
	Href            string         `json:"href" example:"/api/acme/access/acc_06bq5xk2hz1f8m3v9c4r7t0w"`
	ContractID      string         `json:"contractId"`
	DeviceName      string         `json:"deviceName"`
	Username        string         `json:"username"`
	Password        string         `json:"password,omitempty" doc:"Only in the response that created the access"`
	ProductOffering OfferingRef    `json:"productOffering"`
	ValidFor        ValidityPeriod `json:"validFor"`
	Status          string         `json:"status" enum:"ACTIVE,SUSPENDED,TERMINATED"`
	CreatedAt       time.Time      `json:"createdAt"`
	CreatedBy       string         `json:"createdBy" doc:"The creating user's id, or the batch task's id"`
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

// User is a user as the API shows it: never a password hash.
type User struct {
	ID          string       `json:"id" example:"usr_06bq5xk2hz1f8m3v9c4r7t0w"`
	Email       string       `json:"email" format:"email"`
	Permissions []Permission `json:"permissions"`
	CreatedAt   time.Time    `json:"createdAt"`
	UpdatedAt   time.Time    `json:"updatedAt"`
	// Password is the generated password, present once, in the creation response, when the
	// request named none.
	Password string `json:"password,omitempty" doc:"The generated password; only in the response that created the user, when none was given"`
}

// Batch is a batch task's state and counts: what its GET shows on every page, but its
// errors and its accesses.
type Batch struct {
	ID         string     `json:"id"`
	State      string     `json:"state" enum:"ACKNOWLEDGED,IN_PROGRESS,DONE,FAILED,REJECTED"`
	Reason     string     `json:"reason,omitempty" doc:"Why the task was REJECTED or FAILED"`
	ContractID string     `json:"contractId"`
	CreatedBy  string     `json:"createdBy" doc:"The user who submitted the task"`
	Requested  int        `json:"requested"`
	Processed  int        `json:"processed"`
	Created    int        `json:"created"`
	Failed     int        `json:"failed"`
	CreatedAt  time.Time  `json:"createdAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// PasswordsUntil is when the passwords of a finished task are purged.
	PasswordsUntil *time.Time `json:"passwordsUntil,omitempty" doc:"When the passwords are purged"`
}

// Webhook is a webhook as the API shows it: never its secret, except once, in Secret, in the
// response that creates it.
type Webhook struct {
	ID          string    `json:"id" example:"whk_06bq5xk2hz1f8m3v9c4r7t0w"`
	URL         string    `json:"url" example:"https://hooks.example.com/keyhaven"`
	Events      []string  `json:"events" doc:"The event types the webhook is sent" enum:"api_key.created,api_key.updated,api_key.rotated,api_key.deleted,api_key.expiring,access_key.created,access_key.updated,access_key.rotated,access_key.revoked,access_key.expiring,application.created,application.revoked,user.deleted,access.created,access.updated,access_batch.completed,credential.usage_exceeded"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled" doc:"A disabled webhook is sent nothing; what it has queued waits until it is enabled"`
	CreatedBy   string    `json:"createdBy" doc:"The user who created it"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	Secret      string    `json:"secret,omitempty" doc:"The signing secret (whsec_ and base64 of 32 random bytes): only in the response that created the webhook"`
}

// WebhookDelivery is one attempt to deliver an event to a webhook.
type WebhookDelivery struct {
	ID      string    `json:"id" example:"dlv_06bq5xk2hz1f8m3v9c4r7t0w" doc:"The attempt's id: resend its event with POST .../deliveries/{id}/resend"`
	EventID string    `json:"eventId" example:"msg_06bq5xk2hz1f8m3v9c4r7t0w" doc:"The event's id, sent as webhook-id: the same on every attempt"`
	Type    string    `json:"type" example:"api_key.created"`
	Attempt int       `json:"attempt" doc:"1 for the first attempt of a delivery, then 2, 3..."`
	At      time.Time `json:"at" doc:"When the attempt was made"`
	Status  *int      `json:"status,omitempty" doc:"The receiver's response status, when it answered"`
	Error   string    `json:"error,omitempty" doc:"Why the attempt failed"`
	Outcome string    `json:"outcome" enum:"delivered,failed,exhausted" doc:"delivered: a 2xx answer; failed: retried later; exhausted: the last retry failed, given up"`
}
