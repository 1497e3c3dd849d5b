package s3vfs

import (
	"container/list"
	"sync"
)

// blockCache keeps recently used block objects in memory, bounded by bytes
// and evicting the least recently used. It is keyed by object name: names
// are immutable, so an entry is never stale and needs no invalidation.
// One cache serves every database and connection of a VFS.
type blockCache struct {
	limit int64

	mu    sync.Mutex
	size  int64                    // guarded by mu
	order *list.List               // of *cacheEntry, most recent first; guarded by mu
	items map[string]*list.Element // guarded by mu
}

type cacheEntry struct {
	name string
	data []byte
}

func newBlockCache(limit int64) *blockCache {
	return &blockCache{limit: limit, order: list.New(), items: map[string]*list.Element{}}
}

// get returns the cached bytes of an object. The caller must not modify them.
func (c *blockCache) get(name string) ([]byte, bool) {
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
	return el.Value.(*cacheEntry).data, true
}

// add stores the bytes of an object, evicting older entries to stay within
// the limit. Objects larger than the whole cache are not kept.
func (c *blockCache) add(name string, data []byte) {
	if int64(len(data)) > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[name]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.items[name] = c.order.PushFront(&cacheEntry{name, data})
	c.size += int64(len(data))
	for c.size > c.limit {
		el := c.order.Back()
		e := el.Value.(*cacheEntry)
		c.order.Remove(el)
		delete(c.items, e.name)
		c.size -= int64(len(e.data))
	}
}

// bytes returns the number of bytes held.
func (c *blockCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
