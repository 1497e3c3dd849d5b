package s3vfs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
	"golang.org/x/sync/errgroup"
)

// errConflict reports that another writer created the commit record first.
var errConflict = errors.New("s3vfs: another writer committed first")

// checkpointAfter is how many blocks a record's delta may list before the
// commit writes a new checkpoint instead: enough that small commits never
// checkpoint, few enough that a record stays small next to the database.
func checkpointAfter(nblocks int64) int {
	return 64 + int(nblocks/8)
}

// commit publishes the pending writes of f as commit f.snap.n+1: upload the
// changed blocks in parallel, then create the record conditionally. It
// returns only once the record exists (success), or another writer's
// record exists (SQLITE_BUSY), or it cannot tell (SQLITE_IOERR).
func (f *file) commit(ctx context.Context) error {
	db, s := f.db, f.view()
	v := db.vfs
	bs, size := s.blockSize, f.pendingSize
	newLen := nblocks(size, bs)

	// A block whose length changes with the file size is rewritten, so
	// every object is exactly as long as its block (only the last is short).
	for _, idx := range []int64{s.blocks.len() - 1, newLen - 1} {
		if idx >= 0 && idx < newLen && blockLen(idx, bs, size) != blockLen(idx, bs, s.size) {
			if _, err := f.pendingBlock(s, idx, false); err != nil {
				return vfs.SystemError(err, sqlite3.IOERR_READ)
			}
		}
	}

	n, token := s.n+1, newToken()
	type upload struct {
		name string
		data []byte
	}
	var uploads []upload // the changed blocks first, then any checkpoint
	changes := make(map[int64]blockRef, len(f.pending))
	for idx, buf := range f.pending {
		if idx >= newLen {
			continue
		}
		data := buf[:blockLen(idx, bs, size)]
		ref := blockRef{commit: n, token: token, crc: checksum(data)}
		changes[idx] = ref
		uploads = append(uploads, upload{blockName(db.key, idx, ref), data})
	}
	for idx := s.blocks.len(); idx < newLen; idx++ {
		if _, ok := changes[idx]; !ok {
			changes[idx] = blockRef{} // a hole: never written, reads as zeros
		}
	}

	rec := &record{
		n: n, parent: s.n, token: token,
		blockSize: bs, fileSize: size,
		time: time.Now(), writer: v.opts.WriterID,
		base:  s.base,
		delta: mergeEntries(s.delta, changes, newLen),
	}
	nBlockUploads := len(uploads)
	blocks := s.blocks.with(newLen, changes)
	baseMap := s.baseMap
	if len(rec.delta) > checkpointAfter(newLen) {
		c := &checkpoint{n: n, token: token, blockSize: bs, fileSize: size}
		for idx, ref := range blocks.all() {
			c.blocks = append(c.blocks, entry{idx, ref})
		}
		name := checkpointName(db.key, n, token)
		uploads = append(uploads, upload{name, c.encode()})
		rec.base, rec.delta, baseMap = ckptRef{n, token}, nil, blocks
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.opts.Concurrency)
	for _, u := range uploads {
		g.Go(func() error { return v.store.put(gctx, u.name, u.data) })
	}
	orphans := func() []string {
		names := make([]string, len(uploads))
		for i, u := range uploads {
			names[i] = u.name
		}
		return names
	}
	if err := g.Wait(); err != nil {
		v.removeOrphans(ctx, orphans())
		return vfs.SystemError(err, sqlite3.IOERR_WRITE)
	}

	start := time.Now()
	switch err := db.createRecord(ctx, rec); {
	case errors.Is(err, errConflict):
		v.stats.conflicts.Add(1)
		db.distrust()
		v.removeOrphans(ctx, orphans())
		return sqlite3.BUSY_SNAPSHOT
	case err != nil:
		return vfs.SystemError(err, sqlite3.IOERR_WRITE)
	}

	v.stats.commits.Add(1)
	// The new blocks are what the next transaction reads first.
	for _, u := range uploads[:nBlockUploads] {
		db.cache().add(u.name, u.data)
	}
	next := &snapshot{
		n: n, token: token, time: rec.time,
		blockSize: bs, size: size, blocks: blocks,
		base: rec.base, baseMap: baseMap, delta: rec.delta,
	}
	db.publish(next, start)
	f.snap = next
	f.discard()
	return nil
}

// createRecord is the commit point: the conditional create of record n.
// A failed or ambiguous create is settled by reading the record back: a
// record carrying our token is our commit (an earlier attempt whose answer
// was lost), any other record is a lost race.
func (db *database) createRecord(ctx context.Context, rec *record) error {
	st := &db.vfs.store
	name := recordName(db.key, rec.n)
	data := rec.encode()
	// Once the create may have been sent, finish settling it even if the
	// statement is interrupted: its outcome must be known.
	ctx = context.WithoutCancel(ctx)
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt*attempt) * 50 * time.Millisecond)
		}
		if err = st.create(ctx, name, data); err == nil {
			return nil
		}
		got, gerr := st.get(ctx, name)
		switch {
		case gerr == nil:
			if r, derr := decodeRecord(got); derr == nil && r.token == rec.token {
				return nil
			}
			return errConflict
		case errors.Is(gerr, ErrNotFound):
			continue // nothing there yet (409, or a failed request): try again
		default:
			return fmt.Errorf("s3vfs: commit %d of %s: outcome unknown: %w (and reading it back: %v)", rec.n, db.key, err, gerr)
		}
	}
	return fmt.Errorf("s3vfs: commit %d of %s failed: %w", rec.n, db.key, err)
}

// removeOrphans deletes, best effort, the objects of a commit attempt that
// was not published. Whatever remains is removed later by garbage collection.
func (v *VFS) removeOrphans(ctx context.Context, names []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = v.store.remove(ctx, names)
}
