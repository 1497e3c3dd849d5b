package format

import (
	"encoding/binary"
	"reflect"
	"testing"
	"time"
)

// sealed returns body framed as an object of the given magic with a valid
// trailing checksum, so that fuzzing reaches the decoder behind the check.
func sealed(magic string, body []byte) []byte {
	b := append([]byte(magic), body...)
	return binary.LittleEndian.AppendUint32(b, Checksum(b))
}

// checkEntries checks the invariants every decoded block list must hold:
// indexes strictly increasing and below n, holes with no object, objects
// written by a real commit; dense lists cover 0..n-1.
func checkEntries(t *testing.T, es []Entry, n int64, dense bool) {
	t.Helper()
	prev := int64(-1)
	for _, e := range es {
		if e.Idx <= prev || e.Idx >= n {
			t.Fatalf("entry index %d after %d, with %d blocks", e.Idx, prev, n)
		}
		if e.Ref.IsHole() && e.Ref != (BlockRef{}) {
			t.Fatalf("hole with a reference: %+v", e.Ref)
		}
		prev = e.Idx
	}
	if dense && int64(len(es)) != n {
		t.Fatalf("checkpoint lists %d of %d blocks", len(es), n)
	}
}

// FuzzDecodeBlockRecord: any bytes decode to an error or to a record that
// satisfies the format's invariants and survives re-encoding unchanged; and
// any single corrupted byte of a valid record is an error, never a
// different block map.
func FuzzDecodeBlockRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		enc := r.encodeBlocks()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(recordMagic):len(enc)-4], true, uint16(len(enc)/2), byte(0x10))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(recordMagic, b)
		}
		r, err := DecodeBlockRecord(b)
		if err != nil {
			return
		}
		if r.N == 0 || r.Parent != r.N-1 || r.Base.N > r.N || r.BlockSize < MinBlockSize || r.BlockSize > MaxBlockSize {
			t.Fatalf("decoded a record that breaks the numbering or sizes: %+v", r)
		}
		checkEntries(t, r.Delta, NBlocks(r.FileSize, r.BlockSize), false)
		checkReencoding(t, "record", r.encodeBlocks(), DecodeBlockRecord, func(r2 *Record) bool { return sameRecord(r, r2) }, pos, flip)
	})
}

// FuzzDecodeBlockCheckpoint is FuzzDecodeBlockRecord for checkpoints: their block
// list must be dense (every block of the file, in order).
func FuzzDecodeBlockCheckpoint(f *testing.F) {
	for _, c := range sampleCheckpoints() {
		enc := c.encodeBlocks()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(checkpointMagic):len(enc)-4], true, uint16(len(enc)/3), byte(0x01))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(checkpointMagic, b)
		}
		c, err := DecodeBlockCheckpoint(b)
		if err != nil {
			return
		}
		if c.N == 0 || c.BlockSize < MinBlockSize || c.BlockSize > MaxBlockSize {
			t.Fatalf("decoded a checkpoint with bad numbering or sizes: %+v", c)
		}
		checkEntries(t, c.Blocks, NBlocks(c.FileSize, c.BlockSize), true)
		checkReencoding(t, "checkpoint", c.encodeBlocks(), DecodeBlockCheckpoint, func(c2 *Checkpoint) bool { return reflect.DeepEqual(c, c2) }, pos, flip)
	})
}

// checkReencoding fails t unless enc, the re-encoding of a decoded value,
// decodes to the same value (same), and unless enc with the byte at pos
// xored with flip (when flip is not 0) fails to decode.
func checkReencoding[T any](t *testing.T, what string, enc []byte, decode func([]byte) (T, error), same func(T) bool, pos uint16, flip byte) {
	t.Helper()
	v, err := decode(enc)
	if err != nil {
		t.Fatalf("re-encoded %s does not decode: %v", what, err)
	}
	if !same(v) {
		t.Fatalf("round trip changed the %s: %+v", what, v)
	}
	if flip != 0 {
		bad := append([]byte(nil), enc...)
		bad[int(pos)%len(bad)] ^= flip
		if v, err := decode(bad); err == nil {
			t.Fatalf("a corrupted %s decoded: %+v", what, v)
		}
	}
}

func sameRecord(a, b *Record) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	x, y := *a, *b
	x.Time, y.Time = time.Time{}, time.Time{}
	if len(x.Delta) == 0 && len(y.Delta) == 0 {
		x.Delta, y.Delta = nil, nil
	}
	return reflect.DeepEqual(x, y)
}

func sampleRecords() []*Record {
	t0 := time.Unix(1700000000, 123)
	return []*Record{
		{BlockLevel: true, N: 1, Parent: 0, Token: 7, BlockSize: 4096, FileSize: 8192, Time: t0, Writer: "host/1",
			Delta: []Entry{{Idx: 0, Ref: BlockRef{1, 7, 0xdeadbeef}}, {Idx: 1, Ref: BlockRef{1, 7, 42}}}},
		{BlockLevel: true, N: 9, Parent: 8, Token: 1 << 60, BlockSize: 512, FileSize: 5000, Time: t0, Writer: "",
			Base: CheckpointRef{5, 99}, Delta: []Entry{{Idx: 2, Ref: BlockRef{}}, {Idx: 7, Ref: BlockRef{9, 1 << 60, 1}}, {Idx: 9, Ref: BlockRef{6, 3, 2}}}},
		{BlockLevel: true, N: 3, Parent: 2, Token: 1, BlockSize: 65536, FileSize: 0, Time: t0, Writer: "w"},
	}
}

func sampleCheckpoints() []*Checkpoint {
	return []*Checkpoint{
		{BlockLevel: true, N: 4, Token: 5, BlockSize: 4096, FileSize: 3 * 4096,
			Blocks: []Entry{{Idx: 0, Ref: BlockRef{4, 5, 1}}, {Idx: 1, Ref: BlockRef{}}, {Idx: 2, Ref: BlockRef{2, 8, 3}}}},
		{BlockLevel: true, N: 1, Token: 1, BlockSize: 512, FileSize: 0},
	}
}
