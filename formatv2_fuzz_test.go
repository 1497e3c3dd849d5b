package s3vfs

import (
	"reflect"
	"testing"
)

// checkEntries2 checks the invariants every decoded version-2 block list
// must hold, for commit self of a file of fileSize bytes: those of
// checkEntries, and overlays whose base length fits the block size, whose
// records ascend and are not above self.
func checkEntries2(t *testing.T, es []entry2, blockSize, fileSize int64, dense bool, self uint64) {
	t.Helper()
	plain := make([]entry, len(es))
	for i, e := range es {
		plain[i] = entry{e.idx, e.ref}
		if e.ov == nil {
			continue
		}
		if e.ov.baseLen < 0 || e.ov.baseLen > blockSize || e.ref.isHole() && e.ov.baseLen != 0 {
			t.Fatalf("block %d: base length %d", e.idx, e.ov.baseLen)
		}
		prev := uint64(0)
		for _, r := range e.ov.recs {
			if r.n <= prev || r.n > self {
				t.Fatalf("block %d: overlay records %+v of commit %d", e.idx, e.ov.recs, self)
			}
			prev = r.n
		}
	}
	checkEntries(t, plain, nblocks(fileSize, blockSize), dense)
}

// FuzzDecodeRecord2 is FuzzDecodeRecord for version-2 records: any bytes
// decode to an error or to a record that keeps the format's rules and
// survives re-encoding unchanged; a corrupted byte of a valid record is
// always an error.
func FuzzDecodeRecord2(f *testing.F) {
	for _, r := range sampleRecords2() {
		enc := r.encode()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(recordMagic2):len(enc)-4], true, uint16(len(enc)/2), byte(0x10))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(recordMagic2, b)
		}
		r, err := decodeRecord2(b)
		if err != nil {
			return
		}
		if r.n == 0 || r.parent != r.n-1 || r.base.n > r.n || r.blockSize < minBlockSize || r.blockSize > maxBlockSize ||
			!validUnit(r.unit, r.blockSize) {
			t.Fatalf("decoded a record that breaks the numbering or sizes: %+v", r)
		}
		checkEntries2(t, r.delta, r.blockSize, r.fileSize, false, r.n)
		limit := npages(r.fileSize, r.unit)
		var carried int64
		for p, page := range r.carried() {
			if p >= limit || !r.changed.contains(p) || int64(len(page)) != pageLen(p, r.unit, r.fileSize) {
				t.Fatalf("inline page %d (%d bytes) of %+v", p, len(page), r)
			}
			carried += int64(len(page))
		}
		if carried != int64(len(r.pages)) {
			t.Fatalf("%d bytes of pages, %d carried", len(r.pages), carried)
		}
		checkReencoding(t, "record", r.encode(), decodeRecord2, func(r2 *record2) bool { return sameRecord2(r, r2) }, pos, flip)
	})
}

// FuzzDecodeCheckpoint2 is FuzzDecodeCheckpoint for version-2
// checkpoints.
func FuzzDecodeCheckpoint2(f *testing.F) {
	for _, c := range sampleCheckpoints2() {
		enc := c.encode()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(checkpointMagic2):len(enc)-4], true, uint16(len(enc)/3), byte(0x01))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(checkpointMagic2, b)
		}
		c, err := decodeCheckpoint2(b)
		if err != nil {
			return
		}
		if c.n == 0 || c.blockSize < minBlockSize || c.blockSize > maxBlockSize {
			t.Fatalf("decoded a checkpoint with bad numbering or sizes: %+v", c)
		}
		checkEntries2(t, c.blocks, c.blockSize, c.fileSize, true, c.n)
		checkReencoding(t, "checkpoint", c.encode(), decodeCheckpoint2, func(c2 *checkpoint2) bool { return reflect.DeepEqual(c, c2) }, pos, flip)
	})
}
