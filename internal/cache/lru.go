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
	data []byte // the object's bytes, or nil for a Value
	val  Value
	size int64
}

// A Value is what an LRU keeps other than an object's bytes (a segment of
// a block map, decoded): its Size counts against the bound, and it is told
// when the LRU evicts it.
type Value interface {
	Size() int64
	Evicted()
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
	if !ok || el.Value.(*lruEntry).val != nil {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).data, true
}

// Add stores the bytes of an object, evicting older entries to stay within
// the limit. Objects larger than the whole cache are not kept. The caller
// must not modify data afterwards.
func (c *LRU) Add(name string, data []byte) {
	c.add(&lruEntry{name: name, data: data, size: int64(len(data))}, false)
}

// AddValue keeps v under name as Add keeps bytes, and reports whether it
// did: not when v is larger than the whole cache, nor when name is held
// already. A Value kept is told when it is evicted (outside the LRU's
// lock); one not kept is not.
func (c *LRU) AddValue(name string, v Value) bool {
	return c.add(&lruEntry{name: name, val: v, size: v.Size()}, false)
}

// AddColdValue is AddValue with v kept as the least recently used entry,
// not the most: it takes only room nothing else needs (and is evicted at
// once, and told, when there is none), for what may well not be read.
func (c *LRU) AddColdValue(name string, v Value) bool {
	return c.add(&lruEntry{name: name, val: v, size: v.Size()}, true)
}

// Touch marks the entry name as used now, as Get does, and reports
// whether it is held.
func (c *LRU) Touch(name string) bool {
	if c.limit <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[name]
	if ok {
		c.order.MoveToFront(el)
	}
	return ok
}

// add keeps e, as the most recently used entry or, cold, the least,
// unless it is larger than the whole cache or its name is held, evicting
// the least recently used to stay within the limit; it reports whether
// it took e in.
func (c *LRU) add(e *lruEntry, cold bool) bool {
	if e.size > c.limit {
		return false
	}
	var evicted []Value
	defer func() {
		for _, v := range evicted {
			v.Evicted()
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.name]; ok {
		c.order.MoveToFront(el)
		return false
	}
	if cold {
		c.items[e.name] = c.order.PushBack(e)
	} else {
		c.items[e.name] = c.order.PushFront(e)
	}
	c.size += e.size
	for c.size > c.limit {
		el := c.order.Back()
		old := el.Value.(*lruEntry)
		c.order.Remove(el)
		delete(c.items, old.name)
		c.size -= old.size
		if old.val != nil {
			evicted = append(evicted, old.val)
		}
	}
	return true
}

// Bytes returns the number of bytes held.
func (c *LRU) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
