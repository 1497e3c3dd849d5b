package s3vfs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Restore makes the database at key read again as it did at commit n, by
// publishing that version as a new commit on top of the newest one:
// nothing is rewritten, the history is kept, and a restore can itself be
// undone by restoring the commit before it. Commit n must be within the
// retention (see [VFS.History]). It returns the number of the new commit.
//
// Blocks the newest version shares with commit n are reused; the others
// are copied (read, checked, and written anew), because a commit may only
// use its parent's blocks and its own (docs/design.md, "Garbage
// collection"). Connections that have the database open see the restored
// version at their next transaction, like any other commit. A
// commit that lands meanwhile is retried over, as [VFS.Deserialize] does:
// after a growing, jittered pause, for up to a minute after the first lost
// race (or until ctx's deadline, if sooner).
func (v *VFS) Restore(ctx context.Context, key string, n uint64) (uint64, error) {
	if err := validateKey(key); err != nil {
		return 0, err
	}
	if err := v.requireSafeStore(ctx, key); err != nil {
		return 0, err
	}
	db := v.acquire(key)
	defer v.release(db)
	target, err := db.snapshotAt(ctx, n)
	if err != nil {
		return 0, err
	}

	token := newToken()
	var clock attemptClock
	var retry publishRetry
	var mu sync.Mutex
	copies := map[int64]blockRef{} // blocks this attempt copied; guarded by mu
	var uploaded []string          // guarded by mu
	fail := func(err error) (uint64, error) {
		v.removeOrphans(ctx, uploaded)
		return 0, fmt.Errorf("s3vfs: restore %s to commit %d: %w", key, n, err)
	}

	for {
		head, err := db.refresh(ctx, 0)
		if err != nil {
			return fail(err)
		}
		if head.blockSize != target.blockSize {
			return fail(fmt.Errorf("the block size changed from %d to %d", target.blockSize, head.blockSize))
		}
		next := head.n + 1

		changes := map[int64]blockRef{}
		var need []int64
		for idx, ref := range target.blocks.all() {
			if c, ok := copies[idx]; ok {
				ref = c
			}
			switch {
			case ref.isHole(), head.blocks.get(idx) == ref, ref.token == token:
				changes[idx] = ref
			default:
				need = append(need, idx)
			}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(v.opts.Concurrency)
		for _, idx := range need {
			g.Go(func() error {
				data, err := db.fetchBlock(gctx, target, idx)
				if err != nil {
					return err
				}
				ref := blockRef{commit: next, token: token, crc: checksum(data)}
				name := blockName(key, idx, ref)
				mu.Lock()
				uploaded = append(uploaded, name)
				mu.Unlock()
				if err := v.store.put(gctx, name, data); err != nil {
					return err
				}
				clock.touch()
				mu.Lock()
				copies[idx] = ref
				changes[idx] = ref
				mu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return fail(err)
		}

		blocks := blockMap{}.with(target.blocks.len(), changes)
		c := &checkpoint{n: next, token: token, blockSize: target.blockSize, fileSize: target.size}
		for idx, ref := range blocks.all() {
			c.blocks = append(c.blocks, entry{idx, ref})
		}
		cname := checkpointName(key, next, token)
		uploaded = append(uploaded, cname)
		if err := v.store.put(ctx, cname, c.encode()); err != nil {
			return fail(err)
		}
		clock.touch()
		if err := clock.check("restore", key); err != nil {
			return fail(err)
		}
		rec := &record{
			n: next, parent: head.n, token: token,
			blockSize: target.blockSize, fileSize: target.size,
			time: commitTime(head.time), writer: v.opts.WriterID,
			base: ckptRef{next, token},
		}
		start := time.Now()
		err = db.createRecord(ctx, rec)
		switch {
		case err == nil:
			v.stats.commits.Add(1)
			db.publish(&snapshot{
				n: next, token: token, time: rec.time,
				blockSize: rec.blockSize, size: rec.fileSize, blocks: blocks,
				base: rec.base, baseMap: blocks,
			}, start)
			return next, nil
		case !errors.Is(err, errConflict):
			// The outcome may be unknown: leave the objects to garbage
			// collection rather than delete what a commit may use.
			return 0, fmt.Errorf("s3vfs: restore %s to commit %d: %w", key, n, err)
		}
		// Lost to another commit: try again on top of it, after a pause
		// (publishretry.go). The copies made so far are kept and reused.
		v.stats.conflicts.Add(1)
		v.removeOrphans(ctx, []string{cname})
		uploaded = uploaded[:len(uploaded)-1]
		if err := retry.lostRace(ctx); err != nil {
			return fail(err)
		}
	}
}
