package versions

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
)

// Restore is the root's VFS.Restore, whose doc comment is the contract.
func (v *Ops) Restore(ctx context.Context, key string, n uint64) (uint64, error) {
	db, release, err := v.acquireToReplace(ctx, key)
	if err != nil {
		return 0, err
	}
	defer release()
	target, err := db.SnapshotAt(ctx, n)
	if err != nil {
		return 0, err
	}

	head, err := db.Refresh(ctx, 0)
	if err != nil {
		return 0, fmt.Errorf("s3vfs: restore %s to commit %d: %w", key, n, err)
	}
	a := &replacement{op: "restore", made: format.Made{By: format.ByRestore, Commit: n},
		token: engine.NewToken(), blockSize: target.BlockSize, size: target.Size}
	if target.Size > 0 && v.Env.Cfg.FormatVersion >= 2 {
		block0, err := db.ReadBlock(ctx, target, 0)
		if err != nil {
			return 0, fmt.Errorf("s3vfs: restore %s to commit %d: %w", key, n, db.CollectedWhileRead(target, err))
		}
		a.unit, _ = format.InnerUnit(target.BlockSize, block0)
	}
	copies := map[int64]format.BlockRef{} // the blocks this attempt copied, reused if a try loses the race
	next, err := db.publishReplacement(ctx, a, head, func(ctx context.Context, head *format.Snapshot) (format.BlockMap, error) {
		if head.BlockSize != target.BlockSize {
			return format.BlockMap{}, fmt.Errorf("the block size changed from %d to %d", target.BlockSize, head.BlockSize)
		}
		// reusable compares their entries at every block.
		pinTarget, err := db.LocateAll(ctx, target)
		defer pinTarget.Release()
		if err != nil {
			return format.BlockMap{}, db.CollectedWhileRead(target, err)
		}
		pinHead, err := db.LocateAll(ctx, head)
		defer pinHead.Release()
		if err != nil {
			return format.BlockMap{}, err
		}
		changes, need := reusable(target, head, copies, a.token)
		copied, err := db.copyBlocks(ctx, a, target, need, head.N+1)
		if err != nil {
			return format.BlockMap{}, err
		}
		for idx, ref := range copied {
			copies[idx] = ref
			changes[idx] = ref
		}
		return format.BlockMap{}.With(target.Blocks.Len(), changes), nil
	})
	if err != nil {
		return 0, fmt.Errorf("s3vfs: restore %s to commit %d: %w", key, n, err)
	}
	return next, nil
}

// copyBlocks copies the blocks need of target in parallel, as blocks of
// commit n of attempt a, and returns where they are now.
func (db *database) copyBlocks(ctx context.Context, a *replacement, target *format.Snapshot, need []int64, n uint64) (map[int64]format.BlockRef, error) {
	var mu sync.Mutex
	copied := make(map[int64]format.BlockRef, len(need)) // guarded by mu
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(db.Env.Cfg.Concurrency)
	for _, idx := range need {
		g.Go(func() error {
			data, err := db.ReadBlockForStream(gctx, target, idx)
			if err != nil {
				return db.CollectedWhileRead(target, err)
			}
			ref := format.BlockRef{Commit: n, Token: a.token, CRC: format.Checksum(data)}
			a.noteBlock(format.BlockName(db.Key, idx, ref), idx, data)
			if err := a.put(gctx, db.vfs, format.BlockName(db.Key, idx, ref), data); err != nil {
				return err
			}
			mu.Lock()
			copied[idx] = ref
			mu.Unlock()
			return nil
		})
	}
	return copied, g.Wait()
}

// reusable splits the blocks of target into those a commit over head that
// restores target may name as they are (holes, blocks head has too, and
// copies this attempt made, in copies) and those it must copy, in need.
func reusable(target, head *format.Snapshot, copies map[int64]format.BlockRef, token uint64) (changes map[int64]format.BlockRef, need []int64) {
	changes = map[int64]format.BlockRef{}
	for idx, ref := range target.Blocks.All() {
		c, copied := copies[idx]
		if copied {
			ref = c
		}
		switch {
		case !copied && target.Overlay(idx) != nil:
			// Read through an overlay: copied as the block it reads as.
			need = append(need, idx)
		case ref.IsHole(), head.Blocks.Get(idx) == ref, ref.Token == token:
			changes[idx] = ref
		default:
			need = append(need, idx)
		}
	}
	return changes, need
}
