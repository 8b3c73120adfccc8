package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/view"
)

// Application is an application as the API shows it (see package view).
type Application = view.Application

func toApplication(a *keyhaven.Application) Application { return keyhaven.ViewApplication(a) }

// AccessKey is an access key as the API shows it (see package view).
type AccessKey = view.AccessKey

func toAccessKey(c *keyhaven.Credential, now time.Time) AccessKey {
	return keyhaven.ViewAccessKey(c, now)
}

// AppPath names an application.
type AppPath struct {
	TenantPath
	AppID string `path:"appId" maxLength:"64" doc:"The application's id"`
}

// KeyPath names an access key.
type KeyPath struct {
	AppPath
	KeyID string `path:"keyId" maxLength:"64" doc:"The access key's id"`
}

type createApplicationInput struct {
	TenantPath
	Body struct {
		Name        string `json:"name" maxLength:"100"`
		Description string `json:"description,omitempty" maxLength:"1000"`
	}
}

type updateApplicationInput struct {
	AppPath
	Body struct {
		Name        *string `json:"name,omitempty" maxLength:"100"`
		Description *string `json:"description,omitempty" maxLength:"1000"`
	}
}

type applicationOutput struct{ Body Application }

type listApplicationsInput struct {
	TenantPath
	PageParams
}

type createAccessKeyInput struct {
	AppPath
	Body struct {
		Name        string       `json:"name" maxLength:"100"`
		Description string       `json:"description,omitempty" maxLength:"1000"`
		Scopes      []Permission `json:"scopes" minItems:"1" maxItems:"64" doc:"At most the caller's own permissions; never change"`
		ExpiresAt   *time.Time   `json:"expiresAt,omitempty" doc:"When the key stops working; in the future"`
		PolicyBody
	}
}

type updateAccessKeyInput struct {
	KeyPath
	Body struct {
		Name        *string `json:"name,omitempty" maxLength:"100"`
		Description *string `json:"description,omitempty" maxLength:"1000"`
		PolicyPatch
	}
}

type rotateAccessKeyInput struct {
	KeyPath
	Body *Rotation
}

type accessKeyOutput struct{ Body AccessKey }

type listAccessKeysInput struct {
	AppPath
	PageParams
}

func (s *Server) registerApplications() {
	tags := []string{"applications"}
	huma.Register(s.api, op(huma.Operation{
		OperationID: "createApplication", Method: http.MethodPost, Path: "/api/{tenant}/applications", Tags: tags,
		Summary: "Create an application", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Needs CREATE_APPLICATION. The application is bound to the caller's owner user. " +
			"409 limit_reached when the tenant has its limit of active applications.",
	}, true), func(ctx context.Context, in *createApplicationInput) (*applicationOutput, error) {
		app, err := s.svc.CreateApplication(ctx, principal(ctx), keyhaven.ApplicationInput{Name: &in.Body.Name, Description: &in.Body.Description})
		if err != nil {
			return nil, err
		}
		return &applicationOutput{toApplication(app)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listApplications", Method: http.MethodGet, Path: "/api/{tenant}/applications", Tags: tags,
		Summary:     "List active applications",
		Description: "With VIEW_APPLICATIONS or an _ANY access key permission: every active application; with only _OWN access key permissions: those the caller's owner user created.",
	}, true), func(ctx context.Context, in *listApplicationsInput) (*listOutput[Application], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		apps, err := s.svc.ListApplications(ctx, principal(ctx), pg)
		if err != nil {
			return nil, err
		}
		return newList(s, apps, pg, toApplication, func(a *keyhaven.Application) string { return a.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getApplication", Method: http.MethodGet, Path: "/api/{tenant}/applications/{appId}", Tags: tags,
		Summary: "Get an active application", Errors: []int{http.StatusNotFound},
	}, true), func(ctx context.Context, in *AppPath) (*applicationOutput, error) {
		app, err := s.svc.Application(ctx, principal(ctx), in.AppID)
		if err != nil {
			return nil, err
		}
		return &applicationOutput{toApplication(app)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "updateApplication", Method: http.MethodPatch, Path: "/api/{tenant}/applications/{appId}", Tags: tags,
		Summary: "Change an application's name or description", Description: "Needs EDIT_APPLICATION.",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, true), func(ctx context.Context, in *updateApplicationInput) (*applicationOutput, error) {
		app, err := s.svc.UpdateApplication(ctx, principal(ctx), in.AppID, keyhaven.ApplicationInput{Name: in.Body.Name, Description: in.Body.Description})
		if err != nil {
			return nil, err
		}
		return &applicationOutput{toApplication(app)}, nil
	})
	s.documentMergePatch("/api/{tenant}/applications/{appId}")
	huma.Register(s.api, op(huma.Operation{
		OperationID: "revokeApplication", Method: http.MethodPost, Path: "/api/{tenant}/applications/{appId}/revoke", Tags: tags,
		Summary:     "Revoke an application and all its access keys",
		Description: "Needs REVOKE_APPLICATION. The application and its keys never work again and leave the listings.",
		Errors:      []int{http.StatusNotFound},
	}, true), func(ctx context.Context, in *AppPath) (*applicationOutput, error) {
		app, err := s.svc.RevokeApplication(ctx, principal(ctx), in.AppID)
		if err != nil {
			return nil, err
		}
		return &applicationOutput{toApplication(app)}, nil
	})

	keyTags := []string{"access keys"}
	huma.Register(s.api, op(huma.Operation{
		OperationID: "createAccessKey", Method: http.MethodPost, Path: "/api/{tenant}/applications/{appId}/access-keys", Tags: keyTags,
		Summary: "Create an access key", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "Needs CREATE_ACCESS_KEYS_ANY, or CREATE_ACCESS_KEYS_OWN in an application the caller's owner user created. " +
			"The key is bound to the caller's owner user; its secret is in this response only. " +
			"409 limit_reached when the application has its limit of active keys.",
	}, true), func(ctx context.Context, in *createAccessKeyInput) (*accessKeyOutput, error) {
		kin := keyhaven.AccessKeyInput{Name: in.Body.Name, Description: in.Body.Description, Scopes: permissionStrings(in.Body.Scopes),
			Policy: in.Body.PolicyBody.input()}
		if in.Body.ExpiresAt != nil {
			kin.ExpiresAt = *in.Body.ExpiresAt
		}
		c, key, err := s.svc.CreateAccessKey(ctx, principal(ctx), in.AppID, kin)
		if err != nil {
			return nil, err
		}
		out := &accessKeyOutput{toAccessKey(c, c.CreatedAt)}
		out.Body.Key = key
		return out, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listAccessKeys", Method: http.MethodGet, Path: "/api/{tenant}/applications/{appId}/access-keys", Tags: keyTags,
		Summary: "List an application's active and expired access keys", Errors: []int{http.StatusNotFound},
		Description: "Needs VIEW_ACCESS_KEYS_ANY, or VIEW_ACCESS_KEYS_OWN in an application the caller's owner user created. Revoked keys are gone.",
	}, true), func(ctx context.Context, in *listAccessKeysInput) (*listOutput[AccessKey], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		keys, err := s.svc.ListAccessKeys(ctx, principal(ctx), in.AppID, pg)
		if err != nil {
			return nil, err
		}
		now := s.svc.Now()
		return newList(s, keys, pg, func(k *keyhaven.Credential) AccessKey { return toAccessKey(k, now) },
			func(k *keyhaven.Credential) string { return k.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getAccessKey", Method: http.MethodGet, Path: "/api/{tenant}/applications/{appId}/access-keys/{keyId}", Tags: keyTags,
		Summary: "Get an access key", Errors: []int{http.StatusNotFound},
	}, true), func(ctx context.Context, in *KeyPath) (*accessKeyOutput, error) {
		c, err := s.svc.AccessKey(ctx, principal(ctx), in.AppID, in.KeyID)
		if err != nil {
			return nil, err
		}
		return &accessKeyOutput{toAccessKey(c, s.svc.Now())}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "updateAccessKey", Method: http.MethodPatch, Path: "/api/{tenant}/applications/{appId}/access-keys/{keyId}", Tags: keyTags,
		Summary: "Change an access key's name, description or policy",
		Description: "Needs EDIT_ACCESS_KEYS_ANY or EDIT_ACCESS_KEYS_OWN. A JSON merge patch, as application/merge-patch+json or " +
			"application/json: an absent field stays as it is; null clears ipAllowlist, rateLimit, credits and meta, and leaves name " +
			"and description as they are. Scopes never change: naming them is invalid input. A key cannot change itself (403 own_key).",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, true), func(ctx context.Context, in *updateAccessKeyInput) (*accessKeyOutput, error) {
		c, err := s.svc.UpdateAccessKey(ctx, principal(ctx), in.AppID, in.KeyID, keyhaven.AccessKeyUpdate{
			Name: in.Body.Name, Description: in.Body.Description, Policy: in.Body.PolicyPatch.update()})
		if err != nil {
			return nil, err
		}
		return &accessKeyOutput{toAccessKey(c, s.svc.Now())}, nil
	})
	s.documentMergePatch("/api/{tenant}/applications/{appId}/access-keys/{keyId}")
	huma.Register(s.api, op(huma.Operation{
		OperationID: "rotateAccessKey", Method: http.MethodPost, Path: "/api/{tenant}/applications/{appId}/access-keys/{keyId}/rotate", Tags: keyTags,
		Summary: "Give an access key a new secret", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "Needs EDIT_ACCESS_KEYS_ANY or EDIT_ACCESS_KEYS_OWN; a key cannot rotate itself (403 own_key), an expired key is 409. " +
			"The key keeps its id, name, scopes, policy and usage; the new secret is in this response only. The old secret works for " +
			"gracePeriodSeconds, then verify says EXPIRED. Counts against no limit. Honours Idempotency-Key.",
	}, true), func(ctx context.Context, in *rotateAccessKeyInput) (*accessKeyOutput, error) {
		grace, err := rotationGrace(in.Body)
		if err != nil {
			return nil, err
		}
		c, key, err := s.svc.RotateAccessKey(ctx, principal(ctx), in.AppID, in.KeyID, grace)
		if err != nil {
			return nil, err
		}
		out := &accessKeyOutput{toAccessKey(c, s.svc.Now())}
		out.Body.Key = key
		return out, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "revokeAccessKey", Method: http.MethodPost, Path: "/api/{tenant}/applications/{appId}/access-keys/{keyId}/revoke", Tags: keyTags,
		Summary: "Revoke an access key", Errors: []int{http.StatusNotFound},
		Description: "Needs REVOKE_ACCESS_KEYS_ANY or REVOKE_ACCESS_KEYS_OWN. The key never works again and leaves the listings.",
	}, true), func(ctx context.Context, in *KeyPath) (*accessKeyOutput, error) {
		c, err := s.svc.RevokeAccessKey(ctx, principal(ctx), in.AppID, in.KeyID)
		if err != nil {
			return nil, err
		}
		return &accessKeyOutput{toAccessKey(c, s.svc.Now())}, nil
	})
}
