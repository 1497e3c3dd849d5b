package plan

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// planBS is the block size of the tests of Blocks.
const planBS = 512

// planSnap returns a snapshot of commit n of a file of size bytes whose
// blocks were all written by commit n (token n), over no checkpoint.
func planSnap(n uint64, size int64) *format.Snapshot {
	if n == 0 {
		return &format.Snapshot{BlockSize: planBS}
	}
	changes := map[int64]format.BlockRef{}
	var delta []format.Entry
	for idx := range format.NBlocks(size, planBS) {
		ref := format.BlockRef{Commit: n, Token: n, CRC: uint32(idx + 1)}
		changes[idx] = ref
		delta = append(delta, format.Entry{Idx: idx, Ref: ref})
	}
	rec := &format.Record{BlockLevel: true, N: n, Parent: n - 1, Token: n, BlockSize: planBS, FileSize: size, Delta: delta}
	return format.RecordSnapshot(rec, format.BlockMap{}.With(format.NBlocks(size, planBS), changes), format.BlockMap{})
}

// planBlock returns a pending block filled with idx+1.
func planBlock(idx int64) []byte { return bytes.Repeat([]byte{byte(idx + 1)}, planBS) }

// planCase is one case of TestPlanCommit.
type planCase struct {
	name       string
	snap       *format.Snapshot
	writes     tx.Writes
	tooLarge   bool
	delta      []format.Entry // the record's; nil with a checkpoint
	uploads    []int64        // the block indexes uploaded, in order
	checkpoint bool
	blocks     []format.BlockRef // the new snapshot's map
}

func TestPlanCommit(t *testing.T) {
	const token = 77
	at := time.Unix(1700000000, 0)
	spilledRef := format.BlockRef{Commit: 9, Token: 99, CRC: 5}
	// mine is the reference of block idx as the planned commit n writes it,
	// length bytes of planBlock(idx).
	mine := func(n uint64, idx, length int64) format.BlockRef {
		return format.BlockRef{Commit: n, Token: token, CRC: format.Checksum(planBlock(idx)[:length])}
	}
	old := func(n uint64, idx int64) format.BlockRef {
		return format.BlockRef{Commit: n, Token: n, CRC: uint32(idx + 1)}
	}

	tests := []planCase{{
		name:    "first commit",
		snap:    planSnap(0, 0),
		writes:  tx.Writes{Dirty: true, Pending: map[int64][]byte{0: planBlock(0), 1: planBlock(1)}, PendingSize: 700},
		delta:   []format.Entry{{Idx: 0, Ref: mine(1, 0, 512)}, {Idx: 1, Ref: mine(1, 1, 188)}},
		uploads: []int64{0, 1},
		blocks:  []format.BlockRef{mine(1, 0, 512), mine(1, 1, 188)},
	}, {
		name:    "one block changed",
		snap:    planSnap(3, 1536),
		writes:  tx.Writes{Dirty: true, Pending: map[int64][]byte{1: planBlock(1)}, PendingSize: 1536, Floor: 1536},
		delta:   []format.Entry{{Idx: 0, Ref: old(3, 0)}, {Idx: 1, Ref: mine(4, 1, 512)}, {Idx: 2, Ref: old(3, 2)}},
		uploads: []int64{1},
		blocks:  []format.BlockRef{old(3, 0), mine(4, 1, 512), old(3, 2)},
	}, {
		name:    "a gap past the old end is a hole",
		snap:    planSnap(1, 512),
		writes:  tx.Writes{Dirty: true, Pending: map[int64][]byte{2: planBlock(2)}, PendingSize: 1536, Floor: 512},
		delta:   []format.Entry{{Idx: 0, Ref: old(1, 0)}, {Idx: 1, Ref: format.BlockRef{}}, {Idx: 2, Ref: mine(2, 2, 512)}},
		uploads: []int64{2},
		blocks:  []format.BlockRef{old(1, 0), {}, mine(2, 2, 512)},
	}, {
		name:   "truncation drops blocks and pending blocks past the end",
		snap:   planSnap(2, 2048),
		writes: tx.Writes{Dirty: true, Pending: map[int64][]byte{3: planBlock(3)}, PendingSize: 1024, Floor: 1024},
		delta:  []format.Entry{{Idx: 0, Ref: old(2, 0)}, {Idx: 1, Ref: old(2, 1)}},
		blocks: []format.BlockRef{old(2, 0), old(2, 1)},
	}, {
		name:   "regrowth past a truncation leaves holes",
		snap:   planSnap(2, 2048),
		writes: tx.Writes{Dirty: true, Pending: map[int64][]byte{}, PendingSize: 2048, Floor: 512},
		delta:  []format.Entry{{Idx: 0, Ref: old(2, 0)}, {Idx: 1, Ref: format.BlockRef{}}, {Idx: 2, Ref: format.BlockRef{}}, {Idx: 3, Ref: format.BlockRef{}}},
		blocks: []format.BlockRef{old(2, 0), {}, {}, {}},
	}, {
		name:    "spilled blocks are named, not uploaded",
		snap:    planSnap(1, 512),
		writes:  tx.Writes{Dirty: true, Pending: map[int64][]byte{2: planBlock(2)}, Spilled: map[int64]format.BlockRef{1: spilledRef}, PendingSize: 1536, Floor: 512},
		delta:   []format.Entry{{Idx: 0, Ref: old(1, 0)}, {Idx: 1, Ref: spilledRef}, {Idx: 2, Ref: mine(2, 2, 512)}},
		uploads: []int64{2},
		blocks:  []format.BlockRef{old(1, 0), spilledRef, mine(2, 2, 512)},
	}, {
		name:       "a record too large for the coordinator writes a checkpoint",
		snap:       planSnap(1, 512),
		writes:     tx.Writes{Dirty: true, Pending: map[int64][]byte{0: planBlock(0)}, PendingSize: 512, Floor: 512},
		tooLarge:   true,
		uploads:    []int64{0},
		checkpoint: true,
		blocks:     []format.BlockRef{mine(2, 0, 512)},
	}}

	// A delta longer than checkpointAfter writes a checkpoint.
	many := tx.Writes{Dirty: true, Pending: map[int64][]byte{}, PendingSize: 100 * planBS}
	var manyUploads []int64
	var manyBlocks []format.BlockRef
	for idx := range int64(100) {
		many.Pending[idx] = planBlock(idx)
		manyUploads = append(manyUploads, idx)
		manyBlocks = append(manyBlocks, mine(1, idx, planBS))
	}
	tests = append(tests, planCase{name: "a long delta writes a checkpoint", snap: planSnap(0, 0), writes: many,
		uploads: manyUploads, checkpoint: true, blocks: manyBlocks})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tooLarge := func(*format.Record) bool { return tt.tooLarge }
			a := Attempt{Token: token, Time: at, Writer: "w"}
			p := Blocks("db", tt.snap, tt.writes, a, tooLarge)
			n := tt.snap.N + 1

			rec := p.Rec
			if rec.N != n || rec.Parent != tt.snap.N || rec.Token != token || rec.BlockSize != planBS ||
				rec.FileSize != tt.writes.PendingSize || !rec.Time.Equal(at) || rec.Writer != "w" {
				t.Errorf("record header = %+v", rec)
			}
			if tt.checkpoint {
				if rec.Base != (format.CheckpointRef{N: n, Token: token}) || rec.Delta != nil {
					t.Errorf("record base, delta = %v, %v; want the new checkpoint, none", rec.Base, rec.Delta)
				}
			} else if rec.Base != tt.snap.Base || !reflect.DeepEqual(rec.Delta, tt.delta) {
				t.Errorf("record base, delta = %v, %v; want %v, %v", rec.Base, rec.Delta, tt.snap.Base, tt.delta)
			}

			var names []string
			for _, idx := range tt.uploads {
				names = append(names, format.BlockName("db", idx, p.Next.Blocks.Get(idx)))
			}
			if tt.checkpoint {
				names = append(names, format.CheckpointName("db", n, token))
			}
			var got []string
			for _, u := range p.Uploads {
				got = append(got, u.Name)
			}
			if !reflect.DeepEqual(got, names) || p.Blocks != len(tt.uploads) {
				t.Errorf("uploads = %v (%d blocks); want %v", got, p.Blocks, names)
			}
			for _, u := range p.Uploads[:p.Blocks] {
				if int64(len(u.Data)) > planBS {
					t.Errorf("upload %s is %d bytes", u.Name, len(u.Data))
				}
			}
			if tt.checkpoint {
				c, err := format.DecodeBlockCheckpoint(p.Uploads[p.Blocks].Data)
				if err != nil {
					t.Fatal(err)
				}
				if c.N != n || c.Token != token || c.FileSize != tt.writes.PendingSize || int64(len(c.Blocks)) != p.Next.Blocks.Len() {
					t.Errorf("checkpoint = %+v", c)
				}
			}

			var blocks []format.BlockRef
			for _, ref := range p.Next.Blocks.All() {
				blocks = append(blocks, ref)
			}
			if !reflect.DeepEqual(blocks, tt.blocks) {
				t.Errorf("blocks = %v; want %v", blocks, tt.blocks)
			}
			if p.Next.N != n || p.Next.Size != tt.writes.PendingSize || p.Next.Base != rec.Base || !reflect.DeepEqual(p.Next.Delta, rec.Delta) {
				t.Errorf("next snapshot = %+v", p.Next)
			}
			if tt.checkpoint && !reflect.DeepEqual(p.Next.BaseMap, p.Next.Blocks) {
				t.Errorf("next snapshot's base map is not its checkpoint's")
			}
		})
	}
}

func TestRewrites(t *testing.T) {
	tests := []struct {
		name   string
		snap   *format.Snapshot
		writes tx.Writes
		want   []int64
	}{
		{"nothing changes length", planSnap(1, 1024), tx.Writes{Dirty: true, PendingSize: 1024, Floor: 1024}, nil},
		{"the short last block grows", planSnap(1, 700), tx.Writes{Dirty: true, PendingSize: 1024, Floor: 700}, []int64{1}},
		{"the last block shrinks", planSnap(1, 1024), tx.Writes{Dirty: true, PendingSize: 900, Floor: 900}, []int64{1}},
		{"the old last block becomes whole, the new one is past the old end", planSnap(1, 700), tx.Writes{Dirty: true, PendingSize: 1536, Floor: 700}, []int64{1, 2}},
		{"already pending", planSnap(1, 700), tx.Writes{Dirty: true, Pending: map[int64][]byte{1: nil}, PendingSize: 1024, Floor: 700}, nil},
		{"spilled", planSnap(1, 700), tx.Writes{Dirty: true, Spilled: map[int64]format.BlockRef{1: {}}, PendingSize: 1024, Floor: 700}, nil},
		{"a block cut, then regrown", planSnap(1, 2048), tx.Writes{Dirty: true, PendingSize: 2048, Floor: 700}, []int64{1}},
		{"a cut on a block boundary", planSnap(1, 2048), tx.Writes{Dirty: true, PendingSize: 2048, Floor: 1024}, nil},
		{"the first commit, unwritten", planSnap(0, 0), tx.Writes{Dirty: true, PendingSize: 700}, []int64{1}},
		{"the first commit, written", planSnap(0, 0), tx.Writes{Dirty: true, Pending: map[int64][]byte{1: nil}, PendingSize: 700}, nil},
	}
	for _, tt := range tests {
		if got := Rewrites(tt.snap, tt.writes); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Rewrites = %v; want %v", tt.name, got, tt.want)
		}
	}
}
