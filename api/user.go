package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/view"
)

// User is a user as the API shows it (see package view).
type User = view.User

func toUser(u *keyhaven.User) User { return keyhaven.ViewUser(u) }

type UserPath struct {
	TenantPath
	ID string `path:"id" maxLength:"64" doc:"The user's id"`
}

type createUserInput struct {
	TenantPath
	Body struct {
		Email       string       `json:"email" maxLength:"254" doc:"Unique within the tenant, case-insensitively"`
		Password    *string      `json:"password,omitempty" maxLength:"256" doc:"At least 12 characters; generated when omitted"`
		Permissions []Permission `json:"permissions" maxItems:"64" doc:"At most the caller's own permissions"`
	}
}

type updateUserInput struct {
	UserPath
	Body struct {
		Permissions *[]Permission `json:"permissions,omitempty" maxItems:"64" doc:"Replaces the user's permissions"`
		Password    *string       `json:"password,omitempty" maxLength:"256" doc:"A new password; ends every other session of the user"`
		// CurrentPassword proves a user changing their own password knows it.
		CurrentPassword *string `json:"currentPassword,omitempty" maxLength:"256" doc:"Required, with a session of your own, to change your own password"`
	}
}

type userOutput struct {
	Body User
}

type listUsersInput struct {
	TenantPath
	PageParams
}

func (s *Server) registerUsers() {
	tags := []string{"users"}
	huma.Register(s.api, op(huma.Operation{
		OperationID: "createUser", Method: http.MethodPost, Path: "/api/{tenant}/users", Tags: tags,
		Summary: "Create a user", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Needs USER_MANAGEMENT. The new user's permissions must be held by the caller.",
	}, true), func(ctx context.Context, in *createUserInput) (*userOutput, error) {
		u, generated, err := s.svc.CreateUser(ctx, principal(ctx), keyhaven.CreateUserInput{
			Email: in.Body.Email, Password: in.Body.Password, Permissions: permissionStrings(in.Body.Permissions),
		})
		if err != nil {
			return nil, err
		}
		out := &userOutput{Body: toUser(u)}
		out.Body.Password = generated
		return out, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "listUsers", Method: http.MethodGet, Path: "/api/{tenant}/users", Tags: tags,
		Summary: "List the tenant's users",
	}, true), func(ctx context.Context, in *listUsersInput) (*listOutput[User], error) {
		pg, err := s.page(in.PageParams)
		if err != nil {
			return nil, err
		}
		users, err := s.svc.ListUsers(ctx, principal(ctx), pg)
		if err != nil {
			return nil, err
		}
		return newList(s, users, pg, toUser, func(u *keyhaven.User) string { return u.ID }), nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "getUser", Method: http.MethodGet, Path: "/api/{tenant}/users/{id}", Tags: tags,
		Summary: "Get a user", Errors: []int{http.StatusNotFound},
	}, true), func(ctx context.Context, in *UserPath) (*userOutput, error) {
		u, err := s.svc.User(ctx, principal(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: toUser(u)}, nil
	})
	huma.Register(s.api, op(huma.Operation{
		OperationID: "updateUser", Method: http.MethodPatch, Path: "/api/{tenant}/users/{id}", Tags: tags,
		Summary: "Change a user's permissions or password", Errors: []int{http.StatusNotFound},
		Description: "A user changes their own password only with a session of their own and currentPassword. Everything else " +
			"(another user's password, anyone's permissions, your own included) needs USER_MANAGEMENT over a user holding no permission " +
			"the calling credential lacks, and new permissions within the credential's own. A password change ends every other session of the user.",
	}, true), func(ctx context.Context, in *updateUserInput) (*userOutput, error) {
		upd := keyhaven.UpdateUserInput{Password: in.Body.Password, CurrentPassword: in.Body.CurrentPassword}
		if in.Body.Permissions != nil {
			ps := permissionStrings(*in.Body.Permissions)
			upd.Permissions = &ps
		}
		u, err := s.svc.UpdateUser(ctx, principal(ctx), in.ID, upd)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: toUser(u)}, nil
	})
	s.documentMergePatch("/api/{tenant}/users/{id}")
	huma.Register(s.api, op(huma.Operation{
		OperationID: "deleteUser", Method: http.MethodDelete, Path: "/api/{tenant}/users/{id}", Tags: tags,
		Summary: "Delete a user", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: "Every credential and application the user owns stops working at once.",
	}, true), func(ctx context.Context, in *UserPath) (*struct{}, error) {
		return nil, s.svc.DeleteUser(ctx, principal(ctx), in.ID)
	})
}
