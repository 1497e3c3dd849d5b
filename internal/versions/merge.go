package versions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
	"github.com/s3vfs/s3vfs/internal/store"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// ErrMergeConflict is the root's ErrMergeConflict.
var ErrMergeConflict = errors.New("s3vfs: merge conflict")

// Merge is the root's VFS.Merge, whose doc comment is the contract.
func (v *Ops) Merge(ctx context.Context, branch, into string) (uint64, error) {
	fail := func(err error) (uint64, error) {
		return 0, fmt.Errorf("s3vfs: merge %s into %s: %w", branch, into, err)
	}
	if err := v.readyToWrite(ctx, into, branch, into, true); err != nil {
		return fail(err)
	}
	defer v.Env.StoreCheckSettled(ctx)
	bdb := v.acquire(branch)
	defer v.release(bdb)
	theirs, err := bdb.Refresh(ctx, 0)
	if err != nil {
		return fail(err)
	}
	switch {
	case theirs.Empty():
		return fail(fmt.Errorf("%w: s3://%s/%s", engine.ErrNoDatabase, v.Env.Store.Bucket, branch))
	case len(theirs.Lineage) == 0:
		return fail(fmt.Errorf("%s is not a branch: only a branch merges into the database it was made from", branch))
	case theirs.Lineage[0].Key != into:
		return fail(fmt.Errorf("%s is a branch of %s: merge it into that", branch, theirs.Lineage[0].Key))
	}
	sdb := v.acquire(into)
	defer v.release(sdb)
	base, err := sdb.branchPoint(ctx, theirs.Lineage[0].Commit)
	if err != nil {
		return fail(err)
	}
	// A merge compares entries of the three versions at any block.
	pinTheirs, errTheirs := bdb.LocateAll(ctx, theirs)
	defer pinTheirs.Release()
	pinBase, errBase := sdb.LocateAll(ctx, base)
	defer pinBase.Release()
	if err := errors.Join(errTheirs, errBase); err != nil {
		return fail(err)
	}
	m := &pageMerge{into: sdb, branch: bdb, base: base, theirs: theirs}
	if m.changed, err = m.diff(ctx, bdb, theirs); err != nil {
		return fail(err)
	}
	n, err := m.publish(ctx)
	if err != nil {
		return fail(err)
	}
	return n, nil
}

// publish commits the merge over the newest commit of the database merged
// into, planned as any version-2 commit (a small merge is one PUT), and
// again over each commit that lands meanwhile, with that commit's pages
// checked, after a growing pause (publishretry.go).
func (m *pageMerge) publish(ctx context.Context) (uint64, error) {
	db := m.into
	v := db.vfs
	var retry PublishRetry
	for {
		head, err := db.Refresh(ctx, 0)
		if err != nil {
			return 0, err
		}
		p, err := m.plan(ctx, head)
		if err != nil {
			return 0, err
		}
		if err := v.Env.PutAll(ctx, p.Uploads); err != nil {
			v.Env.RemoveOrphans(context.WithoutCancel(ctx), engine.UploadNames(p.Uploads))
			return 0, err
		}
		start := time.Now()
		switch err := db.CreateRecord(ctx, p.Rec.WithSize(len(p.Encoded))); {
		case err == nil:
			v.Env.Counts.Commits.Add(1)
			for _, u := range p.Uploads[:p.Blocks] {
				db.Cache().Add(u.Name, u.Data)
			}
			db.Known.Publish(p.Next, start)
			return p.Rec.N, nil
		case !errors.Is(err, engine.ErrConflict):
			return 0, err // the outcome is unknown: what it uploaded is left to garbage collection
		}
		v.Env.Counts.Conflicts.Add(1)
		v.Env.RemoveOrphans(ctx, engine.UploadNames(p.Uploads))
		if err := retry.LostRace(ctx); err != nil {
			return 0, err
		}
	}
}

// plan plans the merge as a commit over head: the blocks the branch's
// pages fall in, as head's bytes with those pages over them, written by a
// transaction; or ErrMergeConflict if head changed some of those pages
// too, to other bytes, or made an index the branch's rows would miss. It
// holds head's whole map while it plans.
func (m *pageMerge) plan(ctx context.Context, head *format.Snapshot) (plan.PagePlan, error) {
	if head.Empty() {
		return plan.PagePlan{}, fmt.Errorf("%w: s3://%s/%s was removed", engine.ErrNoDatabase, m.into.Env.Store.Bucket, m.into.Key)
	}
	pin, err := m.into.LocateAll(ctx, head)
	defer pin.Release()
	if err != nil {
		return plan.PagePlan{}, err
	}
	if err := m.refuseConflicts(ctx, head); err != nil {
		return plan.PagePlan{}, err
	}
	w, committed, err := m.mergedWrites(ctx, head)
	if err != nil {
		return plan.PagePlan{}, err
	}
	return m.planCommit(head, w, committed)
}

// refuseConflicts returns ErrMergeConflict if head changed some of the
// pages the branch changed, to other bytes, or made an index the branch's
// rows would miss; head's map must be held.
func (m *pageMerge) refuseConflicts(ctx context.Context, head *format.Snapshot) error {
	ours, err := m.diff(ctx, m.into, head)
	if err != nil {
		return err
	}
	conflicts, err := m.conflicts(ctx, head, ours)
	if err != nil {
		return err
	}
	if len(conflicts) > 0 {
		return m.conflictError(ctx, head, conflicts)
	}
	if err := m.schemaConflict(ctx, head, ours); err != nil {
		return err
	}
	return m.freedConflict(ctx, head, ours)
}

// mergedWrites returns the writes of the merge over head (the blocks the
// branch's pages fall in, as head's bytes with those pages over them) and
// the committed bytes of those blocks and of block 0, as a transaction
// over head would have read them; head's map must be held.
func (m *pageMerge) mergedWrites(ctx context.Context, head *format.Snapshot) (tx.Writes, map[int64][]byte, error) {
	size := head.Size
	if m.theirs.Size != m.base.Size {
		size = m.theirs.Size
	}
	bs := head.BlockSize
	w := tx.Writes{Pending: map[int64][]byte{}, PendingSize: size, Floor: min(head.Size, size), Dirty: true}
	committed := map[int64][]byte{}
	var err error
	for p := range m.changed.All() {
		idx := p * m.unit / bs
		if _, ok := w.Pending[idx]; ok || idx >= format.NBlocks(size, bs) {
			continue
		}
		if w.Pending[idx], err = m.mergedBlock(ctx, head, idx, format.BlockLen(idx, bs, size)); err != nil {
			return tx.Writes{}, nil, err
		}
		if committed[idx], err = blockIfAny(ctx, m.into, head, idx); err != nil {
			return tx.Writes{}, nil, err
		}
	}
	if _, ok := committed[0]; !ok && head.Size > 0 {
		if committed[0], err = m.into.ReadBlock(ctx, head, 0); err != nil {
			return tx.Writes{}, nil, err
		}
	}
	return w, committed, nil
}

// planCommit plans the commit over head of the merge's writes w, over the
// committed bytes it read; head's map must be held.
func (m *pageMerge) planCommit(head *format.Snapshot, w tx.Writes, committed map[int64][]byte) (plan.PagePlan, error) {
	v := m.into.vfs
	a := plan.Attempt{Token: engine.NewToken(), Time: engine.CommitTime(head.Time), Writer: v.Env.Cfg.WriterID,
		Made: format.Made{By: format.ByMerge, Commit: m.theirs.N, Key: m.branch.Key}}
	in := plan.Inputs{Committed: committed, Bounds: plan.DefaultFoldBounds(head.BlockSize), TooLarge: v.Env.RecordSizeTooLarge,
		SegmentShift: v.Env.SegmentShift(), MapPinned: true} // head's segments, pinned by plan
	p := plan.Pages(m.into.Key, head, w, in, a)
	if p.NeedsWholeMap {
		return plan.PagePlan{}, engine.ErrMapNotWhole
	}
	if p.Next.Base.N == p.Rec.N && p.Next.CheckpointVersion >= 3 {
		// Its map held in segments, within the cache's bound.
		var err error
		if p.Next, err = m.into.OverOwnCheckpoint(p.Next, p.Uploads, format.CheckpointName(m.into.Key, p.Rec.N, a.Token)); err != nil {
			return plan.PagePlan{}, err
		}
	}
	return p, nil
}

// branchPoint returns version n of db, which a branch was made from: kept
// by garbage collection while the branch exists, readable or not by the
// retention rule.
func (db *database) branchPoint(ctx context.Context, n uint64) (*format.Snapshot, error) {
	rec, err := db.ReadRecord(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: commit %d of %s, which the branch was made from, is gone", engine.ErrNoCommit, n, db.Key)
	}
	if err != nil {
		return nil, err
	}
	return db.Build(ctx, rec, nil)
}

// pageMerge is one Merge: the version the branch was made from, the branch's
// head, and the pages the branch changed since.
type pageMerge struct {
	into, branch *database
	base         *format.Snapshot
	theirs       *format.Snapshot
	unit         int64           // the page unit pages are compared in
	changed      format.PageList // the pages theirs changed since base
}
