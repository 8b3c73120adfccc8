package api

import (
	"bytes"
	"encoding/json"
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

// mergePatchTypes are the media types a PATCH takes by default: a JSON merge patch (RFC
// 7396), also when sent as plain JSON, which is what generated clients send unless told
// otherwise. A PATCH whose body declares one media type (contentType tag) takes only that.
var mergePatchTypes = []string{"application/merge-patch+json", "application/json"}

// documentMergePatch makes the OpenAPI document say that a PATCH route takes its body as
// each of mergePatchTypes; checkMediaType serves what the document says.
func (s *Server) documentMergePatch(path string) {
	o := s.api.OpenAPI().Paths[path].Patch
	body := o.RequestBody.Content["application/json"]
	for _, t := range mergePatchTypes {
		o.RequestBody.Content[t] = body
	}
}
