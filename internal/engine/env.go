package engine

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Env is what the engine of one VFS shares among its databases: the
// store and the commit log, the block cache and the disk caches, the
// single flight of block fetches, the counters, and the settings the
// engine reads (Config). The root's VFS holds one; it is safe for
// concurrent use once made.
type Env struct {
	Store    store.Store
	Records  commitlog.Log // where the commit records live: the bucket, or a coordinator
	Cfg      Config
	Cache    *cache.LRU
	Disk     *cache.Disk // in the VFS's cache directory; nil for none
	Counts   Counters
	Requests store.Counters // the store's requests
	Fetches  cache.Flights  // concurrent misses for one block object

	mu       sync.Mutex
	disks    map[string]*cache.Disk                   // disk caches by directory; guarded by mu
	segments map[string]weak.Pointer[format.Segments] // the segments of checkpoints in use, by object name; guarded by mu

	storeCheck storeCheckState // the self-test of the bucket, run before the first write
	ahead      sync.Map        // object name → its *readsAhead in flight (openahead.go)

	openMu sync.Mutex
	open   map[string]*Database // the databases in use, by key; guarded by openMu
}

// Config is the settings of a VFS that the engine reads, taken from the
// root's Options with their defaults applied.
type Config struct {
	BlockSize    int           // of a new database's blocks
	Retention    time.Duration // how long versions stay readable
	Concurrency  int           // requests at once per operation
	CacheDirSize int64         // the bound of each disk cache
	Coordinated  bool          // the commit records live with a coordinator, not in the bucket
	// CoordinatorName names the coordinator, and is the text of the
	// marker a database it keeps leaves in its bucket; "" for the bucket.
	CoordinatorName string
	Hooks           *Hooks // set only by the root's tests

	WriterID       string // written into every commit record
	FormatVersion  int    // the format version commits write: 1 keeps a version-1 database so, 2 writes version-2 checkpoints, 3 (the default) version 3
	WriteBuffer    int64  // the pending blocks a transaction keeps in memory before it spills them, in bytes
	MaxRecordSize  int    // the coordinator's bound on a record; 0: any
	SkipStoreCheck bool   // writes without the store's self-test
	ReadAhead      int    // the most blocks a sequential reader fetches ahead
	OpenPrefetch   int64  // the most bytes an open that reads the head reads ahead in the background (openahead.go); 0: none
}

// SegmentShift returns the shift of the segments of the checkpoints
// commits write (format.Checkpoint.SegmentShift): 0, version 2, under
// FormatVersion 2 or 1.
func (e *Env) SegmentShift() uint {
	if e.Cfg.FormatVersion < 3 {
		return 0
	}
	if h := e.Cfg.Hooks; h != nil && h.SegmentShift != 0 {
		return h.SegmentShift
	}
	return format.DefaultSegmentShift
}

// DiskCacheIn returns the disk cache in dir, made on first use and shared
// by every database of e that names dir.
func (e *Env) DiskCacheIn(dir string) *cache.Disk {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.disks[dir]
	if c == nil {
		c = cache.NewDisk(dir, e.Cfg.CacheDirSize, e.Cfg.Hooks.DiskOptions())
		if e.disks == nil {
			e.disks = map[string]*cache.Disk{}
		}
		e.disks[dir] = c
	}
	return c
}

// Counters is the live, concurrently updated form of the counts of the root's Stats
// that are not requests (those are the store's: store.Counters).
type Counters struct {
	Hits, Misses, InnerHits     atomic.Int64
	InnerBundles                atomic.Int64
	InnerPrefetched             atomic.Int64 // bundles of inner pages read ahead after a cold open (innerprefetch.go)
	Segments                    atomic.Int64 // segments of checkpoints' block maps read after the open (segments.go)
	SegmentsPrefetched          atomic.Int64 // segments read ahead after a cold open (segmentsahead.go)
	DiskHits, DiskMisses        atomic.Int64
	Commits, Conflicts, Rebases atomic.Int64
	EarlyBlocks                 atomic.Int64
}

// NewToken returns a random non-zero commit attempt token.
func NewToken() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if t := binary.LittleEndian.Uint64(b[:]); t != 0 {
			return t
		}
	}
}

// recordTooLarge reports whether rec would not fit the coordinator's
// records (a DynamoDB item); the commit then writes a checkpoint, which
// leaves the record a fixed, small size.
func (e *Env) recordTooLarge(rec *format.Record) bool {
	return e.RecordSizeTooLarge(len(rec.Encode()))
}

// RecordSizeTooLarge reports whether a record of size bytes would not fit
// the coordinator's records.
func (e *Env) RecordSizeTooLarge(size int) bool {
	return e.Cfg.MaxRecordSize > 0 && size > e.Cfg.MaxRecordSize
}

// NewDatabase returns the state of the database at key, not yet shared
// (Acquire shares it).
func (e *Env) NewDatabase(key string) *Database {
	return &Database{Key: key, Env: e}
}

// Acquire returns the state of the database at key that every user of it
// in the process shares (its connections, and the operations on whole
// versions), made on first use. Release gives it back.
func (e *Env) Acquire(key string) *Database {
	e.openMu.Lock()
	defer e.openMu.Unlock()
	db := e.open[key]
	if db == nil {
		if e.open == nil {
			e.open = map[string]*Database{}
		}
		db = e.NewDatabase(key)
		e.open[key] = db
	}
	db.refs++
	return db
}

// Release gives back db, which Acquire returned: once its last user
// releases it, the process forgets it.
func (e *Env) Release(db *Database) {
	e.openMu.Lock()
	defer e.openMu.Unlock()
	if db.refs--; db.refs == 0 && e.open[db.Key] == db {
		delete(e.open, db.Key)
	}
}
