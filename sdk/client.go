package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Client asks keyhaven's POST /api/verify whether a credential is good. It keeps definite
// answers for a short while (see WithCache); it is safe for concurrent use.
type Client struct {
	url   string
	hc    *http.Client
	ttl   time.Duration
	cache *cache // nil when off
	now   func() time.Time
}

// NewClient returns a client of the keyhaven reached at baseURL (e.g. "https://keys.example.com").
func NewClient(baseURL string, opts ...Option) *Client {
	return newClient(baseURL, newConfig(opts))
}

func newClient(baseURL string, cfg config) *Client {
	c := &Client{url: trimURL(baseURL) + "/api/verify", hc: cfg.httpClient, ttl: cfg.cacheTTL, now: cfg.now}
	if cfg.cacheTTL > 0 && cfg.cacheSize > 0 {
		c.cache = newCache(cfg.cacheSize)
	}
	return c
}

// VerifyOptions are what a verification asks beyond the key.
type VerifyOptions struct {
	// Permissions the credential must hold; missing any gives INSUFFICIENT_PERMISSIONS.
	Permissions []string
	// IP is the address of the client that presented the key, for the key's IP allowlist.
	IP string
	// Cost is what this use takes from the key's rate limit and credits (keyhaven's default: 1).
	Cost *int
}

// Error is an answer of keyhaven other than a verdict: the request was refused or failed.
// It never holds the key.
type Error struct {
	Status int    // the HTTP status
	Code   string // keyhaven's problem code, when it sent one
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("keyhaven: verify: %d %s: %s", e.Status, e.Code, e.Detail)
}

// maxAnswer bounds what is read of keyhaven's answer.
const maxAnswer = 1 << 20

// Verify asks keyhaven whether key is good. A refusal is a Verdict with Valid false and its
// Code; an error means no verdict was had (keyhaven unreachable, or the request refused, as
// an *Error). VALID answers and definite refusals are cached, never errors, and never an
// answer carrying a rate limit or credits: serving it again would skip their consumption.
func (c *Client) Verify(ctx context.Context, key string, opts VerifyOptions) (*Verdict, error) {
	if key == "" {
		return nil, errors.New("keyhaven: verify: the key is empty")
	}
	var ck string
	if c.cache != nil {
		ck = cacheKey(key, opts)
		if v, ok := c.cache.get(ck, c.now()); ok {
			return v, nil
		}
	}
	v, err := c.ask(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	if c.cache != nil && cacheable(v) {
		expires := c.now().Add(c.ttl)
		if v.Valid && !v.ExpiresAt.IsZero() && v.ExpiresAt.Before(expires) {
			expires = v.ExpiresAt
		}
		c.cache.put(ck, v, expires)
	}
	return v, nil
}

// cacheKey names a verification by the SHA-256 of its key, never the key itself, and what
// else it asked.
func cacheKey(key string, opts VerifyOptions) string {
	sum := sha256.Sum256([]byte(key))
	var b strings.Builder
	b.Write(sum[:])
	perms := slices.Clone(opts.Permissions)
	slices.Sort(perms)
	for _, p := range slices.Compact(perms) {
		b.WriteString("\x00")
		b.WriteString(p)
	}
	b.WriteString("\x01")
	b.WriteString(opts.IP)
	if opts.Cost != nil {
		b.WriteString("\x01")
		b.WriteString(strconv.Itoa(*opts.Cost))
	}
	return b.String()
}

// cacheable reports whether serving v again, without asking keyhaven, answers as keyhaven
// would: a VALID or a refusal that no passing time undoes, with nothing consumed.
func cacheable(v *Verdict) bool {
	if v.RateLimit != nil || v.Credits != nil {
		return false
	}
	switch v.Code {
	case CodeValid:
		return v.Valid
	case CodeNotFound, CodeExpired, CodeRevoked, CodeDisabled, CodeInsufficientPermissions, CodeIPNotAllowed:
		return !v.Valid
	}
	return false
}

type verifyRequest struct {
	Key         string   `json:"key"`
	Permissions []string `json:"permissions,omitempty"`
	IP          string   `json:"ip,omitempty"`
	Cost        *int     `json:"cost,omitempty"`
}

type verifyResponse struct {
	Valid       bool            `json:"valid"`
	Code        string          `json:"code"`
	Tenant      string          `json:"tenant"`
	Kind        string          `json:"kind"`
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Owner       string          `json:"owner"`
	Permissions []string        `json:"permissions"`
	ExpiresAt   *time.Time      `json:"expiresAt"`
	Meta        json.RawMessage `json:"meta"`
	RateLimit   *RateLimit      `json:"rateLimit"`
	Credits     *Credits        `json:"credits"`
}

type problem struct {
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func (c *Client) ask(ctx context.Context, key string, opts VerifyOptions) (*Verdict, error) {
	body, err := json.Marshal(verifyRequest{Key: key, Permissions: opts.Permissions, IP: opts.IP, Cost: opts.Cost})
	if err != nil {
		return nil, fmt.Errorf("keyhaven: verify: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("keyhaven: verify: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("keyhaven: verify: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("keyhaven: verify: reading the answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		var p problem
		json.Unmarshal(raw, &p)
		detail := p.Detail
		if detail == "" {
			detail = p.Title
		}
		if detail == "" {
			detail = http.StatusText(res.StatusCode)
		}
		return nil, &Error{Status: res.StatusCode, Code: p.Code, Detail: detail}
	}
	var r verifyResponse
	if err := json.Unmarshal(raw, &r); err != nil || r.Code == "" {
		return nil, errors.New("keyhaven: verify: the answer is not a verdict")
	}
	v := &Verdict{Valid: r.Valid && r.Code == CodeValid, Code: r.Code, Tenant: r.Tenant, Kind: r.Kind, ID: r.ID, Name: r.Name,
		Owner: r.Owner, Permissions: r.Permissions, Meta: r.Meta, RateLimit: r.RateLimit, Credits: r.Credits}
	if v.Permissions == nil {
		v.Permissions = []string{}
	}
	if r.ExpiresAt != nil {
		v.ExpiresAt = *r.ExpiresAt
	}
	return v, nil
}
