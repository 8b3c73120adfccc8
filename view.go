package keyhaven

import (
	"time"

	"keyhaven.dev/keyhaven/view"
)

// The functions of this file show each object one way (package view): as the REST API's GET
// answers it and as a webhook describes it, so that the two never drift apart. None of them
// shows a secret.

// ViewPermissions returns a permission set as every view lists it, in canonical order.
func ViewPermissions(s PermissionSet) []view.Permission {
	out := make([]view.Permission, 0, s.Len())
	for _, p := range s.List() {
		out = append(out, view.Permission(p))
	}
	return out
}

// ViewKeyPolicy returns a key's policy at now: its credits as of now, a due refill applied.
func ViewKeyPolicy(p *Policy, now time.Time) view.KeyPolicy {
	out := view.KeyPolicy{IPAllowlist: AllowlistStrings(p.IPAllowlist), Meta: view.Meta(p.Meta)}
	if r := p.RateLimit; r != nil {
		out.RateLimit = &view.RateLimit{Limit: r.Limit, PeriodSeconds: int64(r.Period / time.Second)}
	}
	if c := p.Credits; c != nil {
		out.Credits = &view.Credits{Remaining: c.At(now)}
		if r := c.Refill; r != nil {
			out.Credits.Refill = &view.Refill{Amount: r.Amount, Interval: string(r.Interval)}
		}
	}
	return out
}

// ViewAPIKey returns an API key at now, without its secret.
func ViewAPIKey(c *Credential, now time.Time) view.APIKey {
	return view.APIKey{
		ID: c.ID, Name: c.Name, Display: MaskedKey(c), Permissions: ViewPermissions(c.Permissions), Active: c.Active,
		ExpiresAt: timePtr(c.ExpiresAt), KeyPolicy: ViewKeyPolicy(&c.Policy, now), CreatedAt: c.CreatedAt, LastUsedAt: timePtr(c.LastUsedAt),
	}
}

// ViewAccessKey returns an access key at now (its status is computed at now), without its
// secret.
func ViewAccessKey(c *Credential, now time.Time) view.AccessKey {
	return view.AccessKey{
		ID: c.ID, ApplicationID: c.ApplicationID, Name: c.Name, Description: c.Description,
		Status: string(AccessKeyStatusAt(c, now)), Scopes: ViewPermissions(c.Permissions), DisplayPrefix: c.Display,
		CreatedBy: c.OwnerID, CreatedAt: c.CreatedAt, ExpiresAt: timePtr(c.ExpiresAt), KeyPolicy: ViewKeyPolicy(&c.Policy, now),
		LastUsedAt: timePtr(c.LastUsedAt),
	}
}

// ViewApplication returns an application.
func ViewApplication(a *Application) view.Application {
	return view.Application{ID: a.ID, Name: a.Name, Description: a.Description, Status: string(a.Status()),
		CreatedBy: a.CreatedBy, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// ViewAccess returns an access of the tenant named tenant, without its password.
func ViewAccess(tenant string, a *Access) view.Access {
	return view.Access{
		ID: a.ID, Href: "/api/" + tenant + "/access/" + a.ID, ContractID: a.ContractID, DeviceName: a.DeviceName,
		Username: a.Username, ProductOffering: view.OfferingRef{ID: a.ProductOfferingID, Name: a.ProductOfferingName},
		ValidFor: view.ValidityPeriod{StartDateTime: a.ValidFrom, EndDateTime: a.ValidUntil}, Status: string(a.Status),
		CreatedAt: a.CreatedAt, CreatedBy: a.CreatedBy,
	}
}

// ViewUser returns a user, without a password.
func ViewUser(u *User) view.User {
	return view.User{ID: u.ID, Email: u.Email, Permissions: ViewPermissions(u.Permissions), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// ViewBatch returns a batch task's state and counts; a finished task's passwords are kept
// for retention.
func ViewBatch(t *BatchTask, retention time.Duration) view.Batch {
	out := view.Batch{ID: t.ID, State: string(t.State), Reason: t.Reason, ContractID: t.ContractID, CreatedBy: t.CreatedBy,
		Requested: t.Requested, Processed: t.Processed, Created: t.Created, Failed: t.Failed, CreatedAt: t.CreatedAt}
	if !t.FinishedAt.IsZero() {
		finished, until := t.FinishedAt, t.FinishedAt.Add(retention)
		out.FinishedAt, out.PasswordsUntil = &finished, &until
	}
	return out
}

// timePtr returns nil for the zero time, so that absent times are omitted.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
