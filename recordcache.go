package s3vfs

import (
	"sync"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

// recentRecords keeps the records of a database this process read or
// created lately, by commit number. A record, once created, never
// changes: the name of commit n is taken by one conditional create. So a
// rebase, a freshness check or a head read finds the records of the last
// commits here instead of asking S3 for each again: each process reads a
// record once, however many of its transactions are rebased over it. The
// zero value is ready to use.
type recentRecords struct {
	mu     sync.Mutex
	byN    map[uint64]*format.Record // guarded by mu
	weight int                       // the bytes held, about; guarded by mu

	// newest is a record found to be the newest: record newest+1 was
	// missing at newestAt; zero: none. Guarded by mu.
	newest   uint64
	newestAt time.Time
}

const (
	// keptRecords is how many records the cache holds at most: more than
	// a rebase reads (maxRebaseDistance).
	keptRecords = 2 * maxRebaseDistance
	// keptRecordBytes bounds the bytes it holds: records may carry pages.
	keptRecordBytes = 8 << 20
)

// get returns record n, if held.
func (c *recentRecords) get(n uint64) (*format.Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.byN[n]
	return r, ok
}

// after returns the records held after commit n without a gap, oldest
// first.
func (c *recentRecords) after(n uint64) []*format.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*format.Record
	for r, ok := c.byN[n+1]; ok; r, ok = c.byN[n+1] {
		out = append(out, r)
		n++
	}
	return out
}

// add holds rec, a record read from the store or created there, and lets
// go of the oldest held while there are too many, or too many bytes.
func (c *recentRecords) add(rec *format.Record) {
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
	for len(c.byN) > keptRecords || c.weight > keptRecordBytes && len(c.byN) > 1 {
		oldest := rec.N
		for n := range c.byN {
			oldest = min(oldest, n)
		}
		c.weight -= recordWeight(c.byN[oldest])
		delete(c.byN, oldest)
	}
}

// recordWeight is about the bytes rec takes in memory.
func recordWeight(rec *format.Record) int {
	return 128 + rec.Size + 16*len(rec.Delta)
}

// proveNewest notes that record n+1 was found missing at at: record n was
// then the newest.
func (c *recentRecords) proveNewest(n uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.newest || n == c.newest && at.After(c.newestAt) {
		c.newest, c.newestAt = n, at
	}
}

// provenNewest returns the newest record found to be the newest, and
// when; zero if none.
func (c *recentRecords) provenNewest() (uint64, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.newest, c.newestAt
}
