package commitlog

import (
	"sync"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

// Cache keeps the records of a database this process read or created
// lately, by commit number. A record, once created, never changes: the
// name of commit n is taken by one conditional create. So a rebase, a
// freshness check or a head read finds the records of the last commits
// here instead of asking the log for each again: each process reads a
// record once, however many of its transactions are rebased over it. The
// caller bounds how many records it holds ([Cache.Add]); their bytes are
// bounded at about 8 MiB. The zero value is ready to use, and a Cache is
// safe for concurrent use.
type Cache struct {
	mu     sync.Mutex
	byN    map[uint64]*format.Record // guarded by mu
	weight int                       // the bytes held, about; guarded by mu

	// newest is a record found to be the newest: record newest+1 was
	// missing at newestAt; zero: none. Guarded by mu.
	newest   uint64
	newestAt time.Time
}

// maxBytes bounds the bytes a Cache holds: records may carry pages. A
// record larger than it is held alone.
const maxBytes = 8 << 20

// Get returns record n, if held.
func (c *Cache) Get(n uint64) (*format.Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.byN[n]
	return r, ok
}

// After returns the records held after commit n without a gap, oldest
// first.
func (c *Cache) After(n uint64) []*format.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*format.Record
	for r, ok := c.byN[n+1]; ok; r, ok = c.byN[n+1] {
		out = append(out, r)
		n++
	}
	return out
}

// Add holds rec, a record read from the log or created there, and lets
// go of the oldest held while more than keep are held, or more than
// maxBytes.
func (c *Cache) Add(rec *format.Record, keep int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byN == nil {
		c.byN = map[uint64]*format.Record{}
	}
	if _, ok := c.byN[rec.N]; ok {
		return
	}
	c.byN[rec.N] = rec
	c.weight += recordWeight(rec)
	for len(c.byN) > keep || c.weight > maxBytes && len(c.byN) > 1 {
		oldest := rec.N
		for n := range c.byN {
			oldest = min(oldest, n)
		}
		c.weight -= recordWeight(c.byN[oldest])
		delete(c.byN, oldest)
	}
}

// recordWeight is about the bytes rec takes in memory: its encoded size
// (a page-level record's delta and pages included), and a version-1
// record's entries.
func recordWeight(rec *format.Record) int {
	w := 128 + rec.Size
	if rec.BlockLevel {
		w += 16 * len(rec.Delta)
	}
	return w
}

// ProveNewest notes that record n+1 was found missing at at: record n was
// then the newest.
func (c *Cache) ProveNewest(n uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.newest || n == c.newest && at.After(c.newestAt) {
		c.newest, c.newestAt = n, at
	}
}

// ProvenNewest returns the newest record found to be the newest, and
// when; zero if none.
func (c *Cache) ProvenNewest() (uint64, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.newest, c.newestAt
}
