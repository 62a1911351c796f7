package guard

import (
	"container/list"
	"sync"
	"time"
)

// decisionCache is a small LRU with per-entry expiry. Decisions are cheap to
// recompute (one round trip), so the cache only needs to absorb bursts from
// the same caller; an LRU keeps the active callers and sheds the rest.
type decisionCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recently used; values are *cacheEntry
	byKey map[tokenKey]*list.Element
}

type cacheEntry struct {
	key     tokenKey
	d       Decision
	expires time.Time
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{max: max, order: list.New(), byKey: make(map[tokenKey]*list.Element)}
}

func (c *decisionCache) get(k tokenKey, now time.Time) (Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return Unavailable, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.byKey, k)
		return Unavailable, false
	}
	c.order.MoveToFront(el)
	return e.d, true
}

func (c *decisionCache) put(k tokenKey, d Decision, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		e := el.Value.(*cacheEntry)
		e.d, e.expires = d, expires
		c.order.MoveToFront(el)
		return
	}
	for c.order.Len() >= c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byKey, oldest.Value.(*cacheEntry).key)
	}
	c.byKey[k] = c.order.PushFront(&cacheEntry{key: k, d: d, expires: expires})
}

func (c *decisionCache) remove(k tokenKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		c.order.Remove(el)
		delete(c.byKey, k)
	}
}
