package engine

import (
	"context"
	"errors"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// commit publishes the pending writes of t as commit t.Snap.N+1: upload the
// changed blocks in parallel, then create the record conditionally. It
// returns only once the record exists (success), or another writer's
// record exists (SQLITE_BUSY), or it cannot tell (SQLITE_IOERR). What it
// writes is planned by plan.Blocks (internal/plan); how it may be published
// (rebased, renewed) is t.Rules, decided when it was queued, before
// anything was released.
func (t *Txn) commit(ctx context.Context) error {
	db, s := t.db, t.Snap
	v := db.Env
	if s.Legacy != nil {
		return t.IOErr(db.LegacyReadOnly(), sqlite3.IOERR_WRITE)
	}
	if err := v.RequireSafeStore(ctx, db.Key, db.Disk(), !s.Empty()); err != nil {
		return t.IOErr(err, sqlite3.IOERR_WRITE)
	}
	defer v.StoreCheckSettled(ctx)
	for _, idx := range plan.Rewrites(s, t.Writes) {
		if _, err := t.pendingBlock(ctx, s, idx, false); err != nil {
			return t.IOErr(err, sqlite3.IOERR_READ)
		}
	}
	if same, err := t.unchanged(ctx, s); err != nil {
		return t.IOErr(err, sqlite3.IOERR_READ)
	} else if same {
		t.Discard(ctx)
		return t.To(tx.Published) // settled: nothing to publish
	}

	attempt := plan.Attempt{Token: NewToken(), Time: CommitTime(s.Time), Writer: v.Cfg.WriterID}
	if v.writesPages(s) {
		return t.commitPages(ctx, s, attempt)
	}
	pin, err := db.LocateAll(ctx, s) // a version-1 checkpoint's writer reads every entry
	defer pin.Release()
	if err != nil {
		return t.IOErr(err, sqlite3.IOERR_READ)
	}
	p := plan.Blocks(db.Key, s, t.Writes, attempt, v.recordTooLarge)
	err = t.publish(ctx, p.Rec, p.Uploads, p.Blocks, p.Next, p.Changes)
	if errors.Is(err, ErrConflict) {
		return t.lost()
	}
	return err
}

// writesPages reports whether a commit over s is written in format
// version 2: always on a version-2 database, and on a version-1 one unless
// Config.FormatVersion keeps it version 1.
func (e *Env) writesPages(s *format.Snapshot) bool {
	return e.Cfg.FormatVersion >= 2 || s.Version >= 2
}
