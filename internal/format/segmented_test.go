package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"testing"
)

// sampleCheckpoints3 are version-2 samples as version-3 checkpoints, and
// one of ten blocks in segments of four (three segments, the last of
// two), with overlays in two of them.
func sampleCheckpoints3() []*Checkpoint {
	var out []*Checkpoint
	for _, c := range sampleCheckpoints2() {
		c.SegmentShift = DefaultSegmentShift
		out = append(out, c)
	}
	ten := &Checkpoint{N: 12, Token: 120, BlockSize: 512, FileSize: 9*512 + 100, SegmentShift: MinSegmentShift}
	for idx := range int64(10) {
		e := Entry{Idx: idx}
		if idx%3 != 2 {
			e.Ref = BlockRef{Commit: uint64(idx + 1), Token: uint64(idx) + 7, CRC: uint32(idx)}
		}
		if idx == 1 || idx == 9 {
			e.Ov = &Overlay{BaseLen: 300, Recs: []OverlayRef{{11, 111, 900}, {12, 112, 950}}, CRC: 5}
		}
		ten.Blocks = append(ten.Blocks, e)
	}
	eight := &Checkpoint{N: 3, Token: 30, BlockSize: 512, FileSize: 8 * 512, SegmentShift: MinSegmentShift}
	for idx := range int64(8) {
		eight.Blocks = append(eight.Blocks, Entry{Idx: idx, Ref: BlockRef{Commit: 3, Token: 30, CRC: uint32(idx)}})
	}
	return append(out, ten, eight)
}

func TestCheckpoint3RoundTrip(t *testing.T) {
	for _, c := range sampleCheckpoints3() {
		enc := c.Encode()
		got, err := DecodeCheckpoint(enc)
		if err != nil {
			t.Fatalf("checkpoint %d: %v", c.N, err)
		}
		if !reflect.DeepEqual(c, got) {
			t.Errorf("checkpoint %d round trip:\n%+v\n%+v", c.N, c, got)
		}
		if !bytes.Equal(got.Encode(), enc) {
			t.Errorf("checkpoint %d: re-encoding changes the bytes", c.N)
		}
		if _, err := DecodePageCheckpoint(enc); !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("checkpoint %d: a version-2 reader says %v, want ErrUnknownVersion", c.N, err)
		}
	}
}

// TestCheckpoint3BySegment reads the ten-block sample as a cold open
// does: the front from a prefix that holds it, then each segment from
// its own bytes.
func TestCheckpoint3BySegment(t *testing.T) {
	c := sampleCheckpoints3()[2]
	enc := c.Encode()
	n, err := FrontLen(enc[:12])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeCheckpointFront(enc[:n-1]); err == nil {
		t.Fatal("a front one byte short decoded")
	}
	f, err := DecodeCheckpointFront(enc[:n])
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Segments) != 3 || f.Segments[0].Off != n {
		t.Fatalf("segments %+v after a front of %d bytes", f.Segments, n)
	}
	var all []Entry
	for k, loc := range f.Segments {
		es, err := f.DecodeSegment(k, enc[loc.Off:loc.Off+loc.Len])
		if err != nil {
			t.Fatalf("segment %d: %v", k, err)
		}
		for _, e := range es {
			if f.Segment(e.Idx) != k {
				t.Fatalf("block %d in segment %d", e.Idx, k)
			}
		}
		all = append(all, es...)
	}
	if !reflect.DeepEqual(all, c.Blocks) {
		t.Fatalf("segments read one by one:\n%+v\nwant\n%+v", all, c.Blocks)
	}
	loc := f.Segments[1]
	if _, err := f.DecodeSegment(0, enc[loc.Off:loc.Off+loc.Len]); err == nil {
		t.Fatal("segment 1's bytes decoded as segment 0")
	}
}

// TestCheckpoint3Refused: objects whose checksums are right but break a
// rule of the front do not decode.
func TestCheckpoint3Refused(t *testing.T) {
	c := sampleCheckpoints3()[2]
	for name, shift := range map[string]uint{"shift below": MinSegmentShift - 1, "shift above": MaxSegmentShift + 1} {
		bad := *c
		bad.SegmentShift = shift
		if _, err := DecodeCheckpoint(bad.appendSegmented(shift)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	enc := c.Encode()
	if _, err := DecodeCheckpoint(append(enc[:len(enc):len(enc)], 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a trailing byte: %v, want ErrCorrupt", err)
	}
	if _, err := DecodeCheckpoint(enc[:len(enc)-1]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a segment cut short: %v, want ErrCorrupt", err)
	}
	if _, err := FrontLen(enc[:11]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("FrontLen of 11 bytes: %v, want ErrCorrupt", err)
	}
	later := append([]byte("s3vfsC4\n"), enc[8:]...)
	if _, err := FrontLen(later); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("FrontLen of a version-4 checkpoint: %v, want ErrUnknownVersion", err)
	}
	// Two segments that name record 11 apart: each has a table of its
	// own, and a checkpoint names a record once.
	twice := *c
	twice.Blocks = slices.Clone(c.Blocks)
	twice.Blocks[9].Ov = &Overlay{BaseLen: 300, Recs: []OverlayRef{{11, 999, 900}, {12, 112, 950}}, CRC: 5}
	if _, err := DecodeCheckpoint(twice.Encode()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("record 11 named apart in two segments: %v, want ErrCorrupt", err)
	}
}

// FuzzDecodeSegmentedCheckpoint is FuzzDecodePageCheckpoint for version-3
// checkpoints: any bytes decode to an error or to a checkpoint that keeps
// the format's rules and survives re-encoding unchanged; a corrupted byte
// of a valid checkpoint, in its front or in a segment, is always an error.
func FuzzDecodeSegmentedCheckpoint(f *testing.F) {
	for _, c := range sampleCheckpoints3() {
		enc := c.Encode()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc, false, uint16(len(enc)-3), byte(0x10))
		f.Add(enc, true, uint16(len(enc)/2), byte(0x01))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = resealed(b)
		}
		c, err := DecodeSegmentedCheckpoint(b)
		if err != nil {
			return
		}
		if c.N == 0 || c.BlockSize < MinBlockSize || c.BlockSize > MaxBlockSize || c.SegmentShift < MinSegmentShift || c.SegmentShift > MaxSegmentShift {
			t.Fatalf("decoded a checkpoint with bad numbering, sizes or segments: %+v", c)
		}
		checkEntries2(t, c.Blocks, c.BlockSize, c.FileSize, true, c.N)
		checkReencoding(t, "checkpoint", c.Encode(), DecodeSegmentedCheckpoint, func(c2 *Checkpoint) bool { return reflect.DeepEqual(c, c2) }, pos, flip)
	})
}

// resealed returns b with the checksums of a version-3 checkpoint made
// right: each segment's in the directory, then the front's, so that the
// fuzzer reaches the decoders behind them. What cannot be parsed as far
// as a checksum is left as it is.
func resealed(b []byte) []byte {
	b = slices.Clone(b)
	n, err := FrontLen(b)
	if err != nil || n > int64(len(b)) {
		return b
	}
	d := &decoder{b: b[frontPrefix : n-4]}
	d.checkpointHead()
	d.uvarint("segment shift")
	off := n
	for d.err == nil && len(d.b) > 0 {
		l := d.uvarint("segment length")
		at := len(b[:n-4]) - len(d.b) // where its checksum is
		d.fixed(4, "segment checksum")
		if d.err != nil || l > uint64(int64(len(b))-off) {
			break
		}
		binary.LittleEndian.PutUint32(b[at:], Checksum(b[off:off+int64(l)]))
		off += int64(l)
	}
	binary.LittleEndian.PutUint32(b[n-4:], Checksum(b[:n-4]))
	return b
}
