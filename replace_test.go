package s3vfs

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestPlanReplacement(t *testing.T) {
	head := planSnap(4, 1024)
	blocks := blockMap{}.with(3, map[int64]blockRef{0: {commit: 2, token: 9, crc: 1}, 2: {commit: 5, token: 9, crc: 3}})
	a := &replacement{token: 9, blockSize: planBS, size: 1300}
	at := commitAttempt{token: 9, time: time.Unix(1700000000, 0), writer: "w"}
	rec, up := planReplacement("db", head, a, blocks, at, false)
	want := &record{n: 5, parent: 4, token: 9, blockSize: planBS, fileSize: 1300, time: at.time, writer: "w", base: ckptRef{5, 9}}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("record = %+v; want %+v", rec, want)
	}
	if up.name != checkpointName("db", 5, 9) {
		t.Errorf("checkpoint name = %s", up.name)
	}
	c, err := decodeCheckpoint(up.data)
	if err != nil {
		t.Fatal(err)
	}
	wantC := &checkpoint{n: 5, token: 9, blockSize: planBS, fileSize: 1300,
		blocks: []entry{{0, blocks.get(0)}, {1, blockRef{}}, {2, blocks.get(2)}}}
	if !reflect.DeepEqual(c, wantC) {
		t.Errorf("checkpoint = %+v; want %+v", c, wantC)
	}
}

// In format version 2 the record lists every page as changed and block 0
// in its delta; the checkpoint is the same.
func TestPlanReplacement2(t *testing.T) {
	head := planSnap(4, 1024)
	blocks := blockMap{}.with(3, map[int64]blockRef{0: {commit: 2, token: 9, crc: 1}, 2: {commit: 5, token: 9, crc: 3}})
	a := &replacement{token: 9, blockSize: planBS, size: 1300}
	at := commitAttempt{token: 9, time: time.Unix(1700000000, 0), writer: "w"}
	rec, up := planReplacement("db", head, a, blocks, at, true)
	_, v1ckpt := planReplacement("db", head, a, blocks, at, false)
	if !reflect.DeepEqual(up, v1ckpt) {
		t.Errorf("the checkpoint differs from version 1's")
	}
	got, err := decodeRecord2(rec.bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := &record2{n: 5, parent: 4, token: 9, blockSize: planBS, fileSize: 1300, time: at.time, writer: "w",
		base: ckptRef{5, 9}, unit: planBS, changed: pageList{{0, 3}},
		delta: []entry2{{idx: 0, ref: blocks.get(0)}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("record = %+v; want %+v", got, want)
	}
	s := rec.replacementSnapshot(blocks)
	if s.format != 2 || s.n != 5 || s.size != 1300 || !reflect.DeepEqual(s.blocks, blocks) || len(s.overlays) != 0 {
		t.Errorf("snapshot = %+v", s)
	}
}

func TestReusable(t *testing.T) {
	const token = 9
	written := planSnap(2, 2560).blocks // blocks 0-4, all written by commit 2
	target := (&record{n: 2, token: 2, blockSize: planBS, fileSize: 2560}).snapshot(
		written.with(5, map[int64]blockRef{3: {}}), blockMap{})
	head := (&record{n: 6, token: 6, blockSize: planBS, fileSize: 2048}).snapshot(
		written.with(4, map[int64]blockRef{1: {commit: 6, token: 6, crc: 7}, 2: {}}), blockMap{})
	copied := blockRef{commit: 7, token: token, crc: 4}
	changes, need := reusable(target, head, map[int64]blockRef{4: copied}, token)
	// 0: shared with head; 1, 2: changed since (2 is a hole in head); 3: a
	// hole; 4: past head's end, copied by an earlier try.
	wantChanges := map[int64]blockRef{0: target.blocks.get(0), 3: {}, 4: copied}
	if !reflect.DeepEqual(changes, wantChanges) || !reflect.DeepEqual(need, []int64{1, 2}) {
		t.Errorf("reusable = %v, %v; want %v, [1 2]", changes, need, wantChanges)
	}
}

func TestBlockSizeOver(t *testing.T) {
	legacy := &snapshot{blockSize: 4096, legacy: &legacyLayout{}}
	head := &snapshot{blockSize: 8192}
	for _, tt := range []struct {
		name string
		o    deserializeOptions
		head *snapshot
		want int64
		err  error
	}{
		{"the database's", deserializeOptions{}, head, 8192, nil},
		{"asked for", deserializeOptions{blockSize: 1024}, head, 1024, nil},
		{"over a Python-layout database, refused", deserializeOptions{blockSize: 1024}, legacy, 0, ErrLegacyLayout},
		{"over a Python-layout database", deserializeOptions{overLegacy: true}, legacy, 65536, nil},
		{"over a Python-layout database, asked for", deserializeOptions{overLegacy: true, blockSize: 1024}, legacy, 1024, nil},
	} {
		got, err := tt.o.blockSizeOver(tt.head, "k", 65536)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s: blockSizeOver = %d, %v; want %d, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}
