package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"reflect"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/httpx"
	"keyhaven.dev/keyhaven/secret"
)

// VerifyInput asks whether a secret is good.
type VerifyInput struct {
	Key         string       `json:"key" maxLength:"8192" doc:"The secret or access token to verify"`
	Permissions []Permission `json:"permissions,omitempty" maxItems:"64" doc:"Permissions the credential must hold; missing any gives INSUFFICIENT_PERMISSIONS"`
	IP          string       `json:"ip,omitempty" maxLength:"64" doc:"The address of the client that presented the key to the downstream service; a key with an IP allowlist is IP_NOT_ALLOWED without it"`
	Cost        *int64       `json:"cost,omitempty" minimum:"0" maximum:"1000" doc:"What this use takes from the key's rate limit and credits; default 1"`
}

// Verdict says whether a secret is good, who it is and what it may do.
type Verdict struct {
	Valid       bool         `json:"valid"`
	Code        string       `json:"code" enum:"VALID,NOT_FOUND,EXPIRED,REVOKED,DISABLED,INSUFFICIENT_PERMISSIONS,RATE_LIMITED,USAGE_EXCEEDED,IP_NOT_ALLOWED"`
	Tenant      string       `json:"tenant,omitempty" doc:"The credential's tenant"`
	Kind        string       `json:"kind,omitempty" enum:"api_key,access_key,session,device"`
	ID          string       `json:"id,omitempty" doc:"The credential's id"`
	Name        string       `json:"name,omitempty" doc:"The credential's name"`
	Owner       string       `json:"owner,omitempty" doc:"The id of the user the credential acts for"`
	Permissions []Permission `json:"permissions" doc:"Effective permissions, when the credential is good"`
	ExpiresAt   *time.Time   `json:"expiresAt,omitempty"`
	// Meta is the key's metadata, {} when it has none; absent when no credential was found.
	Meta      json.RawMessage  `json:"meta,omitempty" doc:"The key's metadata for the downstream service ({} when none)"`
	RateLimit *VerifyRateLimit `json:"rateLimit,omitempty" doc:"The key's rate limit as this use left it, when it has one and it was checked"`
	Credits   *VerifyCredits   `json:"credits,omitempty" doc:"The key's credits as this use left them, when it has some and they were checked"`
}

// VerifyRateLimit is a key's rate limit as a verification left it.
type VerifyRateLimit struct {
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
	ResetAt   time.Time `json:"resetAt" doc:"When admitted, the end of the current window; when RATE_LIMITED, the earliest instant at which a use of this cost is admitted"`
}

// VerifyCredits are a key's credits as a verification left them.
type VerifyCredits struct {
	Remaining int64 `json:"remaining"`
}

var emptyMeta = json.RawMessage("{}")

const maxVerifyBody = 16 << 10

// verify is POST /api/verify, the hot path, served without the framework's reflection. A
// bearer credential is optional: with one, the verification is scoped to its tenant and
// another tenant's secret is NOT_FOUND.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	reqID := httpx.RequestID(r.Context())
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			writeProblem(w, newProblem(http.StatusUnsupportedMediaType, "send application/json"), reqID)
			return
		}
	}
	var req VerifyInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxVerifyBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		_, err = io.Copy(io.Discard, dec.Buffered())
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeProblem(w, newProblem(http.StatusRequestEntityTooLarge, "request body is too large"), reqID)
		return
	case err != nil:
		writeProblem(w, domainProblem(keyhaven.Invalid(keyhaven.FieldError{Field: "body", Message: "must be a JSON object with key and optional permissions"})), reqID)
		return
	case req.Key == "":
		writeProblem(w, domainProblem(keyhaven.Invalid(keyhaven.FieldError{Field: "key", Message: "is required"})), reqID)
		return
	}
	required, err := keyhaven.ParsePermissions("permissions", permissionStrings(req.Permissions))
	if err != nil {
		writeProblem(w, domainProblem(err), reqID)
		return
	}
	use := keyhaven.Use{Secret: req.Key, Required: required, Cost: 1, Verification: true, Tokens: true}
	if req.Cost != nil {
		if err := keyhaven.Cost("cost", *req.Cost); err != nil {
			writeProblem(w, domainProblem(err), reqID)
			return
		}
		use.Cost = *req.Cost
	}
	if req.IP != "" {
		if use.IP, err = netip.ParseAddr(req.IP); err != nil || use.IP.Zone() != "" {
			writeProblem(w, domainProblem(keyhaven.Invalid(keyhaven.FieldError{Field: "ip", Message: "must be an IPv4 or IPv6 address"})), reqID)
			return
		}
	}
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		bearer, _ := secret.FromAuthorization(h)
		p, err := s.svc.Authenticate(ctx, keyhaven.APIUse(ctx, bearer, ""))
		if err != nil {
			writeProblem(w, domainProblem(err), reqID)
			return
		}
		use.Scope = p.TenantID
	}
	v, err := s.svc.Judge(ctx, use)
	if err != nil {
		if ctx.Err() == nil { // a client that went away is no fault of keyhaven's
			httpx.Logger(ctx).ErrorContext(ctx, "verify", "err", err)
		}
		writeProblem(w, newProblem(http.StatusServiceUnavailable, "try again"), reqID)
		return
	}
	out := Verdict{Permissions: []Permission{}, Code: string(v.Code), Valid: v.Valid()}
	if v.Credential != nil {
		c := v.Credential
		out.Tenant, out.Kind, out.ID, out.Name, out.Owner = v.Tenant.Name, string(c.Kind), c.ID, c.Name, c.OwnerID
		out.ExpiresAt = timePtr(c.ExpiresAt)
		out.Meta = emptyMeta
		if c.Meta != nil {
			out.Meta = c.Meta
		}
	}
	if t := v.Token; t != nil {
		// An access token answers for the credential behind it, until the token's expiry.
		out.Tenant, out.Kind, out.ID, out.Owner = t.Tenant, string(t.Kind), t.Subject, t.Owner
		out.ExpiresAt = timePtr(t.ExpiresAt())
		if out.Meta == nil {
			out.Meta = emptyMeta
		}
	}
	if v.Principal != nil {
		out.Permissions = permissionList(v.Principal.Permissions)
	}
	if rl := v.RateLimit; rl != nil {
		out.RateLimit = &VerifyRateLimit{Limit: rl.Limit, Remaining: rl.Remaining, ResetAt: rl.ResetAt}
	}
	if v.Credits != nil {
		out.Credits = &VerifyCredits{Remaining: *v.Credits}
	}
	writeJSON(w, &out)
}

var verifyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func writeJSON(w http.ResponseWriter, v *Verdict) {
	buf := verifyBufs.Get().(*[]byte)
	*buf = appendVerdict((*buf)[:0], v)
	w.Header()["Content-Type"] = jsonContentType
	w.Write(*buf)
	verifyBufs.Put(buf)
}

var jsonContentType = []string{"application/json"}

// documentVerify adds POST /api/verify, served by a plain handler, to the OpenAPI document,
// with schemas generated from the same types the handler uses.
func (s *Server) documentVerify() {
	oapi := s.api.OpenAPI()
	reg := oapi.Components.Schemas
	problem := reg.Schema(reflect.TypeOf(Problem{}), true, "Problem")
	errResp := func(status int) *huma.Response {
		return &huma.Response{Description: http.StatusText(status), Content: map[string]*huma.MediaType{"application/problem+json": {Schema: problem}}}
	}
	oapi.AddOperation(&huma.Operation{
		OperationID: "verify", Method: http.MethodPost, Path: "/api/verify", Tags: []string{"verify"},
		Summary: "Verify a secret",
		Description: "Always 200 for a well-formed request: valid, code, and who the credential is and what it may do. " +
			"A malformed or checksum-broken secret is NOT_FOUND without a database read. An Authorization bearer is optional: " +
			"with one, only secrets of its tenant are found. Wrong secrets limit nothing: a good one is VALID whatever else its client address sent.",
		Security:    []map[string][]string{{}, {"bearer": {}}},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: reg.Schema(reflect.TypeOf(VerifyInput{}), true, "VerifyInput")}}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The verdict", Content: map[string]*huma.MediaType{"application/json": {Schema: reg.Schema(reflect.TypeOf(Verdict{}), true, "Verdict")}}},
			"400": errResp(400), "401": errResp(401), "413": errResp(413), "415": errResp(415), "503": errResp(503),
		},
	})
}
