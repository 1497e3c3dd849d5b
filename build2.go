package s3vfs

import (
	"context"
	"fmt"
)

// build2 is build for a version-2 record: the snapshot of rec over its
// base checkpoint (of either version), read unless prev has it already.
func (db *database) build2(ctx context.Context, rec *record, prev *snapshot) (*snapshot, error) {
	var baseMap blockMap
	var baseOverlays map[int64]*overlay
	var fb *firstBlock
	switch {
	case rec.base == (ckptRef{}):
	case prev != nil && prev.base == rec.base:
		baseMap, baseOverlays = prev.baseMap, prev.baseOverlays
	default:
		fb = db.prefetchFirstBlock(ctx, rec)
		data, err := db.vfs.store.get(ctx, checkpointName(db.key, rec.base.n, rec.base.token))
		if err != nil {
			fb.drop()
			return nil, err
		}
		n, token, bs, blocks, err := decodeAnyCheckpoint(data)
		switch {
		case err != nil:
			err = fmt.Errorf("s3vfs: checkpoint %d of %s: %w", rec.base.n, db.key, err)
		case n != rec.base.n || token != rec.base.token:
			err = fmt.Errorf("s3vfs: checkpoint %d of %s: %w: it names another commit", rec.base.n, db.key, errCorrupt)
		case bs != rec.blockSize:
			err = fmt.Errorf("s3vfs: record %d of %s: %w: block size differs from its checkpoint", rec.n, db.key, errCorrupt)
		}
		if err != nil {
			fb.drop()
			return nil, err
		}
		baseMap, baseOverlays = baseOf(blocks)
	}
	s := snapshotOf2(rec.v2, rec.size, baseMap, baseOverlays)
	fb.keep(db, s)
	return s, nil
}
