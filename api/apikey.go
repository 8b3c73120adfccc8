package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/view"
)

// APIKey is an API key as the API shows it (see package view).
type APIKey = view.APIKey

func toAPIKey(c *keyhaven.Credential, now time.Time) APIKey { return keyhaven.ViewAPIKey(c, now) }

// APIKeyPath names an API key.
type APIKeyPath struct {
	TenantPath
	Name string `path:"name" maxLength:"64" doc:"The API key's name"`
}

type createAPIKeyInput struct {
	TenantPath
	Body struct {
		Name        string       `json:"name" maxLength:"64" doc:"Unique within the tenant: letters, digits and underscores" example:"billing_sync"`
		Permissions []Permission `json:"permissions" maxItems:"64" doc:"At least one; at most the caller's own permissions"`
		Active      *bool        `json:"active,omitempty" doc:"true when omitted"`
		ExpiresAt   *time.Time   `json:"expiresAt,omitempty" doc:"When the key stops working and is deleted; in the future"`
		PolicyBody
	}
}

type updateAPIKeyInput struct {
	APIKeyPath
	Body struct {
		Name        Nullable[string]       `json:"name,omitzero" nullable:"false" maxLength:"64" doc:"A new name"`
		Permissions Nullable[[]Permission] `json:"permissions,omitzero" nullable:"false" maxItems:"64" doc:"Replaces the permissions, within the caller's own"`
		Active      Nullable[bool]         `json:"active,omitzero" nullable:"false"`
		ExpiresAt   Nullable[time.Time]    `json:"expiresAt,omitzero" doc:"A new expiry, in the future; null: never"`
		PolicyPatch
	}
}

type rotateAPIKeyInput struct {
	APIKeyPath
	Body *Rotation
}

type apiKeyOutput struct{ Body APIKey }

type listAPIKeysInput struct {
	TenantPath
	PageParams
}

// apiKeyErr names the invalid fields of an API key operation as this API names them: the
// domain names them as GraphQL's arguments (api_key.permissions, expires).
func apiKeyErr(err error) error {
	fields := keyhaven.ErrorFields(err)
	if len(fields) == 0 {
		return err
	}
	out := make([]keyhaven.FieldError, len(fields))
	for i, f := range fields {
		name := strings.TrimPrefix(f.Field, "api_key.")
		if name == "expires" {
			name = "expiresAt"
		}
		out[i] = keyhaven.FieldError{Field: name, Message: f.Message}
	}
	return keyhaven.Invalid(out...)
}

// notNull refuses null for a field that cannot be cleared.
func notNull(field string, null bool) error {
	if null {
		return keyhaven.Invalid(keyhaven.FieldError{Field: field, Message: "cannot be null"})
	}
	return nil
}

func (s *Server) registerAPIKeys() {
	tags := []string{"API keys"}
	huma.Register(s.api, op(huma.Operation{
		OperationID: "createApiKey", Method: http.MethodPost, Path: "/api/{tenant}/api-keys", Tags: tags,
		Summary: "Create an API key", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Needs KEY_MANAGEMENT; the key's permissions must be held by the caller. The key is bound to the caller's owner user; " +
			"its secret is in this response only. 409 duplicate when a key has the name, limit_reached when the tenant has its limit of keys. " +
			"Honours Idempotency-Key.",
	}, true), func(ctx context.Context, in *createAPIKeyInput) (*apiKeyOutput, error) {
		b := &in.Body
		c, key, err := s.svc.CreateAPIKey(ctx, principal(ctx), keyhaven.APIKeyInput{
			Name: b.Name, Permissions: permissionStrings(b.Permissions), Active: b.Active, Expires: b.ExpiresAt, Policy: b.PolicyBody.input(),
		})
		if err != nil {
			return nil, apiKeyErr(err)
		}
		out := &apiKeyOutput{toAPIKey(c, c.CreatedAt)}
		out.Body.Key = key
		return out, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listApiKeys", Method: http.MethodGet, Path: "/api/{tenant}/api-keys", Tags: tags,
		Summary: "List the tenant's API keys", Description: "Needs KEY_MANAGEMENT. Expired keys are gone. Never shows a secret.",
	}, true), func(ctx context.Context, in *listAPIKeysInput) (*listOutput[APIKey], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		keys, err := s.svc.ListAPIKeysPage(ctx, principal(ctx), pg)
		if err != nil {
			return nil, err
		}
		now := s.svc.Now()
		return newList(s, keys, pg, func(c *keyhaven.Credential) APIKey { return toAPIKey(c, now) },
			func(c *keyhaven.Credential) string { return c.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getApiKey", Method: http.MethodGet, Path: "/api/{tenant}/api-keys/{name}", Tags: tags,
		Summary: "Get an API key", Description: "Needs KEY_MANAGEMENT. Never shows the secret.", Errors: []int{http.StatusNotFound},
	}, true), func(ctx context.Context, in *APIKeyPath) (*apiKeyOutput, error) {
		c, err := s.svc.APIKey(ctx, principal(ctx), in.Name)
		if err != nil {
			return nil, err
		}
		return &apiKeyOutput{toAPIKey(c, s.svc.Now())}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "updateApiKey", Method: http.MethodPatch, Path: "/api/{tenant}/api-keys/{name}", Tags: tags,
		Summary: "Change an API key", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "A JSON merge patch, as application/merge-patch+json or application/json: an absent field stays as it is; null " +
			"clears expiresAt (never expires), ipAllowlist, rateLimit, credits and meta, and is invalid for name, permissions and active. " +
			"Needs KEY_MANAGEMENT and every permission of the key; new permissions within the caller's own and its owner's. " +
			"A key cannot change itself (403 own_key). 409 duplicate when another key has the new name.",
	}, true), func(ctx context.Context, in *updateAPIKeyInput) (*apiKeyOutput, error) {
		b := &in.Body
		for _, f := range []struct {
			name string
			null bool
		}{{"name", b.Name.Null}, {"permissions", b.Permissions.Null}, {"active", b.Active.Null}} {
			if err := notNull(f.name, f.null); err != nil {
				return nil, err
			}
		}
		upd := keyhaven.APIKeyUpdate{Policy: b.PolicyPatch.update()}
		if b.Name.Set {
			upd.Name = &b.Name.Value
		}
		if b.Permissions.Set {
			names := permissionStrings(b.Permissions.Value)
			upd.Permissions = &names
		}
		if b.Active.Set {
			upd.Active = &b.Active.Value
		}
		if b.ExpiresAt.Set {
			upd.Expires = keyhaven.Some(b.ExpiresAt.ptr())
		}
		c, err := s.svc.UpdateAPIKey(ctx, principal(ctx), in.Name, upd)
		if err != nil {
			return nil, apiKeyErr(err)
		}
		return &apiKeyOutput{toAPIKey(c, s.svc.Now())}, nil
	})
	s.documentMergePatch("/api/{tenant}/api-keys/{name}")
	huma.Register(s.api, op(huma.Operation{
		OperationID: "deleteApiKey", Method: http.MethodDelete, Path: "/api/{tenant}/api-keys/{name}", Tags: tags,
		Summary: "Delete an API key", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: "Needs KEY_MANAGEMENT and every permission of the key. The key stops working at once. A key cannot delete itself (403 own_key).",
	}, true), func(ctx context.Context, in *APIKeyPath) (*struct{}, error) {
		return nil, s.svc.DeleteAPIKey(ctx, principal(ctx), in.Name)
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "rotateApiKey", Method: http.MethodPost, Path: "/api/{tenant}/api-keys/{name}/rotate", Tags: tags,
		Summary: "Give an API key a new secret", Errors: []int{http.StatusNotFound},
		Description: "Needs what changing the key needs; a key cannot rotate itself (403 own_key). The key keeps its id, name, permissions, " +
			"policy and usage; the new secret is in this response only. The old secret works for gracePeriodSeconds, then verify says EXPIRED. " +
			"Counts against no limit. Honours Idempotency-Key.",
	}, true), func(ctx context.Context, in *rotateAPIKeyInput) (*apiKeyOutput, error) {
		grace, err := rotationGrace(in.Body)
		if err != nil {
			return nil, err
		}
		c, key, err := s.svc.RotateAPIKey(ctx, principal(ctx), in.Name, grace)
		if err != nil {
			return nil, apiKeyErr(err)
		}
		out := &apiKeyOutput{toAPIKey(c, s.svc.Now())}
		out.Body.Key = key
		return out, nil
	})
}
