package s3vfs

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
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

// checkEntries checks the invariants every decoded block list must hold:
// indexes strictly increasing and below n, holes with no object, objects
// written by a real commit; dense lists cover 0..n-1.
func checkEntries(t *testing.T, es []entry, n int64, dense bool) {
	t.Helper()
	prev := int64(-1)
	for _, e := range es {
		if e.idx <= prev || e.idx >= n {
			t.Fatalf("entry index %d after %d, with %d blocks", e.idx, prev, n)
		}
		if e.ref.isHole() && e.ref != (blockRef{}) {
			t.Fatalf("hole with a reference: %+v", e.ref)
		}
		prev = e.idx
	}
	if dense && int64(len(es)) != n {
		t.Fatalf("checkpoint lists %d of %d blocks", len(es), n)
	}
}

// FuzzDecodeRecord: any bytes decode to an error or to a record that
// satisfies the format's invariants and survives re-encoding unchanged; and
// any single corrupted byte of a valid record is an error, never a
// different block map.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		enc := r.encode()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(recordMagic):len(enc)-4], true, uint16(len(enc)/2), byte(0x10))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(recordMagic, b)
		}
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if r.n == 0 || r.parent != r.n-1 || r.base.n > r.n || r.blockSize < minBlockSize || r.blockSize > maxBlockSize {
			t.Fatalf("decoded a record that breaks the numbering or sizes: %+v", r)
		}
		checkEntries(t, r.delta, nblocks(r.fileSize, r.blockSize), false)
		checkReencoding(t, "record", r.encode(), decodeRecord, func(r2 *record) bool { return sameRecord(r, r2) }, pos, flip)
	})
}

// FuzzDecodeCheckpoint is FuzzDecodeRecord for checkpoints: their block
// list must be dense (every block of the file, in order).
func FuzzDecodeCheckpoint(f *testing.F) {
	for _, c := range sampleCheckpoints() {
		enc := c.encode()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(checkpointMagic):len(enc)-4], true, uint16(len(enc)/3), byte(0x01))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(checkpointMagic, b)
		}
		c, err := decodeCheckpoint(b)
		if err != nil {
			return
		}
		if c.n == 0 || c.blockSize < minBlockSize || c.blockSize > maxBlockSize {
			t.Fatalf("decoded a checkpoint with bad numbering or sizes: %+v", c)
		}
		checkEntries(t, c.blocks, nblocks(c.fileSize, c.blockSize), true)
		checkReencoding(t, "checkpoint", c.encode(), decodeCheckpoint, func(c2 *checkpoint) bool { return reflect.DeepEqual(c, c2) }, pos, flip)
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

func sameRecord(a, b *record) bool {
	if !a.time.Equal(b.time) {
		return false
	}
	x, y := *a, *b
	x.time, y.time = time.Time{}, time.Time{}
	if len(x.delta) == 0 && len(y.delta) == 0 {
		x.delta, y.delta = nil, nil
	}
	return reflect.DeepEqual(x, y)
}

func sampleRecords() []*record {
	t0 := time.Unix(1700000000, 123)
	return []*record{
		{n: 1, parent: 0, token: 7, blockSize: 4096, fileSize: 8192, time: t0, writer: "host/1",
			delta: []entry{{0, blockRef{1, 7, 0xdeadbeef}}, {1, blockRef{1, 7, 42}}}},
		{n: 9, parent: 8, token: 1 << 60, blockSize: 512, fileSize: 5000, time: t0, writer: "",
			base: ckptRef{5, 99}, delta: []entry{{2, blockRef{}}, {7, blockRef{9, 1 << 60, 1}}, {9, blockRef{6, 3, 2}}}},
		{n: 3, parent: 2, token: 1, blockSize: 65536, fileSize: 0, time: t0, writer: "w"},
	}
}

func sampleCheckpoints() []*checkpoint {
	return []*checkpoint{
		{n: 4, token: 5, blockSize: 4096, fileSize: 3 * 4096,
			blocks: []entry{{0, blockRef{4, 5, 1}}, {1, blockRef{}}, {2, blockRef{2, 8, 3}}}},
		{n: 1, token: 1, blockSize: 512, fileSize: 0},
	}
}
