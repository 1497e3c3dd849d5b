package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/s3vfs/s3vfs/internal/format"
)

// Build makes the snapshot of rec, a record of either format version:
// over its base checkpoint, read unless prev has it already, with block
// 0, and for version 2 the checkpoint's inner pages and block 0's overlay
// records, read alongside the checkpoint (firstblock.go, innerread.go).
func (db *Database) Build(ctx context.Context, rec *format.Record, prev *format.Snapshot) (*format.Snapshot, error) {
	switch rec.Made.By {
	case format.Reserved:
		return nil, db.noDatabaseAt(rec)
	case format.Removed:
		return db.RemovedSnapshot(rec), nil
	}
	var pin format.Pin // block 0's entry, read by the first block's keep
	defer func() { pin.Release() }()
	b := checkpointBase{}
	switch {
	case rec.Base == (format.CheckpointRef{}):
	case prev != nil && prev.Base == rec.Base:
		b = checkpointBase{blocks: prev.BaseMap, overlays: prev.BaseOverlays, inner: prev.Inner, version: prev.CheckpointVersion}
	default:
		fb := db.prefetchFirstBlock(ctx, rec)
		var err error
		if b, err = db.readBase(ctx, rec); err != nil {
			fb.drop()
			return nil, err
		}
		defer func() { fb.keep(db, b.built) }()
	}
	b.built = snapshotOfRecord(rec, b)
	var err error
	if pin, err = db.Locate(ctx, b.built, 0); err != nil {
		b.built = nil
		return nil, err // block 0, which every transaction reads first
	}
	return b.built, nil
}

// checkpointBase is what a snapshot takes from its base checkpoint.
type checkpointBase struct {
	blocks   format.BlockMap
	overlays map[int64]*format.Overlay // version 2 only
	inner    *format.InnerSet          // version 2 only
	version  int                       // the checkpoint's format version
	built    *format.Snapshot          // the snapshot built over it, for the first block's fetch
}

// snapshotOfRecord returns the snapshot rec makes over its base b. Pure.
func snapshotOfRecord(rec *format.Record, b checkpointBase) *format.Snapshot {
	if rec.BlockLevel {
		changes := make(map[int64]format.BlockRef, len(rec.Delta))
		for _, e := range rec.Delta {
			changes[e.Idx] = e.Ref
		}
		return format.RecordSnapshot(rec, b.blocks.With(format.NBlocks(rec.FileSize, rec.BlockSize), changes), b.blocks)
	}
	s := format.PageSnapshot(rec, rec.Size, b.blocks, b.overlays)
	s.Inner, s.CheckpointVersion = b.inner, b.version
	return s
}

// readBase reads the base checkpoint of rec, of either version; for a
// version-2 record, with its inner pages and block 0's overlay records
// in parallel.
func (db *Database) readBase(ctx context.Context, rec *format.Record) (checkpointBase, error) {
	lin := rec.Lineage
	var pi *pendingInner
	if !rec.BlockLevel {
		done := db.prefetchFirstOverlay(ctx, rec)
		defer done()
		pi = db.prefetchInner(ctx, lin, rec.Base)
	}
	var b checkpointBase
	m, err := db.readBaseMap(ctx, lin, rec.Base)
	if err == nil && m.blockSize != rec.BlockSize {
		err = fmt.Errorf("s3vfs: record %d of %s: %w: block size differs from its checkpoint", rec.N, db.Key, format.ErrCorrupt)
	}
	if err != nil {
		if pi != nil {
			<-pi.done
		}
		return checkpointBase{}, err
	}
	b.blocks, b.overlays, b.version = m.blocks, m.overlays, m.version
	if rec.BlockLevel && (len(b.overlays) > 0 || b.version == 3) {
		return checkpointBase{}, fmt.Errorf("s3vfs: record %d of %s: %w: a version-1 record over a checkpoint with overlays or in segments", rec.N, db.Key, format.ErrCorrupt)
	}
	if pi != nil {
		c := &format.Snapshot{BlockSize: m.blockSize, Blocks: b.blocks, Overlays: b.overlays, Lineage: lin}
		if b.inner, err = pi.wait(ctx, db.Key, c, db.Env.Cfg.Hooks.Log); err != nil {
			return checkpointBase{}, err
		}
	}
	return b, nil
}

// ReadBaseEntries reads checkpoint ref of a map of lineage lin, of either
// format version: its block size and its entries as version-2 entries.
func (db *Database) ReadBaseEntries(ctx context.Context, lin format.Lineage, ref format.CheckpointRef) (int64, []format.Entry, error) {
	type base struct {
		blockSize int64
		blocks    []format.Entry
	}
	b, err := readImmutable(ctx, db, format.CheckpointName(lin.KeyOf(db.Key, ref.N), ref.N, ref.Token), func(data []byte) (base, error) {
		c, err := format.DecodeCheckpoint(data)
		if err == nil && (c.N != ref.N || c.Token != ref.Token) {
			err = fmt.Errorf("%w: it names another commit", format.ErrCorrupt)
		}
		if err != nil {
			return base{}, fmt.Errorf("s3vfs: checkpoint %d of %s: %w", ref.N, db.Key, err)
		}
		return base{c.BlockSize, c.Blocks}, nil
	})
	return b.blockSize, b.blocks, err
}

// prefetchFirstOverlay fetches into the cache, while the base checkpoint
// is read, the overlay records of block 0 that rec names (block 0 is in
// every version-2 delta), so that SQLite's first read, the header, finds
// them with block 0 (firstblock.go). The returned function waits for the
// fetches; their errors show again when the block is read.
func (db *Database) prefetchFirstOverlay(ctx context.Context, rec *format.Record) (wait func()) {
	var wg sync.WaitGroup
	if len(rec.Delta) > 0 && rec.Delta[0].Idx == 0 && rec.Delta[0].Ov != nil && db.Cache().Limit() > 0 {
		for _, r := range rec.Delta[0].Ov.Recs {
			if r.N == rec.N {
				continue // the record itself, read already
			}
			wg.Go(func() { db.overlayRecord(ctx, rec.Lineage, r) })
		}
	}
	return wg.Wait
}
