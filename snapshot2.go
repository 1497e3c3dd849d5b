package s3vfs

// snapshotOf2 returns the snapshot that version-2 record rec, size bytes
// long, makes over its base checkpoint's map (baseMap, with its overlays;
// empty for no checkpoint). Pure: the record plus its base is the whole
// map, as in version 1.
func snapshotOf2(rec *record2, size int, baseMap blockMap, baseOverlays map[int64]*overlay) *snapshot {
	n := nblocks(rec.fileSize, rec.blockSize)
	overlays := map[int64]*overlay{}
	for idx, ov := range baseOverlays {
		if idx < n {
			overlays[idx] = ov
		}
	}
	refs := make(map[int64]blockRef, len(rec.delta))
	delta := make([]entry2, len(rec.delta))
	for i, e := range rec.delta {
		refs[e.idx] = e.ref
		delete(overlays, e.idx)
		if e.ov != nil {
			e.ov = withSize(e.ov, rec.n, int64(size))
			overlays[e.idx] = e.ov
		}
		delta[i] = e
	}
	if len(delta) == 0 {
		delta = nil
	}
	return &snapshot{
		n: rec.n, token: rec.token, time: rec.time,
		blockSize: rec.blockSize, size: rec.fileSize,
		blocks: baseMap.with(n, refs),
		base:   rec.base, baseMap: baseMap, baseOverlays: baseOverlays,
		format: 2, overlays: overlays, delta2: delta,
	}
}

// baseOf returns the map and overlays of a checkpoint's entries.
func baseOf(es []entry2) (blockMap, map[int64]*overlay) {
	refs := make(map[int64]blockRef, len(es))
	var overlays map[int64]*overlay
	for _, e := range es {
		refs[e.idx] = e.ref
		if e.ov != nil {
			if overlays == nil {
				overlays = map[int64]*overlay{}
			}
			overlays[e.idx] = e.ov
		}
	}
	return blockMap{}.with(int64(len(es)), refs), overlays
}
