package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/secret"
)

// testSealingKeyCheck: the key check value is stored once, whoever races to store it, and a
// database holds sealed data once it holds the check value.
func testSealingKeyCheck(t *testing.T, s keyhaven.Store) {
	if got, err := s.SealingKeyCheck(ctx); err != nil || got != "" {
		t.Fatalf("SealingKeyCheck on an empty store = %q, %v; want none", got, err)
	}
	if held, err := keyhaven.HoldsSealedData(ctx, s); err != nil || held {
		t.Fatalf("HoldsSealedData on an empty store = %v, %v; want false", held, err)
	}
	const n = 8
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { got[i], errs[i] = s.PutSealingKeyCheck(ctx, fmt.Sprintf("check-%d", i), base) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != got[0] || got[0] == "" {
			t.Fatalf("racing PutSealingKeyCheck calls answered %q (errors %v), want one value for all", got, errs)
		}
	}
	if again, err := s.PutSealingKeyCheck(ctx, "later", base.Add(time.Hour)); err != nil || again != got[0] {
		t.Fatalf("PutSealingKeyCheck over a stored value = %q, %v; want %q kept", again, err, got[0])
	}
	if stored, err := s.SealingKeyCheck(ctx); err != nil || stored != got[0] {
		t.Fatalf("SealingKeyCheck = %q, %v; want %q", stored, err, got[0])
	}
	if held, err := keyhaven.HoldsSealedData(ctx, s); err != nil || !held {
		t.Fatalf("HoldsSealedData with a key check value = %v, %v; want true", held, err)
	}
}

// testSealedSamples: one sealed value of each kind, with the ids it is bound to; none of a
// task whose passwords are purged.
func testSealedSamples(t *testing.T, s keyhaven.Store) {
	if got, err := s.SealedSamples(ctx); err != nil || len(got) != 0 {
		t.Fatalf("SealedSamples on an empty store = %v, %v; want none", got, err)
	}
	f := newTenant(t, s)
	c := newContract(t, s, f)
	// A finished, purged task: nothing sealed is left of it.
	old := newTask(f, c, 1)
	if err := s.CreateBatchTask(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimBatchTask(ctx, "r", base, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	purged := newAccess(f, c, "purged", old.ID, 0)
	purged.BatchSecret = "old-password"
	if _, err := s.SaveBatchChunk(ctx, &keyhaven.BatchChunk{TaskID: old.ID, TenantID: f.tenant.ID, Owner: "r", Processed: 1, Done: true,
		LeaseUntil: base.Add(time.Hour), Now: base, Accesses: []*keyhaven.Access{purged}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeBatchPasswords(ctx, base.Add(time.Second), base.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("PurgeBatchPasswords = %d, %v", n, err)
	}
	if got, err := s.SealedSamples(ctx); err != nil || len(got) != 0 {
		t.Fatalf("SealedSamples with a purged task only = %v, %v; want none", got, err)
	}
	if held, err := keyhaven.HoldsSealedData(ctx, s); err != nil || held {
		t.Fatalf("HoldsSealedData with a purged task only = %v, %v; want false", held, err)
	}

	// A running task with its sealed items and one sealed password so far, and a remembered answer.
	task := newTask(f, c, 2)
	task.Input = "sealed-items"
	if err := s.CreateBatchTask(ctx, task, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimBatchTask(ctx, "r", base, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	a := newAccess(f, c, "sealed", task.ID, 0)
	a.BatchSecret = "sealed-password"
	if _, err := s.SaveBatchChunk(ctx, &keyhaven.BatchChunk{TaskID: task.ID, TenantID: f.tenant.ID, Owner: "r", Processed: 1,
		LeaseUntil: base.Add(time.Hour), Now: base, Accesses: []*keyhaven.Access{a}}); err != nil {
		t.Fatal(err)
	}
	rec := &keyhaven.IdempotencyRecord{TenantID: f.tenant.ID, CredentialID: f.key.ID, Key: "k", RequestHash: "h", CreatedAt: base}
	if _, _, err := s.PutIdempotencyKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Status, rec.Response = 201, "sealed-answer"
	if err := s.CompleteIdempotencyKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	w := newWebhook(f)
	w.Secret = "sealed-webhook-secret"
	if err := s.CreateWebhook(ctx, w, keyhaven.MaxWebhooks, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.SealedSamples(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []keyhaven.SealedValue{
		{Kind: keyhaven.SealedBatchInput, Sealed: "sealed-items", IDs: []string{task.ID}},
		{Kind: keyhaven.SealedBatchPassword, Sealed: "sealed-password", IDs: []string{a.ID}},
		{Kind: keyhaven.SealedIdempotentReply, Sealed: "sealed-answer", IDs: []string{f.tenant.ID, f.key.ID, "k"}},
		{Kind: keyhaven.SealedWebhookSecret, Sealed: "sealed-webhook-secret", IDs: []string{keyhaven.SealedWebhookSecret, w.ID}},
	}
	if !slices.EqualFunc(got, want, func(g, w keyhaven.SealedValue) bool {
		return g.Kind == w.Kind && g.Sealed == w.Sealed && slices.Equal(g.IDs, w.IDs)
	}) {
		t.Fatalf("SealedSamples = %+v, want %+v", got, want)
	}
}

// testAdoptSealingKey: the first key used is remembered and any other refused; a database from
// before the key check value is judged by its sealed values, then remembers the key.
func testAdoptSealingKey(t *testing.T, s keyhaven.Store) {
	sealer := func() *secret.Sealer {
		raw, _ := secret.ParseKey(secret.NewKey())
		sl, err := secret.NewSealer(raw)
		if err != nil {
			t.Fatal(err)
		}
		return sl
	}
	first, other := sealer(), sealer()
	wantMismatch := func(err error) {
		t.Helper()
		if keyhaven.ErrorCode(err) != keyhaven.EINVALID || keyhaven.ErrorReason(err) != "secret_key_mismatch" {
			t.Fatalf("got %v, want EINVALID secret_key_mismatch", err)
		}
	}

	// A database from before the key check value, holding a sealed remembered answer.
	f := newTenant(t, s)
	rec := &keyhaven.IdempotencyRecord{TenantID: f.tenant.ID, CredentialID: f.key.ID, Key: "k", RequestHash: "h", CreatedAt: base}
	if _, _, err := s.PutIdempotencyKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Status, rec.Response = 201, first.Seal([]byte("answer"), keyhaven.SealedFor(rec.TenantID, rec.CredentialID, rec.Key))
	if err := s.CompleteIdempotencyKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	wantMismatch(keyhaven.AdoptSealingKey(ctx, s, other, base))
	if check, _ := s.SealingKeyCheck(ctx); check != "" {
		t.Fatal("a refused key stored a key check value")
	}
	if err := keyhaven.AdoptSealingKey(ctx, s, first, base); err != nil {
		t.Fatalf("the key the answer was sealed with: %v", err)
	}
	// Once remembered, the key holds without any sealed value left.
	if n, err := s.DeleteIdempotencyKeys(ctx, base.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("DeleteIdempotencyKeys = %d, %v", n, err)
	}
	wantMismatch(keyhaven.AdoptSealingKey(ctx, s, other, base))
	if err := keyhaven.AdoptSealingKey(ctx, s, first, base); err != nil {
		t.Fatalf("the remembered key again: %v", err)
	}
}
