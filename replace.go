package s3vfs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Deserialize and Restore publish a version that replaces whatever is at
// the key: one commit with a full checkpoint, made by one attempt token
// however many tries it takes (a try lost to another commit is made again
// on top of it, publishretry.go). The blocks are uploaded once, under the
// commit number of the first try; each try writes its own checkpoint.

// replacement is one Deserialize or Restore. It is safe for concurrent
// use by the uploads of the attempt.
type replacement struct {
	op        string // "deserialize" or "restore", for errors
	token     uint64
	blockSize int64
	size      int64        // the file size of the version
	clock     attemptClock // garbage collection spares a steady attempt (retention.go)

	mu       sync.Mutex
	uploaded []string // the objects written, deleted if nothing is published; guarded by mu
}

// put uploads one object of the attempt.
func (a *replacement) put(ctx context.Context, v *VFS, name string, data []byte) error {
	a.mu.Lock()
	a.uploaded = append(a.uploaded, name)
	a.mu.Unlock()
	if err := v.store.put(ctx, name, data); err != nil {
		return err
	}
	a.clock.touch()
	return nil
}

// remove deletes, best effort, an object of the attempt no try will use.
func (a *replacement) remove(ctx context.Context, v *VFS, name string) {
	v.removeOrphans(ctx, []string{name})
	a.mu.Lock()
	defer a.mu.Unlock()
	if i := slices.Index(a.uploaded, name); i >= 0 {
		a.uploaded = slices.Delete(a.uploaded, i, i+1)
	}
}

// abandon deletes, best effort, every object of an attempt that will not
// be published, and returns err.
func (a *replacement) abandon(ctx context.Context, v *VFS, err error) error {
	a.mu.Lock()
	names := slices.Clone(a.uploaded)
	a.mu.Unlock()
	v.removeOrphans(ctx, names)
	return err
}

// planReplacement plans the commit of version blocks over head: record
// head.n+1, with an empty delta over the checkpoint it names, and that
// checkpoint, to upload first. In format version 2 (format2) the record is
// a version-2 record that lists every page of the file as changed and, as
// every version-2 record does, block 0 in its delta; the checkpoint stays
// a version-1 one, since a replacement's blocks have no overlay. A
// replacement owes nothing to the map it replaces, so its format is the
// writer's setting (Options.FormatVersion) whatever the head's: one set
// to version 1 can turn a version-2 database back into version 1.
func planReplacement(key string, head *snapshot, a *replacement, blocks blockMap, at commitAttempt, format2 bool) (*record, upload) {
	n := head.n + 1
	c := newCheckpoint(n, a.token, a.blockSize, a.size, blocks)
	ckpt := upload{checkpointName(key, n, a.token), c.encode()}
	if format2 {
		rec := replacementRecord2(n, head.n, a, blocks, at)
		return rec.header(len(rec.encode())), ckpt
	}
	rec := &record{
		n: n, parent: head.n, token: a.token,
		blockSize: a.blockSize, fileSize: a.size,
		time: at.time, writer: at.writer,
		base: ckptRef{n, a.token},
	}
	return rec, ckpt
}

// replacementRecord2 is the version-2 record of replacement a as commit n
// over parent: every page changed, nothing inline, block 0 in the delta.
// Its page unit is the block size: with every page listed, a finer unit
// would say nothing more.
func replacementRecord2(n, parent uint64, a *replacement, blocks blockMap, at commitAttempt) *record2 {
	rec := &record2{
		n: n, parent: parent, token: a.token,
		blockSize: a.blockSize, fileSize: a.size,
		time: at.time, writer: at.writer,
		base: ckptRef{n, a.token},
		unit: a.blockSize,
	}
	if a.size > 0 {
		rec.changed = pageList{}.addRun(0, npages(a.size, rec.unit))
		rec.delta = []entry2{{idx: 0, ref: blocks.get(0)}}
	}
	return rec
}

// replacementSnapshot returns the snapshot a replacement's record rec
// makes over its own checkpoint, whose map is blocks.
func (rec *record) replacementSnapshot(blocks blockMap) *snapshot {
	if rec.v2 != nil {
		return snapshotOf2(rec.v2, rec.size, blocks, nil)
	}
	return rec.snapshot(blocks, blocks)
}

// publishReplacement publishes a over head, and over every commit that
// lands meanwhile, until it is published, fails, or has lost races for too
// long (publishRetry). blocksOver returns the block map of the version as
// a commit over a given head may name it. An error leaves nothing of the
// attempt behind, except when the outcome of the create is unknown (the
// record may exist and name the objects): garbage collection removes them
// then if they are not used.
func (db *database) publishReplacement(ctx context.Context, a *replacement, head *snapshot,
	blocksOver func(ctx context.Context, head *snapshot) (blockMap, error)) (uint64, error) {
	v := db.vfs
	var retry publishRetry
	for {
		blocks, err := blocksOver(ctx, head)
		if err != nil {
			return 0, a.abandon(ctx, v, err)
		}
		at := commitAttempt{token: a.token, time: commitTime(head.time), writer: v.opts.WriterID}
		rec, ckpt := planReplacement(db.key, head, a, blocks, at, v.opts.FormatVersion >= 2)
		if err := a.put(ctx, v, ckpt.name, ckpt.data); err != nil {
			return 0, a.abandon(ctx, v, err)
		}
		if err := a.clock.check(a.op, db.key); err != nil {
			return 0, a.abandon(ctx, v, err)
		}
		start := time.Now()
		err = db.createRecord(ctx, rec)
		switch {
		case err == nil:
			v.stats.commits.Add(1)
			db.known.publish(rec.replacementSnapshot(blocks), start)
			return rec.n, nil
		case !errors.Is(err, errConflict):
			// The outcome may be unknown: leave the objects to garbage
			// collection rather than delete what a commit may use.
			return 0, err
		}
		// Lost to another commit: try again on top of it, after a pause
		// (publishretry.go). The blocks uploaded so far are kept.
		v.stats.conflicts.Add(1)
		a.remove(ctx, v, ckpt.name)
		if err := retry.lostRace(ctx); err != nil {
			return 0, a.abandon(ctx, v, fmt.Errorf("s3vfs: %s %s: %w", a.op, db.key, err))
		}
		if head, err = db.refresh(ctx, 0); err != nil {
			return 0, a.abandon(ctx, v, err)
		}
	}
}
