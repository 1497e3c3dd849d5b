package s3vfs

import (
	"context"
	"fmt"
	"sync"

	"github.com/s3vfs/s3vfs/internal/format"
)

// build2 is build for a version-2 record: the snapshot of rec over its
// base checkpoint (of either version), read unless prev has it already.
func (db *database) build2(ctx context.Context, rec *format.Record, prev *snapshot) (*snapshot, error) {
	var baseMap format.BlockMap
	var baseOverlays map[int64]*format.Overlay
	var inner *innerSet
	var fb *firstBlock
	switch {
	case rec.Base == (format.CheckpointRef{}):
	case prev != nil && prev.base == rec.Base:
		baseMap, baseOverlays, inner = prev.baseMap, prev.baseOverlays, prev.inner
	default:
		fb = db.prefetchFirstBlock(ctx, rec)
		done := db.prefetchFirstOverlay(ctx, rec.V2)
		pi := db.prefetchInner(ctx, rec.V2.Lineage, rec.Base)
		bs, blocks, err := db.readBaseEntries(ctx, rec.V2.Lineage, rec.Base)
		done()
		if err == nil && bs != rec.BlockSize {
			err = fmt.Errorf("s3vfs: record %d of %s: %w: block size differs from its checkpoint", rec.N, db.key, format.ErrCorrupt)
		}
		if err == nil {
			baseMap, baseOverlays = baseOf(blocks)
			c := &snapshot{blockSize: bs, blocks: baseMap, overlays: baseOverlays, lineage: rec.V2.Lineage}
			inner, err = pi.wait(ctx, db.key, c, db.vfs.opts.hooks.log)
		}
		if err != nil {
			<-pi.done
			fb.drop()
			return nil, err
		}
	}
	s := snapshotOf2(rec.V2, rec.Size, baseMap, baseOverlays)
	s.inner = inner
	fb.keep(db, s)
	return s, nil
}

// readBaseEntries reads checkpoint ref of a map of lineage lin, of either
// format version: its block size and its entries as version-2 entries.
func (db *database) readBaseEntries(ctx context.Context, lin format.Lineage, ref format.CheckpointRef) (int64, []format.Entry2, error) {
	type base struct {
		blockSize int64
		blocks    []format.Entry2
	}
	b, err := readImmutable(ctx, db, format.CheckpointName(lin.KeyOf(db.key, ref.N), ref.N, ref.Token), func(data []byte) (base, error) {
		n, token, bs, blocks, err := format.DecodeAnyCheckpoint(data)
		if err == nil && (n != ref.N || token != ref.Token) {
			err = fmt.Errorf("%w: it names another commit", format.ErrCorrupt)
		}
		if err != nil {
			return base{}, fmt.Errorf("s3vfs: checkpoint %d of %s: %w", ref.N, db.key, err)
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
func (db *database) prefetchFirstOverlay(ctx context.Context, rec *format.Record2) (wait func()) {
	var wg sync.WaitGroup
	if len(rec.Delta) > 0 && rec.Delta[0].Idx == 0 && rec.Delta[0].Ov != nil && db.cache().Limit() > 0 {
		for _, r := range rec.Delta[0].Ov.Recs {
			if r.N == rec.N {
				continue // the record itself, read already
			}
			wg.Go(func() { db.overlayRecord(ctx, rec.Lineage, r) })
		}
	}
	return wg.Wait
}
