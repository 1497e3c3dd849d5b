package s3vfs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// Page-level concurrency (docs/design.md, "Page-level concurrency"): a
// commit that loses the race for record N+1 reads the records committed
// since its snapshot. Format version 2 records list the pages each commit
// changed. When none of those pages is one the transaction read (its read
// set, internal/tx/readset.go) or wrote, the transaction would have read
// and written the same bytes on the newer head: its writes are applied over that head
// and published there, as if it had begun after the others. Otherwise it
// fails with SQLITE_BUSY_SNAPSHOT, as any lost commit did before.

const (
	// maxRebases bounds the times one commit is published again on a
	// newer head before it gives up with SQLITE_BUSY. Each try races every
	// other writer for the next record: with 4 processes writing without
	// pause, 8 tries left 6 % of commits failing (3 in 4 lose a round, and
	// (3/4)^8 ≈ 10 %), 32 leave under 1 % (docs/performance.md).
	maxRebases = 32
	// maxRebaseTime is how long a commit goes on being rebased, past
	// maxRebases tries, while each try only lost a race: against writers
	// that commit without pause (a process that publishes queued
	// transactions back to back), a try may lose many times in a row.
	maxRebaseTime = 5 * time.Second
	// maxRebaseDistance bounds the commits a rebase reads: past it, the
	// transaction is old enough that a retry from scratch is as cheap.
	maxRebaseDistance = 64
	// keptRecords is how many records a database holds aside at most
	// (database.recent): more than a rebase reads.
	keptRecords = 2 * maxRebaseDistance
	// rebaseProbe is how many records are asked for at once when a
	// commit lost the race (commit.go, readBack) and when it is rebased:
	// the one that won, and the next, which usually does not exist and so
	// proves the one before it the newest. In the contention benchmark
	// (docs/performance.md) at 0 ms, 3 at a time cost 8.7–8.8 requests per
	// commit and 2 cost 7.6–8.2; at 20 ms the commit rates were alike.
	rebaseProbe = 2
)

// rebase returns the newest head, with t's pending blocks rewritten to be
// its bytes overlaid with the pages t wrote, when the transaction of t,
// whose commit over s (writing rec's changed pages) lost, may be published
// on it instead; nil when it conflicts. Page 1 changed by another commit
// always conflicts: every transaction reads its header.
func (t *txn) rebase(ctx context.Context, s *format.Snapshot, rec *format.Record, sent bool) (*format.Snapshot, error) {
	db := t.db
	if !t.Rules.Rebase || !t.readAllOn(s) {
		return nil, nil
	}
	recs, newestAt, err := db.recordsAfter(ctx, s.N, sent)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	theirs := tx.ByteSet{}
	for _, r := range recs {
		pages, unit, ok := r.ChangedPages()
		if !ok || r.BlockSize != s.BlockSize || r.FileSize != s.Size {
			return nil, nil // a version-1 record does not say what it changed
		}
		for _, run := range pages {
			theirs = theirs.Add(run.First*unit, (run.First+run.N)*unit)
		}
	}
	ours := tx.PagesAsBytes(rec.Changed, rec.Unit)
	if theirs.Overlaps(0, 100) || theirs.OverlapsAny(t.Reads.Bytes) || theirs.OverlapsAny(ours) {
		return nil, nil
	}
	head, err := db.build(ctx, recs[len(recs)-1], s)
	if err != nil {
		return nil, err
	}
	// The process learns the head too: the commit's create, and the next
	// transaction's freshness check, start from it.
	if !newestAt.IsZero() {
		db.known.Publish(head, newestAt)
	}
	if err := t.applyTheirs(ctx, head, theirs); err != nil {
		return nil, err
	}
	t.Reads.N, t.Reads.Token = head.N, head.Token // what it read is the same on head
	t.Theirs = t.Theirs.Union(theirs)
	return head, nil
}

// readAllOn reports whether every read of the transaction of t is known
// to be on s (not so for a connection that read nothing yet, or a
// snapshot of the Python layout, which has no records to rebase over).
func (t *txn) readAllOn(s *format.Snapshot) bool {
	return t.Reads.N == s.N && t.Reads.Token == s.Token && s.Legacy == nil
}

// recordsAfter returns the records after commit n, oldest first, for a
// rebase, and when the last of them was found to be the newest (the zero
// time: not known). Those the process holds (database.recent) need no
// request. When they reach the head it knows and the commit was not sent
// (it was over an older snapshot, and rebased without trying), they are
// all: the create over them checks that nothing else came since. They
// are all too when the process found the record after them missing (the
// read-back of a lost create reads it). Otherwise it reads on (readOn):
// the usual few commits since a transaction began cost one round trip
// (were the last one no longer the newest, the commit built on it loses
// again, and is rebased again). Past maxRebaseDistance it returns nil.
func (db *database) recordsAfter(ctx context.Context, n uint64, sent bool) ([]*format.Record, time.Time, error) {
	out := db.recent.After(n)
	if len(out) > 0 {
		if head, _ := db.known.Get(); !sent && out[len(out)-1].N >= head.N {
			return out, time.Time{}, nil
		}
		if newest, at := db.recent.ProvenNewest(); newest == out[len(out)-1].N {
			return out, at, nil
		}
	}
	return db.readOn(ctx, n, out, rebaseProbe)
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
// rebaseProbe, or all those up to the head the process knows and the one
// after. Past maxRebaseDistance records it returns nil and the zero time.
func (db *database) readOn(ctx context.Context, n uint64, out []*format.Record, first int) ([]*format.Record, time.Time, error) {
	for i, r := range out {
		if r.Made.By == format.Reserved {
			return out[:i], time.Time{}, nil // see below
		}
	}
	for width := first; len(out) < maxRebaseDistance; width = rebaseProbe {
		next := n + uint64(len(out)) + 1
		if head, _ := db.known.Get(); head != nil && head.N >= next {
			// Those up to the head the process knows exist: all at once.
			width = max(width, min(int(head.N-next)+2, maxRebaseDistance-len(out)+1))
		}
		batch := make([]*format.Record, width)
		start := time.Now()
		// A missing record proves the one before it the newest only above
		// a head confirmed within half the retention: below, garbage
		// collection leaves gaps (records kept as carriers, knownhead.go).
		anchor, provable := db.known.Provable(start, db.vfs.opts.Retention)
		g, gctx := errgroup.WithContext(ctx)
		for i := range batch {
			g.Go(func() error {
				r, err := db.readRecord(gctx, next+uint64(i))
				if errors.Is(err, ErrNotFound) {
					return nil
				}
				batch[i] = r
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, time.Time{}, fmt.Errorf("s3vfs: %s: reading the commits since %d: %w", db.key, n, err)
		}
		for _, r := range batch {
			if r == nil {
				last := n + uint64(len(out))
				if !provable || anchor.N > last {
					return out, time.Time{}, nil
				}
				db.recent.ProveNewest(last, start)
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

// applyTheirs rewrites the blocks of t that hold bytes of theirs with
// head's bytes there: the pages the other commits changed, none of which
// t read or wrote. A block uploaded early is brought back into memory
// first.
func (t *txn) applyTheirs(ctx context.Context, head *format.Snapshot, theirs tx.ByteSet) error {
	bs := head.BlockSize
	for idx, ref := range t.Spilled {
		// Uploaded early with the bytes before theirs: back into memory,
		// to be changed, and uploaded or carried again.
		if theirs.Overlaps(idx*bs, (idx+1)*bs) {
			if _, err := t.unspill(ctx, idx, ref, bs, true); err != nil {
				return err
			}
		}
	}
	for idx, buf := range t.Pending {
		start, end := idx*bs, idx*bs+format.BlockLen(idx, bs, head.Size)
		if !theirs.Overlaps(start, end) {
			continue
		}
		data, err := t.db.readBlock(ctx, head, idx)
		if err != nil {
			return err
		}
		if err := t.db.checkBlockLen(head, idx, data, end-start); err != nil {
			return err
		}
		for _, r := range theirs {
			if lo, hi := max(r.Start, start), min(r.End, end); lo < hi {
				copy(buf[lo-start:hi-start], data[lo-start:hi-start])
			}
		}
	}
	return nil
}
