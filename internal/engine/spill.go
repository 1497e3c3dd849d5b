package engine

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
)

// A transaction's changed blocks are held in memory until they exceed
// Config.WriteBuffer; then every full block is uploaded early, under a
// fresh token of the commit attempt, and only its reference is kept. The
// objects are unpublished until the commit record names them, so a
// rollback or a lost race leaves them as orphans, which are deleted
// best-effort (and by garbage collection otherwise). This bounds the memory
// of a transaction of any size.

// spill uploads the full pending blocks of t and drops them from memory.
func (t *Txn) spill(ctx context.Context) error {
	s := t.Snap
	v := t.db.Env
	bs, start := s.BlockSize, time.Now()
	type early struct {
		idx  int64
		ref  format.BlockRef
		data []byte
	}
	var ups []early
	for idx, buf := range t.Pending {
		if (idx+1)*bs > t.PendingSize {
			continue // the partial last block stays in memory
		}
		token := t.Early.TokenFor(idx, s.N+1, start, NewToken)
		ups = append(ups, early{idx, format.BlockRef{Commit: t.Early.Commit, Token: token, CRC: format.Checksum(buf)}, buf})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.Cfg.Concurrency)
	for _, u := range ups {
		name := format.BlockName(t.db.Key, u.idx, u.ref)
		t.Early.Own(name)
		g.Go(func() error { return v.Store.Put(gctx, name, u.data) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	v.Counts.EarlyBlocks.Add(int64(len(ups)))
	if t.Spilled == nil {
		t.Spilled, t.SpilledPages = map[int64]format.BlockRef{}, map[int64]format.PageList{}
	}
	for _, u := range ups {
		t.db.Cache().Add(format.BlockName(t.db.Key, u.idx, u.ref), u.data)
		t.Spilled[u.idx] = u.ref
		if pages, ok := t.changedInBlock(u.idx, u.data); ok {
			t.SpilledPages[u.idx] = pages
		} else {
			delete(t.SpilledPages, u.idx)
		}
		delete(t.Pending, u.idx)
	}
	return nil
}

// changedInBlock returns the pages, of t.SpillUnit bytes, that data, the
// new bytes of block idx, changes over the view's bytes before the writes,
// when those are at hand (the transactions queued ahead, the cache): false
// when they are not, or the page size is not known. The unit is SQLite's
// page size as the view had it before the writes.
func (t *Txn) changedInBlock(idx int64, data []byte) (format.PageList, bool) {
	s := t.Snap
	if s == nil {
		return nil, false
	}
	bs := s.BlockSize
	if t.SpillUnit == 0 {
		block0 := t.committedBefore(0)
		if block0 == nil {
			return nil, false
		}
		t.SpillUnit = plan.PageUnit(bs, block0)
	}
	old := t.committedBefore(idx)
	if old == nil {
		return nil, false
	}
	return plan.ChangedPages(idx, bs, t.SpillUnit, data, old, format.BlockLen(idx, bs, t.Writes.Live(s.Size))), true
}

// readSpilled returns the bytes of a block uploaded early by spill.
func (t *Txn) readSpilled(ctx context.Context, idx int64, ref format.BlockRef, bs int64) ([]byte, error) {
	v := t.db.Env
	name := format.BlockName(t.db.Key, idx, ref)
	if data, ok := t.db.Cache().Get(name); ok {
		return data, nil
	}
	data, err := v.Store.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != bs || format.Checksum(data) != ref.CRC {
		return nil, vfs.SystemError(fmt.Errorf("s3vfs: uncommitted block %d of %s (object %s) is corrupt", idx, t.db.Key, name), sqlite3.IOERR_DATA)
	}
	return data, nil
}

// unspill moves a spilled block back into memory (to be changed again, or
// cut by a truncation); its early object becomes an orphan.
func (t *Txn) unspill(ctx context.Context, idx int64, ref format.BlockRef, bs int64, load bool) ([]byte, error) {
	buf := make([]byte, bs)
	if load {
		data, err := t.readSpilled(ctx, idx, ref, bs)
		if err != nil {
			return nil, err
		}
		copy(buf, data)
	}
	t.DropSpilled(idx)
	t.Pending[idx] = buf
	return buf, nil
}

// releaseEarly deletes, best effort, every object the transaction
// uploaded that no published record names, except the blocks keep names
// (those a record just published sets), and forgets the early blocks.
func (t *Txn) releaseEarly(ctx context.Context, keep map[int64]format.BlockRef) {
	if orphans := t.Early.Release(t.db.Key, keep); len(orphans) > 0 {
		t.db.Env.RemoveOrphans(ctx, orphans)
	}
	clear(t.Spilled)
	clear(t.SpilledPages)
}

// unchanged reports whether the pending writes of t leave snapshot s as it
// is. SQLite syncs the database after rolling back a transaction whose
// pages reached the file (a transaction larger than its page cache, or
// journal mode OFF): the pages it writes back restore the snapshot, and
// publishing them as a commit would only add history, or fail with
// SQLITE_BUSY on a ROLLBACK. The first changed block ends the check, so a
// real commit pays one comparison of a block it usually has in the cache.
func (t *Txn) unchanged(ctx context.Context, s *format.Snapshot) (bool, error) {
	if !t.Writes.SameShape(s.Size) {
		return false, nil
	}
	for idx, buf := range t.Pending {
		if idx >= s.Blocks.Len() {
			return false, nil
		}
		data, err := t.db.ReadBlock(ctx, s, idx)
		if err != nil {
			return false, err
		}
		mine := buf[:len(data)]
		if idx == 0 && len(data) >= 100 {
			// Page 1 as SQLite read it carried the served change counter.
			stored := bytes.Clone(data)
			OverlayHeader(stored, 0, s.N, data)
			if t.chain.epoch != 0 && !t.Encrypted(ctx) {
				t.chain.serveCounter(stored, 0)
			}
			data = stored
		}
		if !bytes.Equal(mine, data) {
			return false, nil
		}
	}
	return true, nil
}
