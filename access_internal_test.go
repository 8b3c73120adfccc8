package keyhaven

import (
	"context"
	"strings"
	"testing"
	"time"

	"keyhaven.dev/keyhaven/secret"
)

// TestGeneratedUsernamesAreRandom builds the accesses of one batch in a tight loop: their
// generated usernames must not count up in the order they were made, and must not share the
// randomness of their access's id (from which they could otherwise be derived).
func TestGeneratedUsernamesAreRandom(t *testing.T) {
	key, _ := secret.ParseKey(secret.NewKey())
	sealer, _ := secret.NewSealer(key)
	s := NewService(nil, nil)
	s.Sealer = sealer
	now := time.Now()
	c := &Contract{ID: "contract-001", TenantID: "tnt", StartDate: now.Add(-time.Hour), EndDate: now.Add(time.Hour), Status: ContractActive}
	o := &ProductOffering{ID: "plain", TenantID: "tnt"}
	task := &BatchTask{ID: "job-x", TenantID: "tnt"}
	const n = 500
	ascending, prev := 0, ""
	for i := range n {
		a, err := s.buildBatchAccess(context.Background(), task, c, o, AccessInput{}, i, now)
		if err != nil {
			t.Fatal(err)
		}
		random, ok := strings.CutPrefix(a.Username, "dev-")
		if !ok || len(random) != GeneratedUsernameLen || strings.Trim(random, idAlphabet) != "" {
			t.Fatalf("username %q, want dev- and %d base32 characters", a.Username, GeneratedUsernameLen)
		}
		if random > prev {
			ascending++
		}
		prev = random
		// A username drawn apart from the id matches it in about one place of 16 by chance.
		tail, same := a.ID[len(a.ID)-GeneratedUsernameLen:], 0
		for j := range random {
			if random[j] == tail[j] {
				same++
			}
		}
		if same > 8 {
			t.Fatalf("username %s shares %d of %d characters with its access id %s", a.Username, same, GeneratedUsernameLen, a.ID)
		}
	}
	// Random usernames come in ascending order about half of the time.
	if ascending > n*3/4 {
		t.Fatalf("%d of %d usernames sort after the one made before: they count up", ascending, n)
	}
}
