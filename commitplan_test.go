package s3vfs

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// planBS is the block size of the planCommit tests.
const planBS = 512

// planSnap returns a snapshot of commit n of a file of size bytes whose
// blocks were all written by commit n (token n), over no checkpoint.
func planSnap(n uint64, size int64) *snapshot {
	if n == 0 {
		return &snapshot{blockSize: planBS}
	}
	changes := map[int64]blockRef{}
	var delta []entry
	for idx := range nblocks(size, planBS) {
		ref := blockRef{commit: n, token: n, crc: uint32(idx + 1)}
		changes[idx] = ref
		delta = append(delta, entry{idx, ref})
	}
	rec := &record{n: n, parent: n - 1, token: n, blockSize: planBS, fileSize: size, delta: delta}
	return rec.snapshot(blockMap{}.with(nblocks(size, planBS), changes), blockMap{})
}

// planBlock returns a pending block filled with idx+1.
func planBlock(idx int64) []byte { return bytes.Repeat([]byte{byte(idx + 1)}, planBS) }

// planCase is one case of TestPlanCommit.
type planCase struct {
	name       string
	snap       *snapshot
	writes     txView
	tooLarge   bool
	delta      []entry // the record's; nil with a checkpoint
	uploads    []int64 // the block indexes uploaded, in order
	checkpoint bool
	blocks     []blockRef // the new snapshot's map
}

func TestPlanCommit(t *testing.T) {
	const token = 77
	at := time.Unix(1700000000, 0)
	spilledRef := blockRef{commit: 9, token: 99, crc: 5}
	// mine is the reference of block idx as the planned commit n writes it,
	// length bytes of planBlock(idx).
	mine := func(n uint64, idx, length int64) blockRef {
		return blockRef{commit: n, token: token, crc: checksum(planBlock(idx)[:length])}
	}
	old := func(n uint64, idx int64) blockRef { return blockRef{commit: n, token: n, crc: uint32(idx + 1)} }

	tests := []planCase{{
		name:    "first commit",
		snap:    planSnap(0, 0),
		writes:  txView{dirty: true, pending: map[int64][]byte{0: planBlock(0), 1: planBlock(1)}, pendingSize: 700},
		delta:   []entry{{0, mine(1, 0, 512)}, {1, mine(1, 1, 188)}},
		uploads: []int64{0, 1},
		blocks:  []blockRef{mine(1, 0, 512), mine(1, 1, 188)},
	}, {
		name:    "one block changed",
		snap:    planSnap(3, 1536),
		writes:  txView{dirty: true, pending: map[int64][]byte{1: planBlock(1)}, pendingSize: 1536, floor: 1536},
		delta:   []entry{{0, old(3, 0)}, {1, mine(4, 1, 512)}, {2, old(3, 2)}},
		uploads: []int64{1},
		blocks:  []blockRef{old(3, 0), mine(4, 1, 512), old(3, 2)},
	}, {
		name:    "a gap past the old end is a hole",
		snap:    planSnap(1, 512),
		writes:  txView{dirty: true, pending: map[int64][]byte{2: planBlock(2)}, pendingSize: 1536, floor: 512},
		delta:   []entry{{0, old(1, 0)}, {1, blockRef{}}, {2, mine(2, 2, 512)}},
		uploads: []int64{2},
		blocks:  []blockRef{old(1, 0), {}, mine(2, 2, 512)},
	}, {
		name:   "truncation drops blocks and pending blocks past the end",
		snap:   planSnap(2, 2048),
		writes: txView{dirty: true, pending: map[int64][]byte{3: planBlock(3)}, pendingSize: 1024, floor: 1024},
		delta:  []entry{{0, old(2, 0)}, {1, old(2, 1)}},
		blocks: []blockRef{old(2, 0), old(2, 1)},
	}, {
		name:   "regrowth past a truncation leaves holes",
		snap:   planSnap(2, 2048),
		writes: txView{dirty: true, pending: map[int64][]byte{}, pendingSize: 2048, floor: 512},
		delta:  []entry{{0, old(2, 0)}, {1, blockRef{}}, {2, blockRef{}}, {3, blockRef{}}},
		blocks: []blockRef{old(2, 0), {}, {}, {}},
	}, {
		name:    "spilled blocks are named, not uploaded",
		snap:    planSnap(1, 512),
		writes:  txView{dirty: true, pending: map[int64][]byte{2: planBlock(2)}, spilled: map[int64]blockRef{1: spilledRef}, pendingSize: 1536, floor: 512},
		delta:   []entry{{0, old(1, 0)}, {1, spilledRef}, {2, mine(2, 2, 512)}},
		uploads: []int64{2},
		blocks:  []blockRef{old(1, 0), spilledRef, mine(2, 2, 512)},
	}, {
		name:       "a record too large for the coordinator writes a checkpoint",
		snap:       planSnap(1, 512),
		writes:     txView{dirty: true, pending: map[int64][]byte{0: planBlock(0)}, pendingSize: 512, floor: 512},
		tooLarge:   true,
		uploads:    []int64{0},
		checkpoint: true,
		blocks:     []blockRef{mine(2, 0, 512)},
	}}

	// A delta longer than checkpointAfter writes a checkpoint.
	many := txView{dirty: true, pending: map[int64][]byte{}, pendingSize: 100 * planBS}
	var manyUploads []int64
	var manyBlocks []blockRef
	for idx := range int64(100) {
		many.pending[idx] = planBlock(idx)
		manyUploads = append(manyUploads, idx)
		manyBlocks = append(manyBlocks, mine(1, idx, planBS))
	}
	tests = append(tests, planCase{name: "a long delta writes a checkpoint", snap: planSnap(0, 0), writes: many,
		uploads: manyUploads, checkpoint: true, blocks: manyBlocks})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tooLarge := func(*record) bool { return tt.tooLarge }
			a := commitAttempt{token: token, time: at, writer: "w"}
			p := planCommit("db", tt.snap, tt.writes, a, tooLarge)
			n := tt.snap.n + 1

			rec := p.rec
			if rec.n != n || rec.parent != tt.snap.n || rec.token != token || rec.blockSize != planBS ||
				rec.fileSize != tt.writes.pendingSize || !rec.time.Equal(at) || rec.writer != "w" {
				t.Errorf("record header = %+v", rec)
			}
			if tt.checkpoint {
				if rec.base != (ckptRef{n, token}) || rec.delta != nil {
					t.Errorf("record base, delta = %v, %v; want the new checkpoint, none", rec.base, rec.delta)
				}
			} else if rec.base != tt.snap.base || !reflect.DeepEqual(rec.delta, tt.delta) {
				t.Errorf("record base, delta = %v, %v; want %v, %v", rec.base, rec.delta, tt.snap.base, tt.delta)
			}

			var names []string
			for _, idx := range tt.uploads {
				names = append(names, blockName("db", idx, p.next.blocks.get(idx)))
			}
			if tt.checkpoint {
				names = append(names, checkpointName("db", n, token))
			}
			var got []string
			for _, u := range p.uploads {
				got = append(got, u.name)
			}
			if !reflect.DeepEqual(got, names) || p.blocks != len(tt.uploads) {
				t.Errorf("uploads = %v (%d blocks); want %v", got, p.blocks, names)
			}
			for _, u := range p.uploads[:p.blocks] {
				if int64(len(u.data)) > planBS {
					t.Errorf("upload %s is %d bytes", u.name, len(u.data))
				}
			}
			if tt.checkpoint {
				c, err := decodeCheckpoint(p.uploads[p.blocks].data)
				if err != nil {
					t.Fatal(err)
				}
				if c.n != n || c.token != token || c.fileSize != tt.writes.pendingSize || int64(len(c.blocks)) != p.next.blocks.len() {
					t.Errorf("checkpoint = %+v", c)
				}
			}

			var blocks []blockRef
			for _, ref := range p.next.blocks.all() {
				blocks = append(blocks, ref)
			}
			if !reflect.DeepEqual(blocks, tt.blocks) {
				t.Errorf("blocks = %v; want %v", blocks, tt.blocks)
			}
			if p.next.n != n || p.next.size != tt.writes.pendingSize || p.next.base != rec.base || !reflect.DeepEqual(p.next.delta, rec.delta) {
				t.Errorf("next snapshot = %+v", p.next)
			}
			if tt.checkpoint && !reflect.DeepEqual(p.next.baseMap, p.next.blocks) {
				t.Errorf("next snapshot's base map is not its checkpoint's")
			}
		})
	}
}

func TestRewrites(t *testing.T) {
	tests := []struct {
		name   string
		snap   *snapshot
		writes txView
		want   []int64
	}{
		{"nothing changes length", planSnap(1, 1024), txView{dirty: true, pendingSize: 1024, floor: 1024}, nil},
		{"the short last block grows", planSnap(1, 700), txView{dirty: true, pendingSize: 1024, floor: 700}, []int64{1}},
		{"the last block shrinks", planSnap(1, 1024), txView{dirty: true, pendingSize: 900, floor: 900}, []int64{1}},
		{"the old last block becomes whole, the new one is past the old end", planSnap(1, 700), txView{dirty: true, pendingSize: 1536, floor: 700}, []int64{1, 2}},
		{"already pending", planSnap(1, 700), txView{dirty: true, pending: map[int64][]byte{1: nil}, pendingSize: 1024, floor: 700}, nil},
		{"spilled", planSnap(1, 700), txView{dirty: true, spilled: map[int64]blockRef{1: {}}, pendingSize: 1024, floor: 700}, nil},
		{"a block cut, then regrown", planSnap(1, 2048), txView{dirty: true, pendingSize: 2048, floor: 700}, []int64{1}},
		{"a cut on a block boundary", planSnap(1, 2048), txView{dirty: true, pendingSize: 2048, floor: 1024}, nil},
		{"the first commit, unwritten", planSnap(0, 0), txView{dirty: true, pendingSize: 700}, []int64{1}},
		{"the first commit, written", planSnap(0, 0), txView{dirty: true, pending: map[int64][]byte{1: nil}, pendingSize: 700}, nil},
	}
	for _, tt := range tests {
		if got := rewrites(tt.snap, tt.writes); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: rewrites = %v; want %v", tt.name, got, tt.want)
		}
	}
}
