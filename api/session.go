package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
)

type TenantPath struct {
	Tenant string `path:"tenant" maxLength:"63" doc:"The tenant's name"`
}

type loginInput struct {
	TenantPath
	Body struct {
		Email    string `json:"email" maxLength:"254" doc:"The user's email address"`
		Password string `json:"password" maxLength:"256" doc:"The user's password"`
	}
}

type loginOutput struct {
	Body keyhaven.Session
}

// Me describes the calling principal.
type Me struct {
	Kind           string       `json:"kind" enum:"api_key,access_key,session" doc:"The kind of credential used"`
	Tenant         string       `json:"tenant"`
	CredentialID   string       `json:"credentialId"`
	CredentialName string       `json:"credentialName,omitempty"`
	User           MeUser       `json:"user" doc:"The owner user the credential acts for"`
	Permissions    []Permission `json:"permissions" doc:"Effective permissions: the credential's own intersected with its owner's"`
	ExpiresAt      *time.Time   `json:"expiresAt,omitempty"`
}

// MeUser is the owner user of the calling principal.
type MeUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

func (s *Server) registerAuth() {
	huma.Register(s.api, op(huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/api/{tenant}/login", Tags: []string{"sessions"},
		Summary: "Sign in with email and password",
		Description: "Opens a session whose token is a bearer credential. Wrong email, wrong password and unknown tenant are indistinguishable. " +
			"After too many failures for one email, 429 for it until its budget refills; after too many unknown emails from one client network, 429 there for every failure, never for a right password.",
		Errors: []int{http.StatusUnauthorized, http.StatusTooManyRequests},
	}, false), func(ctx context.Context, in *loginInput) (*loginOutput, error) {
		sess, err := s.svc.Login(ctx, in.Tenant, in.Body.Email, in.Body.Password)
		if err != nil {
			return nil, err
		}
		return &loginOutput{Body: *sess}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/api/{tenant}/logout", Tags: []string{"sessions"},
		Summary: "End the calling session", DefaultStatus: http.StatusNoContent,
	}, true), func(ctx context.Context, in *TenantPath) (*struct{}, error) {
		return nil, s.svc.Logout(ctx, principal(ctx))
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "me", Method: http.MethodGet, Path: "/api/{tenant}/me", Tags: []string{"sessions"},
		Summary: "Describe the calling principal",
	}, true), func(ctx context.Context, in *TenantPath) (*struct{ Body Me }, error) {
		p := principal(ctx)
		return &struct{ Body Me }{Me{
			Kind: string(p.Kind), Tenant: p.TenantName, CredentialID: p.CredentialID, CredentialName: p.CredentialName,
			User: MeUser{ID: p.UserID, Email: p.UserEmail}, Permissions: permissionList(p.Permissions),
			ExpiresAt: timePtr(p.ExpiresAt),
		}}, nil
	})
}
