package s3vfs

import (
	"bytes"
	"reflect"
	"testing"
)

// sampleInner returns inner-page objects for the decoder's fuzz corpus.
func sampleInner() []*innerFile {
	page := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	return []*innerFile{
		{n: 1, token: 7, blockSize: 4096, fileSize: 4096, unit: 4096},
		{n: 12, token: 1 << 60, blockSize: 8192, fileSize: 8192 * 5, unit: 1024,
			pages: pageListOf([]int64{9, 10, 31}), data: bytes.Join([][]byte{page(5, 1024), page(2, 1024), page(5, 1024)}, nil)},
		{n: 3, token: 9, blockSize: 65536, fileSize: 65536*2 + 512, unit: 512,
			pages: pageListOf([]int64{128, 256}), data: bytes.Join([][]byte{page(2, 512), page(5, 512)}, nil)},
	}
}

// FuzzDecodeInner: the decoder of a checkpoint's inner pages never
// panics, and whatever it accepts has whole pages within the file and
// re-encodes to the same bytes; a flipped bit is refused.
func FuzzDecodeInner(f *testing.F) {
	for _, in := range sampleInner() {
		enc := in.encode()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(innerMagic):len(enc)-4], true, uint16(len(enc)/2), byte(0x40))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(innerMagic, b)
		}
		in, err := decodeInner(b)
		if err != nil {
			return
		}
		if in.n == 0 || !validUnit(in.unit, in.blockSize) || int64(len(in.data)) != in.pages.count()*in.unit {
			t.Fatalf("decoded inner pages with bad numbering or sizes: %+v", in)
		}
		for p := range in.pages.all() {
			if (p+1)*in.unit > in.fileSize {
				t.Fatalf("page %d of %d bytes lies past the file (%d bytes)", p, in.unit, in.fileSize)
			}
		}
		checkReencoding(t, "inner pages", in.encode(), decodeInner, func(in2 *innerFile) bool { return reflect.DeepEqual(in, in2) }, pos, flip)
	})
}

// Inner pages in memory file their pages under the blocks' names at the
// checkpoint, drop block 0, and encode back to the object they came from.
func TestInnerPagesRoundTrip(t *testing.T) {
	in := sampleInner()[1]
	s := &snapshot{blockSize: in.blockSize, size: in.fileSize, base: ckptRef{in.n, in.token},
		blocks: blockMap{}.with(5, map[int64]blockRef{0: {commit: 1, token: 2}, 1: {commit: 3, token: 4, crc: 5}, 3: {commit: 3, token: 4}})}
	ip := innerOf("k", in, s)
	if got := ip.count(); got != 3 {
		t.Fatalf("%d pages in memory, want 3", got)
	}
	if _, _, ok := ip.pageAt("k", s, 1, 9*1024+17); !ok {
		t.Errorf("page 9 of block 1 not served")
	}
	moved := *s
	moved.blocks = s.blocks.with(5, map[int64]blockRef{1: {commit: 6, token: 4, crc: 5}})
	if _, _, ok := ip.pageAt("k", &moved, 1, 9*1024); ok {
		t.Errorf("page 9 served from a block that changed since the checkpoint")
	}
	if got := ip.file(s).encode(); !bytes.Equal(got, in.encode()) {
		t.Errorf("re-encoded inner pages differ")
	}
	// A page in block 0 is dropped: the open reads block 0 anyway, and its
	// header is served, not stored.
	in0 := &innerFile{n: 1, token: 2, blockSize: 4096, fileSize: 8192, unit: 1024, pages: pageListOf([]int64{2, 5}),
		data: bytes.Repeat([]byte{5}, 2048)}
	s0 := &snapshot{blockSize: 4096, size: 8192, blocks: blockMap{}.with(2, map[int64]blockRef{0: {commit: 1, token: 2}, 1: {commit: 1, token: 2}})}
	if got := innerOf("k", in0, s0).count(); got != 1 {
		t.Errorf("%d pages kept, want 1 (page 2 is in block 0)", got)
	}
}
