package sdk

import (
	"container/list"
	"sync"
	"time"
)

// cache keeps verdicts by a key that holds no secret, for a bounded time, at most size of
// them, the least recently used going first.
type cache struct {
	mu    sync.Mutex
	size  int
	ll    *list.List // front: most recently used
	items map[string]*list.Element
}

type cacheEntry struct {
	key     string
	v       *Verdict
	expires time.Time
}

func newCache(size int) *cache {
	return &cache{size: size, ll: list.New(), items: make(map[string]*list.Element)}
}

// get returns a copy of the verdict kept for key, unless there is none or it expired by now.
func (c *cache) get(key string, now time.Time) (*Verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.items, key)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e.v.clone(), true
}

// put keeps a copy of v for key until expires.
func (c *cache) put(key string, v *Verdict, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		e.v, e.expires = v.clone(), expires
		c.ll.MoveToFront(el)
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, v: v.clone(), expires: expires})
	for c.ll.Len() > c.size {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}
