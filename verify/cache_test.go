package verify

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// fakeStore counts reads and can run a hook in the middle of one, to stage races.
type fakeStore struct {
	reads  atomic.Int64
	during func()
	res    *keyhaven.Resolution
	// byHash, when set, answers instead of res: a credential of its own per hash.
	byHash func(hash string) *keyhaven.Resolution
}

func (f *fakeStore) ResolveCredential(ctx context.Context, hash string) (*keyhaven.Resolution, error) {
	f.reads.Add(1)
	if f.during != nil {
		f.during()
	}
	if f.byHash != nil {
		return f.byHash(hash), nil
	}
	r := *f.res
	return &r, nil
}

// credentialOf is a resolution whose credential, owner and application are the hash's own.
func credentialOf(hash string) *keyhaven.Resolution {
	return &keyhaven.Resolution{
		Credential: &keyhaven.Credential{ID: "akey_" + hash, OwnerID: "usr_" + hash, ApplicationID: "app_" + hash, Active: true},
		Tenant:     &keyhaven.Tenant{ID: "tnt_1"},
		Owner:      &keyhaven.User{ID: "usr_" + hash},
	}
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

// TestCacheGenerationsBounded invalidates many ids, most of which no cached entry depends
// on: the cache keeps generations only for ids its entries depend on.
func TestCacheGenerationsBounded(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{byHash: credentialOf}
	c := NewCache(store, 10)
	for i := range 100_000 {
		c.Invalidate(fmt.Sprintf("akey_%d", i))
	}
	if n := len(c.gens); n != 0 {
		t.Fatalf("%d generations after invalidating ids no entry depends on, want 0", n)
	}
	for i := range 1000 {
		h := strconv.Itoa(i)
		if _, err := c.ResolveCredential(ctx, h); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			c.Invalidate("akey_"+h, "usr_"+strconv.Itoa(i-1))
		}
	}
	want := map[string]bool{}
	for _, h := range c.lru.Keys() {
		e, _ := c.lru.Peek(h)
		for _, id := range e.ids {
			want[id] = true
		}
	}
	if len(c.gens) != len(want) || len(c.gens) > 4*10 {
		t.Fatalf("%d generations for %d cached entries depending on %d ids, want %d", len(c.gens), c.lru.Len(), len(want), len(want))
	}
	for id := range want {
		if c.gens[id] == nil {
			t.Fatalf("no generation for %s, which a cached entry depends on", id)
		}
	}
}

// TestCacheGenerationForgottenAndRemade evicts the only entry that depends on an id, which
// forgets its generation, and caches it again: an invalidation of the id still drops it.
func TestCacheGenerationForgottenAndRemade(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{byHash: credentialOf}
	c := NewCache(store, 1)
	c.ResolveCredential(ctx, "1")
	c.Invalidate("akey_1")
	c.ResolveCredential(ctx, "1") // cached again, under the bumped generation
	c.ResolveCredential(ctx, "2") // evicts it: akey_1's generation is forgotten
	if c.gens["akey_1"] != nil {
		t.Fatal("the generation of an id no entry depends on is kept")
	}
	c.ResolveCredential(ctx, "1") // cached again, under a new generation
	reads := store.reads.Load()
	c.ResolveCredential(ctx, "1")
	if n := store.reads.Load(); n != reads {
		t.Fatalf("the entry was not cached again (%d reads, want %d)", n, reads)
	}
	c.Invalidate("akey_1")
	c.ResolveCredential(ctx, "1")
	if n := store.reads.Load(); n != reads+1 {
		t.Fatalf("an invalidation after the generation was remade did not drop the entry (%d reads, want %d)", n, reads+1)
	}
}

// TestCacheReplacedEntry caches a hash again after its entry went stale: the replaced entry
// releases its generations, so none outlives the cache's entries.
func TestCacheReplacedEntry(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{byHash: credentialOf}
	c := NewCache(store, 10)
	for range 5 {
		c.ResolveCredential(ctx, "1")
		c.Invalidate("akey_1")
	}
	for _, id := range []string{"akey_1", "usr_1", "app_1", "tnt_1"} {
		if g := c.gens[id]; g == nil || g.refs != 1 {
			t.Fatalf("generation of %s: %+v, want one held by the one entry", id, g)
		}
	}
	for i := 2; i <= 11; i++ { // evict it
		c.ResolveCredential(ctx, strconv.Itoa(i))
	}
	if g := c.gens["akey_1"]; g != nil {
		t.Fatalf("generation of an evicted entry's id kept: %+v", g)
	}
}

// TestCacheConcurrentChurn resolves and invalidates from many goroutines at once (run with
// -race): afterwards the generations are exactly those the cached entries hold.
func TestCacheConcurrentChurn(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{byHash: credentialOf}
	c := NewCache(store, 16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				h := strconv.Itoa((g*7 + i*13) % 64)
				if _, err := c.ResolveCredential(ctx, h); err != nil {
					t.Error(err)
					return
				}
				if i%5 == g%5 {
					c.Invalidate("akey_"+h, "usr_"+strconv.Itoa(i%64))
				}
			}
		}()
	}
	wg.Wait()
	refs := map[string]int{}
	for _, h := range c.lru.Keys() {
		e, _ := c.lru.Peek(h)
		for _, id := range e.ids {
			refs[id]++
		}
	}
	if len(c.gens) != len(refs) {
		t.Fatalf("%d generations, want %d (the ids of the cached entries)", len(c.gens), len(refs))
	}
	for id, n := range refs {
		if g := c.gens[id]; g == nil || g.refs != n {
			t.Fatalf("generation of %s: %+v, want %d refs", id, g, n)
		}
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
	u := NewUsage(store, keyhaven.SystemClock(), nil)
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
