package engine

import (
	"context"
	"time"

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
)

// rebase returns the newest head, with t's pending blocks rewritten to be
// its bytes overlaid with the pages t wrote, when the transaction of t,
// whose commit over s (writing rec's changed pages) lost, may be published
// on it instead; nil when it conflicts. Page 1 changed by another commit
// always conflicts: every transaction reads its header.
func (t *Txn) rebase(ctx context.Context, s *format.Snapshot, rec *format.Record, sent bool) (*format.Snapshot, error) {
	db := t.db
	if !t.Rules.Rebase || !t.readAllOn(s) {
		return nil, nil
	}
	recs, newestAt, err := db.RecordsAfter(ctx, s.N, sent)
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
	head, err := db.Build(ctx, recs[len(recs)-1], s)
	if err != nil {
		return nil, err
	}
	// The process learns the head too: the commit's create, and the next
	// transaction's freshness check, start from it.
	if !newestAt.IsZero() {
		db.Known.Publish(head, newestAt)
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
func (t *Txn) readAllOn(s *format.Snapshot) bool {
	return t.Reads.N == s.N && t.Reads.Token == s.Token && s.Legacy == nil
}

// applyTheirs rewrites the blocks of t that hold bytes of theirs with
// head's bytes there: the pages the other commits changed, none of which
// t read or wrote. A block uploaded early is brought back into memory
// first.
func (t *Txn) applyTheirs(ctx context.Context, head *format.Snapshot, theirs tx.ByteSet) error {
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
		data, err := t.db.ReadBlock(ctx, head, idx)
		if err != nil {
			return err
		}
		if err := t.db.CheckBlockLen(head, idx, data, end-start); err != nil {
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
