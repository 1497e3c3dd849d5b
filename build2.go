package s3vfs

import (
	"context"
	"fmt"
	"sync"
)

// build2 is build for a version-2 record: the snapshot of rec over its
// base checkpoint (of either version), read unless prev has it already.
func (db *database) build2(ctx context.Context, rec *record, prev *snapshot) (*snapshot, error) {
	var baseMap blockMap
	var baseOverlays map[int64]*overlay
	var inner *innerPages
	var fb *firstBlock
	switch {
	case rec.base == (ckptRef{}):
	case prev != nil && prev.base == rec.base:
		baseMap, baseOverlays, inner = prev.baseMap, prev.baseOverlays, prev.inner
	default:
		fb = db.prefetchFirstBlock(ctx, rec)
		done := db.prefetchFirstOverlay(ctx, rec.v2)
		pi := db.prefetchInner(ctx, rec.base)
		bs, blocks, err := db.readBaseEntries(ctx, rec.base)
		done()
		if err == nil && bs != rec.blockSize {
			err = fmt.Errorf("s3vfs: record %d of %s: %w: block size differs from its checkpoint", rec.n, db.key, errCorrupt)
		}
		if err == nil {
			baseMap, baseOverlays = baseOf(blocks)
			inner, err = pi.wait(ctx, db.key, &snapshot{blockSize: bs, blocks: baseMap, overlays: baseOverlays}, db.vfs.opts.hooks.log)
		}
		if err != nil {
			<-pi.done
			fb.drop()
			return nil, err
		}
	}
	s := snapshotOf2(rec.v2, rec.size, baseMap, baseOverlays)
	s.inner = inner
	fb.keep(db, s)
	return s, nil
}

// readBaseEntries reads checkpoint ref, of either format version: its
// block size and its entries as version-2 entries.
func (db *database) readBaseEntries(ctx context.Context, ref ckptRef) (int64, []entry2, error) {
	type base struct {
		blockSize int64
		blocks    []entry2
	}
	b, err := readImmutable(ctx, db, checkpointName(db.key, ref.n, ref.token), func(data []byte) (base, error) {
		n, token, bs, blocks, err := decodeAnyCheckpoint(data)
		if err == nil && (n != ref.n || token != ref.token) {
			err = fmt.Errorf("%w: it names another commit", errCorrupt)
		}
		if err != nil {
			return base{}, fmt.Errorf("s3vfs: checkpoint %d of %s: %w", ref.n, db.key, err)
		}
		return base{bs, blocks}, nil
	})
	return b.blockSize, b.blocks, err
}

// prefetchFirstOverlay fetches into the cache, while the base checkpoint
// is read, the overlay records of block 0 that rec names (block 0 is in
// every version-2 delta), so that SQLite's first read, the header, finds
// them with block 0 (firstblock.go). The returned function waits for the
// fetches; their errors show again when the block is read.
func (db *database) prefetchFirstOverlay(ctx context.Context, rec *record2) (wait func()) {
	var wg sync.WaitGroup
	if len(rec.delta) > 0 && rec.delta[0].idx == 0 && rec.delta[0].ov != nil && db.cache().limit > 0 {
		for _, r := range rec.delta[0].ov.recs {
			if r.n == rec.n {
				continue // the record itself, read already
			}
			wg.Go(func() { db.overlayRecord(ctx, r) })
		}
	}
	return wg.Wait
}
