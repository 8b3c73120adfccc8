package verify

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"keyhaven"
)

// fakeStore counts reads and can run a hook in the middle of one, to stage races.
type fakeStore struct {
	reads  atomic.Int64
	during func()
	res    *keyhaven.Resolution
}

func (f *fakeStore) ResolveCredential(ctx context.Context, hash string) (*keyhaven.Resolution, error) {
	f.reads.Add(1)
	if f.during != nil {
		f.during()
	}
	r := *f.res
	return &r, nil
}

func resolution() *keyhaven.Resolution {
	return &keyhaven.Resolution{
		Credential: &keyhaven.Credential{ID: "akey_1", OwnerID: "usr_1", ApplicationID: "app_1", Active: true},
		Tenant:     &keyhaven.Tenant{ID: "tnt_1"},
		Owner:      &keyhaven.User{ID: "usr_1"},
	}
}

func TestCacheInvalidation(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{"akey_1", "usr_1", "app_1", "tnt_1"} {
		t.Run(id, func(t *testing.T) {
			store := &fakeStore{res: resolution()}
			c := NewCache(store, 10)
			for range 3 {
				if _, err := c.ResolveCredential(ctx, "h"); err != nil {
					t.Fatal(err)
				}
			}
			if n := store.reads.Load(); n != 1 {
				t.Fatalf("%d store reads for 3 resolutions of one hash, want 1", n)
			}
			c.Invalidate("unrelated")
			c.ResolveCredential(ctx, "h")
			if n := store.reads.Load(); n != 1 {
				t.Fatalf("an unrelated invalidation dropped the entry")
			}
			c.Invalidate(id)
			c.ResolveCredential(ctx, "h")
			if n := store.reads.Load(); n != 2 {
				t.Fatalf("invalidating %s did not drop the entry", id)
			}
		})
	}
}

// TestCacheRace stages a change committed while a resolution is being read: the stale
// resolution must not be cached.
func TestCacheRace(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{res: resolution()}
	c := NewCache(store, 10)
	store.during = func() { c.Invalidate("akey_1") } // the revocation lands mid-read
	c.ResolveCredential(ctx, "h")
	store.during = nil
	c.ResolveCredential(ctx, "h")
	if n := store.reads.Load(); n != 2 {
		t.Fatalf("a resolution read across an invalidation was cached (%d reads, want 2)", n)
	}
	c.ResolveCredential(ctx, "h")
	if n := store.reads.Load(); n != 2 {
		t.Fatalf("a clean read was not cached (%d reads, want 2)", n)
	}
}

func TestCacheDisabledAndFlushed(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{res: resolution()}
	c := NewCache(store, 10)
	c.SetEnabled(false)
	c.ResolveCredential(ctx, "h")
	c.ResolveCredential(ctx, "h")
	if n := store.reads.Load(); n != 2 {
		t.Fatalf("a disabled cache answered (%d reads, want 2)", n)
	}
	c.SetEnabled(true)
	c.ResolveCredential(ctx, "h")
	c.Flush()
	c.ResolveCredential(ctx, "h")
	if n := store.reads.Load(); n != 4 {
		t.Fatalf("a flushed entry was used (%d reads, want 4)", n)
	}
}

type fakeUsage struct{ batches []map[string]time.Time }

func (f *fakeUsage) RecordCredentialUse(_ context.Context, uses map[string]time.Time) error {
	f.batches = append(f.batches, uses)
	return nil
}

func TestUsage(t *testing.T) {
	store := &fakeUsage{}
	u := NewUsage(store, nil)
	c := &keyhaven.Credential{ID: "akey_1"}
	at := time.Date(2030, 1, 1, 10, 0, 5, 0, time.UTC)
	for i := range 100 {
		u.Used(c, at.Add(time.Duration(i)*100*time.Millisecond))
	}
	if err := u.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(store.batches) != 1 || len(store.batches[0]) != 1 || !store.batches[0]["akey_1"].Equal(at.Truncate(time.Minute)) {
		t.Fatalf("batches %v, want one use at the minute", store.batches)
	}
	u.Flush(context.Background())
	if len(store.batches) != 1 {
		t.Fatal("an empty flush wrote")
	}
	u.Used(c, at.Add(time.Minute))
	u.Flush(context.Background())
	if len(store.batches) != 2 || !store.batches[1]["akey_1"].Equal(at.Add(time.Minute).Truncate(time.Minute)) {
		t.Fatalf("the next minute's use: %v", store.batches)
	}
}
