package format

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The block map of a version-3 checkpoint, read segment by segment
// (docs/design.md, "The block map in segments"). A BlockMap over one is
// lazy: the entries a commit set since the checkpoint are held as
// overrides, every other entry is its segment's, held while the engine
// pins it (Segments.Hold, Pin) or its cache keeps it. The pure code that
// reads entries (Get, Snapshot.Entry and the like) runs only on blocks
// whose segments are pinned: the engine reads and pins them first
// (engine.Database.Locate), and a read of one that is not held is a bug
// that panics with the block and the segment it names.

// Segments is the block map of one version-3 checkpoint: its front, and
// each segment's entries while they are held. It is shared by every map
// over the checkpoint and safe for concurrent use; a segment, like the
// object, is immutable, so what is held is never stale.
//
// A held segment stays held while a Pin holds it, and until the engine
// evicts it (Evict): the engine lists each segment it holds in its block
// cache, which evicts it like a block, and the pure code reads entries
// only under a pin of their segment.
type Segments struct {
	Name  string           // the checkpoint object's name
	Front *CheckpointFront // where each segment is

	mu   sync.Mutex // guards the pins and evictions of held segments, and stores to held
	held []atomic.Pointer[HeldSegment]
}

// HeldSegment is the decoded entries of one segment, while held.
type HeldSegment struct {
	refs []BlockRef
	ovs  map[int64]*Overlay // by block index; nil for none

	pins    int  // the pins that hold it; guarded by Segments.mu
	evicted bool // dropped once no pin holds it; guarded by Segments.mu
}

// Size returns about the bytes of memory h takes.
func (h *HeldSegment) Size() int64 {
	const overlay = int64(unsafe.Sizeof(Overlay{})) + int64(unsafe.Sizeof(OverlayRef{})) + 48 // and its map slot
	return int64(len(h.refs))*int64(unsafe.Sizeof(BlockRef{})) + int64(len(h.ovs))*overlay
}

// NewSegments returns the segments of checkpoint object name, whose
// front is f, none held yet.
func NewSegments(name string, f *CheckpointFront) *Segments {
	return &Segments{Name: name, Front: f, held: make([]atomic.Pointer[HeldSegment], len(f.Segments))}
}

// Hold keeps es, the entries of segment k as DecodeSegment returns them,
// unless the segment is held already, and pins it. It returns the pin
// and, when it held es, the new segment, for the engine to list in its
// cache (and evict: Evict); nil when the segment was held already.
func (g *Segments) Hold(k int, es []Entry) (Pin, *HeldSegment) {
	h := &HeldSegment{refs: make([]BlockRef, len(es)), pins: 1}
	for i, e := range es {
		h.refs[i] = e.Ref
		if e.Ov != nil {
			if h.ovs == nil {
				h.ovs = map[int64]*Overlay{}
			}
			h.ovs[e.Idx] = e.Ov
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if old := g.held[k].Load(); old != nil {
		old.pins++
		return Pin{[]pinned{{g, k, old}}}, nil
	}
	g.held[k].Store(h)
	return Pin{[]pinned{{g, k, h}}}, h
}

// Pin pins segment k if it is held (true).
func (g *Segments) Pin(k int) (Pin, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.held[k].Load()
	if h == nil {
		return Pin{}, false
	}
	h.pins++
	return Pin{[]pinned{{g, k, h}}}, true
}

// Evict drops h, held as segment k, as soon as no pin holds it: the
// engine's cache evicted it, or holds none.
func (g *Segments) Evict(k int, h *HeldSegment) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h.evicted = true
	g.dropUnpinned(k, h)
}

// unpin releases one pin of h, held as segment k.
func (g *Segments) unpin(k int, h *HeldSegment) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h.pins--
	g.dropUnpinned(k, h)
}

// dropUnpinned drops h, segment k, if it is evicted and no pin holds it.
// g.mu is held.
func (g *Segments) dropUnpinned(k int, h *HeldSegment) {
	if h.evicted && h.pins == 0 {
		g.held[k].CompareAndSwap(h, nil)
	}
}

// Held reports whether segment k is held. It may be evicted at once
// after: what reads an entry pins its segment (Pin).
func (g *Segments) Held(k int) bool { return g.held[k].Load() != nil }

// SegmentUsage is what segments hold: how many, the bytes of memory they
// take, and the pins on them.
type SegmentUsage struct {
	Held  int
	Bytes int64
	Pins  int
}

// Add returns the sum of u and v.
func (u SegmentUsage) Add(v SegmentUsage) SegmentUsage {
	return SegmentUsage{u.Held + v.Held, u.Bytes + v.Bytes, u.Pins + v.Pins}
}

// Usage returns what g holds.
func (g *Segments) Usage() SegmentUsage {
	g.mu.Lock()
	defer g.mu.Unlock()
	var u SegmentUsage
	for k := range g.held {
		if h := g.held[k].Load(); h != nil {
			u = u.Add(SegmentUsage{1, h.Size(), h.pins})
		}
	}
	return u
}

// Pin keeps the segments it pinned held until Release. The zero Pin
// pins nothing.
type Pin struct {
	held []pinned
}

// pinned is one segment a Pin holds.
type pinned struct {
	g *Segments
	k int
	h *HeldSegment
}

// Pins reports whether p pins segment k of g.
func (p *Pin) Pins(g *Segments, k int) bool {
	for _, s := range p.held {
		if s.g == g && s.k == k {
			return true
		}
	}
	return false
}

// Join adds what q pins to p; q's pins are p's to release.
func (p *Pin) Join(q Pin) { p.held = append(p.held, q.held...) }

// Release lets what p pins be evicted; p pins nothing after.
func (p *Pin) Release() {
	for _, s := range p.held {
		s.g.unpin(s.k, s.h)
	}
	p.held = nil
}

// blocks returns the number of blocks the checkpoint maps.
func (g *Segments) blocks() int64 { return NBlocks(g.Front.FileSize, g.Front.BlockSize) }

// segment returns the held entries of the segment of block idx; it
// panics when they are not held (see the top of this file).
func (g *Segments) segment(idx int64) (*HeldSegment, int64) {
	k := g.Front.Segment(idx)
	h := g.held[k].Load()
	if h == nil {
		panic(fmt.Sprintf("s3vfs: internal error: block %d read before segment %d of checkpoint %s", idx, k, g.Name))
	}
	start, _ := g.Front.SegmentBlocks(k)
	return h, idx - start
}

// lazyMap is the state of a BlockMap over Segments: the blocks set since
// the checkpoint, by segment, and where a shrink cut the checkpoint's
// entries off.
type lazyMap struct {
	segs *Segments
	cut  int64                // the checkpoint's entries from cut on were dropped by a shrink: holes unless set since
	over []map[int64]BlockRef // by segment number: the blocks set since the checkpoint; shared until changed
}

// LazyMap returns the map of the checkpoint g: every block read from its
// segment.
func LazyMap(g *Segments) BlockMap {
	n := g.blocks()
	return BlockMap{n: n, lazy: &lazyMap{segs: g, cut: n}}
}

// Segments returns the segments m reads its checkpoint's entries from;
// nil when it holds every entry itself.
func (m BlockMap) Segments() *Segments {
	if m.lazy == nil {
		return nil
	}
	return m.lazy.segs
}

// fromSegment reports whether the entry of block i comes from its
// checkpoint's segment (as opposed to a hole, an override or a held
// chunk), and which segment.
func (m BlockMap) fromSegment(i int64) (k int, ok bool) {
	l := m.lazy
	if l == nil || i < 0 || i >= m.n || i >= l.cut {
		return 0, false
	}
	k = l.segs.Front.Segment(i)
	if k < len(l.over) {
		if _, set := l.over[k][i]; set {
			return 0, false
		}
	}
	return k, true
}

// Held reports whether the entry of block i can be read: it was set
// since the checkpoint, or its segment is held. A segment may be evicted
// at once after: what reads the entry pins it (PinHeld).
func (m BlockMap) Held(i int64) bool {
	k, ok := m.fromSegment(i)
	return !ok || m.lazy.segs.Held(k)
}

// PinHeld pins what reading the entry of block i needs, when it is at
// hand (true): nothing for an entry that is not its segment's, else the
// segment, if held.
func (m BlockMap) PinHeld(i int64) (Pin, bool) {
	k, ok := m.fromSegment(i)
	if !ok {
		return Pin{}, true
	}
	return m.lazy.segs.Pin(k)
}

// Whole reports whether every entry can be read (All does not panic).
func (m BlockMap) Whole() bool { return len(m.Unheld()) == 0 }

// Unheld returns, in order, the segments not held that an entry of m
// reads; none for a map that holds every entry itself.
func (m BlockMap) Unheld() []int {
	var out []int
	for _, k := range m.SegmentsRead() {
		if !m.lazy.segs.Held(k) {
			out = append(out, k)
		}
	}
	return out
}

// SegmentsRead returns, in order, the segments that an entry of m reads,
// held or not; none for a map that holds every entry itself.
func (m BlockMap) SegmentsRead() []int {
	l := m.lazy
	if l == nil {
		return nil
	}
	f := l.segs.Front
	end := min(m.n, l.cut)
	var out []int
	for k := range int(NSegments(end, f.Shift)) {
		start, count := f.SegmentBlocks(k)
		for i := start; i < min(start+count, end); i++ {
			if k >= len(l.over) || !hasKey(l.over[k], i) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// hasKey reports whether m has key k.
func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// SegmentOf returns the segment whose entry block i reads, held or not,
// or false when it reads none.
func (m BlockMap) SegmentOf(i int64) (int, bool) { return m.fromSegment(i) }

// get returns the entry of block i, 0 ≤ i < m.n.
func (l *lazyMap) get(i int64) BlockRef {
	k := l.segs.Front.Segment(i)
	if k < len(l.over) {
		if ref, ok := l.over[k][i]; ok {
			return ref
		}
	}
	if i >= l.cut {
		return BlockRef{}
	}
	h, rel := l.segs.segment(i)
	return h.refs[rel]
}

// with is BlockMap.With for a lazy map of m blocks.
func (l *lazyMap) with(m, n int64, changes map[int64]BlockRef) *lazyMap {
	f := l.segs.Front
	out := &lazyMap{segs: l.segs, cut: min(l.cut, n), over: make([]map[int64]BlockRef, NSegments(n, f.Shift))}
	copy(out.over, l.over)
	owned := make(map[int]bool)
	own := func(k int) map[int64]BlockRef {
		if !owned[k] {
			out.over[k], owned[k] = maps.Clone(out.over[k]), true
			if out.over[k] == nil {
				out.over[k] = map[int64]BlockRef{}
			}
		}
		return out.over[k]
	}
	if n < m && n > 0 {
		// A shrink drops what was set past the new end in the last
		// segment kept (the segments past it are gone already).
		k := f.Segment(n - 1)
		for i := range out.over[k] {
			if i >= n {
				delete(own(k), i)
			}
		}
	}
	for i, ref := range changes {
		if i >= 0 && i < n {
			own(f.Segment(i))[i] = ref
		}
	}
	return out
}

// baseOverlay returns the overlay of block i when its entry comes from a
// segment (true); false when the snapshot's own overlays say.
func (m BlockMap) baseOverlay(i int64) (*Overlay, bool) {
	if _, ok := m.fromSegment(i); !ok {
		return nil, false
	}
	h, _ := m.lazy.segs.segment(i)
	return h.ovs[i], true
}
