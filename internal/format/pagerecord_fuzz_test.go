package format

import (
	"reflect"
	"testing"
)

// checkEntries2 checks the invariants every decoded version-2 block list
// must hold, for commit self of a file of fileSize bytes: those of
// checkEntries, and overlays whose base length fits the block size, whose
// records ascend and are not above self.
func checkEntries2(t *testing.T, es []Entry, blockSize, fileSize int64, dense bool, self uint64) {
	t.Helper()
	for _, e := range es {
		if e.Ov == nil {
			continue
		}
		if e.Ov.BaseLen < 0 || e.Ov.BaseLen > blockSize || e.Ref.IsHole() && e.Ov.BaseLen != 0 {
			t.Fatalf("block %d: base length %d", e.Idx, e.Ov.BaseLen)
		}
		prev := uint64(0)
		for _, r := range e.Ov.Recs {
			if r.N <= prev || r.N > self {
				t.Fatalf("block %d: overlay records %+v of commit %d", e.Idx, e.Ov.Recs, self)
			}
			prev = r.N
		}
	}
	checkEntries(t, es, NBlocks(fileSize, blockSize), dense)
}

// FuzzDecodePageRecord is FuzzDecodeBlockRecord for version-2 records: any bytes
// decode to an error or to a record that keeps the format's rules and
// survives re-encoding unchanged; a corrupted byte of a valid record is
// always an error.
func FuzzDecodePageRecord(f *testing.F) { fuzzRecord(f, recordMagic2) }

// FuzzDecodeOriginRecord is FuzzDecodePageRecord for version-3 records: the same
// rules, and an origin and lineage that keep theirs.
func FuzzDecodeOriginRecord(f *testing.F) { fuzzRecord(f, recordMagic3) }

// fuzzRecord fuzzes the decoder of records of one version, seeded with
// the samples of that version.
func fuzzRecord(f *testing.F, magic string) {
	for _, r := range sampleRecords2() {
		enc := r.encodePages()
		if !hasMagic(enc, magic) {
			continue
		}
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(magic):len(enc)-4], true, uint16(len(enc)/2), byte(0x10))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(magic, b)
		}
		r, err := DecodePageRecord(b)
		if err != nil {
			return
		}
		if r.N == 0 || r.Parent != r.N-1 || r.Base.N > r.N || r.BlockSize < MinBlockSize || r.BlockSize > MaxBlockSize ||
			!ValidUnit(r.Unit, r.BlockSize) {
			t.Fatalf("decoded a record that breaks the numbering or sizes: %+v", r)
		}
		checkEntries2(t, r.Delta, r.BlockSize, r.FileSize, false, r.N)
		checkOrigin(t, r)
		limit := NPages(r.FileSize, r.Unit)
		var carried int64
		for p, page := range r.Carried() {
			if p >= limit || !r.Changed.Contains(p) || int64(len(page)) != PageLen(p, r.Unit, r.FileSize) {
				t.Fatalf("inline page %d (%d bytes) of %+v", p, len(page), r)
			}
			carried += int64(len(page))
		}
		if carried != int64(len(r.Pages)) {
			t.Fatalf("%d bytes of pages, %d carried", len(r.Pages), carried)
		}
		checkReencoding(t, "record", r.encodePages(), DecodePageRecord, func(r2 *Record) bool { return sameRecord2(r, r2) }, pos, flip)
	})
}

// checkOrigin checks the rules of a decoded record's version-3 fields.
func checkOrigin(t *testing.T, r *Record) {
	t.Helper()
	if r.Made.By >= madeByEnd || r.Made.hasCommit() && (r.Made.Commit == 0 || r.Made.Commit >= r.N && r.Made.ownCommit()) ||
		r.Made.hasKey() && ValidateKey(r.Made.Key) != nil || !r.Made.hasKey() && r.Made.Key != "" ||
		r.Made.By == ByBranch && len(r.Lineage) == 0 || len(r.Lineage) > MaxLineage ||
		r.Made.NoDatabase() && (r.FileSize != 0 || len(r.Delta) > 0) || r.Made.By == Reserved && r.N != 1 {
		t.Fatalf("decoded a record made %+v, lineage %+v, of commit %d", r.Made, r.Lineage, r.N)
	}
	limit := r.N
	for _, a := range r.Lineage {
		if a.Commit == 0 || a.Commit >= limit || ValidateKey(a.Key) != nil {
			t.Fatalf("decoded a lineage %+v for commit %d", r.Lineage, r.N)
		}
		limit = a.Commit
	}
}

// FuzzDecodePageCheckpoint is FuzzDecodeBlockCheckpoint for version-2
// checkpoints.
func FuzzDecodePageCheckpoint(f *testing.F) {
	for _, c := range sampleCheckpoints2() {
		enc := c.encodePages()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(checkpointMagic2):len(enc)-4], true, uint16(len(enc)/3), byte(0x01))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(checkpointMagic2, b)
		}
		c, err := DecodePageCheckpoint(b)
		if err != nil {
			return
		}
		if c.N == 0 || c.BlockSize < MinBlockSize || c.BlockSize > MaxBlockSize {
			t.Fatalf("decoded a checkpoint with bad numbering or sizes: %+v", c)
		}
		checkEntries2(t, c.Blocks, c.BlockSize, c.FileSize, true, c.N)
		checkReencoding(t, "checkpoint", c.encodePages(), DecodePageCheckpoint, func(c2 *Checkpoint) bool { return reflect.DeepEqual(c, c2) }, pos, flip)
	})
}
