package format

// The model: a committed version of a database as the engine holds it,
// decoded from records and checkpoints of either format version (or from
// the Python layout), with the names of its blocks' bytes. Pure: the root
// builds snapshots (build.go) and reads through them.

import (
	"maps"
	"slices"
	"time"
)

// Snapshot is one committed version of a database: what a transaction
// reads from. Snapshots are immutable once built and shared freely.
type Snapshot struct {
	N         uint64 // commit number; 0 for a database with no commits yet
	Token     uint64 // attempt token of commit n
	Time      time.Time
	BlockSize int64
	Size      int64
	Blocks    BlockMap

	Base    CheckpointRef // checkpoint record n builds on
	BaseMap BlockMap      // that checkpoint's map, reused by successors on the same base
	Delta   []Entry       // blocks that differ from baseMap (record n's delta); in version 2 with every overlay's size filled in

	Legacy *LegacyLayout // set for a database in the Python layout, whose N is 0

	// Format version 2 (internal/format, pagerecord.go); zero for a version-1 record.
	Version  int                // the format version of record n; 0 or 1: version 1
	Overlays map[int64]*Overlay // blocks read through an overlay (see Entry); never modified once built

	BaseOverlays map[int64]*Overlay // the overlays of the base checkpoint, reused like baseMap
	Inner        *InnerSet          // the base checkpoint's inner pages, reused like baseMap; nil for none

	CheckpointVersion int // the format version of the base checkpoint (1 to 3); 0 for none, or not known

	Lineage Lineage // for a branch: where the objects of commits up to its branch point live (record n's)
	Removed bool    // record N says the database was removed: no database, a new one starts at N+1
}

// KeyOf returns the key under which the objects commit c wrote live, for
// the database at key: key itself, or for a branch, a database it was
// made from.
func (s *Snapshot) KeyOf(key string, c uint64) string { return s.Lineage.KeyOf(key, c) }

// RecordSnapshot returns the snapshot record rec makes: block map blocks,
// over baseMap, the map of its base checkpoint.
func RecordSnapshot(rec *Record, blocks, baseMap BlockMap) *Snapshot {
	return &Snapshot{
		N:         rec.N,
		Token:     rec.Token,
		Time:      rec.Time,
		BlockSize: rec.BlockSize,
		Size:      rec.FileSize,
		Blocks:    blocks,
		Base:      rec.Base,
		BaseMap:   baseMap,
		Delta:     rec.Delta,
	}
}

// Overlay returns the overlay block idx is read through; nil for none.
// Its segment must be pinned (Pin), as for Blocks.Get.
func (s *Snapshot) Overlay(idx int64) *Overlay {
	if ov, ok := s.Blocks.baseOverlay(idx); ok {
		return ov
	}
	return s.Overlays[idx]
}

// PinHeld pins what reading the entry of block idx needs, when it is at
// hand (true): see BlockMap.PinHeld.
func (s *Snapshot) PinHeld(idx int64) (Pin, bool) {
	if s.Legacy != nil {
		return Pin{}, true
	}
	return s.Blocks.PinHeld(idx)
}

// SameAs reports whether block idx of s reads as block idx of c, the
// snapshot of a checkpoint s builds on: the same bytes under the same
// name (for a hole, true or false: inner pages hold none of its pages).
// Where both read the entry from the same segments and neither set it
// since, the answer needs no segment; else an entry not held answers
// false (the caller reads the block instead).
func (s *Snapshot) SameAs(key string, c *Snapshot, idx int64) bool {
	if g := s.Blocks.Segments(); g != nil && g == c.Blocks.Segments() && slices.Equal(s.Lineage, c.Lineage) {
		_, fromS := s.Blocks.fromSegment(idx)
		_, fromC := c.Blocks.fromSegment(idx)
		if fromS && fromC {
			return true // a hole too: inner pages have none of its pages
		}
	}
	ps, ok := s.PinHeld(idx)
	defer ps.Release()
	pc, okc := c.PinHeld(idx)
	defer pc.Release()
	if !ok || !okc {
		return false
	}
	id, ok := s.BlockID(key, idx)
	if !ok {
		return false
	}
	was, ok := c.BlockID(key, idx)
	return ok && was == id
}

// Empty reports whether s is a database with nothing in it yet.
func (s *Snapshot) Empty() bool { return (s.N == 0 || s.Removed) && s.Legacy == nil }

// BlockID returns a name that identifies the bytes of block idx (the
// object name, for a Python-layout block with its ETag), as the block
// cache keys them, or false for a hole.
func (s *Snapshot) BlockID(key string, idx int64) (string, bool) {
	if s.Legacy != nil {
		return LegacyBlockName(key, idx) + "#" + s.Legacy.ETags[idx], true
	}
	if ov := s.Overlay(idx); ov != nil {
		return OverlaidID(key, s.Lineage, s.Entry(idx)), true
	}
	ref := s.Blocks.Get(idx)
	if ref.IsHole() {
		return "", false
	}
	return BlockName(s.KeyOf(key, ref.Commit), idx, ref), true
}

// PageSnapshot returns the snapshot that version-2 record rec, size bytes
// long, makes over its base checkpoint's map (baseMap, with its overlays;
// empty for no checkpoint). Pure: the record plus its base is the whole
// map, as in version 1.
func PageSnapshot(rec *Record, size int, baseMap BlockMap, baseOverlays map[int64]*Overlay) *Snapshot {
	n := NBlocks(rec.FileSize, rec.BlockSize)
	overlays := map[int64]*Overlay{}
	for idx, ov := range baseOverlays {
		if idx < n {
			overlays[idx] = ov
		}
	}
	refs := make(map[int64]BlockRef, len(rec.Delta))
	delta := make([]Entry, len(rec.Delta))
	for i, e := range rec.Delta {
		refs[e.Idx] = e.Ref
		delete(overlays, e.Idx)
		if e.Ov != nil {
			e.Ov = WithSize(e.Ov, rec.N, int64(size))
			overlays[e.Idx] = e.Ov
		}
		delta[i] = e
	}
	if len(delta) == 0 {
		delta = nil
	}
	return &Snapshot{
		N: rec.N, Token: rec.Token, Time: rec.Time,
		BlockSize: rec.BlockSize, Size: rec.FileSize,
		Blocks: baseMap.With(n, refs),
		Base:   rec.Base, BaseMap: baseMap, BaseOverlays: baseOverlays,
		Version: 2, Overlays: overlays, Delta: delta,
		Lineage: rec.Lineage,
	}
}

// OverOwnCheckpoint returns s, the snapshot of a commit that wrote its own
// checkpoint (s.Base.N == s.N), with its map read from base, that
// checkpoint's map as a reader decodes it (LazyMap), as PageSnapshot
// builds it: the entries of s's delta set over base, the other overlays
// read from base.
func (s *Snapshot) OverOwnCheckpoint(base BlockMap) *Snapshot {
	out := *s
	refs := make(map[int64]BlockRef, len(s.Delta))
	ovs := map[int64]*Overlay{}
	for _, e := range s.Delta {
		refs[e.Idx] = e.Ref
		if e.Ov != nil {
			ovs[e.Idx] = e.Ov
		}
	}
	out.Blocks = base.With(NBlocks(s.Size, s.BlockSize), refs)
	out.BaseMap, out.BaseOverlays, out.Overlays = base, nil, ovs
	if ip := s.Inner; ip != nil {
		// Its pages name blocks of the checkpoint's map: base now.
		out.Inner = &InnerSet{Name: ip.Name, Checkpoint: CheckpointView(&out), Unit: ip.Unit, Pages: ip.Pages, Front: ip.Front}
	}
	return &out
}

// BaseOf returns the map and overlays of a checkpoint's entries.
func BaseOf(es []Entry) (BlockMap, map[int64]*Overlay) {
	refs := make(map[int64]BlockRef, len(es))
	var overlays map[int64]*Overlay
	for _, e := range es {
		refs[e.Idx] = e.Ref
		if e.Ov != nil {
			if overlays == nil {
				overlays = map[int64]*Overlay{}
			}
			overlays[e.Idx] = e.Ov
		}
	}
	return BlockMap{}.With(int64(len(es)), refs), overlays
}

// BaseLength returns the length of the object behind block idx of s: the
// overlay's base length, else the block's own length (a hole: 0).
func (s *Snapshot) BaseLength(idx int64) int64 {
	if ov := s.Overlay(idx); ov != nil {
		return ov.BaseLen
	}
	if s.Blocks.Get(idx).IsHole() {
		return 0
	}
	return BlockLen(idx, s.BlockSize, s.Size)
}

// Entry returns the version-2 Entry of block idx of s.
func (s *Snapshot) Entry(idx int64) Entry {
	return Entry{Idx: idx, Ref: s.Blocks.Get(idx), Ov: s.Overlay(idx)}
}

// OverlayBytes returns how many bytes of records a cold read of block idx
// of s downloads besides the block object.
func (s *Snapshot) OverlayBytes(idx int64) int64 {
	var total int64
	if ov := s.Overlay(idx); ov != nil {
		for _, r := range ov.Recs {
			total += r.Size
		}
	}
	return total
}

// Successor returns the snapshot that record rec, size bytes long, makes
// over s, with entries the blocks it set.
func (s *Snapshot) Successor(rec *Record, size int, entries map[int64]Entry, n int64) *Snapshot {
	refs := make(map[int64]BlockRef, len(entries))
	ovs := maps.Clone(s.Overlays)
	if ovs == nil {
		ovs = map[int64]*Overlay{}
	}
	for idx, e := range entries {
		refs[idx] = e.Ref
		if e.Ov != nil {
			ovs[idx] = WithSize(e.Ov, rec.N, int64(size))
		} else {
			delete(ovs, idx)
		}
	}
	for idx := range ovs {
		if idx >= n {
			delete(ovs, idx)
		}
	}
	delta := make([]Entry, len(rec.Delta))
	for i, e := range rec.Delta {
		delta[i] = e
		if e.Ov != nil {
			delta[i].Ov = WithSize(e.Ov, rec.N, int64(size))
		}
	}
	return &Snapshot{
		N: rec.N, Token: rec.Token, Time: rec.Time,
		BlockSize: rec.BlockSize, Size: rec.FileSize,
		Blocks: s.Blocks.With(n, refs),
		Base:   rec.Base, BaseMap: s.BaseMap, BaseOverlays: s.BaseOverlays, Inner: s.Inner, CheckpointVersion: s.CheckpointVersion,
		Version: 2, Overlays: ovs, Delta: delta,
		Lineage: rec.Lineage,
	}
}

// WithSize returns ov with the length of record n, size, filled into its
// reference to n (a record's references to itself have none).
func WithSize(ov *Overlay, n uint64, size int64) *Overlay {
	if len(ov.Recs) == 0 || ov.Recs[len(ov.Recs)-1].N != n || ov.Recs[len(ov.Recs)-1].Size == size {
		return ov
	}
	out := *ov
	out.Recs = slices.Clone(ov.Recs)
	out.Recs[len(out.Recs)-1].Size = size
	return &out
}

// CheckpointView returns the snapshot of s's checkpoint as far as block
// names go: its map and overlays.
func CheckpointView(s *Snapshot) *Snapshot {
	return &Snapshot{N: s.Base.N, Token: s.Base.Token, Base: s.Base, BlockSize: s.BlockSize, Size: s.Size,
		Blocks: s.BaseMap, Overlays: s.BaseOverlays, Lineage: s.Lineage}
}
