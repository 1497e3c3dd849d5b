package s3vfs

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
// and decodes its records and checkpoints.

const (
	recordMagic2     = "s3vfsR2\n"
	checkpointMagic2 = "s3vfsC2\n"

	// maxOverlayRecordSize bounds the length a map may give an overlay
	// record: far above what a writer makes, so only garbage fails it.
	maxOverlayRecordSize = 1 << 30
)

// overlayRef names a record whose inline pages overlay a block: record n,
// created by the attempt with token, size bytes long. A record's
// references to itself have size 0 (it is the object being read).
type overlayRef struct {
	n     uint64
	token uint64
	size  int64
}

// overlay is what a block reads as beyond its base object: the first
// baseLen bytes of the object, cut or padded with zeros to the block's
// length, then the inline pages of recs (ascending n) that fall in the
// block; crc is the CRC32C of the result.
type overlay struct {
	baseLen int64
	recs    []overlayRef
	crc     uint32
}

// entry2 is a block of a version-2 map: its base object (a hole: none)
// and its overlay (nil: none, the object is the block as in version 1).
type entry2 struct {
	idx int64
	ref blockRef
	ov  *overlay
}

// record2 is a version-2 commit record: the fields of a version-1 record,
// the pages commit n changed, a delta of version-2 entries, and the pages
// it carries inline.
type record2 struct {
	n         uint64
	parent    uint64
	token     uint64
	blockSize int64
	fileSize  int64
	time      time.Time
	writer    string
	base      ckptRef // a version-1 or version-2 checkpoint

	unit    int64    // the page unit of changed and inline
	changed pageList // every page commit n may have changed
	delta   []entry2 // sorted by idx, all < nblocks; cumulative since base
	inline  pageList // the pages carried, a subset of changed
	pages   []byte   // their bytes, in page order (see pageLen)
}

// checkpoint2 is a version-2 checkpoint: the full map at commit n.
type checkpoint2 struct {
	n         uint64
	token     uint64
	blockSize int64
	fileSize  int64
	blocks    []entry2 // every index 0..nblocks-1 in order
}

// pageLen returns the length of page p of unit u in a file of size bytes.
func pageLen(p, u, size int64) int64 {
	return max(0, min(u, size-p*u))
}

// npages returns the number of pages of unit u in a file of size bytes.
func npages(size, u int64) int64 { return (size + u - 1) / u }

// validUnit reports whether u may be the page unit of a file in blocks of
// blockSize: pages never straddle blocks.
func validUnit(u, blockSize int64) bool {
	return u >= minBlockSize && u <= blockSize && blockSize%u == 0
}

// carried iterates over the pages rec carries inline, in order, with
// their bytes.
func (rec *record2) carried() iter.Seq2[int64, []byte] {
	return func(yield func(int64, []byte) bool) {
		off := int64(0)
		for p := range rec.inline.all() {
			l := pageLen(p, rec.unit, rec.fileSize)
			if !yield(p, rec.pages[off:off+l]) {
				return
			}
			off += l
		}
	}
}

// inlineBlocks returns the blocks rec's inline pages fall in, ascending.
func (rec *record2) inlineBlocks() []int64 {
	var out []int64
	for _, r := range rec.inline {
		first, last := r.first*rec.unit/rec.blockSize, (r.first+r.n-1)*rec.unit/rec.blockSize
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
	list []overlayRef
	pos  map[uint64]uint64 // by commit number
}

func newOverlayTable(es []entry2) overlayTable {
	seen := map[uint64]overlayRef{}
	for _, e := range es {
		if e.ov != nil {
			for _, r := range e.ov.recs {
				seen[r.n] = r
			}
		}
	}
	t := overlayTable{pos: make(map[uint64]uint64, len(seen))}
	for _, r := range seen {
		t.list = append(t.list, r)
	}
	slices.SortFunc(t.list, func(a, b overlayRef) int { return cmp.Compare(a.n, b.n) })
	for i, r := range t.list {
		t.pos[r.n] = uint64(i + 1)
	}
	return t
}

// appendTo encodes the table as seen from commit self: per record the
// distance self−n, then, unless self references itself in a record
// (selfRecord and n = self), its token and length.
func (t overlayTable) appendTo(b []byte, self uint64, selfRecord bool) []byte {
	b = binary.AppendUvarint(b, uint64(len(t.list)))
	for _, r := range t.list {
		b = binary.AppendUvarint(b, self-r.n)
		if selfRecord && r.n == self {
			continue
		}
		b = binary.LittleEndian.AppendUint64(b, r.token)
		b = binary.AppendUvarint(b, uint64(r.size))
	}
	return b
}

// overlayTable decodes an overlay-record table written by commit self
// (the record's own token is selfToken when selfRecord).
func (d *decoder) overlayTable(self uint64, selfRecord bool, selfToken uint64) []overlayRef {
	nt := d.uvarint("overlay records")
	if d.err == nil && nt > uint64(len(d.b)) {
		d.fail("overlay records")
	}
	if d.err != nil {
		return nil
	}
	table := make([]overlayRef, 0, nt)
	for i := uint64(0); i < nt && d.err == nil; i++ {
		dist := d.uvarint("overlay record")
		if d.err == nil && (dist >= self || i > 0 && dist >= self-table[i-1].n) {
			d.fail("overlay record") // records ascend, and none is above self
		}
		if d.err != nil {
			break
		}
		r := overlayRef{n: self - dist}
		if selfRecord && dist == 0 {
			r.token = selfToken
		} else {
			if t := d.fixed(8, "overlay token"); d.err == nil {
				r.token = binary.LittleEndian.Uint64(t)
			}
			size := d.uvarint("overlay size")
			if d.err == nil && (size == 0 || size > maxOverlayRecordSize) {
				d.fail("overlay size")
			}
			r.size = int64(size)
		}
		table = append(table, r)
	}
	return table
}

// appendEntries2 writes the writer table, the overlay-record table and
// the entries es of commit self.
func appendEntries2(b []byte, es []entry2, self uint64, selfRecord bool) []byte {
	var writers writerTable
	for _, e := range es {
		writers.add(e.ref)
	}
	ovs := newOverlayTable(es)
	b = writers.appendTo(b)
	b = ovs.appendTo(b, self, selfRecord)
	b = binary.AppendUvarint(b, uint64(len(es)))
	prev := int64(-1)
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(e.idx-prev-1))
		prev = e.idx
		b = binary.AppendUvarint(b, writers.position(e.ref))
		if !e.ref.isHole() {
			b = binary.LittleEndian.AppendUint32(b, e.ref.crc)
		}
		if e.ov == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(e.ov.recs))+1)
		b = binary.AppendUvarint(b, uint64(e.ov.baseLen))
		for _, r := range e.ov.recs {
			b = binary.AppendUvarint(b, ovs.pos[r.n])
		}
		b = binary.LittleEndian.AppendUint32(b, e.ov.crc)
	}
	return b
}

// entries2 decodes what appendEntries2 writes, for a file of fileSize
// bytes in blocks of blockSize.
func (d *decoder) entries2(blockSize, fileSize int64, dense bool, self uint64, selfRecord bool, selfToken uint64) []entry2 {
	n := nblocks(fileSize, blockSize)
	writers := d.writers()
	ovs := d.overlayTable(self, selfRecord, selfToken)
	ne := d.entryCount(n, dense)
	if d.err != nil || ne == 0 {
		return nil
	}
	es := make([]entry2, 0, ne)
	prev := int64(-1)
	for i := uint64(0); i < ne && d.err == nil; i++ {
		idx := d.entryIndex(prev, n, dense)
		prev = idx
		e := entry2{idx: idx}
		p := d.uvarint("entry writer")
		if d.err == nil && p > uint64(len(writers)) {
			d.fail("entry writer")
		}
		if d.err == nil && p > 0 {
			sum := d.fixed(4, "entry checksum")
			if d.err == nil {
				w := writers[p-1]
				e.ref = blockRef{w.commit, w.token, binary.LittleEndian.Uint32(sum)}
			}
		}
		e.ov = d.overlay(e, blockLen(idx, blockSize, fileSize), blockSize, ovs)
		if d.err == nil {
			es = append(es, e)
		}
	}
	return es
}

// overlay decodes the overlay of entry e, a block of length blockLen.
func (d *decoder) overlay(e entry2, blockLen, blockSize int64, table []overlayRef) *overlay {
	k := d.uvarint("overlay")
	if d.err != nil || k == 0 {
		return nil
	}
	k--
	if k > uint64(len(table)) {
		d.fail("overlay")
		return nil
	}
	ov := &overlay{baseLen: int64(d.uvarint("base length"))}
	if d.err == nil && (ov.baseLen < 0 || ov.baseLen > blockSize || e.ref.isHole() && ov.baseLen != 0) {
		d.fail("base length")
	}
	// An overlay of no record on no object, or that leaves the object as
	// long as the block, has a shorter encoding.
	if d.err == nil && k == 0 && (e.ref.isHole() || ov.baseLen == blockLen) {
		d.fail("overlay")
	}
	prev := uint64(0)
	for j := uint64(0); j < k && d.err == nil; j++ {
		p := d.uvarint("overlay position")
		if d.err == nil && (p <= prev || p > uint64(len(table))) {
			d.fail("overlay position")
		}
		if d.err == nil {
			ov.recs = append(ov.recs, table[p-1])
			prev = p
		}
	}
	if sum := d.fixed(4, "block checksum"); d.err == nil {
		ov.crc = binary.LittleEndian.Uint32(sum)
	}
	if d.err != nil {
		return nil
	}
	return ov
}

func (r *record2) encode() []byte {
	b := recordHead{r.n, r.parent, r.token, r.blockSize, r.fileSize, r.time, r.writer, r.base}.append([]byte(recordMagic2))
	b = binary.AppendUvarint(b, uint64(r.unit))
	b = appendPageList(b, r.changed)
	b = appendEntries2(b, r.delta, r.n, true)
	b = appendPageList(b, r.inline)
	b = append(b, r.pages...)
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

func (c *checkpoint2) encode() []byte {
	b := []byte(checkpointMagic2)
	b = binary.AppendUvarint(b, c.n)
	b = binary.AppendUvarint(b, c.token)
	b = binary.AppendUvarint(b, uint64(c.blockSize))
	b = binary.AppendUvarint(b, uint64(c.fileSize))
	b = appendEntries2(b, c.blocks, c.n, false)
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

func decodeRecord2(b []byte) (*record2, error) {
	d := open(b, recordMagic2)
	h := d.recordHead()
	r := &record2{n: h.n, parent: h.parent, token: h.token, blockSize: h.blockSize, fileSize: h.fileSize,
		time: h.time, writer: h.writer, base: h.base}
	r.unit = int64(d.uvarint("page unit"))
	if d.err == nil && !validUnit(r.unit, r.blockSize) {
		d.fail("page unit")
	}
	if d.err != nil {
		return nil, d.err
	}
	limit := npages(r.fileSize, r.unit)
	r.changed = d.pageList(limit, "changed pages")
	r.delta = d.entries2(r.blockSize, r.fileSize, false, r.n, true, r.token)
	r.inline = d.pageList(limit, "inline pages")
	if d.err == nil {
		var total int64
		for p := range r.inline.all() {
			if !r.changed.contains(p) {
				d.fail("inline pages") // carried, but not changed
				break
			}
			total += pageLen(p, r.unit, r.fileSize)
			if total > int64(len(d.b)) {
				d.fail("inline pages")
				break
			}
		}
		if pages := d.fixed(int(total), "inline pages"); d.err == nil && total > 0 {
			r.pages = pages
		}
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
func (r *record2) selfOverlaid() []int64 {
	var out []int64
	for _, e := range r.delta {
		if e.ov != nil && len(e.ov.recs) > 0 && e.ov.recs[len(e.ov.recs)-1].n == r.n {
			out = append(out, e.idx)
		}
	}
	return out
}

func decodeCheckpoint2(b []byte) (*checkpoint2, error) {
	d := open(b, checkpointMagic2)
	c := &checkpoint2{}
	c.n, c.token, c.blockSize, c.fileSize = d.checkpointHead()
	if d.err == nil {
		// Record c.n may overlay blocks of checkpoint c.n: its distance
		// is 0, and its length is given, as for any other record.
		c.blocks = d.entries2(c.blockSize, c.fileSize, true, c.n, false, 0)
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// entriesFromV1 returns version-1 entries as version-2 entries: the same
// objects, no overlay.
func entriesFromV1(es []entry) []entry2 {
	if len(es) == 0 {
		return nil
	}
	out := make([]entry2, len(es))
	for i, e := range es {
		out[i] = entry2{idx: e.idx, ref: e.ref}
	}
	return out
}

// decodeAnyRecord decodes a record of either version (by its magic). A
// version-2 record comes back as a record whose v2 field holds it.
func decodeAnyRecord(b []byte) (*record, error) {
	if len(b) < len(recordMagic2) || string(b[:len(recordMagic2)]) != recordMagic2 {
		return decodeRecord(b)
	}
	r2, err := decodeRecord2(b)
	if err != nil {
		return nil, err
	}
	return r2.header(len(b)), nil
}

// header returns r as a record: its version-1 fields, and r itself, size
// bytes long once encoded.
func (r *record2) header(size int) *record {
	return &record{n: r.n, parent: r.parent, token: r.token, blockSize: r.blockSize, fileSize: r.fileSize,
		time: r.time, writer: r.writer, base: r.base, v2: r, size: size}
}

// bytes returns the encoding of rec, in its version.
func (rec *record) bytes() []byte {
	if rec.v2 != nil {
		return rec.v2.encode()
	}
	return rec.encode()
}

// decodeAnyCheckpoint decodes a checkpoint of either version (by its
// magic), as version-2 entries.
func decodeAnyCheckpoint(b []byte) (n, token uint64, blockSize int64, blocks []entry2, err error) {
	if len(b) < len(checkpointMagic2) || string(b[:len(checkpointMagic2)]) != checkpointMagic2 {
		c, err := decodeCheckpoint(b)
		if err != nil {
			return 0, 0, 0, nil, err
		}
		return c.n, c.token, c.blockSize, entriesFromV1(c.blocks), nil
	}
	c, err := decodeCheckpoint2(b)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	return c.n, c.token, c.blockSize, c.blocks, nil
}

// entries2 returns the delta of rec, of either version, as version-2
// entries.
func (rec *record) entries2() []entry2 {
	if rec.v2 != nil {
		return rec.v2.delta
	}
	return entriesFromV1(rec.delta)
}
