package s3vfs

import (
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

// snapshot is one committed version of a database: what a transaction
// reads from. Snapshots are immutable once built and shared freely.
type snapshot struct {
	n         uint64 // commit number; 0 for a database with no commits yet
	token     uint64 // attempt token of commit n
	time      time.Time
	blockSize int64
	size      int64
	blocks    format.BlockMap

	base    format.CheckpointRef // checkpoint record n builds on
	baseMap format.BlockMap      // that checkpoint's map, reused by successors on the same base
	delta   []format.Entry       // blocks that differ from baseMap (record n's delta)

	legacy *legacyLayout // set for a database in the Python layout (legacy.go), whose n is 0

	// Format version 2 (internal/format, pagerecord.go); zero for a version-1 record.
	format    int                       // the format version of record n; 0 or 1: version 1
	overlays  map[int64]*format.Overlay // blocks read through an overlay (see format.Entry2); never modified once built
	pageDelta []format.Entry2           // record n's delta, when version 2; overlay sizes all filled in

	baseOverlays map[int64]*format.Overlay // the overlays of the base checkpoint, reused like baseMap
	inner        *innerSet                 // the base checkpoint's inner pages, reused like baseMap; nil for none

	lineage format.Lineage // for a branch: where the objects of commits up to its branch point live (record n's)
	removed bool           // record n says the database was removed (remove.go): no database, a new one starts at n+1
}

// keyOf returns the key under which the objects commit c wrote live, for
// the database at key: key itself, or for a branch, a database it was
// made from.
func (s *snapshot) keyOf(key string, c uint64) string { return s.lineage.KeyOf(key, c) }

// recordSnapshot returns the snapshot record rec makes: block map blocks,
// over baseMap, the map of its base checkpoint.
func recordSnapshot(rec *format.Record, blocks, baseMap format.BlockMap) *snapshot {
	return &snapshot{
		n:         rec.N,
		token:     rec.Token,
		time:      rec.Time,
		blockSize: rec.BlockSize,
		size:      rec.FileSize,
		blocks:    blocks,
		base:      rec.Base,
		baseMap:   baseMap,
		delta:     rec.Delta,
	}
}

// empty reports whether s is a database with nothing in it yet.
func (s *snapshot) empty() bool { return (s.n == 0 || s.removed) && s.legacy == nil }

// blockID returns a name that identifies the bytes of block idx (the
// object name, for a Python-layout block with its ETag), as the block
// cache keys them, or false for a hole.
func (s *snapshot) blockID(key string, idx int64) (string, bool) {
	if s.legacy != nil {
		return legacyBlockName(key, idx) + "#" + s.legacy.etags[idx], true
	}
	if ov := s.overlays[idx]; ov != nil {
		return overlaidID(key, s.lineage, s.entry(idx)), true
	}
	ref := s.blocks.Get(idx)
	if ref.IsHole() {
		return "", false
	}
	return format.BlockName(s.keyOf(key, ref.Commit), idx, ref), true
}

// pageSnapshot returns the snapshot that version-2 record rec, size bytes
// long, makes over its base checkpoint's map (baseMap, with its overlays;
// empty for no checkpoint). Pure: the record plus its base is the whole
// map, as in version 1.
func pageSnapshot(rec *format.Record2, size int, baseMap format.BlockMap, baseOverlays map[int64]*format.Overlay) *snapshot {
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
		format: 2, overlays: overlays, pageDelta: delta,
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
