package cache

import (
	"container/list"
	"sync"
)

// LRU keeps recently used objects in memory, bounded by bytes and evicting
// the least recently used. It is keyed by object name: names are
// immutable, so an entry is never stale and needs no invalidation. One
// LRU serves every database and connection of a VFS (or one database that
// asked for its own). It is safe for concurrent use.
type LRU struct {
	limit int64

	mu    sync.Mutex
	size  int64                    // guarded by mu
	order *list.List               // of *lruEntry, most recent first; guarded by mu
	items map[string]*list.Element // guarded by mu
}

type lruEntry struct {
	name string
	data []byte
}

// NewLRU returns an empty LRU that holds at most limit bytes; a limit of
// 0 or less holds nothing.
func NewLRU(limit int64) *LRU {
	return &LRU{limit: limit, order: list.New(), items: map[string]*list.Element{}}
}

// Limit returns the bound the LRU was made with: 0 or less when it holds
// nothing.
func (c *LRU) Limit() int64 { return c.limit }

// Get returns the cached bytes of an object. The caller must not modify
// them.
func (c *LRU) Get(name string) ([]byte, bool) {
	if c.limit <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[name]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).data, true
}

// Add stores the bytes of an object, evicting older entries to stay within
// the limit. Objects larger than the whole cache are not kept. The caller
// must not modify data afterwards.
func (c *LRU) Add(name string, data []byte) {
	if int64(len(data)) > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[name]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.items[name] = c.order.PushFront(&lruEntry{name, data})
	c.size += int64(len(data))
	for c.size > c.limit {
		el := c.order.Back()
		e := el.Value.(*lruEntry)
		c.order.Remove(el)
		delete(c.items, e.name)
		c.size -= int64(len(e.data))
	}
}

// Bytes returns the number of bytes held.
func (c *LRU) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
