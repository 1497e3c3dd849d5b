package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
	"golang.org/x/sync/errgroup"
)

// How far the engine reads the records after a commit (docs/design.md,
// "Page-level concurrency").
const (
	// MaxRebaseDistance bounds the commits a rebase reads: past it, the
	// transaction is old enough that a retry from scratch is as cheap.
	MaxRebaseDistance = 64
	// KeptRecords is how many records a database holds aside at most
	// (Database.Recent): more than a rebase reads.
	KeptRecords = 2 * MaxRebaseDistance
	// RebaseProbe is how many records are asked for at once when a
	// commit lost the race (the engine's publish.go, readBack) and when it
	// is rebased: the one that won, and the next, which usually does not exist and so
	// proves the one before it the newest. In the contention benchmark
	// (docs/performance.md) at 0 ms, 3 at a time cost 8.7–8.8 requests per
	// commit and 2 cost 7.6–8.2; at 20 ms the commit rates were alike.
	RebaseProbe = 2
)

// RecordsAfter returns the records after commit n, oldest first, for a
// rebase, and when the last of them was found to be the newest (the zero
// time: not known). Those the process holds (Database.Recent) need no
// request. When they reach the head it knows and the commit was not sent
// (it was over an older snapshot, and rebased without trying), they are
// all: the create over them checks that nothing else came since. They
// are all too when the process found the record after them missing (the
// read-back of a lost create reads it). Otherwise it reads on (readOn):
// the usual few commits since a transaction began cost one round trip
// (were the last one no longer the newest, the commit built on it loses
// again, and is rebased again). Past MaxRebaseDistance it returns nil.
func (db *Database) RecordsAfter(ctx context.Context, n uint64, sent bool) ([]*format.Record, time.Time, error) {
	out := db.Recent.After(n)
	if len(out) > 0 {
		if head, _ := db.Known.Get(); !sent && out[len(out)-1].N >= head.N {
			return out, time.Time{}, nil
		}
		if newest, at := db.Recent.ProvenNewest(); newest == out[len(out)-1].N {
			return out, at, nil
		}
	}
	return db.readOn(ctx, n, out, RebaseProbe)
}

// readOn reads the records after commit n that follow out (records n+1
// onwards, oldest first) up to the first that does not exist, and returns
// them all and when the round of requests that found that one missing
// began: the last record returned was the newest at a moment after that.
// That holds only when the missing record is above a head the process
// confirmed within half the retention (knownHead.provable): else it
// returns the zero time, and whoever builds on the last record asks
// (confirmParent LISTs).
// Records are read in parallel: first of them in the first round, then
// RebaseProbe, or all those up to the head the process knows and the one
// after. Past MaxRebaseDistance records it returns nil and the zero time.
func (db *Database) readOn(ctx context.Context, n uint64, out []*format.Record, first int) ([]*format.Record, time.Time, error) {
	for i, r := range out {
		if r.Made.By == format.Reserved {
			return out[:i], time.Time{}, nil // see below
		}
	}
	for width := first; len(out) < MaxRebaseDistance; width = RebaseProbe {
		next := n + uint64(len(out)) + 1
		if head, _ := db.Known.Get(); head != nil && head.N >= next {
			// Those up to the head the process knows exist: all at once.
			width = max(width, min(int(head.N-next)+2, MaxRebaseDistance-len(out)+1))
		}
		batch := make([]*format.Record, width)
		start := time.Now()
		// A missing record proves the one before it the newest only above
		// a head confirmed within half the retention: below, garbage
		// collection leaves gaps (records kept as carriers, knownhead.go).
		anchor, provable := db.Known.Provable(start, db.Env.Cfg.Retention)
		g, gctx := errgroup.WithContext(ctx)
		for i := range batch {
			g.Go(func() error {
				r, err := db.ReadRecord(gctx, next+uint64(i))
				if errors.Is(err, store.ErrNotFound) {
					return nil
				}
				batch[i] = r
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, time.Time{}, fmt.Errorf("s3vfs: %s: reading the commits since %d: %w", db.Key, n, err)
		}
		for _, r := range batch {
			if r == nil {
				last := n + uint64(len(out))
				if !provable || anchor.N > last {
					return out, time.Time{}, nil
				}
				db.Recent.ProveNewest(last, start)
				return out, start, nil
			}
			if r.Made.By == format.Reserved {
				// The key of a branch: its numbering jumps from this
				// record to the branch's first, so a missing record
				// proves nothing; a listing finds the head.
				return out, time.Time{}, nil
			}
			out = append(out, r)
		}
	}
	return nil, time.Time{}, nil
}

// ClaimCoordination runs before the first record of a database is created.
// With a coordinator outside the bucket, it leaves the marker that makes
// the bucket's coordinator refuse the database (or finds it, naming this
// coordinator), and refuses a database whose records are in the bucket.
func (db *Database) ClaimCoordination(ctx context.Context) error {
	if !db.Env.Cfg.Coordinated {
		return nil
	}
	st := &db.Env.Store
	where := db.Env.Cfg.CoordinatorName
	switch got, err := st.Get(ctx, commitlog.Marker(db.Key)); {
	case errors.Is(err, store.ErrNotFound):
		if err := st.Put(ctx, commitlog.Marker(db.Key), []byte(where)); err != nil {
			return err
		}
	case err != nil:
		return err
	case string(got) != where:
		return commitlog.CoordinatedElsewhere(db.Key, string(got))
	}
	return db.refuseBucketRecords(ctx)
}

// refuseBucketRecords returns an error if the database has records in the
// bucket although a coordinator outside it is in use: it was created
// without the coordinator, and reading it through the coordinator would
// show it empty.
func (db *Database) refuseBucketRecords(ctx context.Context) error {
	name, err := db.Env.Store.First(ctx, format.RecordPrefix(db.Key), func(name string) bool {
		_, ok := format.ParseRecordName(db.Key, name)
		return ok
	})
	if err != nil || name == "" {
		return err
	}
	return commitlog.CoordinatedElsewhere(db.Key, "the bucket (its records are under "+format.RecordPrefix(db.Key)+")")
}
