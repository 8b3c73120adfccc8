package usage_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
	"keyhaven.dev/keyhaven/node"
	keysecret "keyhaven.dev/keyhaven/secret"
)

// TestCountsAcrossNodes: two nodes on one PostgreSQL database verify one key at once, each
// counting in its own memory and flushing again and again while the other does too; once both
// have flushed, the counts are exactly the verifications of both.
func TestCountsAcrossNodes(t *testing.T) {
	dsn := testdb.PostgresDSN(t)
	clock := keyhaven.NewManualClock(t0)
	sealingKey, _ := keysecret.ParseKey(keysecret.NewKey())
	sealer, _ := keysecret.NewSealer(sealingKey)
	newNode := func() *node.Node {
		return node.New(testdb.PostgresAt(dsn)(t), node.Config{Log: quiet, Sealer: sealer, Clock: clock,
			PasswordParams: apitest.FastPasswords, PostgresDSN: dsn})
	}
	a, b := newNode(), newNode()
	created, err := a.Svc.CreateTenant(ctx, "acme", "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := a.Svc.Authenticate(ctx, keyhaven.Use{Secret: created.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	metered, secret, err := a.Svc.CreateAPIKey(ctx, admin, keyhaven.APIKeyInput{Name: "metered", Permissions: []string{"READ"}})
	if err != nil {
		t.Fatal(err)
	}

	const perWorker = 60
	var judging sync.WaitGroup
	var flushes atomic.Int64
	done := make(chan struct{})
	var flushing sync.WaitGroup
	for _, n := range []*node.Node{a, b} {
		for range 3 {
			judging.Go(func() {
				for i := range perWorker {
					u := keyhaven.Use{Secret: secret, Verification: true, Cost: 1}
					if i%3 == 0 {
						u.Required = keyhaven.NewPermissionSet(keyhaven.WRITE)
					}
					if _, err := n.Svc.Judge(ctx, u); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		flushing.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := n.Counter.Flush(ctx); err != nil {
					t.Error(err)
					return
				}
				flushes.Add(1)
			}
		})
	}
	judging.Wait()
	close(done)
	flushing.Wait()
	for _, n := range []*node.Node{a, b} {
		if err := n.Counter.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.Svc.Usage(ctx, admin, keyhaven.UsageQuery{CredentialID: metered.ID, Granularity: keyhaven.GranularityMinute,
		From: t0, To: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	const total = 2 * 3 * perWorker
	want := map[keyhaven.VerdictCode]int64{keyhaven.CodeValid: total * 2 / 3, keyhaven.CodeInsufficientPermissions: total / 3}
	if got := s.Buckets[0].Outcomes; len(got) != 2 || got[keyhaven.CodeValid] != want[keyhaven.CodeValid] ||
		got[keyhaven.CodeInsufficientPermissions] != want[keyhaven.CodeInsufficientPermissions] {
		t.Errorf("counted %v over %d flushes, want %v", got, flushes.Load(), want)
	}
}
