package format

import (
	"cmp"
	"encoding/binary"
	"iter"
	"slices"
	"time"
)

// Format version 2 (docs/format.md, "Format version 2"): records that
// carry the pages of small commits inline, and block maps whose entries
// may overlay a block object with pages from records. This file encodes
// and decodes its records and checkpoints, and decodes either version.

const (
	recordMagic2     = "s3vfsR2\n"
	checkpointMagic2 = "s3vfsC2\n"

	// maxOverlayRecordSize bounds the length a map may give an overlay
	// record: far above what a writer makes, so only garbage fails it.
	maxOverlayRecordSize = 1 << 30
)

// OverlayRef names a record whose inline pages overlay a block: record N,
// created by the attempt with Token, Size bytes long. A record's
// references to itself have Size 0 (it is the object being read).
type OverlayRef struct {
	N     uint64 // the record's commit number
	Token uint64 // the token of the attempt that created it
	Size  int64  // its length in bytes; 0 in the record itself
}

// Overlay is what a block reads as beyond its base object: the first
// BaseLen bytes of the object, cut or padded with zeros to the block's
// length, then the inline pages of Recs (ascending N) that fall in the
// block; CRC is the CRC32C of the result.
type Overlay struct {
	BaseLen int64        // the bytes of the base object read
	Recs    []OverlayRef // the records whose pages overlay it, ascending
	CRC     uint32       // the CRC32C of the block read
}

// Entry is one block of a map, of either format version: its index, its
// base object (the zero BlockRef for a hole), and in format version 2 its
// overlay (nil: none, the object is the block). A version-1 record or
// checkpoint has no overlays.
type Entry struct {
	Idx int64    // the block's index
	Ref BlockRef // its base object; the zero BlockRef for none
	Ov  *Overlay // its overlay; nil for none
}

// Record is commit record N, of either format version: the only commit
// point of a commit. It is self-sufficient given its base checkpoint:
// Delta lists every block whose reference differs from the base
// (cumulative since the checkpoint). A record of format version 2 (page
// level) also lists the pages commit N changed, and carries some of them
// inline; one of version 1 (BlockLevel) does neither, and its entries have
// no overlays.
type Record struct {
	N         uint64        // the commit number
	Parent    uint64        // N-1
	Token     uint64        // the attempt token; blocks this commit wrote carry it
	BlockSize int64         // the database's block size
	FileSize  int64         // the database's size in bytes at commit N
	Time      time.Time     // when it committed, by the writer's clock
	Writer    string        // who committed (host/pid by default)
	Base      CheckpointRef // a version-1 or version-2 checkpoint

	Unit    int64    // the page unit of Changed and Inline
	Changed PageList // every page commit N may have changed
	Delta   []Entry  // sorted by Idx, all < NBlocks; cumulative since Base
	Inline  PageList // the pages carried, a subset of Changed
	Pages   []byte   // their bytes, in page order (see PageLen)

	// Record version 3 (origin.go); zero in a version-2 record.
	Made    Made    // how commit N was made
	Lineage Lineage // for a branch: where the objects of older commits live

	// BlockLevel marks a record of format version 1: every changed block
	// is uploaded whole, and the page fields above are empty.
	BlockLevel bool
	// Size is a page-level record's encoded length, once decoded or
	// planned (0: not known; always 0 for a version-1 record).
	Size int
}

// Checkpoint is the full block map at commit N, of either format
// version: a version-1 checkpoint (BlockLevel) has no overlays.
type Checkpoint struct {
	N          uint64  // the commit whose attempt wrote it
	Token      uint64  // the token of that attempt
	BlockSize  int64   // the database's block size
	FileSize   int64   // the database's size in bytes at commit N
	Blocks     []Entry // every index 0..NBlocks-1 in order
	BlockLevel bool    // format version 1

	// SegmentShift, set for a checkpoint of version 3, is the log2 of the
	// blocks per segment (segmented.go); 0 for versions 1 and 2.
	SegmentShift uint
}

// Encode returns the encoding of c, in its version.
func (c *Checkpoint) Encode() []byte {
	switch c.Version() {
	case 1:
		return c.encodeBlocks()
	case 3:
		return c.encodeSegmented()
	}
	return c.encodePages()
}

// Version returns the format version c is encoded in: 1 for a
// block-level checkpoint, 3 for one in segments, else 2.
func (c *Checkpoint) Version() int {
	switch {
	case c.BlockLevel:
		return 1
	case c.SegmentShift != 0:
		return 3
	}
	return 2
}

// PageLen returns the length of page p of unit u in a file of size bytes.
func PageLen(p, u, size int64) int64 {
	return max(0, min(u, size-p*u))
}

// NPages returns the number of pages of unit u in a file of size bytes.
func NPages(size, u int64) int64 { return (size + u - 1) / u }

// ValidUnit reports whether u may be the page unit of a file in blocks of
// blockSize: pages never straddle blocks.
func ValidUnit(u, blockSize int64) bool {
	return u >= MinBlockSize && u <= blockSize && blockSize%u == 0
}

// Carried iterates over the pages rec carries inline, in order, with
// their bytes.
func (rec *Record) Carried() iter.Seq2[int64, []byte] {
	return func(yield func(int64, []byte) bool) {
		off := int64(0)
		for p := range rec.Inline.All() {
			l := PageLen(p, rec.Unit, rec.FileSize)
			if !yield(p, rec.Pages[off:off+l]) {
				return
			}
			off += l
		}
	}
}

// inlineBlocks returns the blocks rec's inline pages fall in, ascending.
func (rec *Record) inlineBlocks() []int64 {
	var out []int64
	for _, r := range rec.Inline {
		first, last := r.First*rec.Unit/rec.BlockSize, (r.First+r.N-1)*rec.Unit/rec.BlockSize
		for b := first; b <= last; b++ {
			if len(out) == 0 || out[len(out)-1] < b {
				out = append(out, b)
			}
		}
	}
	return out
}

// overlayTable collects the distinct overlay records of a list of entries,
// ascending by commit number, with their 1-based positions.
type overlayTable struct {
	list []OverlayRef
	pos  map[uint64]uint64 // by commit number
}

func newOverlayTable(es []Entry) overlayTable {
	seen := map[uint64]OverlayRef{}
	for _, e := range es {
		if e.Ov != nil {
			for _, r := range e.Ov.Recs {
				seen[r.N] = r
			}
		}
	}
	t := overlayTable{pos: make(map[uint64]uint64, len(seen))}
	for _, r := range seen {
		t.list = append(t.list, r)
	}
	slices.SortFunc(t.list, func(a, b OverlayRef) int { return cmp.Compare(a.N, b.N) })
	for i, r := range t.list {
		t.pos[r.N] = uint64(i + 1)
	}
	return t
}

// appendTo encodes the table as seen from commit self: per record the
// distance self−n, then, unless self references itself in a record
// (selfRecord and n = self), its token and length.
func (t overlayTable) appendTo(b []byte, self uint64, selfRecord bool) []byte {
	b = binary.AppendUvarint(b, uint64(len(t.list)))
	for _, r := range t.list {
		b = binary.AppendUvarint(b, self-r.N)
		if selfRecord && r.N == self {
			continue
		}
		b = binary.LittleEndian.AppendUint64(b, r.Token)
		b = binary.AppendUvarint(b, uint64(r.Size))
	}
	return b
}

// overlayTable decodes an overlay-record table written by commit self
// (the record's own token is selfToken when selfRecord).
func (d *decoder) overlayTable(self uint64, selfRecord bool, selfToken uint64) []OverlayRef {
	nt := d.uvarint("overlay records")
	if d.err == nil && nt > uint64(len(d.b)) {
		d.fail("overlay records")
	}
	if d.err != nil {
		return nil
	}
	table := make([]OverlayRef, 0, nt)
	for i := uint64(0); i < nt && d.err == nil; i++ {
		dist := d.uvarint("overlay record")
		if d.err == nil && (dist >= self || i > 0 && dist >= self-table[i-1].N) {
			d.fail("overlay record") // records ascend, and none is above self
		}
		if d.err != nil {
			break
		}
		r := OverlayRef{N: self - dist}
		if selfRecord && dist == 0 {
			r.Token = selfToken
		} else {
			if t := d.fixed(8, "overlay token"); d.err == nil {
				r.Token = binary.LittleEndian.Uint64(t)
			}
			size := d.uvarint("overlay size")
			if d.err == nil && (size == 0 || size > maxOverlayRecordSize) {
				d.fail("overlay size")
			}
			r.Size = int64(size)
		}
		table = append(table, r)
	}
	return table
}

// appendPageEntries writes the writer table, the overlay-record table and
// the entries es of commit self.
func appendPageEntries(b []byte, es []Entry, self uint64, selfRecord bool) []byte {
	var writers writerTable
	for _, e := range es {
		writers.add(e.Ref)
	}
	ovs := newOverlayTable(es)
	b = writers.appendTo(b)
	b = ovs.appendTo(b, self, selfRecord)
	b = binary.AppendUvarint(b, uint64(len(es)))
	prev := int64(-1)
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(e.Idx-prev-1))
		prev = e.Idx
		b = binary.AppendUvarint(b, writers.position(e.Ref))
		if !e.Ref.IsHole() {
			b = binary.LittleEndian.AppendUint32(b, e.Ref.CRC)
		}
		if e.Ov == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(e.Ov.Recs))+1)
		b = binary.AppendUvarint(b, uint64(e.Ov.BaseLen))
		for _, r := range e.Ov.Recs {
			b = binary.AppendUvarint(b, ovs.pos[r.N])
		}
		b = binary.LittleEndian.AppendUint32(b, e.Ov.CRC)
	}
	return b
}

// pageEntries decodes what appendPageEntries writes, for a file of fileSize
// bytes in blocks of blockSize.
func (d *decoder) pageEntries(blockSize, fileSize int64, dense bool, self uint64, selfRecord bool, selfToken uint64) []Entry {
	writers := d.writers()
	ovs := d.overlayTable(self, selfRecord, selfToken)
	es := entryList(d, NBlocks(fileSize, blockSize), dense, func(idx int64) Entry {
		e := Entry{Idx: idx, Ref: d.entryRef(writers)}
		e.Ov = d.overlay(e, BlockLen(idx, blockSize, fileSize), blockSize, ovs)
		return e
	})
	if len(es) == 0 {
		return nil // a version-2 list of no entries decodes as nil
	}
	return es
}

// overlay decodes the overlay of entry e, a block of length blockLen.
func (d *decoder) overlay(e Entry, blockLen, blockSize int64, table []OverlayRef) *Overlay {
	k := d.uvarint("overlay")
	if d.err != nil || k == 0 {
		return nil
	}
	k--
	if k > uint64(len(table)) {
		d.fail("overlay")
		return nil
	}
	ov := &Overlay{BaseLen: int64(d.uvarint("base length"))}
	if d.err == nil && (ov.BaseLen < 0 || ov.BaseLen > blockSize || e.Ref.IsHole() && ov.BaseLen != 0) {
		d.fail("base length")
	}
	// An overlay of no record on no object, or that leaves the object as
	// long as the block, has a shorter encoding.
	if d.err == nil && k == 0 && (e.Ref.IsHole() || ov.BaseLen == blockLen) {
		d.fail("overlay")
	}
	prev := uint64(0)
	for j := uint64(0); j < k && d.err == nil; j++ {
		p := d.uvarint("overlay position")
		if d.err == nil && (p <= prev || p > uint64(len(table))) {
			d.fail("overlay position")
		}
		if d.err == nil {
			ov.Recs = append(ov.Recs, table[p-1])
			prev = p
		}
	}
	if sum := d.fixed(4, "block checksum"); d.err == nil {
		ov.CRC = binary.LittleEndian.Uint32(sum)
	}
	if d.err != nil {
		return nil
	}
	return ov
}

// encodePages returns the bytes of r as a version-2 record, or version 3 when
// it says how it was made or names a lineage.
func (r *Record) encodePages() []byte {
	magic := recordMagic2
	if r.version3() {
		magic = recordMagic3
	}
	b := recordHead{r.N, r.Parent, r.Token, r.BlockSize, r.FileSize, r.Time, r.Writer, r.Base}.append([]byte(magic))
	b = binary.AppendUvarint(b, uint64(r.Unit))
	b = appendPageList(b, r.Changed)
	b = appendPageEntries(b, r.Delta, r.N, true)
	b = appendPageList(b, r.Inline)
	b = append(b, r.Pages...)
	if r.version3() {
		b = r.appendOrigin(b)
	}
	return binary.LittleEndian.AppendUint32(b, Checksum(b))
}

// encodePages returns the bytes of c as a version-2 checkpoint.
func (c *Checkpoint) encodePages() []byte {
	b := appendCheckpointHead([]byte(checkpointMagic2), c.N, c.Token, c.BlockSize, c.FileSize)
	b = appendPageEntries(b, c.Blocks, c.N, false)
	return binary.LittleEndian.AppendUint32(b, Checksum(b))
}

// DecodePageRecord decodes and checks the version-2 or version-3 record b.
func DecodePageRecord(b []byte) (*Record, error) {
	v3 := hasMagic(b, recordMagic3)
	d := open(b, recordMagic2)
	if v3 {
		d = open(b, recordMagic3)
	}
	h := d.recordHead()
	r := &Record{N: h.n, Parent: h.parent, Token: h.token, BlockSize: h.blockSize, FileSize: h.fileSize,
		Time: h.time, Writer: h.writer, Base: h.base}
	r.Unit = int64(d.uvarint("page unit"))
	if d.err == nil && !ValidUnit(r.Unit, r.BlockSize) {
		d.fail("page unit")
	}
	if d.err != nil {
		return nil, d.err
	}
	limit := NPages(r.FileSize, r.Unit)
	r.Changed = d.pageList(limit, "changed pages")
	r.Delta = d.pageEntries(r.BlockSize, r.FileSize, false, r.N, true, r.Token)
	r.Inline = d.pageList(limit, "inline pages")
	if d.err == nil {
		var total int64
		for p := range r.Inline.All() {
			if !r.Changed.Contains(p) {
				d.fail("inline pages") // carried, but not changed
				break
			}
			total += PageLen(p, r.Unit, r.FileSize)
			if total > int64(len(d.b)) {
				d.fail("inline pages")
				break
			}
		}
		if pages := d.fixed(int(total), "inline pages"); d.err == nil && total > 0 {
			r.Pages = pages
		}
	}
	if v3 {
		d.origin(r)
	}
	d.end()
	if d.err == nil && !slices.Equal(r.inlineBlocks(), r.selfOverlaid()) {
		d.fail("inline pages") // a page no entry reads, or an entry that reads none
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// selfOverlaid returns the blocks whose entry in r's delta overlays r's
// own inline pages, ascending.
func (r *Record) selfOverlaid() []int64 {
	var out []int64
	for _, e := range r.Delta {
		if e.Ov != nil && len(e.Ov.Recs) > 0 && e.Ov.Recs[len(e.Ov.Recs)-1].N == r.N {
			out = append(out, e.Idx)
		}
	}
	return out
}

// DecodePageCheckpoint decodes and checks the version-2 checkpoint b.
func DecodePageCheckpoint(b []byte) (*Checkpoint, error) {
	d := open(b, checkpointMagic2)
	c := &Checkpoint{}
	c.N, c.Token, c.BlockSize, c.FileSize = d.checkpointHead()
	if d.err == nil {
		// Record c.N may overlay blocks of checkpoint c.N: its distance
		// is 0, and its length is given, as for any other record.
		c.Blocks = d.pageEntries(c.BlockSize, c.FileSize, true, c.N, false, 0)
	}
	return decoded(d, c)
}

// DecodeRecord decodes a record of any version (by its magic): one of
// version 1 comes back BlockLevel, one of version 2 or 3 with its Size.
func DecodeRecord(b []byte) (*Record, error) {
	if !hasMagic(b, recordMagic2) && !hasMagic(b, recordMagic3) {
		return DecodeBlockRecord(b)
	}
	r2, err := DecodePageRecord(b)
	if err != nil {
		return nil, err
	}
	return r2.WithSize(len(b)), nil
}

// WithSize records that r is size bytes long once encoded, and returns r.
func (r *Record) WithSize(size int) *Record {
	r.Size = size
	return r
}

// Encode returns the encoding of rec, in its version.
func (rec *Record) Encode() []byte {
	if rec.BlockLevel {
		return rec.encodeBlocks()
	}
	return rec.encodePages()
}

// hasMagic reports whether b starts with magic.
func hasMagic(b []byte, magic string) bool {
	return len(b) >= len(magic) && string(b[:len(magic)]) == magic
}

// DecodeCheckpoint decodes a checkpoint of any version (by its magic),
// whole.
func DecodeCheckpoint(b []byte) (*Checkpoint, error) {
	switch {
	case hasMagic(b, checkpointMagic2):
		return DecodePageCheckpoint(b)
	case hasMagic(b, checkpointMagic3):
		return DecodeSegmentedCheckpoint(b)
	}
	return DecodeBlockCheckpoint(b)
}
