package sdk

import (
	"strings"
	"testing"
)

func TestCacheKeyHoldsNoSecret(t *testing.T) {
	const key = "kha_0123456789abcdefghijklmnopqrstuvwxyz"
	ck := cacheKey(key, VerifyOptions{Permissions: []string{"WRITE", "READ"}, IP: "203.0.113.7"})
	if strings.Contains(ck, key) || strings.Contains(ck, key[4:20]) {
		t.Fatalf("cache key %q holds the secret", ck)
	}
	if other := cacheKey(key, VerifyOptions{Permissions: []string{"READ", "WRITE"}, IP: "203.0.113.7"}); other != ck {
		t.Error("the order of the permissions asked for changes the cache key")
	}
}
