package api

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
)

// Nullable is one field of a JSON merge patch (RFC 7396): absent (Set false) it leaves what
// it names as it is, null clears it, a value sets it.
type Nullable[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records that the field was present, and whether it was null.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(bytes.TrimSpace(b)) == "null" {
		n.Null = true
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// ptr returns the value, or nil when the field is null.
func (n *Nullable[T]) ptr() *T {
	if n.Null {
		return nil
	}
	return &n.Value
}

// Schema implements huma.SchemaProvider: the value's schema, null allowed.
func (Nullable[T]) Schema(r huma.Registry) *huma.Schema {
	s := *r.Schema(reflect.TypeFor[T](), false, "")
	s.Nullable = true
	return &s
}

// mergePatchTypes are the content types a PATCH of keys takes: a JSON merge patch, also
// when sent as plain JSON.
var mergePatchTypes = []string{"application/merge-patch+json", "application/json"}

// checkMergePatch returns 415 unless contentType is one of mergePatchTypes.
func checkMergePatch(contentType string) error {
	mt, _, _ := mime.ParseMediaType(contentType)
	for _, t := range mergePatchTypes {
		if mt == t {
			return nil
		}
	}
	return huma.Error415UnsupportedMediaType("send the change as application/merge-patch+json or application/json")
}

// documentMergePatch makes the OpenAPI document say what a PATCH route takes: its body as
// each of mergePatchTypes.
func (s *Server) documentMergePatch(path string) {
	o := s.api.OpenAPI().Paths[path].Patch
	body := o.RequestBody.Content["application/json"]
	for _, t := range mergePatchTypes {
		o.RequestBody.Content[t] = body
	}
	o.Parameters = withoutContentType(o.Parameters)
}

// withoutContentType drops the Content-Type header parameter an input declares to read it:
// OpenAPI says what a body's content types are in the request body, and ignores such a
// parameter.
func withoutContentType(ps []*huma.Param) []*huma.Param {
	out := ps[:0]
	for _, p := range ps {
		if !(p.In == "header" && http.CanonicalHeaderKey(p.Name) == "Content-Type") {
			out = append(out, p)
		}
	}
	return out
}
