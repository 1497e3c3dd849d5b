package s3vfs

import (
	"bytes"
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

// Inner pages in memory file their pages under the blocks' names at the
// checkpoint, drop block 0, and encode back to the object they came from.
func TestInnerPagesRoundTrip(t *testing.T) {
	page := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	in := &format.InnerFile{N: 12, Token: 1 << 60, BlockSize: 8192, FileSize: 8192 * 5, Unit: 1024,
		Pages: format.PageListOf([]int64{9, 10, 31}), Data: bytes.Join([][]byte{page(5, 1024), page(2, 1024), page(5, 1024)}, nil)}
	s := &snapshot{blockSize: in.BlockSize, size: in.FileSize, base: format.CheckpointRef{N: in.N, Token: in.Token},
		blocks: format.BlockMap{}.With(5, map[int64]format.BlockRef{0: {Commit: 1, Token: 2}, 1: {Commit: 3, Token: 4, CRC: 5}, 3: {Commit: 3, Token: 4}})}
	ip := innerOf("k", in, s)
	if got := ip.count(); got != 3 {
		t.Fatalf("%d pages in memory, want 3", got)
	}
	if _, _, ok := ip.pageAt("k", s, 1, 9*1024+17); !ok {
		t.Errorf("page 9 of block 1 not served")
	}
	moved := *s
	moved.blocks = s.blocks.With(5, map[int64]format.BlockRef{1: {Commit: 6, Token: 4, CRC: 5}})
	if _, _, ok := ip.pageAt("k", &moved, 1, 9*1024); ok {
		t.Errorf("page 9 served from a block that changed since the checkpoint")
	}
	if got := ip.file(s).Encode(); !bytes.Equal(got, in.Encode()) {
		t.Errorf("re-encoded inner pages differ")
	}
	// A page in block 0 is dropped: the open reads block 0 anyway, and its
	// header is served, not stored.
	in0 := &format.InnerFile{N: 1, Token: 2, BlockSize: 4096, FileSize: 8192, Unit: 1024, Pages: format.PageListOf([]int64{2, 5}),
		Data: bytes.Repeat([]byte{5}, 2048)}
	s0 := &snapshot{blockSize: 4096, size: 8192, blocks: format.BlockMap{}.With(2, map[int64]format.BlockRef{0: {Commit: 1, Token: 2}, 1: {Commit: 1, Token: 2}})}
	if got := innerOf("k", in0, s0).count(); got != 1 {
		t.Errorf("%d pages kept, want 1 (page 2 is in block 0)", got)
	}
}
