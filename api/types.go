package api

import (
	"encoding/base64"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
)

// Permission is a permission name; its schema enumerates the vocabulary, so that an unknown
// name is refused with the field named.
type Permission string

// Schema implements huma.SchemaProvider.
func (Permission) Schema(huma.Registry) *huma.Schema {
	enum := make([]any, len(keyhaven.Permissions))
	for i, p := range keyhaven.Permissions {
		enum[i] = string(p)
	}
	return &huma.Schema{Type: "string", Enum: enum, Description: "A permission of the keyhaven vocabulary"}
}

func permissionStrings(ps []Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

func permissionList(s keyhaven.PermissionSet) []Permission {
	out := make([]Permission, 0, s.Len())
	for _, p := range s.List() {
		out = append(out, Permission(p))
	}
	return out
}

// PageParams are the pagination query parameters of every list.
type PageParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"50" doc:"Most items to return"`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page"`
}

// cursorAD binds sealed cursors to their use.
var cursorAD = []byte("keyhaven list cursor")

// page decodes the pagination parameters. Cursors are sealed with the node's key, so that a
// cursor keyhaven did not issue, however well formed, is invalid input rather than a first
// page, and cursors reveal no ids.
func (s *Server) page(p PageParams) (keyhaven.Page, error) {
	pg := keyhaven.Page{Limit: p.Limit}
	if p.Cursor == "" {
		return pg, nil
	}
	invalid := keyhaven.Invalid(keyhaven.FieldError{Field: "cursor", Message: "is not a cursor this API returned"})
	raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil {
		return pg, invalid
	}
	after, err := s.svc.Sealer.Open(base64.RawStdEncoding.EncodeToString(raw), cursorAD)
	if err != nil || len(after) == 0 {
		return pg, invalid
	}
	pg.After = string(after)
	return pg, nil
}

// nextCursor returns the cursor after lastID when the page came back full.
func (s *Server) nextCursor(n int, pg keyhaven.Page, lastID string) string {
	if n == 0 || n < pg.Limit {
		return ""
	}
	raw, _ := base64.RawStdEncoding.DecodeString(s.svc.Sealer.Seal([]byte(lastID), cursorAD))
	return base64.RawURLEncoding.EncodeToString(raw)
}

// timePtr returns nil for the zero time, so that absent times are omitted.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
