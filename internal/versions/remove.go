package versions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Remove is the root's VFS.Remove, whose doc comment is the contract.
func (v *Ops) Remove(ctx context.Context, key string) error {
	fail := func(err error) error { return fmt.Errorf("s3vfs: remove %s: %w", key, err) }
	if err := format.ValidateKey(key); err != nil {
		return err
	}
	db := v.acquire(key)
	defer v.release(db)
	if err := db.refuseLiveBranches(ctx); err != nil {
		return err
	}
	start := time.Now()
	last, err := db.markRemoved(ctx)
	if err != nil {
		return fail(err)
	}
	db.Known.Publish(db.RemovedSnapshot(last), start)
	// After the removed record: a branch that registered before the
	// listing above is refused when it finds the removed record (Branch,
	// stillReadable), and deletes its registration; one that passed that
	// check before the removed record was made is a branch, whose objects
	// stay.
	if err := db.awaitNoBranches(ctx); err != nil {
		return fmt.Errorf("%w (the database is removed, but its objects are kept for its branches: remove them, then run the removal again)", err)
	}
	if err := db.overwriteRecords(ctx, last); err != nil {
		return fail(err)
	}
	if err := db.deleteObjects(ctx, last.N); err != nil {
		return fail(err)
	}
	if reg := registrationOf(key, last); reg != "" {
		if err := v.Env.Store.Remove(ctx, []string{reg}); err != nil {
			return fail(err)
		}
	}
	if err := db.deleteOldRecords(ctx, last.N); err != nil {
		return fail(err)
	}
	return nil
}

// awaitNoBranches returns ErrBranchesLive unless db has no branch
// registered, or none left after a few seconds: a branch being made when
// the removal began finds the removed record and withdraws.
func (db *database) awaitNoBranches(ctx context.Context) error {
	var err error
	for try := range 6 {
		if err = db.refuseLiveBranches(ctx); err == nil || !errors.Is(err, ErrBranchesLive) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(try+1) * 200 * time.Millisecond):
		}
	}
	return err
}

// refuseLiveBranches returns ErrBranchesLive, naming them, if branches of
// db exist.
func (db *database) refuseLiveBranches(ctx context.Context) error {
	var branches []string
	err := db.Env.Store.List(ctx, format.BranchPrefix(db.Key), func(o store.Object) error {
		if n, dst, ok := format.ParseBranchName(db.Key, o.Key); ok {
			branches = append(branches, fmt.Sprintf("%s (from commit %d)", dst, n))
		}
		return nil
	})
	if err != nil || len(branches) == 0 {
		return err
	}
	slices.Sort(branches)
	return fmt.Errorf("%w: %s has %d: %s; remove them first", ErrBranchesLive, db.Key, len(branches), strings.Join(branches, ", "))
}

// markRemoved commits, over the newest record, a record that says the
// database is removed, and returns it (one a removal that failed part way
// left is taken as it is). It carries the
// lineage of the record before it, which names the registration of a
// branch, and for a key reserved for a branch, the reservation's source.
func (db *database) markRemoved(ctx context.Context) (*format.Record, error) {
	for try := 0; ; try++ {
		n, err := db.Env.Records.Newest(ctx, db.Key)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: s3://%s/%s", engine.ErrNoDatabase, db.Env.Store.Bucket, db.Key)
		}
		head, err := db.ReadRecord(ctx, n)
		if err != nil {
			return nil, err
		}
		if head.Made.By == format.Removed {
			return head, nil
		}
		rec := &format.Record{
			N: n + 1, Parent: n, Token: engine.NewToken(), BlockSize: head.BlockSize,
			Time: engine.CommitTime(head.Time), Writer: db.Env.Cfg.WriterID, Unit: head.BlockSize,
			Made: format.Made{By: format.Removed}, Lineage: head.Lineage,
		}
		if m := head.Made; m.By == format.Reserved {
			// A branch of m.Key at m.Commit reserved the key: its first
			// record would be m.Commit+1. Taking that number makes a
			// branch still being made fail; the registration it left
			// goes with the rest.
			rec.N, rec.Parent = m.Commit+1, m.Commit
			rec.Lineage = format.Lineage{{Key: m.Key, Commit: m.Commit}}
		}
		data := rec.Encode()
		err = db.Env.Records.Create(ctx, db.Key, rec.N, data)
		if errors.Is(err, store.ErrExists) && try < 10 {
			continue // a commit landed meanwhile: over it
		}
		if err != nil {
			return nil, err
		}
		return rec.WithSize(len(data)), nil
	}
}

// registrationOf returns the registration of the branch at key whose
// last record is last, or "" if it is no branch.
func registrationOf(key string, last *format.Record) string {
	if lin := last.Lineage; len(lin) > 0 {
		return format.BranchName(lin[0].Key, lin[0].Commit, key)
	}
	return ""
}

// deleteObjects deletes the checkpoints and blocks of db written by
// commits up to last, the removed record (those of a new database made at
// the key since are above it), the summaries of collections that listed
// no record above it, and the object the store's self-test keeps (made
// again by the next one that needs it).
func (db *database) deleteObjects(ctx context.Context, last uint64) error {
	kept := db.Key + "/" + format.StoreCheckDir + "/" + engine.SelfTestKept
	if err := db.Env.Store.Remove(ctx, []string{kept}); err != nil {
		return err
	}
	for _, dir := range []string{format.CheckpointsDir, format.BlocksDir} {
		var names []string
		err := db.Env.Store.List(ctx, db.Key+"/"+dir+"/", func(o store.Object) error {
			var commit uint64
			var ok bool
			if dir == format.BlocksDir {
				_, commit, _, ok = parseBlockName(db.Key, o.Key)
			} else if commit, _, ok = format.ParseSummaryName(db.Key, o.Key); !ok {
				commit, _, ok = parseCheckpointName(db.Key, o.Key)
			}
			if ok && commit <= last {
				names = append(names, o.Key)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := db.Env.Store.Remove(ctx, names); err != nil {
			return err
		}
	}
	return nil
}

// overwriteRecords replaces every record of removed database db below
// its removed record last with one that says the database is removed, at
// its number: what the removed database's records carried (pages of small
// commits) goes, and a process that finds one learns of the removal. A
// record deleted meanwhile (by a collection) is left missing.
func (db *database) overwriteRecords(ctx context.Context, last *format.Record) error {
	created := map[uint64]time.Time{}
	err := db.Env.Records.List(ctx, db.Key, func(n uint64, _ int64, at time.Time) error {
		if n < last.N {
			created[n] = at
		}
		return nil
	})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(db.Env.Cfg.Concurrency)
	for n, at := range created {
		rec := &format.Record{N: n, Parent: n - 1, Token: engine.NewToken(), BlockSize: last.BlockSize, Unit: last.BlockSize,
			Time: at, Writer: db.Env.Cfg.WriterID, Made: format.Made{By: format.Removed}}
		g.Go(func() error {
			if err := db.Env.Records.Overwrite(gctx, db.Key, n, rec.Encode()); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		})
	}
	return g.Wait()
}

// deleteOldRecords deletes the records of removed database db below its
// removed record last that no process may still need: a record stays
// while the one after it is younger than the retention (the rule garbage
// collection keeps, so that a missing record still proves the one before
// it the newest to a process that knows it, the engine's knownhead.go). The removed
// record itself always stays.
func (db *database) deleteOldRecords(ctx context.Context, last uint64) error {
	created := map[uint64]time.Time{}
	err := db.Env.Records.List(ctx, db.Key, func(n uint64, _ int64, at time.Time) error {
		created[n] = at
		return nil
	})
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-db.Retention())
	old := func(at time.Time) bool { return at.Add(engine.LastModifiedSlack).Before(cutoff) }
	var gone []uint64
	for n, at := range created {
		if n >= last {
			continue
		}
		if next, ok := created[n+1]; ok && old(next) || !ok && old(at) {
			gone = append(gone, n) // !ok: a gap garbage collection left, judged by the record's own age
		}
	}
	slices.Sort(gone)
	return db.Env.Records.Remove(ctx, db.Key, gone)
}
