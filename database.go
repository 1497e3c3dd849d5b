package s3vfs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// snapshot is one committed version of a database: what a transaction
// reads from. Snapshots are immutable once built and shared freely.
type snapshot struct {
	n         uint64 // commit number; 0 for a database with no commits yet
	token     uint64 // attempt token of commit n
	time      time.Time
	blockSize int64
	size      int64
	blocks    blockMap

	base    ckptRef  // checkpoint record n builds on
	baseMap blockMap // that checkpoint's map, reused by successors on the same base
	delta   []entry  // blocks that differ from baseMap (record n's delta)

	legacy *legacyLayout // set for a database in the Python layout (legacy.go), whose n is 0
}

// empty reports whether s is a database with nothing in it yet.
func (s *snapshot) empty() bool { return s.n == 0 && s.legacy == nil }

// blockID returns a name that identifies the bytes of block idx (the
// object name, for a Python-layout block with its ETag), as the block
// cache keys them, or false for a hole.
func (s *snapshot) blockID(key string, idx int64) (string, bool) {
	if s.legacy != nil {
		return legacyBlockName(key, idx) + "#" + s.legacy.etags[idx], true
	}
	ref := s.blocks.get(idx)
	if ref.isHole() {
		return "", false
	}
	return blockName(key, idx, ref), true
}

// blockLen returns the length of block idx in a file of size bytes.
func blockLen(idx, blockSize, size int64) int64 {
	start := idx * blockSize
	if start >= size {
		return 0
	}
	return min(blockSize, size-start)
}

// database is the state one process shares among every connection to one
// database: the newest known snapshot and the in-process writer lock.
type database struct {
	vfs  *VFS
	key  string
	refs int // guarded by vfs.mu

	mu       sync.Mutex
	head     *snapshot // newest snapshot known to be committed; guarded by mu
	verified time.Time // when head was last confirmed as the newest; guarded by mu
	writer   *file     // the handle holding RESERVED or more; guarded by mu

	// retention is the shortest retention a URI declared (retention.go);
	// zero means Options.Retention. Guarded by mu.
	retention time.Duration

	checks freshChecks // concurrent head checks share requests, never stale ones

	ownCache atomic.Pointer[blockCache] // set by block_cache=; nil: the VFS's cache
}

// current returns the newest known snapshot and when it was confirmed.
func (db *database) current() (*snapshot, time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.head, db.verified
}

// publish records s as committed if it is newer than what is known.
func (db *database) publish(s *snapshot, confirmedAt time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.head == nil || s.n > db.head.n {
		db.head = s
		db.verified = confirmedAt
	} else if s.n == db.head.n && confirmedAt.After(db.verified) {
		db.verified = confirmedAt
	}
}

// load makes sure the head is known, reading it from S3 on first use.
func (db *database) load(ctx context.Context) error {
	if head, _ := db.current(); head != nil {
		return nil
	}
	_, err := db.refresh(ctx, time.Duration(1<<62))
	return err
}

// refresh returns the newest committed snapshot, asking S3 unless the
// known head was confirmed within maxAge. One request answers the common
// case: a GET of record n+1 that finds nothing.
func (db *database) refresh(ctx context.Context, maxAge time.Duration) (*snapshot, error) {
	head, verified := db.current()
	if head != nil && time.Since(verified) <= maxAge {
		return head, nil
	}
	return db.checks.do(ctx, db.check)
}

func (db *database) check(ctx context.Context) (*snapshot, error) {
	start := time.Now()
	head, verified := db.current()

	// A missing record n+1 proves n is the head only while record n+1 could
	// not have been created and garbage collected since we last looked:
	// collection never removes a record younger than the retention.
	if head != nil && start.Sub(verified) < db.retentionWindow()/2 {
		data, err := db.vfs.records.get(ctx, db.key, head.n+1)
		switch {
		case errors.Is(err, ErrNotFound):
			db.publish(head, start)
			return db.headOrNewer(head), nil
		case err != nil:
			return nil, err
		}
		next, err := decodeRecord(data)
		if err != nil {
			return nil, fmt.Errorf("s3vfs: record %d of %s: %w", head.n+1, db.key, err)
		}
		// Something was committed: find the newest record with one LIST
		// rather than walking the records one by one.
		s, err := db.readHead(ctx, head, next)
		if err != nil {
			return nil, err
		}
		db.publish(s, start)
		return db.headOrNewer(s), nil
	}
	s, err := db.readHead(ctx, head, nil)
	if err != nil {
		return nil, err
	}
	db.publish(s, start)
	return db.headOrNewer(s), nil
}

// headOrNewer returns the newer of s and the published head: a commit made
// by this process while the check ran must not be hidden.
func (db *database) headOrNewer(s *snapshot) *snapshot {
	head, _ := db.current()
	if head != nil && head.n > s.n {
		return head
	}
	return s
}

// readHead finds the newest record by listing (records sort newest first)
// and builds its snapshot. known, if it is the newest, saves a GET.
func (db *database) readHead(ctx context.Context, prev *snapshot, known *record) (*snapshot, error) {
	n, err := db.vfs.records.newest(ctx, db.key)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		if _, inBucket := db.vfs.records.(bucketRecords); !inBucket && prev == nil {
			if err := db.refuseBucketRecords(ctx); err != nil {
				return nil, err
			}
		}
		if prev != nil && prev.n > 0 {
			return nil, fmt.Errorf("s3vfs: %s: every commit record is gone (was the database deleted?)", db.key)
		}
		if prev != nil {
			return prev, nil // still empty, or still the Python layout found at first
		}
		// No s3vfs database: there may be one of the Python library's.
		if s, err := db.findLegacy(ctx); s != nil || err != nil {
			return s, err
		}
		return &snapshot{blockSize: int64(db.vfs.opts.BlockSize)}, nil
	}
	if prev != nil && n == prev.n {
		return prev, nil
	}
	rec := known
	if rec == nil || rec.n != n {
		if rec, err = db.readRecord(ctx, n); err != nil {
			return nil, err
		}
	}
	return db.build(ctx, rec, prev)
}

// readRecord fetches and decodes record n.
func (db *database) readRecord(ctx context.Context, n uint64) (*record, error) {
	data, err := db.vfs.records.get(ctx, db.key, n)
	if err != nil {
		return nil, err
	}
	rec, err := decodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("s3vfs: record %d of %s: %w", n, db.key, err)
	}
	if rec.n != n {
		return nil, fmt.Errorf("s3vfs: record %d of %s: %w: it says it is record %d", n, db.key, errCorrupt, rec.n)
	}
	return rec, nil
}

// build makes the snapshot of rec, reading its base checkpoint unless prev
// already has it.
func (db *database) build(ctx context.Context, rec *record, prev *snapshot) (*snapshot, error) {
	var base blockMap
	switch {
	case rec.base == (ckptRef{}):
	case prev != nil && prev.base == rec.base:
		base = prev.baseMap
	default:
		c, err := db.readCheckpoint(ctx, rec.base)
		if err != nil {
			return nil, err
		}
		if c.blockSize != rec.blockSize {
			return nil, fmt.Errorf("s3vfs: record %d of %s: %w: block size differs from its checkpoint", rec.n, db.key, errCorrupt)
		}
		changes := make(map[int64]blockRef, len(c.blocks))
		for _, e := range c.blocks {
			changes[e.idx] = e.ref
		}
		base = blockMap{}.with(int64(len(c.blocks)), changes)
	}
	changes := make(map[int64]blockRef, len(rec.delta))
	for _, e := range rec.delta {
		changes[e.idx] = e.ref
	}
	return &snapshot{
		n:         rec.n,
		token:     rec.token,
		time:      rec.time,
		blockSize: rec.blockSize,
		size:      rec.fileSize,
		blocks:    base.with(nblocks(rec.fileSize, rec.blockSize), changes),
		base:      rec.base,
		baseMap:   base,
		delta:     rec.delta,
	}, nil
}

func (db *database) readCheckpoint(ctx context.Context, ref ckptRef) (*checkpoint, error) {
	data, err := db.vfs.store.get(ctx, checkpointName(db.key, ref.n, ref.token))
	if err != nil {
		return nil, err
	}
	c, err := decodeCheckpoint(data)
	if err != nil {
		return nil, fmt.Errorf("s3vfs: checkpoint %d of %s: %w", ref.n, db.key, err)
	}
	if c.n != ref.n || c.token != ref.token {
		return nil, fmt.Errorf("s3vfs: checkpoint %d of %s: %w: it names another commit", ref.n, db.key, errCorrupt)
	}
	return c, nil
}
