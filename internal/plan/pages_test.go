package plan

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// The version-2 planner is tested without a server: a bucket is a map of
// objects, published plans go into it, and every block of every snapshot
// is read back through mergeBlock and compared with a plain []byte model
// of the file.

// planBS2 and planUnit2 are the block size and page size of these tests.
const (
	planBS2   = 1024
	planUnit2 = 512
)

// memBucket2 holds what published version-2 plans wrote.
type memBucket2 struct {
	objects map[string][]byte
	records map[uint64][]byte
}

func newMemBucket2() *memBucket2 {
	return &memBucket2{objects: map[string][]byte{}, records: map[uint64][]byte{}}
}

// publish stores the plan's uploads and record, as a commit that won.
func (m *memBucket2) publish(t *testing.T, p PagePlan) {
	t.Helper()
	for _, u := range p.Uploads {
		m.objects[u.Name] = u.Data
	}
	if _, ok := m.records[p.Rec.N]; ok {
		t.Fatalf("record %d exists", p.Rec.N)
	}
	m.records[p.Rec.N] = p.Encoded
}

// record decodes record n as a reader would.
func (m *memBucket2) record(t *testing.T, n uint64) *format.Record {
	t.Helper()
	r, err := format.DecodePageRecord(m.records[n])
	if err != nil {
		t.Fatalf("record %d: %v", n, err)
	}
	return r
}

// readBlock reads block idx of s as the read path does: the object, and
// through the merge if the block has an overlay.
func (m *memBucket2) readBlock(t *testing.T, s *format.Snapshot, idx int64) []byte {
	t.Helper()
	e := s.Entry(idx)
	length := format.BlockLen(idx, s.BlockSize, s.Size)
	var base []byte
	if !e.Ref.IsHole() {
		var ok bool
		if base, ok = m.objects[format.BlockName("db", idx, e.Ref)]; !ok {
			t.Fatalf("commit %d: block %d: no object %s", s.N, idx, format.BlockName("db", idx, e.Ref))
		}
		if format.Checksum(base) != e.Ref.CRC {
			t.Fatalf("commit %d: block %d: object CRC32C", s.N, idx)
		}
	}
	if e.Ov == nil {
		if base == nil {
			return make([]byte, length)
		}
		if int64(len(base)) != length {
			t.Fatalf("commit %d: block %d: a plain object of %d bytes for a block of %d", s.N, idx, len(base), length)
		}
		return base
	}
	var recs []*format.Record
	for _, r := range e.Ov.Recs {
		if int64(len(m.records[r.N])) != r.Size {
			t.Fatalf("commit %d: block %d: overlay record %d is %d bytes, the map says %d", s.N, idx, r.N, len(m.records[r.N]), r.Size)
		}
		recs = append(recs, m.record(t, r.N))
	}
	data, err := format.MergeBlock("db", e, s.BlockSize, length, base, recs)
	if err != nil {
		t.Fatalf("commit %d: %v", s.N, err)
	}
	return data
}

// readAll reads the whole file of s.
func (m *memBucket2) readAll(t *testing.T, s *format.Snapshot) []byte {
	var out []byte
	for idx := range s.Blocks.Len() {
		out = append(out, m.readBlock(t, s, idx)...)
	}
	return out
}

// rebuild builds the snapshot of record n from the record and its base
// checkpoint, as a cold open does.
func (m *memBucket2) rebuild(t *testing.T, n uint64) *format.Snapshot {
	t.Helper()
	rec := m.record(t, n)
	var base []format.Entry
	if rec.Base != (format.CheckpointRef{}) {
		c, err := format.DecodePageCheckpoint(m.objects[format.CheckpointName("db", rec.Base.N, rec.Base.Token)])
		if err != nil {
			t.Fatalf("checkpoint %d: %v", rec.Base.N, err)
		}
		base = c.Blocks
	}
	baseMap, baseOverlays := format.BaseOf(base)
	return format.PageSnapshot(rec, len(m.records[n]), baseMap, baseOverlays)
}

// sqliteHeader returns a block 0 that starts with a SQLite header of
// page size planUnit2.
func sqliteHeader() []byte {
	b := make([]byte, planBS2)
	copy(b, "SQLite format 3\x00")
	b[16], b[17] = planUnit2>>8, planUnit2&0xff
	return b
}

// txOver returns the transaction that turns the file of s, whose bytes
// are old, into new, having written the given pages (and been truncated
// to floor at least once): its pending blocks are whole, as file.pendingBlock
// makes them, and include those Rewrites names. committed holds the
// committed bytes of the pending blocks and block 0, as read reads them.
func txOver(s *format.Snapshot, new []byte, written []int64, floor int64, read func(idx int64) []byte) (tx.Writes, map[int64][]byte) {
	w := tx.Writes{Dirty: true, Pending: map[int64][]byte{}, PendingSize: int64(len(new)), Floor: floor}
	load := func(idx int64) {
		if _, ok := w.Pending[idx]; ok || idx*planBS2 >= int64(len(new)) {
			return
		}
		buf := make([]byte, planBS2)
		copy(buf, new[idx*planBS2:min(int64(len(new)), (idx+1)*planBS2)])
		w.Pending[idx] = buf
	}
	for _, p := range written {
		load(p * planUnit2 / planBS2)
	}
	for _, idx := range Rewrites(s, w) {
		load(idx)
	}
	committed := map[int64][]byte{}
	for idx := range w.Pending {
		if idx < s.Blocks.Len() {
			committed[idx] = read(idx)
		}
	}
	if _, ok := committed[0]; !ok && s.Blocks.Len() > 0 {
		committed[0] = read(0)
	}
	return w, committed
}

// TestPlanCommit2Model publishes random transactions (page writes,
// growth, truncation) with small bounds, so that every rule runs: after
// each, every block reads back as the model says, through the new
// snapshot and through one rebuilt from the record and its checkpoint;
// the record lists at least the pages that changed; the bounds hold.
func TestPlanCommit2Model(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { testPlanModel(t, seed) })
	}
}

func testPlanModel(t *testing.T, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, 2))
	bounds := FoldBounds{Records: 3, Bytes: 6 << 10, Inline: 2 * planUnit2}
	m := newMemBucket2()
	s := &format.Snapshot{BlockSize: planBS2}
	model := []byte{}
	var onePut, folds int
	for n := uint64(1); n <= 60; n++ {
		old := model
		newModel := slices.Clone(old)
		floor := int64(len(old))
		if len(newModel) == 0 {
			newModel = sqliteHeader()[:planUnit2]
		}
		switch rnd.IntN(10) {
		case 0: // truncate to a page boundary, maybe mid-block
			cut := int64(rnd.IntN(len(newModel)/planUnit2+1)) * planUnit2
			newModel = newModel[:max(cut, planUnit2)]
			floor = int64(len(newModel))
		case 1, 2: // grow by a few pages
			newModel = append(newModel, make([]byte, planUnit2*(1+rnd.IntN(4)))...)
		}
		pages := int64(len(newModel)) / planUnit2
		var written []int64
		for range 1 + rnd.IntN(3) {
			p := rnd.Int64N(pages)
			written = append(written, p)
			page := newModel[p*planUnit2 : (p+1)*planUnit2]
			if p == 0 {
				page[100+rnd.IntN(planUnit2-100)] = byte(rnd.Uint32())
				copy(page[24:28], []byte{0, 0, 0, byte(n)}) // counters SQLite writes, which readers serve
			} else if rnd.IntN(4) > 0 {
				page[rnd.IntN(planUnit2)] = byte(rnd.Uint32())
			}
		}
		for p := int64(len(old)) / planUnit2; p < pages; p++ {
			written = append(written, p)
		}
		w, committed := txOver(s, newModel, written, floor, func(idx int64) []byte { return m.readBlock(t, s, idx) })
		if rnd.IntN(8) == 0 {
			delete(committed, written[0]*planUnit2/planBS2) // a block overwritten whole, not in the cache
		}
		in := Inputs{Committed: committed, Bounds: bounds}
		if n%17 == 0 {
			in.TooLarge = func(int) bool { return true }
		}
		a := Attempt{Token: 1000 + n, Time: time.Unix(int64(n), 0), Writer: "w"}
		p := Pages("db", s, w, in, a)

		if p.OnePut() {
			onePut++
		}
		folds += len(p.Folded)
		if got, want := p.Rec.Inline.Count()*planUnit2, bounds.Inline; got > want {
			t.Fatalf("commit %d carries %d bytes of pages", n, got)
		}
		for p2 := range pages {
			pg := func(b []byte) []byte {
				if (p2+1)*planUnit2 > int64(len(b)) || p2*planUnit2 >= floor {
					return nil
				}
				return b[p2*planUnit2 : (p2+1)*planUnit2]
			}
			if a, b := pg(old), pg(newModel); (a == nil || !SamePage(p2 == 0, a, b)) && !p.Rec.Changed.Contains(p2) {
				t.Fatalf("commit %d: page %d changed, and is not listed in %v", n, p2, p.Rec.Changed)
			}
		}
		m.publish(t, p)
		rec := m.record(t, n)
		if !sameRecord2(rec, p.Rec) {
			t.Fatalf("commit %d: the record does not decode as planned", n)
		}
		s = p.Next
		for idx, ov := range s.Overlays {
			if len(ov.Recs) > bounds.Records || s.OverlayBytes(idx) > bounds.Bytes {
				t.Fatalf("commit %d: block %d has an overlay of %d records, %d bytes", n, idx, len(ov.Recs), s.OverlayBytes(idx))
			}
		}
		if got := m.readAll(t, s); !sameFile(got, newModel) {
			t.Fatalf("commit %d: the file reads\n%x\nnot\n%x", n, got, newModel)
		}
		rebuilt := m.rebuild(t, n)
		if !reflect.DeepEqual(blocksOf(rebuilt), blocksOf(s)) ||
			!sameOverlays(rebuilt.Overlays, s.Overlays) {
			t.Fatalf("commit %d: the snapshot rebuilt from the record differs from the planned one", n)
		}
		model = newModel
	}
	if onePut == 0 || folds == 0 {
		t.Errorf("%d one-request commits, %d folds: the model did not exercise both", onePut, folds)
	}
}

// sameFile compares files, the header fields readers serve aside.
func sameFile(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) >= 100 {
		return SamePage(true, a[:planUnit2], b[:planUnit2]) && bytes.Equal(a[planUnit2:], b[planUnit2:])
	}
	return bytes.Equal(a, b)
}

func blocksOf(s *format.Snapshot) map[int64]format.BlockRef {
	out := map[int64]format.BlockRef{}
	for idx, ref := range s.Blocks.All() {
		out[idx] = ref
	}
	return out
}

func sameOverlays(a, b map[int64]*format.Overlay) bool {
	if len(a) != len(b) {
		return false
	}
	for idx, ov := range a {
		if b[idx] == nil || !reflect.DeepEqual(*ov, *b[idx]) {
			return false
		}
	}
	return true
}

// planSnap2 returns a version-2 snapshot of commit n of a file of size
// bytes whose blocks were all written whole by commit n, with block 0
// starting with a SQLite header of page size planUnit2, and the bytes
// each block reads as (block idx filled with idx+1 after the header).
func planSnap2(n uint64, size int64, overlays map[int64]*format.Overlay) (*format.Snapshot, map[int64][]byte) {
	data := map[int64][]byte{}
	refs := map[int64]format.BlockRef{}
	for idx := range format.NBlocks(size, planBS2) {
		b := bytes.Repeat([]byte{byte(idx + 1)}, int(format.BlockLen(idx, planBS2, size)))
		if idx == 0 {
			copy(b, sqliteHeader()[:100])
		}
		data[idx] = b
		refs[idx] = format.BlockRef{Commit: n, Token: n, CRC: format.Checksum(b)}
	}
	return &format.Snapshot{N: n, Token: n, BlockSize: planBS2, Size: size, Version: 2, Overlays: overlays,
		Blocks: format.BlockMap{}.With(format.NBlocks(size, planBS2), refs)}, data
}

// writeTx returns a transaction over s whose pending blocks are committed
// with the given pages (of planUnit2) filled with fill.
func writeTx(s *format.Snapshot, committed map[int64][]byte, fill byte, pages ...int64) tx.Writes {
	w := tx.Writes{Dirty: true, Pending: map[int64][]byte{}, PendingSize: s.Size, Floor: s.Size}
	for _, p := range pages {
		idx := p * planUnit2 / planBS2
		if w.Pending[idx] == nil {
			w.Pending[idx] = make([]byte, planBS2)
			copy(w.Pending[idx], committed[idx])
		}
		off := p*planUnit2 - idx*planBS2
		for i := off; i < off+planUnit2; i++ {
			w.Pending[idx][i] = fill
		}
	}
	return w
}

func TestPlanCommit2(t *testing.T) {
	const token = 99
	a := Attempt{Token: token, Time: time.Unix(1700000000, 0), Writer: "w"}
	bounds := FoldBounds{Records: 2, Bytes: 64 << 10, Inline: 2 * planUnit2}
	full := func(n uint64) []format.OverlayRef {
		var r []format.OverlayRef
		for i := range uint64(bounds.Records) {
			r = append(r, format.OverlayRef{N: n - i - 1, Token: 5, Size: 100})
		}
		slices.Reverse(r)
		return r
	}
	tests := []struct {
		name     string
		size     int64
		overlays map[int64]*format.Overlay
		tx       func(s *format.Snapshot, c map[int64][]byte) tx.Writes
		forget   []int64 // blocks whose committed bytes the planner is not given
		changed  format.PageList
		inline   format.PageList
		folded   []int64
	}{{
		name:    "one page: carried inline, one request",
		size:    4 * planBS2,
		tx:      func(s *format.Snapshot, c map[int64][]byte) tx.Writes { return writeTx(s, c, 0xee, 5) },
		changed: format.PageList{{First: 5, N: 1}}, inline: format.PageList{{First: 5, N: 1}},
	}, {
		name: "a page written with its own bytes is not changed",
		size: 4 * planBS2,
		tx:   func(s *format.Snapshot, c map[int64][]byte) tx.Writes { return writeTx(s, c, 3, 4) },
	}, {
		name: "page 1 differing only in the counters readers serve is not changed",
		size: 2 * planBS2,
		tx: func(s *format.Snapshot, c map[int64][]byte) tx.Writes {
			w := writeTx(s, c, 0, 1)
			copy(w.Pending[0][1*planUnit2:], c[0][planUnit2:]) // page 2 as committed
			copy(w.Pending[0][24:28], []byte{0, 0, 0, 7})
			copy(w.Pending[0][92:96], []byte{0, 0, 0, 7})
			return w
		},
	}, {
		name:     "an overlay at its record bound folds",
		size:     4 * planBS2,
		overlays: map[int64]*format.Overlay{1: {BaseLen: planBS2, Recs: full(10)}},
		tx:       func(s *format.Snapshot, c map[int64][]byte) tx.Writes { return writeTx(s, c, 0xee, 2) },
		changed:  format.PageList{{First: 2, N: 1}}, folded: []int64{1},
	}, {
		name:    "past the inline bound, the block with most pages folds",
		size:    4 * planBS2,
		tx:      func(s *format.Snapshot, c map[int64][]byte) tx.Writes { return writeTx(s, c, 0xee, 2, 3, 6) },
		changed: format.PageList{{First: 2, N: 2}, {First: 6, N: 1}}, inline: format.PageList{{First: 6, N: 1}}, folded: []int64{1},
	}, {
		name:    "committed bytes unknown: every page of the block changed",
		size:    4 * planBS2,
		tx:      func(s *format.Snapshot, c map[int64][]byte) tx.Writes { return writeTx(s, c, 0xee, 5) },
		forget:  []int64{2},
		changed: format.PageList{{First: 4, N: 2}}, inline: format.PageList{{First: 4, N: 2}},
	}, {
		name: "growth: the new pages of the short last block are carried",
		size: 3*planBS2 + planUnit2,
		tx: func(s *format.Snapshot, c map[int64][]byte) tx.Writes {
			w := writeTx(s, c, 0xee, 7)
			w.PendingSize = 4 * planBS2
			return w
		},
		changed: format.PageList{{First: 7, N: 1}}, inline: format.PageList{{First: 7, N: 1}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := uint64(10)
			s, data := planSnap2(n, tt.size, tt.overlays)
			w := tt.tx(s, data)
			committed := maps.Clone(data)
			for _, idx := range tt.forget {
				delete(committed, idx)
			}
			p := Pages("db", s, w, Inputs{Committed: committed, Bounds: bounds}, a)
			if !reflect.DeepEqual(p.Rec.Changed, tt.changed) || !reflect.DeepEqual(p.Rec.Inline, tt.inline) {
				t.Errorf("changed %v, inline %v; want %v, %v", p.Rec.Changed, p.Rec.Inline, tt.changed, tt.inline)
			}
			if !slices.Equal(p.Folded, tt.folded) || p.Blocks != len(tt.folded) || p.OnePut() != (len(tt.folded) == 0) {
				t.Errorf("folded %v (%d uploads); want %v", p.Folded, len(p.Uploads), tt.folded)
			}
			if p.Rec.Unit != planUnit2 || p.Rec.N != n+1 || p.Rec.Parent != n || p.Rec.Token != token {
				t.Errorf("record header %+v", p.Rec)
			}
			if len(p.Rec.Delta) == 0 || p.Rec.Delta[0].Idx != 0 {
				t.Errorf("block 0 is not in the delta: %+v", p.Rec.Delta)
			}
			if _, err := format.DecodePageRecord(p.Encoded); err != nil {
				t.Errorf("the record does not decode: %v", err)
			}
			for _, idx := range slices.Collect(p.Rec.Inline.All()) {
				ov := p.Next.Overlays[idx*planUnit2/planBS2]
				if ov == nil || ov.Recs[len(ov.Recs)-1] != (format.OverlayRef{N: n + 1, Token: token, Size: int64(len(p.Encoded))}) {
					t.Errorf("page %d: the block's overlay %+v does not end with the record", idx, ov)
				}
			}
		})
	}
}

// TestPlanCommit2Upgrade: a commit on a version-1 snapshot writes a
// version-2 record whose delta keeps every version-1 entry, without
// overlay, and its base checkpoint.
func TestPlanCommit2Upgrade(t *testing.T) {
	s := planSnap(3, 4*planBS)
	s.Base = format.CheckpointRef{N: 2, Token: 7}
	w := tx.Writes{Dirty: true, Pending: map[int64][]byte{2: planBlock(2)}, PendingSize: 4 * planBS, Floor: 4 * planBS}
	committed := map[int64][]byte{2: bytes.Repeat([]byte{0}, planBS)}
	p := Pages("db", s, w, Inputs{Committed: committed, Bounds: DefaultFoldBounds(planBS)}, Attempt{Token: 4})
	if p.Rec.Base != s.Base || p.Next.Version != 2 {
		t.Errorf("base %v, format %d", p.Rec.Base, p.Next.Version)
	}
	if len(p.Rec.Delta) != 4 {
		t.Fatalf("delta %+v", p.Rec.Delta)
	}
	for i, e := range p.Rec.Delta {
		if e.Ref != s.Delta[i].Ref || (i != 2) != (e.Ov == nil) {
			t.Errorf("entry %d = %+v, from %+v", i, e, s.Delta[i])
		}
	}
	if !p.OnePut() || p.Rec.Unit != planBS {
		t.Errorf("uploads %d, unit %d: block 2 should be carried in pages of the block size (no SQLite header)", len(p.Uploads), p.Rec.Unit)
	}
}

// TestPlanCommit2CheckpointKeepsCarried: a commit whose delta is long
// enough to write a checkpoint still lists, besides block 0, the blocks
// it carries pages of: its inline pages are read through its own entries.
func TestPlanCommit2CheckpointKeepsCarried(t *testing.T) {
	const blocks = 100
	s := &format.Snapshot{BlockSize: planBS2}
	w := tx.Writes{Dirty: true, Pending: map[int64][]byte{}, PendingSize: blocks * planBS2}
	for idx := range int64(blocks) {
		w.Pending[idx] = bytes.Repeat([]byte{byte(idx + 1)}, planBS2)
	}
	copy(w.Pending[0], sqliteHeader()[:100])
	in := Inputs{Bounds: FoldBounds{Records: 8, Bytes: 1 << 20, Inline: 40 * planBS2}}
	p := Pages("db", s, w, in, Attempt{Token: 5})
	if p.Rec.Base != (format.CheckpointRef{N: 1, Token: 5}) {
		t.Fatalf("no checkpoint: base %v, %d entries", p.Rec.Base, len(p.Rec.Delta))
	}
	if got := len(p.Rec.Delta); got != 40 && got != 41 {
		t.Errorf("the record lists %d blocks; want block 0 and the 40 it carries", got)
	}
	m := newMemBucket2()
	m.publish(t, p)
	want := slices.Concat(slices.Collect(func(yield func([]byte) bool) {
		for idx := range int64(blocks) {
			if !yield(w.Pending[idx]) {
				return
			}
		}
	})...)
	for _, s := range []*format.Snapshot{p.Next, m.rebuild(t, 1)} {
		if got := m.readAll(t, s); !bytes.Equal(got, want) {
			t.Fatalf("commit 1 (base %v) does not read back", s.Base)
		}
	}
}

// sameRecord2 compares records, times by instant.
func sameRecord2(a, b *format.Record) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	x, y := *a, *b
	x.Time, y.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(x, y)
}
