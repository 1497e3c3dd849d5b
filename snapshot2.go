package s3vfs

// snapshotOf2 returns the snapshot that version-2 record rec, size bytes
// long, makes over the entries of its base checkpoint (nil: none; a
// version-1 checkpoint's entries through entriesFromV1). Pure: the record
// plus its base is the whole map, as in version 1.
func snapshotOf2(rec *record2, size int, base []entry2) *snapshot {
	n := nblocks(rec.fileSize, rec.blockSize)
	baseRefs := make(map[int64]blockRef, len(base))
	overlays := map[int64]*overlay{}
	for _, e := range base {
		baseRefs[e.idx] = e.ref
		if e.ov != nil && e.idx < n {
			overlays[e.idx] = e.ov
		}
	}
	baseMap := blockMap{}.with(int64(len(base)), baseRefs)
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
		base:   rec.base, baseMap: baseMap,
		format: 2, overlays: overlays, delta2: delta,
	}
}
