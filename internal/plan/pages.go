package plan

import (
	"bytes"
	"maps"
	"slices"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// Planning a version-2 commit (docs/format.md, "Format version 2"): which
// pages the transaction changed, compared with the committed bytes page by
// page; which blocks carry their changed pages inline in the record and
// which fold (are uploaded whole); the record, any checkpoint, and the
// snapshot they make. Pure, like Blocks: doing it is the engine's job (internal/engine/commitpages.go).

// FoldBounds are the bounds of the planner: of one block's overlay, and of
// the pages one record carries.
type FoldBounds struct {
	Records int   // most records in one block's overlay
	Bytes   int64 // most bytes of records in one block's overlay
	Inline  int64 // most bytes of pages one record carries
}

// DefaultFoldBounds returns the bounds docs/format.md gives for blocks of
// blockSize bytes ("The fold rule").
func DefaultFoldBounds(blockSize int64) FoldBounds {
	return FoldBounds{Records: 32, Bytes: max(blockSize, 64<<10), Inline: 256 << 10}
}

// Inputs is what the version-2 planner needs besides the snapshot and
// the transaction.
type Inputs struct {
	// Committed holds the bytes of blocks of the snapshot as read (merged),
	// where the caller has them: every pending block it can, and block 0.
	// A pending block missing here counts as changed in every page.
	Committed map[int64][]byte
	Bounds    FoldBounds
	// TooLarge reports whether a record of this many bytes does not fit
	// where records are kept; nil: any fits.
	TooLarge func(size int) bool
	// SegmentShift, when not 0, writes checkpoints in version 3, in
	// segments of 1<<SegmentShift blocks; 0 writes version 2.
	SegmentShift uint
	// MapPinned says that the caller pinned every segment the map of the
	// snapshot reads (engine.Database.LocateAll): a checkpoint due over a
	// map in segments is planned only then (PagePlan.NeedsWholeMap).
	MapPinned bool
}

// PagePlan is what a version-2 commit writes, and what it makes once
// published.
type PagePlan struct {
	Rec     *format.Record
	Encoded []byte                    // rec.encode(): what the conditional create writes
	Next    *format.Snapshot          // the snapshot rec makes
	Changes map[int64]format.BlockRef // the base objects the commit sets: folded, spilled, or a new hole
	Uploads []tx.Upload               // the folded blocks in index order, then any checkpoint
	Blocks  int                       // how many of uploads are blocks
	Folded  []int64                   // the blocks uploaded whole, ascending
	// NeedsWholeMap is set, and no checkpoint planned, when one is due
	// but the map of s is in segments not all pinned (Inputs.MapPinned,
	// format.BlockMap.Whole): the caller pins every segment, reading those
	// missing, and plans again.
	NeedsWholeMap bool
}

// OnePut reports whether the commit is a single request: the record.
func (p *PagePlan) OnePut() bool { return len(p.Uploads) == 0 }

// blockChange is a block a transaction wrote, and the pages it changed.
type blockChange struct {
	idx   int64
	data  []byte // the new block, exactly its length
	pages format.PageList
	bytes int64 // the bytes of pages
}

// PageUnit returns the page unit of a commit (docs/format.md, "Pages"):
// SQLite's page size from the plaintext header in block0 if it is at
// least 512 and divides the block size, else the block size.
func PageUnit(blockSize int64, block0 []byte) int64 {
	if len(block0) >= 100 && format.PlainHeader(block0) {
		ps := int64(block0[16])<<8 | int64(block0[17])
		if ps == 1 {
			ps = 65536
		}
		if format.ValidUnit(ps, blockSize) {
			return ps
		}
	}
	return blockSize
}

// ChangedPages returns the pages of block idx whose new bytes data differ
// from old, the committed bytes as read (nil: unknown, every page
// changed), of which only the first live bytes still count (a truncation
// removed the rest). In block 0 the change counter and version-valid-for
// number are not compared: readers serve them.
func ChangedPages(idx, blockSize, unit int64, data, old []byte, live int64) format.PageList {
	var l format.PageList
	if old != nil && int64(len(old)) < live {
		old = nil
	}
	for off := int64(0); off < int64(len(data)); off += unit {
		end := min(off+unit, int64(len(data)))
		if old == nil || end > live || !SamePage(idx == 0 && off == 0, data[off:end], old[off:end]) {
			l = l.Add((idx*blockSize + off) / unit)
		}
	}
	return l
}

// SamePage reports whether pages a and b are equal, the served header
// fields aside when header is set (page 1) and both are plain SQLite
// headers that agree on whether the two fields are equal.
func SamePage(header bool, a, b []byte) bool {
	if !header || len(a) < 100 || !format.PlainHeader(a) || !format.PlainHeader(b) {
		return bytes.Equal(a, b)
	}
	if bytes.Equal(a[24:28], a[92:96]) != bytes.Equal(b[24:28], b[92:96]) {
		return false
	}
	return bytes.Equal(a[:24], b[:24]) && bytes.Equal(a[28:92], b[28:92]) && bytes.Equal(a[96:], b[96:])
}

// Pages plans the commit of w on s as commit s.n+1 of the database
// at key, in format version 2. The caller has loaded the blocks Rewrites
// names, as for Blocks. s may be a version-1 snapshot: the commit
// then upgrades the database.
func Pages(key string, s *format.Snapshot, w tx.Writes, in Inputs, a Attempt) PagePlan {
	block0 := w.Pending[0]
	if block0 == nil {
		block0 = in.Committed[0]
	}
	unit := PageUnit(s.BlockSize, block0)
	written := writtenBlocks(s, w, in.Committed, unit)
	fold := overlaysFull(s, written, in.Bounds.Records)
	for carriedBytes(written, fold) > in.Bounds.Inline && foldLargest(written, fold) {
	}
	for {
		p := buildPagePlan(key, s, w, written, fold, unit, a)
		more := foldOverlaysOver(s, written, fold, int64(len(p.Encoded)), in.Bounds.Bytes)
		if !more && in.TooLarge != nil && in.TooLarge(len(p.Encoded)) {
			more = foldLargest(written, fold)
		}
		if !more {
			return checkpointIfDue(key, s, p, in, a)
		}
	}
}

// writtenBlocks returns the blocks of w within the new size, ascending,
// each with the pages (of unit bytes) it changed over committed, the
// committed bytes as read. A block 0 changed at most in the fields readers
// serve keeps its stored page 1.
func writtenBlocks(s *format.Snapshot, w tx.Writes, committed map[int64][]byte, unit int64) []blockChange {
	bs, size := s.BlockSize, w.PendingSize
	newLen := format.NBlocks(size, bs)
	live := min(s.Size, w.Floor)
	var written []blockChange
	for _, idx := range slices.Sorted(maps.Keys(w.Pending)) {
		if idx >= newLen {
			continue
		}
		c := blockChange{idx: idx, data: w.Pending[idx][:format.BlockLen(idx, bs, size)]}
		c.pages = ChangedPages(idx, bs, unit, c.data, committed[idx], format.BlockLen(idx, bs, live))
		if idx == 0 && len(c.data) > 0 && !c.pages.Contains(0) {
			// Page 1 differs at most in the fields readers serve: it
			// keeps its stored bytes, which the block then reads as.
			c.data = slices.Clone(c.data)
			copy(c.data, committed[0][:min(unit, int64(len(c.data)))])
		}
		for p := range c.pages.All() {
			c.bytes += format.PageLen(p, unit, size)
		}
		written = append(written, c)
	}
	return written
}

// overlaysFull returns the written blocks that must fold because their
// overlay in s already holds records records: the fold set to start from.
func overlaysFull(s *format.Snapshot, written []blockChange, records int) map[int64]bool {
	fold := map[int64]bool{}
	for _, c := range written {
		if ov := s.Overlay(c.idx); ov != nil && len(c.pages) > 0 && len(ov.Recs)+1 > records {
			fold[c.idx] = true
		}
	}
	return fold
}

// foldLargest adds to fold the written block not yet folded that carries
// the most bytes of pages, and reports whether there was one.
func foldLargest(written []blockChange, fold map[int64]bool) bool {
	best := -1
	for i, c := range written {
		if !fold[c.idx] && c.bytes > 0 && (best < 0 || c.bytes > written[best].bytes) {
			best = i
		}
	}
	if best >= 0 {
		fold[written[best].idx] = true
	}
	return best >= 0
}

// foldOverlaysOver adds to fold the written blocks that carry pages whose
// overlay in s would pass limit bytes with a record of recSize bytes, and
// reports whether it added any.
func foldOverlaysOver(s *format.Snapshot, written []blockChange, fold map[int64]bool, recSize, limit int64) bool {
	more := false
	for _, c := range written {
		if !fold[c.idx] && c.bytes > 0 && s.OverlayBytes(c.idx)+recSize > limit {
			fold[c.idx], more = true, true
		}
	}
	return more
}

// carriedBytes returns the bytes of the pages of written blocks that do
// not fold.
func carriedBytes(written []blockChange, fold map[int64]bool) int64 {
	var total int64
	for _, c := range written {
		if !fold[c.idx] {
			total += c.bytes
		}
	}
	return total
}

// buildPagePlan makes the record, uploads and snapshot of the commit of w on
// s in which the blocks in fold are uploaded whole and the other written
// blocks carry their changed pages inline.
func buildPagePlan(key string, s *format.Snapshot, w tx.Writes, written []blockChange, fold map[int64]bool, unit int64, a Attempt) PagePlan {
	b := &pagePlanBuild{
		key: key, s: s, w: w, unit: unit, a: a,
		n: s.N + 1, newLen: format.NBlocks(w.PendingSize, s.BlockSize),
		p:       PagePlan{Changes: map[int64]format.BlockRef{}},
		entries: map[int64]format.Entry{},
	}
	for _, c := range written {
		b.addWritten(c, fold[c.idx])
	}
	b.p.Blocks = len(b.p.Uploads)
	b.addSpilled()
	b.addHoles()
	return b.finish()
}

// pagePlanBuild is a version-2 plan that buildPagePlan is making: the commit's
// inputs, and the parts of its record gathered so far.
type pagePlanBuild struct {
	key    string
	s      *format.Snapshot
	w      tx.Writes
	unit   int64
	a      Attempt
	n      uint64 // the commit's number
	newLen int64  // the file's blocks after the commit

	p       PagePlan
	entries map[int64]format.Entry // the blocks the record sets
	changed format.PageList        // the pages the commit changed
	inline  format.PageList        // the pages the record carries
	pages   []byte                 // the bytes of inline, in order
}

// addWritten adds written block c: uploaded whole if folded, else its
// changed pages carried inline, else (no page changed) read to its new
// length if that changed.
func (b *pagePlanBuild) addWritten(c blockChange, folded bool) {
	b.changed = unionPages(b.changed, c.pages)
	length := int64(len(c.data))
	switch old := b.s.Entry(c.idx); {
	case folded:
		b.addFolded(c)
	case len(c.pages) > 0:
		b.addInline(c, old)
	case length != format.BlockLen(c.idx, b.s.BlockSize, b.s.Size):
		// No page changed, but the block's length did: the same
		// object, read to the new length.
		if e := relength(b.s, c.idx, c.data); e != old {
			b.entries[c.idx] = e
		}
	}
}

// addFolded adds written block c as a new base object, uploaded whole.
func (b *pagePlanBuild) addFolded(c blockChange) {
	ref := format.BlockRef{Commit: b.n, Token: b.a.Token, CRC: format.Checksum(c.data)}
	b.entries[c.idx] = format.Entry{Idx: c.idx, Ref: ref}
	b.p.Changes[c.idx] = ref
	b.p.Uploads = append(b.p.Uploads, tx.Upload{Name: format.BlockName(b.key, c.idx, ref), Data: c.data})
	b.p.Folded = append(b.p.Folded, c.idx)
}

// addInline adds written block c, whose entry in s is old, as its base
// object under an overlay that ends with this record, which carries c's
// changed pages.
func (b *pagePlanBuild) addInline(c blockChange, old format.Entry) {
	bs, size := b.s.BlockSize, b.w.PendingSize
	self := format.OverlayRef{N: b.n, Token: b.a.Token}
	var recs []format.OverlayRef
	if old.Ov != nil {
		recs = slices.Clone(old.Ov.Recs)
	}
	b.entries[c.idx] = format.Entry{Idx: c.idx, Ref: old.Ref,
		Ov: &format.Overlay{BaseLen: b.s.BaseLength(c.idx), Recs: append(recs, self), CRC: format.Checksum(c.data)}}
	b.inline = unionPages(b.inline, c.pages)
	for pg := range c.pages.All() {
		off := pg*b.unit - c.idx*bs
		b.pages = append(b.pages, c.data[off:off+format.PageLen(pg, b.unit, size)]...)
	}
}

// addSpilled adds the blocks within the new size that the transaction
// uploaded early (spill.go).
func (b *pagePlanBuild) addSpilled() {
	bs, size := b.s.BlockSize, b.w.PendingSize
	for idx, ref := range b.w.Spilled {
		if idx < b.newLen {
			b.entries[idx] = format.Entry{Idx: idx, Ref: ref} // uploaded early (spill.go)
			b.p.Changes[idx] = ref
			b.changed = unionPages(b.changed, b.w.SpilledChanged(idx, bs, b.unit, size))
		}
	}
}

// addHoles adds as holes the blocks past the old end, or wholly past a
// truncation, that were not written since.
func (b *pagePlanBuild) addHoles() {
	bs, size := b.s.BlockSize, b.w.PendingSize
	for idx := min(b.s.Blocks.Len(), format.NBlocks(b.w.Floor, bs)); idx < b.newLen; idx++ {
		if _, ok := b.entries[idx]; !ok {
			b.entries[idx] = format.Entry{Idx: idx}
			b.p.Changes[idx] = format.BlockRef{}
			b.changed = unionPages(b.changed, format.BlockPages(idx, bs, b.unit, size))
		}
	}
}

// finish makes the plan's record from the parts gathered, encodes it, and
// makes the snapshot it leads to.
func (b *pagePlanBuild) finish() PagePlan {
	s, a, p := b.s, b.a, b.p
	p.Rec = &format.Record{
		N: b.n, Parent: s.N, Token: a.Token,
		BlockSize: s.BlockSize, FileSize: b.w.PendingSize,
		Time: a.Time, Writer: a.Writer,
		Base: s.Base, Unit: b.unit,
		Changed: b.changed, Inline: b.inline, Pages: b.pages,
		Delta:   MergePageEntries(s.Delta, b.entries, b.newLen, s),
		Made:    a.Made,
		Lineage: s.Lineage,
	}
	p.Encoded = p.Rec.Encode()
	p.Next = s.Successor(p.Rec, len(p.Encoded), b.entries, b.newLen)
	return p
}

// relength returns the entry of block idx of s read to the length of
// data, whose pages all equal the committed ones.
func relength(s *format.Snapshot, idx int64, data []byte) format.Entry {
	e := s.Entry(idx)
	if e.Ref.IsHole() && e.Ov == nil {
		return e // zeros at any length
	}
	ov := &format.Overlay{BaseLen: s.BaseLength(idx), CRC: format.Checksum(data)}
	if e.Ov != nil {
		ov.Recs = e.Ov.Recs
	}
	if len(ov.Recs) == 0 && ov.BaseLen == int64(len(data)) {
		ov = nil // the object is the block again
	}
	return format.Entry{Idx: idx, Ref: e.Ref, Ov: ov}
}

// unionPages returns the pages of a and b.
func unionPages(a, b format.PageList) format.PageList {
	var out format.PageList
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var r format.PageRun
		if j >= len(b) || i < len(a) && a[i].First <= b[j].First {
			r, i = a[i], i+1
		} else {
			r, j = b[j], j+1
		}
		out = out.AddRun(r.First, r.N)
	}
	return out
}

// MergePageEntries returns the delta of a record over the delta of its
// parent: the parent's entries, replaced by changes, without blocks at or
// past n, and with block 0 always present (docs/format.md, "Entries,
// version 2"), taken from s where neither names it.
func MergePageEntries(parent []format.Entry, changes map[int64]format.Entry, n int64, s *format.Snapshot) []format.Entry {
	m := make(map[int64]format.Entry, len(parent)+len(changes)+1)
	for _, e := range parent {
		m[e.Idx] = e
	}
	maps.Copy(m, changes)
	if _, ok := m[0]; !ok && n > 0 {
		m[0] = s.Entry(0)
	}
	out := make([]format.Entry, 0, len(m))
	for idx, e := range m {
		if idx < n {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(x, y format.Entry) int { return int(x.Idx - y.Idx) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// checkpointIfDue adds a checkpoint to plan p when its record's delta is
// longer than checkpointAfter allows or the record does not fit where
// records are kept; the record then names the checkpoint as its base and
// lists only block 0 and the blocks whose overlays it ends (its inline
// pages must be read through its own entries).
func checkpointIfDue(key string, s *format.Snapshot, p PagePlan, in Inputs, a Attempt) PagePlan {
	n := p.Rec.N
	newLen := format.NBlocks(p.Rec.FileSize, p.Rec.BlockSize)
	if len(p.Rec.Delta) <= checkpointAfter(newLen) && (in.TooLarge == nil || !in.TooLarge(len(p.Encoded))) {
		return p
	}
	rec := *p.Rec
	rec.Base = format.CheckpointRef{N: n, Token: a.Token}
	rec.Delta = nil
	for _, e := range p.Rec.Delta {
		if e.Idx == 0 || e.Ov != nil && len(e.Ov.Recs) > 0 && e.Ov.Recs[len(e.Ov.Recs)-1].N == n {
			rec.Delta = append(rec.Delta, e) // block 0, and the blocks it carries pages of
		}
	}
	if p.Next.Blocks.Segments() != nil && !in.MapPinned || !p.Next.Blocks.Whole() {
		p.NeedsWholeMap = true
		return p
	}
	p.Rec = &rec
	p.Encoded = rec.Encode()
	size := int64(len(p.Encoded))
	c := &format.Checkpoint{N: n, Token: a.Token, BlockSize: rec.BlockSize, FileSize: rec.FileSize, SegmentShift: in.SegmentShift}
	c.Blocks = make([]format.Entry, 0, newLen)
	for idx := range newLen {
		e := p.Next.Entry(idx)
		if e.Ov != nil {
			e.Ov = format.WithSize(e.Ov, n, size)
		}
		c.Blocks = append(c.Blocks, e)
	}
	p.Uploads = append(p.Uploads, tx.Upload{Name: format.CheckpointName(key, n, a.Token), Data: c.Encode()})
	next := *p.Next
	// The map is whole here: the new snapshot holds it as the checkpoint
	// has it, and no longer reads the old checkpoint's segments.
	next.Blocks, next.Overlays = format.BaseOf(c.Blocks)
	next.Base, next.BaseMap, next.BaseOverlays, next.CheckpointVersion = rec.Base, next.Blocks, next.Overlays, c.Version()
	next.Delta = nil
	for _, e := range rec.Delta {
		if e.Ov != nil {
			e.Ov = format.WithSize(e.Ov, n, size)
		}
		next.Delta = append(next.Delta, e)
	}
	p.Next = &next
	return p
}
