package s3vfs

import "github.com/s3vfs/s3vfs/internal/format"

// snapshotOf2 returns the snapshot that version-2 record rec, size bytes
// long, makes over its base checkpoint's map (baseMap, with its overlays;
// empty for no checkpoint). Pure: the record plus its base is the whole
// map, as in version 1.
func snapshotOf2(rec *format.Record2, size int, baseMap format.BlockMap, baseOverlays map[int64]*format.Overlay) *snapshot {
	n := format.NBlocks(rec.FileSize, rec.BlockSize)
	overlays := map[int64]*format.Overlay{}
	for idx, ov := range baseOverlays {
		if idx < n {
			overlays[idx] = ov
		}
	}
	refs := make(map[int64]format.BlockRef, len(rec.Delta))
	delta := make([]format.Entry2, len(rec.Delta))
	for i, e := range rec.Delta {
		refs[e.Idx] = e.Ref
		delete(overlays, e.Idx)
		if e.Ov != nil {
			e.Ov = withSize(e.Ov, rec.N, int64(size))
			overlays[e.Idx] = e.Ov
		}
		delta[i] = e
	}
	if len(delta) == 0 {
		delta = nil
	}
	return &snapshot{
		n: rec.N, token: rec.Token, time: rec.Time,
		blockSize: rec.BlockSize, size: rec.FileSize,
		blocks: baseMap.With(n, refs),
		base:   rec.Base, baseMap: baseMap, baseOverlays: baseOverlays,
		format: 2, overlays: overlays, delta2: delta,
		lineage: rec.Lineage,
	}
}

// baseOf returns the map and overlays of a checkpoint's entries.
func baseOf(es []format.Entry2) (format.BlockMap, map[int64]*format.Overlay) {
	refs := make(map[int64]format.BlockRef, len(es))
	var overlays map[int64]*format.Overlay
	for _, e := range es {
		refs[e.Idx] = e.Ref
		if e.Ov != nil {
			if overlays == nil {
				overlays = map[int64]*format.Overlay{}
			}
			overlays[e.Idx] = e.Ov
		}
	}
	return format.BlockMap{}.With(int64(len(es)), refs), overlays
}
