package s3vfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"time"
)

// FormatVersion is the newest version of the storage format this package
// reads and writes (docs/format.md); it reads every earlier one too.
// Options.FormatVersion chooses what commits write.
const FormatVersion = 2

const (
	recordMagic     = "s3vfsR1\n"
	checkpointMagic = "s3vfsC1\n"
	minBlockSize    = 512
	maxBlockSize    = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// errCorrupt reports an object that does not decode.
var errCorrupt = errors.New("s3vfs: corrupt metadata object")

// entry is one block of a map: its index and where it lives.
type entry struct {
	idx int64
	ref blockRef
}

// ckptRef names a checkpoint object; the zero value means "no checkpoint":
// an empty base map.
type ckptRef struct {
	n     uint64
	token uint64
}

// record is commit record n: the only commit point of a commit. It is
// self-sufficient given its base checkpoint: delta lists every block whose
// reference differs from the base (cumulative since the checkpoint).
type record struct {
	n         uint64
	parent    uint64
	token     uint64 // the attempt token; blocks this commit wrote carry it
	blockSize int64
	fileSize  int64
	time      time.Time
	writer    string
	base      ckptRef
	delta     []entry // sorted by idx, all < nblocks

	v2   *record2 // set for a version-2 record, whose fields above are copied from it and delta is nil
	size int      // a version-2 record's encoded length
}

// checkpoint is the full block map at commit n.
type checkpoint struct {
	n         uint64
	token     uint64
	blockSize int64
	fileSize  int64
	blocks    []entry // every index 0..nblocks-1 in order
}

// newCheckpoint returns checkpoint n, written by the attempt with token,
// of block map m, in a file of fileSize bytes.
func newCheckpoint(n, token uint64, blockSize, fileSize int64, m blockMap) *checkpoint {
	c := &checkpoint{n: n, token: token, blockSize: blockSize, fileSize: fileSize, blocks: make([]entry, 0, m.len())}
	for idx, ref := range m.all() {
		c.blocks = append(c.blocks, entry{idx, ref})
	}
	return c
}

func nblocks(fileSize, blockSize int64) int64 {
	return (fileSize + blockSize - 1) / blockSize
}

func (r *record) encode() []byte {
	b := recordHead{r.n, r.parent, r.token, r.blockSize, r.fileSize, r.time, r.writer, r.base}.append([]byte(recordMagic))
	b = appendEntries(b, r.delta)
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

func (c *checkpoint) encode() []byte {
	b := []byte(checkpointMagic)
	b = binary.AppendUvarint(b, c.n)
	b = binary.AppendUvarint(b, c.token)
	b = binary.AppendUvarint(b, uint64(c.blockSize))
	b = binary.AppendUvarint(b, uint64(c.fileSize))
	b = appendEntries(b, c.blocks)
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

// writerKey is one commit attempt that wrote blocks: an entry of the
// writer table of an entry list.
type writerKey struct{ commit, token uint64 }

// writerTable collects, in order of first use, the distinct attempts
// that wrote the given blocks (holes aside), with their 1-based positions.
type writerTable struct {
	list []writerKey
	pos  map[writerKey]uint64
}

// add puts the attempt that wrote ref in the table, unless ref is a hole.
func (t *writerTable) add(ref blockRef) {
	if ref.isHole() {
		return
	}
	w := writerKey{ref.commit, ref.token}
	if t.pos == nil {
		t.pos = map[writerKey]uint64{}
	}
	if _, ok := t.pos[w]; !ok {
		t.list = append(t.list, w)
		t.pos[w] = uint64(len(t.list))
	}
}

// position returns the table position of ref's writer; 0 for a hole.
func (t *writerTable) position(ref blockRef) uint64 {
	if ref.isHole() {
		return 0
	}
	return t.pos[writerKey{ref.commit, ref.token}]
}

// appendTo encodes the table: a count, then each commit and token.
func (t *writerTable) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(t.list)))
	for _, w := range t.list {
		b = binary.AppendUvarint(b, w.commit)
		b = binary.LittleEndian.AppendUint64(b, w.token)
	}
	return b
}

// appendEntries writes a table of the distinct (commit, token) pairs, then
// each entry as (index delta, table position or 0 for a hole, CRC32C).
func appendEntries(b []byte, es []entry) []byte {
	var table writerTable
	for _, e := range es {
		table.add(e.ref)
	}
	b = table.appendTo(b)
	b = binary.AppendUvarint(b, uint64(len(es)))
	prev := int64(-1)
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(e.idx-prev-1))
		prev = e.idx
		if e.ref.isHole() {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, table.position(e.ref))
		b = binary.LittleEndian.AppendUint32(b, e.ref.crc)
	}
	return b
}

// decoder reads the fields of an encoded object; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errCorrupt, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) fixed(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail(what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// open checks the magic and the trailing checksum and returns a decoder
// over the body.
func open(b []byte, magic string) *decoder {
	d := &decoder{}
	if len(b) < len(magic)+4 || string(b[:len(magic)]) != magic {
		d.err = fmt.Errorf("%w: unknown format (not a version %c %s object)", errCorrupt, magic[6], kindOf(magic))
		return d
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if checksum(body) != sum {
		d.err = fmt.Errorf("%w: checksum mismatch", errCorrupt)
		return d
	}
	d.b = body[len(magic):]
	return d
}

func kindOf(magic string) string {
	switch magic[5] {
	case 'R':
		return "commit record"
	case 'I':
		return "inner pages"
	}
	return "checkpoint"
}

func (d *decoder) sizes() (blockSize, fileSize int64) {
	bs := d.uvarint("block size")
	fs := d.uvarint("file size")
	if d.err == nil && (bs < minBlockSize || bs > maxBlockSize) {
		d.fail("block size")
	}
	if d.err == nil && fs > 1<<50 {
		d.fail("file size")
	}
	return int64(bs), int64(fs)
}

// writers decodes a writer table (writerTable.appendTo).
func (d *decoder) writers() []writerKey {
	nt := d.uvarint("writer table")
	if d.err == nil && nt > uint64(len(d.b)) {
		d.fail("writer table")
	}
	table := make([]writerKey, 0, min(nt, 1<<16))
	for i := uint64(0); i < nt && d.err == nil; i++ {
		c := d.uvarint("writer commit")
		t := d.fixed(8, "writer token")
		if d.err == nil && c == 0 {
			d.fail("writer commit")
		}
		if d.err == nil {
			table = append(table, writerKey{c, binary.LittleEndian.Uint64(t)})
		}
	}
	return table
}

func (d *decoder) entries(n int64, dense bool) []entry {
	table := d.writers()
	ne := d.entryCount(n, dense)
	if d.err != nil {
		return nil
	}
	es := make([]entry, 0, ne)
	prev := int64(-1)
	for i := uint64(0); i < ne && d.err == nil; i++ {
		idx := d.entryIndex(prev, n, dense)
		prev = idx
		p := d.uvarint("entry writer")
		if d.err == nil && p > uint64(len(table)) {
			d.fail("entry writer")
		}
		if d.err != nil {
			break
		}
		if p == 0 {
			es = append(es, entry{idx: idx})
			continue
		}
		sum := d.fixed(4, "entry checksum")
		if d.err == nil {
			w := table[p-1]
			es = append(es, entry{idx, blockRef{w.commit, w.token, binary.LittleEndian.Uint32(sum)}})
		}
	}
	return es
}

// entryCount decodes the count of a list of entries for n blocks (dense:
// one per block).
func (d *decoder) entryCount(n int64, dense bool) uint64 {
	ne := d.uvarint("entry count")
	if d.err == nil && (ne > uint64(n) || ne > uint64(len(d.b)) || dense && ne != uint64(n)) {
		d.fail("entry count")
	}
	return ne
}

// entryIndex decodes the index of the entry after the one at prev (-1
// for the first) in a list for n blocks (dense: one per block).
func (d *decoder) entryIndex(prev, n int64, dense bool) int64 {
	delta := d.uvarint("entry index")
	if d.err == nil && (delta >= uint64(n) || prev+1+int64(delta) >= n || dense && delta != 0) {
		d.fail("entry index")
	}
	return prev + 1 + int64(delta)
}

func (d *decoder) end() {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
}

// recordHead is the fields a record of either version begins with.
type recordHead struct {
	n, parent, token    uint64
	blockSize, fileSize int64
	time                time.Time
	writer              string
	base                ckptRef
}

// append appends the encoding of h to b.
func (h recordHead) append(b []byte) []byte {
	b = binary.AppendUvarint(b, h.n)
	b = binary.AppendUvarint(b, h.parent)
	b = binary.AppendUvarint(b, h.token)
	b = binary.AppendUvarint(b, uint64(h.blockSize))
	b = binary.AppendUvarint(b, uint64(h.fileSize))
	b = binary.AppendVarint(b, h.time.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(h.writer)))
	b = append(b, h.writer...)
	b = binary.AppendUvarint(b, h.base.n)
	return binary.AppendUvarint(b, h.base.token)
}

// recordHead decodes and checks the fields a record begins with.
func (d *decoder) recordHead() recordHead {
	var h recordHead
	h.n = d.uvarint("commit number")
	h.parent = d.uvarint("parent")
	h.token = d.uvarint("token")
	h.blockSize, h.fileSize = d.sizes()
	h.time = time.Unix(0, d.varint("time"))
	wl := d.uvarint("writer")
	h.writer = string(d.fixed(int(min(wl, 1<<20)), "writer"))
	if d.err == nil && wl > 1<<20 {
		d.fail("writer")
	}
	h.base.n = d.uvarint("base checkpoint")
	h.base.token = d.uvarint("base token")
	if d.err == nil && (h.n == 0 || h.parent != h.n-1 || h.base.n > h.n) {
		d.fail("commit numbering")
	}
	return h
}

func decodeRecord(b []byte) (*record, error) {
	d := open(b, recordMagic)
	h := d.recordHead()
	r := &record{n: h.n, parent: h.parent, token: h.token, blockSize: h.blockSize, fileSize: h.fileSize,
		time: h.time, writer: h.writer, base: h.base}
	if d.err == nil {
		r.delta = d.entries(nblocks(r.fileSize, r.blockSize), false)
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// checkpointHead decodes and checks the fields a checkpoint of either
// version begins with.
func (d *decoder) checkpointHead() (n, token uint64, blockSize, fileSize int64) {
	n = d.uvarint("commit number")
	token = d.uvarint("token")
	blockSize, fileSize = d.sizes()
	if d.err == nil && n == 0 {
		d.fail("commit number")
	}
	return n, token, blockSize, fileSize
}

func decodeCheckpoint(b []byte) (*checkpoint, error) {
	d := open(b, checkpointMagic)
	c := &checkpoint{}
	c.n, c.token, c.blockSize, c.fileSize = d.checkpointHead()
	if d.err == nil {
		c.blocks = d.entries(nblocks(c.fileSize, c.blockSize), true)
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// mergeEntries returns a sorted list with the entries of both, b winning
// where both name an index, dropping indexes >= n.
func mergeEntries(a []entry, b map[int64]blockRef, n int64) []entry {
	m := make(map[int64]blockRef, len(a)+len(b))
	for _, e := range a {
		m[e.idx] = e.ref
	}
	for i, r := range b {
		m[i] = r
	}
	out := make([]entry, 0, len(m))
	for i, r := range m {
		if i < n {
			out = append(out, entry{i, r})
		}
	}
	slices.SortFunc(out, func(x, y entry) int { return int(x.idx - y.idx) })
	return out
}
