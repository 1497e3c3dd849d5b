// Package format is the pure codec of every version of the s3vfs storage
// format (docs/format.md): commit records and checkpoints of versions 1
// and 2, page lists, the inner pages of a checkpoint, the summaries
// garbage collection leaves for the next collection, the names of the
// objects under a database's key, and the persistent block map a
// snapshot is made of; and the model built from them: the [Snapshot] of
// a committed version (whose block names, overlays and successor it
// computes) and a reader's [InnerSet].
//
// Its contract: it only turns values into bytes and names and back, and
// checks them. It does no I/O, keeps no state beyond the values it is
// handed (an InnerSet remembers which of its bundles failed to read), and
// imports the standard library only. Encoding is deterministic, and decoding what an encoder
// wrote gives back the same value. A decoder takes any bytes without
// panicking and refuses, with an error wrapping [ErrCorrupt], whatever
// breaks a rule of the format, so the bytes of any object it accepts
// are the encoding of a valid value.
package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// The bounds of a block size, in bytes.
const (
	MinBlockSize = 512
	MaxBlockSize = 16 << 20
)

// castagnoli is the CRC32C table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC32C (Castagnoli) of b: the checksum of every
// object of the format, and of every block.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// ErrCorrupt reports an object that does not decode.
var ErrCorrupt = errors.New("s3vfs: corrupt metadata object")

// ErrUnknownVersion reports a metadata object of a format version newer
// than this release reads.
var ErrUnknownVersion = errors.New("s3vfs: unknown format version")

// NBlocks returns the number of blocks of blockSize bytes in a file of
// fileSize bytes.
func NBlocks(fileSize, blockSize int64) int64 {
	return (fileSize + blockSize - 1) / blockSize
}

// BlockLen returns the length of block idx in a file of size bytes.
func BlockLen(idx, blockSize, size int64) int64 {
	start := idx * blockSize
	if start >= size {
		return 0
	}
	return min(blockSize, size-start)
}

// CheckpointRef names a checkpoint object; the zero value means "no
// checkpoint": an empty base map.
type CheckpointRef struct {
	N     uint64 // the commit whose attempt wrote the checkpoint
	Token uint64 // the token of that attempt
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
func (t *writerTable) add(ref BlockRef) {
	if ref.IsHole() {
		return
	}
	w := writerKey{ref.Commit, ref.Token}
	if t.pos == nil {
		t.pos = map[writerKey]uint64{}
	}
	if _, ok := t.pos[w]; !ok {
		t.list = append(t.list, w)
		t.pos[w] = uint64(len(t.list))
	}
}

// position returns the table position of ref's writer; 0 for a hole.
func (t *writerTable) position(ref BlockRef) uint64 {
	if ref.IsHole() {
		return 0
	}
	return t.pos[writerKey{ref.Commit, ref.Token}]
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

// decoder reads the fields of an encoded object; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

// fail records that the field what is bad, unless an error came first.
func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
}

// uvarint decodes an unsigned varint, the field what.
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

// varint decodes a signed varint, the field what: an unsigned varint
// holding the value zig-zag encoded, as binary.AppendVarint writes it.
func (d *decoder) varint(what string) int64 {
	u := d.uvarint(what)
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// fixed decodes n bytes, the field what.
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
		d.err = fmt.Errorf("%w: unknown format (not a version %c %s object)", ErrCorrupt, magic[6], kindOf(magic))
		if len(b) >= len(magic) && string(b[:6]) == magic[:6] && b[6] > magic[6] && b[6] <= '9' && b[7] == '\n' {
			d.err = fmt.Errorf("%w: a version %c %s, written by a newer release of s3vfs: upgrade to read it",
				ErrUnknownVersion, b[6], kindOf(magic))
		}
		return d
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if Checksum(body) != sum {
		d.err = fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
		return d
	}
	d.b = body[len(magic):]
	return d
}

// kindOf names the kind of object magic begins.
func kindOf(magic string) string {
	switch magic[5] {
	case 'R':
		return "commit record"
	case 'I':
		return "inner pages"
	case 'G':
		return "collection summary"
	}
	return "checkpoint"
}

// sizes decodes and checks a block size and a file size.
func (d *decoder) sizes() (blockSize, fileSize int64) {
	bs := d.uvarint("block size")
	fs := d.uvarint("file size")
	if d.err == nil && (bs < MinBlockSize || bs > MaxBlockSize) {
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

// entryList decodes a list of entries for n blocks (dense: one per
// block): their count, then each entry's index (entryIndex) followed by
// the rest of the entry, which entry decodes. It stops at the first error,
// and keeps only the entries decoded before it.
func entryList[E any](d *decoder, n int64, dense bool, entry func(idx int64) E) []E {
	ne := d.entryCount(n, dense)
	if d.err != nil {
		return nil
	}
	es := make([]E, 0, ne)
	prev := int64(-1)
	for i := uint64(0); i < ne && d.err == nil; i++ {
		idx := d.entryIndex(prev, n, dense)
		prev = idx
		if e := entry(idx); d.err == nil {
			es = append(es, e)
		}
	}
	return es
}

// entryRef decodes the object an entry names: the position of its writer
// in writers, 0 for a hole (the zero BlockRef), then, for an object, its
// CRC32C.
func (d *decoder) entryRef(writers []writerKey) BlockRef {
	p := d.uvarint("entry writer")
	if d.err == nil && p > uint64(len(writers)) {
		d.fail("entry writer")
	}
	if d.err != nil || p == 0 {
		return BlockRef{}
	}
	sum := d.fixed(4, "entry checksum")
	if d.err != nil {
		return BlockRef{}
	}
	w := writers[p-1]
	return BlockRef{w.commit, w.token, binary.LittleEndian.Uint32(sum)}
}

// end fails unless every byte was decoded.
func (d *decoder) end() {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
}

// decoded ends the decoding of v: it fails unless every byte was decoded,
// and returns v, or nil and the first error.
func decoded[T any](d *decoder, v *T) (*T, error) {
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return v, nil
}

// recordHead is the fields a record of either version begins with.
type recordHead struct {
	n, parent, token    uint64
	blockSize, fileSize int64
	time                time.Time
	writer              string
	base                CheckpointRef
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
	b = binary.AppendUvarint(b, h.base.N)
	return binary.AppendUvarint(b, h.base.Token)
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
	h.base.N = d.uvarint("base checkpoint")
	h.base.Token = d.uvarint("base token")
	if d.err == nil && (h.n == 0 || h.parent != h.n-1 || h.base.N > h.n) {
		d.fail("commit numbering")
	}
	return h
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
