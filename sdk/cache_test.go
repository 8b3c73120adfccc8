package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/sdk"
)

// fakeVerify answers POST /api/verify with what answer returns for the request, counting them.
type fakeVerify struct {
	mu     sync.Mutex
	n      map[string]int
	answer func(key string) (int, string)
}

func newFakeVerify(t *testing.T, answer func(key string) (int, string)) (*fakeVerify, string) {
	f := &fakeVerify{n: map[string]int{}, answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Key string }
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.n[req.Key]++
		f.mu.Unlock()
		status, body := f.answer(req.Key)
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeVerify) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[key]
}

func TestClientCache(t *testing.T) {
	clk := newClock()
	answers := map[string]string{
		"valid":        `{"valid":true,"code":"VALID","tenant":"acme","id":"k1","permissions":["READ"],"meta":{}}`,
		"expiring":     `{"valid":true,"code":"VALID","tenant":"acme","id":"k2","permissions":[],"expiresAt":"` + clk.Now().Add(2*time.Second).Format(time.RFC3339Nano) + `","meta":{}}`,
		"revoked":      `{"valid":false,"code":"REVOKED","tenant":"acme","id":"k3","permissions":[],"meta":{}}`,
		"unknown":      `{"valid":false,"code":"NOT_FOUND","permissions":[]}`,
		"rate-limited": `{"valid":false,"code":"RATE_LIMITED","permissions":[],"rateLimit":{"limit":1,"remaining":0,"resetAt":"2030-01-01T00:00:00Z"}}`,
		"limited":      `{"valid":true,"code":"VALID","permissions":[],"rateLimit":{"limit":9,"remaining":8,"resetAt":"2030-01-01T00:00:00Z"}}`,
		"metered":      `{"valid":true,"code":"VALID","permissions":[],"credits":{"remaining":8}}`,
	}
	f, url := newFakeVerify(t, func(key string) (int, string) {
		if a, ok := answers[key]; ok {
			return http.StatusOK, a
		}
		return http.StatusServiceUnavailable, `{"status":503,"code":"UNAVAILABLE","detail":"try again"}`
	})
	c := sdk.NewClient(url, sdk.WithClock(clk.Now))
	ctx := context.Background()
	twice := func(key string, opts sdk.VerifyOptions) {
		t.Helper()
		for range 2 {
			c.Verify(ctx, key, opts)
		}
	}

	for _, c := range []struct {
		key  string
		asks int
	}{
		{"valid", 1}, {"revoked", 1}, {"unknown", 1},
		{"rate-limited", 2}, {"limited", 2}, {"metered", 2}, {"broken", 2},
	} {
		twice(c.key, sdk.VerifyOptions{})
		if got := f.count(c.key); got != c.asks {
			t.Errorf("%s: got %d of 2 verifications reaching keyhaven, want %d", c.key, got, c.asks)
		}
	}

	t.Run("what else a verification asks is part of its name", func(t *testing.T) {
		before := f.count("valid")
		twice("valid", sdk.VerifyOptions{Permissions: []string{"READ"}})
		twice("valid", sdk.VerifyOptions{IP: "203.0.113.7"})
		if got := f.count("valid") - before; got != 2 {
			t.Errorf("got %d verifications reaching keyhaven, want 2", got)
		}
	})

	t.Run("an answer is kept no longer than the credential lives", func(t *testing.T) {
		c.Verify(ctx, "expiring", sdk.VerifyOptions{})
		clk.Advance(2 * time.Second)
		c.Verify(ctx, "expiring", sdk.VerifyOptions{})
		if got := f.count("expiring"); got != 2 {
			t.Errorf("got %d verifications reaching keyhaven, want 2", got)
		}
	})

	t.Run("an error is no verdict", func(t *testing.T) {
		v, err := c.Verify(ctx, "broken", sdk.VerifyOptions{})
		var ke *sdk.Error
		if v != nil || !errors.As(err, &ke) || ke.Status != http.StatusServiceUnavailable || ke.Code != "UNAVAILABLE" {
			t.Errorf("got %+v, %v, want a 503 *sdk.Error", v, err)
		}
	})

	t.Run("a cached verdict is the caller's to change", func(t *testing.T) {
		v, _ := c.Verify(ctx, "valid", sdk.VerifyOptions{})
		v.Permissions[0] = "WRITE"
		if v, _ := c.Verify(ctx, "valid", sdk.VerifyOptions{}); v.Permissions[0] != "READ" {
			t.Errorf("got %v from the cache, want [READ]", v.Permissions)
		}
	})
}

func TestClientCacheIsBounded(t *testing.T) {
	f, url := newFakeVerify(t, func(string) (int, string) {
		return http.StatusOK, `{"valid":true,"code":"VALID","permissions":[]}`
	})
	c := sdk.NewClient(url, sdk.WithCache(time.Minute, 2))
	ctx := context.Background()
	for _, key := range []string{"a", "b", "a", "c", "a", "b"} { // c evicts b, the least recently used
		c.Verify(ctx, key, sdk.VerifyOptions{})
	}
	for key, want := range map[string]int{"a": 1, "b": 2, "c": 1} {
		if got := f.count(key); got != want {
			t.Errorf("%s: got %d verifications reaching keyhaven, want %d", key, got, want)
		}
	}
	off := sdk.NewClient(url, sdk.WithCache(0, 0))
	off.Verify(ctx, "d", sdk.VerifyOptions{})
	off.Verify(ctx, "d", sdk.VerifyOptions{})
	if got := f.count("d"); got != 2 {
		t.Errorf("with the cache off: got %d verifications reaching keyhaven, want 2", got)
	}
}
