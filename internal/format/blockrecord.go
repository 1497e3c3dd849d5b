package format

import (
	"encoding/binary"
	"slices"
)

// Format version 1 (docs/format.md): records and checkpoints whose entries
// each name a whole block object.

const (
	recordMagic     = "s3vfsR1\n"
	checkpointMagic = "s3vfsC1\n"
)

// NewCheckpoint returns checkpoint n, written by the attempt with token,
// of block map m, in a file of fileSize bytes.
func NewCheckpoint(n, token uint64, blockSize, fileSize int64, m BlockMap) *Checkpoint {
	c := &Checkpoint{BlockLevel: true, N: n, Token: token, BlockSize: blockSize, FileSize: fileSize, Blocks: make([]Entry, 0, m.Len())}
	for idx, ref := range m.All() {
		c.Blocks = append(c.Blocks, Entry{Idx: idx, Ref: ref})
	}
	return c
}

// encodeBlocks returns the bytes of r as a version-1 record.
func (r *Record) encodeBlocks() []byte {
	b := recordHead{r.N, r.Parent, r.Token, r.BlockSize, r.FileSize, r.Time, r.Writer, r.Base}.append([]byte(recordMagic))
	b = appendBlockEntries(b, r.Delta)
	return binary.LittleEndian.AppendUint32(b, Checksum(b))
}

// encodeBlocks returns the bytes of c as a version-1 checkpoint.
func (c *Checkpoint) encodeBlocks() []byte {
	b := appendCheckpointHead([]byte(checkpointMagic), c.N, c.Token, c.BlockSize, c.FileSize)
	b = appendBlockEntries(b, c.Blocks)
	return binary.LittleEndian.AppendUint32(b, Checksum(b))
}

// appendCheckpointHead appends the fields every checkpoint version, and
// the inner pages of a checkpoint, start with after their magic: N,
// token, block size and file size.
func appendCheckpointHead(b []byte, n, token uint64, blockSize, fileSize int64) []byte {
	b = binary.AppendUvarint(b, n)
	b = binary.AppendUvarint(b, token)
	b = binary.AppendUvarint(b, uint64(blockSize))
	return binary.AppendUvarint(b, uint64(fileSize))
}

// appendBlockEntries writes a table of the distinct (commit, token) pairs, then
// each entry as (index delta, table position or 0 for a hole, CRC32C): the
// version-1 layout, which has no overlays (a version-1 map never holds
// one: only the page planner and the version-2 decoder make them).
func appendBlockEntries(b []byte, es []Entry) []byte {
	var table writerTable
	for _, e := range es {
		table.add(e.Ref)
	}
	b = table.appendTo(b)
	b = binary.AppendUvarint(b, uint64(len(es)))
	prev := int64(-1)
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(e.Idx-prev-1))
		prev = e.Idx
		if e.Ref.IsHole() {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, table.position(e.Ref))
		b = binary.LittleEndian.AppendUint32(b, e.Ref.CRC)
	}
	return b
}

// blockEntries decodes what appendBlockEntries writes, for n blocks (dense: one
// entry per block).
func (d *decoder) blockEntries(n int64, dense bool) []Entry {
	writers := d.writers()
	return entryList(d, n, dense, func(idx int64) Entry {
		return Entry{Idx: idx, Ref: d.entryRef(writers)}
	})
}

// DecodeBlockRecord decodes and checks the version-1 record b.
func DecodeBlockRecord(b []byte) (*Record, error) {
	d := open(b, recordMagic)
	h := d.recordHead()
	r := &Record{BlockLevel: true, N: h.n, Parent: h.parent, Token: h.token, BlockSize: h.blockSize, FileSize: h.fileSize,
		Time: h.time, Writer: h.writer, Base: h.base}
	if d.err == nil {
		r.Delta = d.blockEntries(NBlocks(r.FileSize, r.BlockSize), false)
	}
	return decoded(d, r)
}

// DecodeBlockCheckpoint decodes and checks the version-1 checkpoint b.
func DecodeBlockCheckpoint(b []byte) (*Checkpoint, error) {
	d := open(b, checkpointMagic)
	c := &Checkpoint{BlockLevel: true}
	c.N, c.Token, c.BlockSize, c.FileSize = d.checkpointHead()
	if d.err == nil {
		c.Blocks = d.blockEntries(NBlocks(c.FileSize, c.BlockSize), true)
	}
	return decoded(d, c)
}

// MergeEntries returns a sorted list with the entries of both, b winning
// where both name an index, dropping indexes >= n.
func MergeEntries(a []Entry, b map[int64]BlockRef, n int64) []Entry {
	m := make(map[int64]BlockRef, len(a)+len(b))
	for _, e := range a {
		m[e.Idx] = e.Ref
	}
	for i, r := range b {
		m[i] = r
	}
	out := make([]Entry, 0, len(m))
	for i, r := range m {
		if i < n {
			out = append(out, Entry{Idx: i, Ref: r})
		}
	}
	slices.SortFunc(out, func(x, y Entry) int { return int(x.Idx - y.Idx) })
	return out
}
