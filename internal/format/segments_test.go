package format

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// segmentedSample returns a version-3 checkpoint of n blocks in segments
// of 1<<shift, every third block read through an overlay and every fifth
// a hole, encoded, and the segments of its front, none held.
func segmentedSample(t *testing.T, n int64, shift uint) (*Checkpoint, []byte, *Segments) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(shift)))
	const bs = 1024
	c := &Checkpoint{N: 9, Token: 99, BlockSize: bs, FileSize: n * bs, SegmentShift: shift}
	for i := range n {
		e := Entry{Idx: i}
		if i%5 != 4 {
			e.Ref = BlockRef{Commit: uint64(1 + rng.IntN(8)), Token: rng.Uint64() | 1, CRC: rng.Uint32()}
		}
		if i%3 == 0 {
			e.Ov = &Overlay{BaseLen: bs, CRC: rng.Uint32(), Recs: []OverlayRef{{N: 8, Token: 88, Size: 300}}}
			if e.Ref.IsHole() {
				e.Ov.BaseLen = 0
			}
		}
		c.Blocks = append(c.Blocks, e)
	}
	b := c.Encode()
	f, err := DecodeCheckpointFront(b)
	if err != nil {
		t.Fatal(err)
	}
	return c, b, NewSegments("ckpt", f)
}

// hold reads segment k of g from b, the whole object.
func hold(t *testing.T, g *Segments, b []byte, k int) {
	t.Helper()
	g.Hold(k, segmentEntries(t, g, b, k)) // pinned for the length of the test
}

// segmentEntries decodes segment k of g from b, the whole object.
func segmentEntries(t *testing.T, g *Segments, b []byte, k int) []Entry {
	t.Helper()
	loc := g.Front.Segments[k]
	es, err := g.Front.DecodeSegment(k, b[loc.Off:loc.Off+loc.Len])
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// A lazy map against a plain slice, as TestBlockMapModel: random
// resizes and changes over a checkpoint in segments, every version kept;
// each entry is read only once Held, after its segment is held if it
// reads one, and agrees with the model, overlays included.
func TestLazyMapModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c, b, g := segmentedSample(t, 150, 3)
	type version struct {
		m     BlockMap
		model []BlockRef
		set   map[int64]bool // blocks set since the checkpoint
		cut   int64          // the checkpoint's entries from here on were cut by a shrink
	}
	model := make([]BlockRef, len(c.Blocks))
	for i, e := range c.Blocks {
		model[i] = e.Ref
	}
	m := LazyMap(g)
	cut := int64(len(model))
	versions := []version{{m, model, map[int64]bool{}, cut}}
	set := map[int64]bool{}
	for step := range 200 {
		n := int64(rng.IntN(220))
		if step%10 == 0 {
			n = int64(rng.IntN(4))
		}
		changes := map[int64]BlockRef{}
		for range rng.IntN(12) {
			i := rng.Int64N(n+2) - 1
			changes[i] = BlockRef{Commit: uint64(100 + step), Token: rng.Uint64(), CRC: rng.Uint32()}
		}
		m = m.With(n, changes)
		next := make([]BlockRef, n)
		copy(next, model)
		nextSet := map[int64]bool{}
		for i := range set {
			if i < n {
				nextSet[i] = true
			}
		}
		for i, ref := range changes {
			if i >= 0 && i < n {
				next[i] = ref
				nextSet[i] = true
			}
		}
		model, set, cut = next, nextSet, min(cut, n)
		versions = append(versions, version{m, model, set, cut})
	}
	for k, v := range versions {
		if v.m.Len() != int64(len(v.model)) {
			t.Fatalf("version %d: Len %d, want %d", k, v.m.Len(), len(v.model))
		}
		s := &Snapshot{Blocks: v.m}
		for i := range v.m.Len() {
			if seg, fromSegment := v.m.SegmentOf(i); fromSegment && !g.Held(seg) {
				if v.m.Held(i) || !slices.Contains(v.m.Unheld(), seg) {
					t.Fatalf("version %d: block %d reads segment %d, not held, yet Held or not in Unheld", k, i, seg)
				}
				hold(t, g, b, seg)
			}
			if !v.m.Held(i) {
				t.Fatalf("version %d: block %d not held after its segment", k, i)
			}
			if got := v.m.Get(i); got != v.model[i] {
				t.Fatalf("version %d: block %d: %+v, want %+v", k, i, got, v.model[i])
			}
			// An entry from the checkpoint keeps its overlay; one set since
			// has the snapshot's own (none here).
			wantOv := i < v.cut && !v.set[i] && c.Blocks[i].Ov != nil
			if got := s.Overlay(i) != nil; got != wantOv {
				t.Fatalf("version %d: block %d: overlay %v, want %v", k, i, got, wantOv)
			}
		}
		if !v.m.Whole() || len(v.m.Unheld()) != 0 {
			t.Fatalf("version %d: not whole once every block was read", k)
		}
	}
}

// The checkpoint's entries cut off by a shrink never come back when the
// map grows again, even where their segment is read.
func TestLazyMapShrinkGrow(t *testing.T) {
	_, b, g := segmentedSample(t, 40, 2)
	for k := range g.Front.Segments {
		hold(t, g, b, k)
	}
	m := LazyMap(g).With(10, nil).With(40, map[int64]BlockRef{30: {Commit: 50, Token: 1}})
	for i := range int64(40) {
		got := m.Get(i)
		switch {
		case i == 30:
			if got.Commit != 50 {
				t.Fatalf("block 30: %+v, want the change", got)
			}
		case i >= 10:
			if !got.IsHole() {
				t.Fatalf("block %d: %+v, want a hole (cut by the shrink)", i, got)
			}
		}
	}
	if ov, fromSegment := m.baseOverlay(12); fromSegment || ov != nil {
		t.Fatal("block 12, cut by the shrink, still reads its segment's overlay")
	}
}

// Reading an entry whose segment is not held is a bug of the engine: it
// panics naming the block, the segment and the checkpoint, rather than
// reading a hole.
func TestLazyMapUnheldPanics(t *testing.T) {
	_, _, g := segmentedSample(t, 20, 2)
	m := LazyMap(g).With(20, map[int64]BlockRef{0: {Commit: 10, Token: 1}})
	if !m.Held(0) || m.Held(1) || m.Whole() {
		t.Fatalf("Held(0) %v, Held(1) %v, Whole %v: want a set block held, the rest not", m.Held(0), m.Held(1), m.Whole())
	}
	if got := m.Unheld(); len(got) != 5 {
		t.Fatalf("Unheld %v, want the 5 segments", got)
	}
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "block 6") || !strings.Contains(msg, "segment 1") || !strings.Contains(msg, "ckpt") {
			t.Fatalf("panic %q, want one naming block 6, segment 1 and the checkpoint", msg)
		}
	}()
	m.Get(6)
}

// A segment every entry of which was set since the checkpoint is never
// needed: the map is whole without it.
func TestLazyMapWholeWithoutSegment(t *testing.T) {
	_, b, g := segmentedSample(t, 8, 2)
	hold(t, g, b, 0)
	m := LazyMap(g).With(8, map[int64]BlockRef{4: {Commit: 20}, 5: {Commit: 20}, 6: {Commit: 20}, 7: {Commit: 20}})
	if !m.Whole() {
		t.Fatalf("not whole: unheld %v", m.Unheld())
	}
	if g.Held(1) {
		t.Fatal("segment 1 was held")
	}
}

// A held segment stays while a pin holds it, whatever the cache does,
// and goes once the cache evicted it and the last pin is released; a
// segment read twice is held once.
func TestSegmentPinsAndEviction(t *testing.T) {
	_, b, g := segmentedSample(t, 20, 2)
	es := segmentEntries(t, g, b, 1)
	m := LazyMap(g)
	if _, ok := m.PinHeld(5); ok {
		t.Fatal("PinHeld of a block whose segment is not held says at hand")
	}
	first, h := g.Hold(1, es)
	if h == nil || h.Size() <= 0 {
		t.Fatalf("first Hold: segment %v of size %d, want a new one", h, h.Size())
	}
	second, again := g.Hold(1, es)
	if again != nil {
		t.Fatal("a second Hold of a held segment held it anew")
	}
	third, ok := m.PinHeld(5)
	if !ok {
		t.Fatal("PinHeld of a held segment says not at hand")
	}
	want := m.Get(5)
	g.Evict(1, h)
	for i, p := range []*Pin{&first, &second} {
		p.Release()
		if !g.Held(1) || m.Get(5) != want {
			t.Fatalf("after release %d of 3, an evicted segment still pinned was dropped", i+1)
		}
	}
	third.Release()
	third.Release() // a second release releases nothing
	if u := g.Usage(); g.Held(1) || u != (SegmentUsage{}) {
		t.Fatal("an evicted segment was kept after its last pin")
	}
	if set, ok := m.With(20, map[int64]BlockRef{5: {Commit: 9}}).PinHeld(5); !ok {
		t.Fatal("PinHeld of a block set since the checkpoint says not at hand")
	} else {
		set.Release()
	}
	// Not evicted: kept with no pin, as the engine's cache keeps it.
	p, h := g.Hold(1, es)
	p.Release()
	if !g.Held(1) {
		t.Fatal("a segment the cache keeps was dropped at its last release")
	}
	g.Evict(1, h)
	if g.Held(1) {
		t.Fatal("an evicted segment with no pin was kept")
	}
}

// Readers that pin, read and release while the segment is evicted and
// read again never read a segment that is not held (run with -race).
func TestSegmentPinsConcurrent(t *testing.T) {
	c, b, g := segmentedSample(t, 20, 2)
	es := segmentEntries(t, g, b, 1)
	m := LazyMap(g)
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				idx := 4 + int64(i+r)%4
				p, ok := m.PinHeld(idx)
				if !ok {
					var h *HeldSegment
					if p, h = g.Hold(1, es); h != nil && i%3 == 0 {
						g.Evict(1, h)
					}
				}
				if got := m.Get(idx); got != c.Blocks[idx].Ref {
					t.Errorf("block %d: %+v, want %+v", idx, got, c.Blocks[idx].Ref)
				}
				p.Release()
			}
		})
	}
	wg.Wait()
}
