package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Time travel: reading the version of a commit other than the newest (a
// connection's commit= or asof=, and the operations on whole versions).

// ErrNoCommit reports a commit that does not exist: not yet made, or older
// than the retention and collected.
var ErrNoCommit = errors.New("s3vfs: no such commit")

// PinnedSnapshot returns the version a time-travel URI names.
func (db *Database) PinnedSnapshot(ctx context.Context, p Params) (*format.Snapshot, error) {
	if p.AtCommit != 0 {
		return db.SnapshotAt(ctx, p.AtCommit)
	}
	rec, err := db.recordAsOf(ctx, p.AsOf)
	if err != nil {
		return nil, err
	}
	if rec.Made.NoDatabase() {
		return nil, fmt.Errorf("%w: s3://%s/%s as of %s: the database was removed by then", ErrNoCommit, db.Env.Store.Bucket, db.Key, p.AsOf.Format(time.RFC3339Nano))
	}
	if ok, err := db.readable(ctx, rec); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%w: s3://%s/%s as of %s: commit %d, the newest then, is older than the retention",
				ErrNoCommit, db.Env.Store.Bucket, db.Key, p.AsOf.Format(time.RFC3339Nano), rec.N)
		}
		return nil, err
	}
	return db.Build(ctx, rec, nil)
}

// SnapshotAt returns the snapshot of commit n: its record and base
// checkpoint. A version-2 record may be kept for the pages later versions
// overlay when its own version is past the retention (ReadableVersion):
// the record of commit n+1 tells, so it is read alongside record n, in the
// same round trip (a request that a version-1 record does not need).
func (db *Database) SnapshotAt(ctx context.Context, n uint64) (*format.Snapshot, error) {
	gone := fmt.Errorf("%w: commit %d of s3://%s/%s: not made yet, or older than the retention and collected (see the history)",
		ErrNoCommit, n, db.Env.Store.Bucket, db.Key)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan readResult, 1)
	go func() {
		rec, err := db.ReadRecord(ctx, n+1)
		next <- readResult{rec, err}
	}()
	rec, err := db.ReadRecord(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, gone
	}
	if err != nil {
		return nil, err
	}
	if rec.Made.NoDatabase() {
		return nil, gone // a key reserved for a branch, or a database removed: no version
	}
	if ok, err := db.readableWith(ctx, rec, <-next); err != nil || !ok {
		if err == nil {
			err = gone
		}
		return nil, err
	}
	return db.Build(ctx, rec, nil)
}

// readResult is the outcome of a ReadRecord.
type readResult struct {
	rec *format.Record
	err error
}

// readable reports whether rec is a readable version (ReadableVersion):
// a version-1 record always is; for a version-2 record, the record of
// the next commit tells, or the newest record if there is none.
func (db *Database) readable(ctx context.Context, rec *format.Record) (bool, error) {
	if !rec.PageLevel() {
		return true, nil
	}
	next, err := db.ReadRecord(ctx, rec.N+1)
	return db.readableWith(ctx, rec, readResult{next, err})
}

// readableWith is readable given next, the outcome of reading the record
// of commit rec.n+1.
func (db *Database) readableWith(ctx context.Context, rec *format.Record, next readResult) (bool, error) {
	if !rec.PageLevel() {
		return true, nil
	}
	for try := 0; ; try++ {
		if try > 0 {
			next.rec, next.err = db.ReadRecord(ctx, rec.N+1)
		}
		switch {
		case next.err == nil:
			// The successor's time is its writer's clock, within the skew
			// the retention assumes.
			return !next.rec.Time.Add(LastModifiedSlack).Before(time.Now().Add(-db.Retention())), nil
		case !errors.Is(next.err, store.ErrNotFound):
			return false, next.err
		}
		// Commit n is the newest, or its successor was collected, or it
		// was created since the GET: the listing tells, and in the last
		// case the successor is read again.
		newest, err := db.Env.Records.Newest(ctx, db.Key)
		if err != nil || newest <= rec.N || try > 0 {
			return newest == rec.N, err
		}
	}
}

// Retention returns the retention the database's versions are kept for:
// the shortest a URI declared, else Config.Retention.
func (db *Database) Retention() time.Duration {
	return db.Known.Retention(db.Env.Cfg.Retention)
}

// recordNumbers lists the numbers of the records of the database, oldest
// first.
func (db *Database) recordNumbers(ctx context.Context) ([]uint64, error) {
	var ns []uint64
	err := db.Env.Records.List(ctx, db.Key, func(n uint64, _ int64, _ time.Time) error {
		ns = append(ns, n)
		return nil
	})
	slices.Sort(ns)
	return ns, err
}

// recordAsOf returns the record of the newest commit made at or before t,
// by the times in the records (which grow with commit numbers, see
// CommitTime): a LIST, then a binary search of GETs.
func (db *Database) recordAsOf(ctx context.Context, t time.Time) (*format.Record, error) {
	ns, err := db.recordNumbers(ctx)
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("%w: s3://%s/%s", ErrNoDatabase, db.Env.Store.Bucket, db.Key)
	}
	read := map[int]*format.Record{}
	get := func(i int) (*format.Record, error) {
		if r := read[i]; r != nil {
			return r, nil
		}
		r, err := db.ReadRecord(ctx, ns[i])
		read[i] = r
		return r, err
	}
	// The newest version is the common question: try it first.
	last := len(ns) - 1
	if r, err := get(last); err != nil || !r.Time.After(t) {
		return r, err
	}
	first, err := get(0)
	if err != nil {
		return nil, err
	}
	if first.Time.After(t) {
		return nil, fmt.Errorf("%w: s3://%s/%s as of %s: the oldest commit kept, %d, was made at %s",
			ErrNoCommit, db.Env.Store.Bucket, db.Key, t.Format(time.RFC3339Nano), first.N, first.Time.Format(time.RFC3339Nano))
	}
	// Invariant: time(ns[lo]) <= t < time(ns[hi]).
	lo, hi := 0, last
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		r, err := get(mid)
		if err != nil {
			return nil, err
		}
		if r.Time.After(t) {
			hi = mid
		} else {
			lo = mid
		}
	}
	r, err := get(lo)
	if err == nil && r.Made.NoDatabase() {
		// The record that reserved a branch's key, or one of a removed
		// database: no version then.
		return nil, fmt.Errorf("%w: s3://%s/%s as of %s: no database then (a branch not made yet, or a database removed)",
			ErrNoCommit, db.Env.Store.Bucket, db.Key, t.Format(time.RFC3339Nano))
	}
	return r, err
}

// CollectedWhileRead turns a missing object met while reading the version
// s into ErrNoCommit: the objects of a version vanish only when a
// collection deleted them, because the version was older than the
// retention that collection used (or the objects were deleted by hand).
// Other errors are returned as they are.
func (db *Database) CollectedWhileRead(s *format.Snapshot, err error) error {
	if !errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrNoCommit) {
		return err
	}
	return fmt.Errorf("%w: commit %d of s3://%s/%s was collected while it was read: it is older than the retention a collection used (see the history): %w",
		ErrNoCommit, s.N, db.Env.Store.Bucket, db.Key, err)
}
