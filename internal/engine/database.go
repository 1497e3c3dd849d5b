package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/format"
)

// Database is the state one process shares among every user of one
// database (its connections, and the operations on whole versions): the
// newest known snapshot and how long to trust it, the freshness checks in
// flight, the records of the last commits, the caches the database's URI
// chose, and the process's write lock and write chain. Env.Acquire shares
// it.
type Database struct {
	Key  string
	Env  *Env
	refs int // its users, Acquire's less Release's; guarded by Env.openMu

	Known  KnownHead       // the newest commit known, and how long to trust it
	Checks FreshChecks     // concurrent head checks share requests, never stale ones
	Recent commitlog.Cache // the records of the last commits, read or created here

	mu     sync.Mutex
	writer *Txn       // the transaction of the connection running a write transaction; guarded by mu
	writes uint64     // write locks taken in this process so far, the current one included; guarded by mu
	chain  writeChain // the write transactions not yet published (groupcommit.go); guarded by mu

	ownCache atomic.Pointer[cache.LRU]  // set by block_cache=; nil: the VFS's cache
	ownDisk  atomic.Pointer[cache.Disk] // set by cache_dir=; nil: the VFS's disk cache, if any
}

// Load makes sure the head is known, reading it from S3 on first use.
func (db *Database) Load(ctx context.Context) error {
	if head, _ := db.Known.Get(); head != nil {
		return nil
	}
	_, err := db.Refresh(ctx, time.Duration(1<<62))
	return err
}

// Refresh returns the newest committed snapshot, asking S3 unless the
// known head was confirmed within maxAge. One request answers the common
// case: a GET of record n+1 that finds nothing.
func (db *Database) Refresh(ctx context.Context, maxAge time.Duration) (*format.Snapshot, error) {
	if head, fresh := db.Known.Fresh(time.Now(), maxAge); fresh {
		return head, nil
	}
	return db.Checks.Do(ctx, db.check)
}

// check asks S3 for the newest commit. It reads the records after the
// head it knows, those it holds aside (db.Recent), up to one that is
// missing, which proves the one before it the newest (knownhead.go):
// usually one GET that finds nothing. A head not trusted, or far behind,
// is found with a LIST (and the newest record's GET).
func (db *Database) check(ctx context.Context) (*format.Snapshot, error) {
	start := time.Now()
	head, provable := db.Known.Provable(start, db.Env.Cfg.Retention)
	if provable {
		recs, at, err := db.readOn(ctx, head.N, db.Recent.After(head.N), 1)
		switch {
		case err != nil:
			return nil, err
		case !at.IsZero():
			s := head
			if len(recs) > 0 {
				if s, err = db.Build(ctx, recs[len(recs)-1], head); err != nil {
					return nil, err
				}
			}
			db.Known.Publish(s, start)
			return db.Known.Newer(s), nil
		}
	}
	s, err := db.ReadHead(ctx, head, nil)
	if err != nil {
		return nil, err
	}
	db.Known.Publish(s, start)
	return db.Known.Newer(s), nil
}

// ReadHead finds the newest record by listing (records sort newest first)
// and builds its snapshot. known, if it is the newest, saves a GET.
func (db *Database) ReadHead(ctx context.Context, prev *format.Snapshot, known *format.Record) (*format.Snapshot, error) {
	n, err := db.Env.Records.Newest(ctx, db.Key)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		if db.Env.Cfg.Coordinated && prev == nil {
			if err := db.refuseBucketRecords(ctx); err != nil {
				return nil, err
			}
		}
		if prev != nil && !prev.Empty() {
			return nil, fmt.Errorf("s3vfs: %s: every commit record is gone (was the database deleted?)", db.Key)
		}
		if prev != nil {
			return prev, nil // still empty, or still the Python layout found at first
		}
		// No s3vfs database: there may be one of the Python library's.
		if s, err := db.FindLegacy(ctx); s != nil || err != nil {
			return s, err
		}
		return &format.Snapshot{BlockSize: int64(db.Env.Cfg.BlockSize)}, nil
	}
	if prev != nil && n == prev.N {
		return prev, nil
	}
	rec := known
	if rec == nil || rec.N != n {
		if rec, err = db.ReadRecord(ctx, n); err != nil {
			return nil, err
		}
	}
	return db.Build(ctx, rec, prev)
}

// ReadRecord fetches and decodes record n.
func (db *Database) ReadRecord(ctx context.Context, n uint64) (*format.Record, error) {
	if rec, ok := db.Recent.Get(n); ok {
		return rec, nil
	}
	data, err := db.Env.Records.Get(ctx, db.Key, n)
	if err != nil {
		return nil, err
	}
	return db.KeepRecord(n, data)
}

// KeepRecord decodes data, record n as the store holds it, and keeps it
// for the next reads: the record, and for format version 2 its encoding,
// which may carry pages they need.
func (db *Database) KeepRecord(n uint64, data []byte) (*format.Record, error) {
	rec, err := format.DecodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("s3vfs: record %d of %s: %w", n, db.Key, err)
	}
	if rec.N != n {
		return nil, fmt.Errorf("s3vfs: record %d of %s: %w: it says it is record %d", n, db.Key, format.ErrCorrupt, rec.N)
	}
	if rec.PageLevel() { // it may carry pages later versions overlay
		db.Cache().Add(format.OverlayRecordID(db.Key, n, rec.Token), data)
	}
	db.Recent.Add(rec, KeptRecords)
	return rec, nil
}

// noDatabaseAt returns the error of a head record that reserves the key
// for a branch being made.
func (db *Database) noDatabaseAt(rec *format.Record) error {
	return fmt.Errorf("%w: s3://%s/%s is reserved for a branch of %s being made (by %s at %s); "+
		"if none is being made, one failed part way: remove the key (s3vfs rm) and branch again",
		ErrNoDatabase, db.Env.Store.Bucket, db.Key, rec.Made.Key, rec.Writer, rec.Time.UTC().Format(time.RFC3339))
}

// RemovedSnapshot is the snapshot of a removed database's last record:
// no database, and a new one's first commit is rec.N+1 (numbers go on, so
// that a process that still knows the removed database's head can never
// create a record above the new one's).
func (db *Database) RemovedSnapshot(rec *format.Record) *format.Snapshot {
	return &format.Snapshot{N: rec.N, Token: rec.Token, Time: rec.Time, BlockSize: int64(db.Env.Cfg.BlockSize), Removed: true}
}
