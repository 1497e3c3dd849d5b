package engine

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// commitPages is commit in format version 2 (docs/format.md): planned by
// plan.Pages from the pending blocks and the committed bytes the cache
// holds, then published as any commit is. A small transaction uploads
// nothing: its record carries its pages. A commit that loses the race to
// another writer is rebased onto the newer head when it may be (rebase.go),
// up to maxRebases times or for maxRebaseTime, whichever is longer, and
// fails with SQLITE_BUSY otherwise.
func (t *Txn) commitPages(ctx context.Context, s *format.Snapshot, a plan.Attempt) error {
	v := t.db.Env
	var lostFirst time.Time
	for rebases := 0; ; rebases++ {
		p, err := t.planPages(ctx, s, a)
		if err != nil {
			return t.IOErr(err, sqlite3.IOERR_READ)
		}
		// A commit over a snapshot older than one the process knows would
		// lose: it is rebased without trying.
		sent := t.db.Known.Newer(s) == s
		if sent {
			err = t.publish(ctx, p.Rec.WithSize(len(p.Encoded)), p.Uploads, p.Blocks, p.Next, p.Changes)
			if !errors.Is(err, ErrConflict) {
				return err
			}
		}
		if lostFirst.IsZero() {
			lostFirst = time.Now()
		}
		if rebases >= maxRebases && time.Since(lostFirst) >= maxRebaseTime {
			return t.lost()
		}
		head, err := t.rebase(ctx, s, p.Rec, sent)
		if err != nil || head == nil {
			// An error reading what the others committed leaves this
			// commit unpublished all the same: SQLITE_BUSY, to retry.
			return t.lost()
		}
		if err := t.To(tx.Rebased); err != nil {
			return t.IOErr(err, sqlite3.IOERR_WRITE)
		}
		v.Counts.Rebases.Add(1)
		s = head
		if t.absorb != nil {
			if err := t.absorb(ctx, head); err != nil {
				return t.IOErr(err, sqlite3.IOERR_READ)
			}
		}
		a = plan.Attempt{Token: NewToken(), Time: CommitTime(head.Time), Writer: a.Writer}
	}
}

// planPages plans the commit of t's writes over s, and caches what the next
// reads need: the record, and the blocks it carries pages of.
func (t *Txn) planPages(ctx context.Context, s *format.Snapshot, a plan.Attempt) (plan.PagePlan, error) {
	db := t.db
	// The entries the plan reads: the pending blocks' and block 0's.
	pin, err := db.Locate(ctx, s, append(slices.Collect(maps.Keys(t.Pending)), 0)...)
	defer pin.Release()
	if err != nil {
		return plan.PagePlan{}, err
	}
	committed, err := t.committedBytes(ctx, s)
	if err != nil {
		return plan.PagePlan{}, err
	}
	in := plan.Inputs{Committed: committed, Bounds: plan.DefaultFoldBounds(s.BlockSize), TooLarge: db.Env.RecordSizeTooLarge,
		SegmentShift: db.Env.SegmentShift()}
	p := plan.Pages(db.Key, s, t.Writes, in, a)
	if p.NeedsWholeMap {
		// A checkpoint is due: its writer reads every entry.
		all, err := db.LocateAll(ctx, s)
		pin.Join(all)
		if err != nil {
			return plan.PagePlan{}, err
		}
		in.MapPinned = true
		if p = plan.Pages(db.Key, s, t.Writes, in, a); p.NeedsWholeMap {
			return plan.PagePlan{}, ErrMapNotWhole
		}
	}
	if p.Next.Base.N == p.Rec.N {
		// The inner pages of the checkpoint compare every block of s
		// (pinned above when the map is in segments).
		prev, err := db.InnerWhole(ctx, s.Inner)
		if err != nil {
			return plan.PagePlan{}, err
		}
		p = plan.WithInner(db.Key, p, prev, t.innerPagesFor(ctx, s, p.Next, committed, prev), db.Env.Cfg.Hooks.InnerFrontRead())
		if p.Next.CheckpointVersion >= 3 {
			if p.Next, err = db.OverOwnCheckpoint(p.Next, p.Uploads, format.CheckpointName(db.Key, p.Rec.N, a.Token)); err != nil {
				return plan.PagePlan{}, err
			}
		}
	}
	// Cached before the create: if the commit loses, no map names them.
	// A pending block is cached as a copy: a rebase after a lost race
	// writes other commits' pages into the transaction's own.
	db.Cache().Add(format.OverlayRecordID(db.Key, p.Rec.N, p.Rec.Token), p.Encoded)
	for idx, ov := range p.Next.Overlays {
		if buf, ok := t.Pending[idx]; ok && len(ov.Recs) > 0 && ov.Recs[len(ov.Recs)-1].N == p.Rec.N {
			if data := buf[:format.BlockLen(idx, s.BlockSize, p.Rec.FileSize)]; format.Checksum(data) == ov.CRC {
				db.Cache().Add(format.OverlaidID(db.Key, p.Next.Lineage, p.Next.Entry(idx)), bytes.Clone(data))
			}
		}
	}
	return p, nil
}

// innerPagesFor returns where the inner pages of next, the checkpoint
// this commit writes, may come from besides the previous checkpoint's:
// the blocks t wrote, the blocks the cache holds, and the blocks that held
// inner pages before and changed since, read now (in parallel; one that
// fails to read is left out). Interior pages rarely move, but leaves
// around them do: without the last, every checkpoint written by a writer
// that does not hold the block would lose them.
func (t *Txn) innerPagesFor(ctx context.Context, s, next *format.Snapshot, committed map[int64][]byte, prev *format.InnerPages) plan.InnerSource {
	db := t.db
	block0 := committed[0]
	if buf, ok := t.Pending[0]; ok {
		block0 = buf
	}
	atHand := func(idx int64, id string) []byte {
		if buf, ok := t.Pending[idx]; ok {
			return buf
		}
		data, _ := db.Cache().Get(id)
		return data
	}
	need := plan.InnerBlocksToRead(db.Key, s, next, prev, func(idx int64, id string) bool { return atHand(idx, id) != nil })
	read := make(map[int64][]byte, len(need))
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(db.Env.Cfg.Concurrency)
	for _, idx := range need {
		g.Go(func() error {
			if data, err := db.ReadBlock(ctx, s, idx); err == nil {
				mu.Lock()
				read[idx] = data
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	return plan.InnerSource{
		Logf:   db.Env.Cfg.Hooks.Log,
		Block0: block0,
		Bytes: func(idx int64, id string) []byte {
			if data := atHand(idx, id); data != nil {
				return data
			}
			return read[idx]
		},
	}
}

// committedBytes returns, for plan.Pages, the committed bytes of the
// pending blocks of t that the cache holds (a block SQLite overwrote
// whole may not be there: every page of it then counts as changed), and
// of block 0, read if need be: its header gives the page size. Their
// entries are pinned by the caller.
func (t *Txn) committedBytes(ctx context.Context, s *format.Snapshot) (map[int64][]byte, error) {
	db := t.db
	out := map[int64][]byte{}
	for idx := range t.Pending {
		if idx >= s.Blocks.Len() {
			continue
		}
		name, ok := s.BlockID(db.Key, idx)
		if !ok {
			out[idx] = make([]byte, format.BlockLen(idx, s.BlockSize, s.Size)) // a hole
			continue
		}
		if data, ok := db.Cache().Get(name); ok {
			out[idx] = data
		}
	}
	if _, ok := out[0]; !ok && s.Size > 0 {
		data, err := db.ReadBlock(ctx, s, 0)
		if err != nil {
			return nil, err
		}
		out[0] = data
	}
	return out, nil
}
