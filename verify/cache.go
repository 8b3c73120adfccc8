// Package verify is the verification hot path: a bounded cache of resolved credentials in
// front of the store, kept correct by invalidation, and the batched recording of last use.
package verify

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"keyhaven"
)

// Cache resolves credentials by hash through a bounded LRU of recent resolutions.
//
// Correctness rests on generations: every id that can make a credential change (the
// credential's, its owner's, its application's, its tenant's) has a generation, bumped by
// Invalidate. An entry remembers the generations it was read under and is used only while
// they are all current. A resolution is cached only if no invalidation happened while it was
// read from the store, so a read that raced a change can never outlive it.
type Cache struct {
	store keyhaven.CredentialResolver
	lru   *lru.Cache[string, *entry]

	mu    sync.RWMutex
	gens  map[string]uint64
	bumps atomic.Uint64 // every Invalidate adds one
	epoch atomic.Uint64 // Flush adds one: every entry is stale
	// enabled is false while invalidations may be missed (a lost notification
	// connection): then every resolution goes to the store.
	enabled atomic.Bool

	hits, misses atomic.Uint64
}

type entry struct {
	res   *keyhaven.Resolution
	ids   [4]string
	gens  [4]uint64
	epoch uint64
	until int64 // unix nanoseconds after which the entry is read again regardless
}

// MaxAge bounds how long an entry is used without a read from the store, as a last safety
// net should an invalidation never arrive (its publication failed).
const MaxAge = 30 * time.Second

var _ keyhaven.CredentialResolver = (*Cache)(nil)

// NewCache returns a cache of at most size resolutions in front of store.
func NewCache(store keyhaven.CredentialResolver, size int) *Cache {
	l, err := lru.New[string, *entry](size)
	if err != nil {
		panic(err)
	}
	c := &Cache{store: store, lru: l, gens: map[string]uint64{}}
	c.enabled.Store(true)
	return c
}

// SetEnabled turns the cache on or off; turning it on starts it empty.
func (c *Cache) SetEnabled(on bool) {
	if on {
		c.Flush()
	}
	c.enabled.Store(on)
}

// Flush makes every entry stale.
func (c *Cache) Flush() {
	c.bumps.Add(1)
	c.epoch.Add(1)
}

// Invalidate makes stale every entry that depends on one of ids. The bump counter moves
// before the generations, so that a resolution read while this runs is never cached with
// the new generations.
func (c *Cache) Invalidate(ids ...string) {
	c.bumps.Add(1)
	c.mu.Lock()
	for _, id := range ids {
		c.gens[id]++
	}
	c.mu.Unlock()
}

func ids(r *keyhaven.Resolution) [4]string {
	return [4]string{r.Credential.ID, r.Credential.OwnerID, r.Credential.ApplicationID, r.Tenant.ID}
}

// current reports whether e's generations are all current.
func (c *Cache) current(e *entry) bool {
	if e.epoch != c.epoch.Load() || time.Now().UnixNano() > e.until {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, id := range e.ids {
		if id != "" && c.gens[id] != e.gens[i] {
			return false
		}
	}
	return true
}

// ResolveCredential implements keyhaven.CredentialResolver.
func (c *Cache) ResolveCredential(ctx context.Context, hash string) (*keyhaven.Resolution, error) {
	if !c.enabled.Load() {
		return c.store.ResolveCredential(ctx, hash)
	}
	if e, ok := c.lru.Get(hash); ok && c.current(e) {
		c.hits.Add(1)
		return e.res, nil
	}
	c.misses.Add(1)
	bumps, epoch := c.bumps.Load(), c.epoch.Load()
	r, err := c.store.ResolveCredential(ctx, hash)
	if err != nil {
		return nil, err
	}
	e := &entry{res: r, ids: ids(r), epoch: epoch, until: time.Now().Add(MaxAge).UnixNano()}
	c.mu.RLock()
	for i, id := range e.ids {
		e.gens[i] = c.gens[id]
	}
	c.mu.RUnlock()
	if c.bumps.Load() == bumps {
		c.lru.Add(hash, e)
	}
	return r, nil
}

// Stats returns how many resolutions the cache answered and how many went to the store.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }
