package format

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Checkpoints, version 3 (docs/format.md, "Checkpoints, version 3"): the
// block map in segments. The object's front (its header and a directory
// of the segments) is read at a cold open; a segment, the version-2
// entries of a run of blocks with writer and overlay-record tables of
// its own, is read when a block of it is first needed, with a ranged GET
// of the bytes the directory gives it.

const checkpointMagic3 = "s3vfsC3\n"

// Bounds of the blocks per segment, as a shift: 1<<MinSegmentShift to
// 1<<MaxSegmentShift blocks.
const (
	MinSegmentShift = 2
	MaxSegmentShift = 24
)

// DefaultSegmentShift is the shift of the segments a writer makes:
// 4,096 blocks, about 25 KB of entries a segment.
const DefaultSegmentShift = 12

// maxCheckpointLen bounds a checkpoint object: 5 TiB, the most S3 keeps
// in one object.
const maxCheckpointLen = 5 << 40

// frontPrefix is the length of what a reader needs to know the front's
// length: the magic and the length itself (4 bytes, little endian).
const frontPrefix = len(checkpointMagic3) + 4

// CheckpointFront is the front of a version-3 checkpoint: its header and
// where each of its segments is in the object.
type CheckpointFront struct {
	N, Token            uint64
	BlockSize, FileSize int64
	Shift               uint         // a segment holds 1<<Shift blocks, the last the rest
	Segments            []SegmentLoc // in block order
	Len                 int64        // the bytes of the front, from the start of the object
}

// SegmentLoc is where a segment is in its checkpoint object.
type SegmentLoc struct {
	Off, Len int64
	CRC      uint32 // CRC32C of its bytes
}

// NSegments returns the number of segments of 1<<shift blocks that hold
// n blocks.
func NSegments(n int64, shift uint) int64 { return (n + 1<<shift - 1) >> shift }

// Segment returns the segment that holds block idx.
func (f *CheckpointFront) Segment(idx int64) int { return int(idx >> f.Shift) }

// SegmentBlocks returns the first block of segment k and its number of
// blocks.
func (f *CheckpointFront) SegmentBlocks(k int) (start, n int64) {
	start = int64(k) << f.Shift
	return start, min(int64(1)<<f.Shift, NBlocks(f.FileSize, f.BlockSize)-start)
}

// HeldSize returns about the bytes of memory segment k takes once held,
// its overlays aside (HeldSegment.Size).
func (f *CheckpointFront) HeldSize(k int) int64 {
	_, n := f.SegmentBlocks(k)
	return n * int64(unsafe.Sizeof(BlockRef{}))
}

// encodeSegmented returns the bytes of c as a version-3 checkpoint, in
// segments of 1<<c.SegmentShift blocks. A shift out of range, or a front
// past 4 GiB, is a bug of the caller: it panics.
func (c *Checkpoint) encodeSegmented() []byte {
	if c.SegmentShift < MinSegmentShift || c.SegmentShift > MaxSegmentShift {
		panic(fmt.Sprintf("format: segment shift %d out of range", c.SegmentShift))
	}
	return c.appendSegmented(c.SegmentShift)
}

// appendSegmented returns the bytes of c as a version-3 checkpoint in
// segments of 1<<shift blocks, any shift below 32 (the tests write
// objects with shifts out of range).
func (c *Checkpoint) appendSegmented(shift uint) []byte {
	n := int64(len(c.Blocks))
	var segs [][]byte
	for start := int64(0); start < n; start += 1 << shift {
		es := c.Blocks[start:min(n, start+1<<shift)]
		segs = append(segs, appendSegment(nil, es, start, c.N))
	}
	front := appendCheckpointHead([]byte(checkpointMagic3+"\x00\x00\x00\x00"), c.N, c.Token, c.BlockSize, c.FileSize)
	front = binary.AppendUvarint(front, uint64(shift))
	for _, s := range segs {
		front = binary.AppendUvarint(front, uint64(len(s)))
		front = binary.LittleEndian.AppendUint32(front, Checksum(s))
	}
	if len(front)+4 > 1<<32-1 {
		panic("format: a checkpoint front past 4 GiB")
	}
	binary.LittleEndian.PutUint32(front[len(checkpointMagic3):], uint32(len(front)+4))
	front = binary.LittleEndian.AppendUint32(front, Checksum(front))
	for _, s := range segs {
		front = append(front, s...)
	}
	return front
}

// appendSegment writes the entries es, the blocks from start on, as a
// segment of commit self's checkpoint: the writer table, the
// overlay-record table, then one entry per block (indexes relative to
// start, every one present).
func appendSegment(b []byte, es []Entry, start int64, self uint64) []byte {
	rel := make([]Entry, len(es))
	for i, e := range es {
		rel[i] = e
		rel[i].Idx = e.Idx - start
	}
	return appendPageEntries(b, rel, self, false)
}

// FrontLen returns the length of the front of the version-3 checkpoint
// that b begins with (at least its first 12 bytes). A checkpoint of a
// later version is an error matching ErrUnknownVersion.
func FrontLen(b []byte) (int64, error) {
	if len(b) < frontPrefix || string(b[:len(checkpointMagic3)]) != checkpointMagic3 {
		return 0, open(b, checkpointMagic3).err
	}
	n := int64(binary.LittleEndian.Uint32(b[len(checkpointMagic3):]))
	if n < int64(frontPrefix)+4 {
		return 0, fmt.Errorf("%w: front length", ErrCorrupt)
	}
	return n, nil
}

// DecodeCheckpointFront decodes and checks the front of the version-3
// checkpoint that b begins with; b holds at least FrontLen bytes.
func DecodeCheckpointFront(b []byte) (*CheckpointFront, error) {
	n, err := FrontLen(b)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) < n {
		return nil, fmt.Errorf("%w: %d bytes of a front of %d", ErrCorrupt, len(b), n)
	}
	d := open(b[:n], checkpointMagic3)
	d.fixed(4, "front length")
	f := &CheckpointFront{Len: n}
	f.N, f.Token, f.BlockSize, f.FileSize = d.checkpointHead()
	shift := d.uvarint("segment shift")
	if d.err == nil && (shift < MinSegmentShift || shift > MaxSegmentShift) {
		d.fail("segment shift")
	}
	if d.err != nil {
		return nil, d.err
	}
	f.Shift = uint(shift)
	ns := NSegments(NBlocks(f.FileSize, f.BlockSize), f.Shift)
	if ns > int64(len(d.b)/5) {
		d.fail("segment count") // each takes at least five bytes
		return nil, d.err
	}
	off := n
	f.Segments = make([]SegmentLoc, 0, ns)
	for range ns {
		l := d.uvarint("segment length")
		if d.err == nil && (l == 0 || l > maxCheckpointLen-uint64(off)) {
			d.fail("segment length") // none empty, and the object within an S3 object's bound
		}
		sum := d.fixed(4, "segment checksum")
		if d.err != nil {
			return nil, d.err
		}
		f.Segments = append(f.Segments, SegmentLoc{Off: off, Len: int64(l), CRC: binary.LittleEndian.Uint32(sum)})
		off += int64(l)
	}
	return decoded(d, f)
}

// DecodeSegment decodes and checks segment k of the checkpoint, whose
// bytes are b: the entries of its blocks, in order.
func (f *CheckpointFront) DecodeSegment(k int, b []byte) ([]Entry, error) {
	if k < 0 || k >= len(f.Segments) {
		return nil, fmt.Errorf("format: segment %d of a checkpoint of %d", k, len(f.Segments))
	}
	loc := f.Segments[k]
	if int64(len(b)) != loc.Len || Checksum(b) != loc.CRC {
		return nil, fmt.Errorf("%w: segment %d: checksum mismatch", ErrCorrupt, k)
	}
	start, n := f.SegmentBlocks(k)
	d := &decoder{b: b}
	writers := d.writers()
	ovs := d.overlayTable(f.N, false, 0)
	es := entryList(d, n, true, func(rel int64) Entry {
		idx := start + rel
		e := Entry{Idx: idx, Ref: d.entryRef(writers)}
		e.Ov = d.overlay(e, BlockLen(idx, f.BlockSize, f.FileSize), f.BlockSize, ovs)
		return e
	})
	d.end()
	if d.err != nil {
		return nil, fmt.Errorf("segment %d: %w", k, d.err)
	}
	return es, nil
}

// DecodeSegmentedCheckpoint decodes and checks the whole version-3
// checkpoint b: its front and every segment.
func DecodeSegmentedCheckpoint(b []byte) (*Checkpoint, error) {
	f, err := DecodeCheckpointFront(b)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{N: f.N, Token: f.Token, BlockSize: f.BlockSize, FileSize: f.FileSize, SegmentShift: f.Shift}
	end := f.Len
	ovs := map[uint64]OverlayRef{}
	for k, loc := range f.Segments {
		if loc.Off+loc.Len > int64(len(b)) {
			return nil, fmt.Errorf("%w: segment %d past the object's end", ErrCorrupt, k)
		}
		es, err := f.DecodeSegment(k, b[loc.Off:loc.Off+loc.Len])
		if err != nil {
			return nil, err
		}
		if err := sameOverlayRecords(ovs, es); err != nil {
			return nil, fmt.Errorf("segment %d: %w", k, err)
		}
		c.Blocks = append(c.Blocks, es...)
		end = loc.Off + loc.Len
	}
	if end != int64(len(b)) {
		return nil, fmt.Errorf("%w: trailing bytes", ErrCorrupt)
	}
	return c, nil
}

// sameOverlayRecords adds the overlay records es name to seen, by commit
// number, and fails if one was seen with another token or length: each
// segment has a table of its own, and a checkpoint names each record
// once.
func sameOverlayRecords(seen map[uint64]OverlayRef, es []Entry) error {
	for _, e := range es {
		if e.Ov == nil {
			continue
		}
		for _, r := range e.Ov.Recs {
			if was, ok := seen[r.N]; ok && was != r {
				return fmt.Errorf("%w: overlay record %d named as %+v and %+v", ErrCorrupt, r.N, was, r)
			}
			seen[r.N] = r
		}
	}
	return nil
}
