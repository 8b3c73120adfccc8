// Package verify is the verification hot path: a bounded cache of resolved credentials in
// front of the store, kept correct by invalidation, and the batched recording of last use.
package verify

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"keyhaven.dev/keyhaven"
)

// Cache resolves credentials by hash through a bounded LRU of recent resolutions.
//
// Correctness rests on generations: every id that can make a credential change (the
// credential's, its owner's, its application's, its tenant's) has a generation, bumped by
// Invalidate. An entry remembers the generations it was read under and is used only while
// they are all current. A resolution is cached only if no invalidation happened while it was
// read from the store, so a read that raced a change can never outlive it.
//
// Only ids that a cached entry depends on have a generation: an invalidation of any other id
// has nothing to make stale, and a resolution read across it is not cached anyway. So the
// generations number at most four per entry, however many ids are invalidated.
type Cache struct {
	store keyhaven.CredentialResolver
	lru   *lru.Cache[string, *entry]

	// mu guards gens and the generations' refs, and is held around every change of lru but
	// Get (lru calls release from within Add and Remove).
	mu    sync.Mutex
	gens  map[string]*generation
	bumps atomic.Uint64 // every Invalidate adds one
	epoch atomic.Uint64 // Flush adds one: every entry is stale
	// enabled is false while invalidations may be missed (a lost notification
	// connection): then every resolution goes to the store.
	enabled atomic.Bool

	hits, misses atomic.Uint64
}

// generation counts the invalidations of one id while cached entries depend on it.
type generation struct {
	n    atomic.Uint64
	refs int // entries in the LRU that depend on it
}

type entry struct {
	res   *keyhaven.Resolution
	ids   [4]string
	gens  [4]*generation // nil for an empty id
	seen  [4]uint64      // gens[i].n when the entry was made
	epoch uint64
	until int64 // unix nanoseconds after which the entry is read again regardless
}

// MaxAge bounds how long an entry is used without a read from the store, as a last safety
// net should an invalidation never arrive (its publication failed).
const MaxAge = 30 * time.Second

var _ keyhaven.CredentialResolver = (*Cache)(nil)

// NewCache returns a cache of at most size resolutions in front of store.
func NewCache(store keyhaven.CredentialResolver, size int) *Cache {
	c := &Cache{store: store, gens: map[string]*generation{}}
	l, err := lru.NewWithEvict(size, func(_ string, e *entry) { c.release(e) })
	if err != nil {
		panic(err)
	}
	c.lru = l
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
		if g := c.gens[id]; g != nil {
			g.n.Add(1)
		}
	}
	c.mu.Unlock()
}

func ids(r *keyhaven.Resolution) [4]string {
	return [4]string{r.Credential.ID, r.Credential.OwnerID, r.Credential.ApplicationID, r.Tenant.ID}
}

// current reports whether e's generations are all current. An entry evicted meanwhile keeps
// its generations, which later invalidations no longer bump: it was current when it was
// found, and it is not found again.
func (c *Cache) current(e *entry) bool {
	if e.epoch != c.epoch.Load() || time.Now().UnixNano() > e.until {
		return false
	}
	for i, g := range e.gens {
		if g != nil && g.n.Load() != e.seen[i] {
			return false
		}
	}
	return true
}

// add caches e under hash unless an invalidation or flush happened since bumps was read.
func (c *Cache) add(hash string, e *entry, bumps uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bumps.Load() != bumps {
		return
	}
	for i, id := range e.ids {
		if id == "" {
			continue
		}
		g := c.gens[id]
		if g == nil {
			g = &generation{}
			c.gens[id] = g
		}
		g.refs++
		e.gens[i], e.seen[i] = g, g.n.Load()
	}
	c.lru.Remove(hash) // Add would replace an entry without releasing it
	c.lru.Add(hash, e)
}

// release forgets the generations that only e depended on. lru calls it, with c.mu held,
// when e leaves the cache.
func (c *Cache) release(e *entry) {
	for i, g := range e.gens {
		if g == nil {
			continue
		}
		if g.refs--; g.refs == 0 {
			delete(c.gens, e.ids[i])
		}
	}
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
	c.add(hash, &entry{res: r, ids: ids(r), epoch: epoch, until: time.Now().Add(MaxAge).UnixNano()}, bumps)
	return r, nil
}

// Stats returns how many resolutions the cache answered and how many went to the store.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// Len returns how many resolutions the cache holds, stale ones not yet dropped included.
func (c *Cache) Len() int { return c.lru.Len() }
