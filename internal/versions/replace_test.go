package versions

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
)

// replaceBS is the block size of the snapshots of the replacement tests.
const replaceBS = 512

// replaceSnap returns a snapshot of commit n of a file of size bytes
// whose blocks were all written by commit n (token n), over no checkpoint.
func replaceSnap(n uint64, size int64) *format.Snapshot {
	if n == 0 {
		return &format.Snapshot{BlockSize: replaceBS}
	}
	changes := map[int64]format.BlockRef{}
	var delta []format.Entry
	for idx := range format.NBlocks(size, replaceBS) {
		ref := format.BlockRef{Commit: n, Token: n, CRC: uint32(idx + 1)}
		changes[idx] = ref
		delta = append(delta, format.Entry{Idx: idx, Ref: ref})
	}
	rec := &format.Record{BlockLevel: true, N: n, Parent: n - 1, Token: n, BlockSize: replaceBS, FileSize: size, Delta: delta}
	return format.RecordSnapshot(rec, format.BlockMap{}.With(format.NBlocks(size, replaceBS), changes), format.BlockMap{})
}

func TestPlanReplacement(t *testing.T) {
	head := replaceSnap(4, 1024)
	blocks := format.BlockMap{}.With(3, map[int64]format.BlockRef{0: {Commit: 2, Token: 9, CRC: 1}, 2: {Commit: 5, Token: 9, CRC: 3}})
	a := &replacement{token: 9, blockSize: replaceBS, size: 1300}
	at := plan.Attempt{Token: 9, Time: time.Unix(1700000000, 0), Writer: "w"}
	rec, up, _ := planReplacement("db", head, a, blocks, at, false, 0)
	want := &format.Record{BlockLevel: true, N: 5, Parent: 4, Token: 9, BlockSize: replaceBS, FileSize: 1300, Time: at.Time, Writer: "w", Base: format.CheckpointRef{N: 5, Token: 9}}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("record = %+v; want %+v", rec, want)
	}
	if up.Name != format.CheckpointName("db", 5, 9) {
		t.Errorf("checkpoint name = %s", up.Name)
	}
	c, err := format.DecodeBlockCheckpoint(up.Data)
	if err != nil {
		t.Fatal(err)
	}
	wantC := &format.Checkpoint{BlockLevel: true, N: 5, Token: 9, BlockSize: replaceBS, FileSize: 1300,
		Blocks: []format.Entry{{Idx: 0, Ref: blocks.Get(0)}, {Idx: 1, Ref: format.BlockRef{}}, {Idx: 2, Ref: blocks.Get(2)}}}
	if !reflect.DeepEqual(c, wantC) {
		t.Errorf("checkpoint = %+v; want %+v", c, wantC)
	}
}

// In format version 2 the record lists every page as changed and block 0
// in its delta; the checkpoint is the same.
func TestPlanReplacement2(t *testing.T) {
	head := replaceSnap(4, 1024)
	blocks := format.BlockMap{}.With(3, map[int64]format.BlockRef{0: {Commit: 2, Token: 9, CRC: 1}, 2: {Commit: 5, Token: 9, CRC: 3}})
	a := &replacement{token: 9, blockSize: replaceBS, size: 1300}
	at := plan.Attempt{Token: 9, Time: time.Unix(1700000000, 0), Writer: "w"}
	rec, up, _ := planReplacement("db", head, a, blocks, at, true, 0)
	_, v1ckpt, _ := planReplacement("db", head, a, blocks, at, false, 0)
	if !reflect.DeepEqual(up, v1ckpt) {
		t.Errorf("the checkpoint differs from version 1's")
	}
	got, err := format.DecodePageRecord(rec.Encode())
	if err != nil {
		t.Fatal(err)
	}
	want := &format.Record{N: 5, Parent: 4, Token: 9, BlockSize: replaceBS, FileSize: 1300, Time: at.Time, Writer: "w",
		Base: format.CheckpointRef{N: 5, Token: 9}, Unit: replaceBS, Changed: format.PageList{{First: 0, N: 3}},
		Delta: []format.Entry{{Idx: 0, Ref: blocks.Get(0)}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("record = %+v; want %+v", got, want)
	}
	s := replacementSnapshot(rec, blocks)
	if s.Version != 2 || s.N != 5 || s.Size != 1300 || !reflect.DeepEqual(s.Blocks, blocks) || len(s.Overlays) != 0 {
		t.Errorf("snapshot = %+v", s)
	}
}

// A replacement's version-2 record says how it was made, in record
// version 3; a version-1 record cannot, and is written all the same.
func TestPlanReplacementMade(t *testing.T) {
	head := replaceSnap(4, 1024)
	blocks := format.BlockMap{}.With(3, map[int64]format.BlockRef{0: {Commit: 2, Token: 9, CRC: 1}, 2: {Commit: 5, Token: 9, CRC: 3}})
	made := format.Made{By: format.ByRestore, Commit: 2}
	a := &replacement{made: made, token: 9, blockSize: replaceBS, size: 1300}
	at := plan.Attempt{Token: 9, Time: time.Unix(1700000000, 0), Writer: "w"}
	rec, _, _ := planReplacement("db", head, a, blocks, at, true, 0)
	data := rec.Encode()
	if !bytes.HasPrefix(data, []byte("s3vfsR3\n")) {
		t.Errorf("the record starts %q, want record version 3", data[:8])
	}
	got, err := format.DecodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.BlockLevel || got.Made != made {
		t.Errorf("the record decodes as %+v, want made %+v", got, made)
	}
	rec1, _, _ := planReplacement("db", head, a, blocks, at, false, 0)
	if got, err := format.DecodeRecord(rec1.Encode()); err != nil || !got.BlockLevel {
		t.Errorf("in format version 1: %+v, %v; want a version-1 record", got, err)
	}
}

func TestReusable(t *testing.T) {
	const token = 9
	written := replaceSnap(2, 2560).Blocks // blocks 0-4, all written by commit 2
	target := format.RecordSnapshot(&format.Record{BlockLevel: true, N: 2, Token: 2, BlockSize: replaceBS, FileSize: 2560},
		written.With(5, map[int64]format.BlockRef{3: {}}), format.BlockMap{})
	head := format.RecordSnapshot(&format.Record{BlockLevel: true, N: 6, Token: 6, BlockSize: replaceBS, FileSize: 2048},
		written.With(4, map[int64]format.BlockRef{1: {Commit: 6, Token: 6, CRC: 7}, 2: {}}), format.BlockMap{})
	copied := format.BlockRef{Commit: 7, Token: token, CRC: 4}
	changes, need := reusable(target, head, map[int64]format.BlockRef{4: copied}, token)
	// 0: shared with head; 1, 2: changed since (2 is a hole in head); 3: a
	// hole; 4: past head's end, copied by an earlier try.
	wantChanges := map[int64]format.BlockRef{0: target.Blocks.Get(0), 3: {}, 4: copied}
	if !reflect.DeepEqual(changes, wantChanges) || !reflect.DeepEqual(need, []int64{1, 2}) {
		t.Errorf("reusable = %v, %v; want %v, [1 2]", changes, need, wantChanges)
	}
}

func TestBlockSizeOver(t *testing.T) {
	legacy := &format.Snapshot{BlockSize: 4096, Legacy: &format.LegacyLayout{}}
	head := &format.Snapshot{BlockSize: 8192}
	for _, tt := range []struct {
		name string
		o    deserializeOptions
		head *format.Snapshot
		want int64
		err  error
	}{
		{"the database's", deserializeOptions{}, head, 8192, nil},
		{"asked for", deserializeOptions{blockSize: 1024}, head, 1024, nil},
		{"over a Python-layout database, refused", deserializeOptions{blockSize: 1024}, legacy, 0, engine.ErrLegacyLayout},
		{"over a Python-layout database", deserializeOptions{overLegacy: true}, legacy, 65536, nil},
		{"over a Python-layout database, asked for", deserializeOptions{overLegacy: true, blockSize: 1024}, legacy, 1024, nil},
	} {
		got, err := tt.o.blockSizeOver(tt.head, "k", 65536)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s: blockSizeOver = %d, %v; want %d, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}
