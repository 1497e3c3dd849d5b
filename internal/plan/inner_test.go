package plan

import (
	"bytes"
	"encoding/binary"
	"maps"
	"slices"
	"testing"

	"github.com/s3vfs/s3vfs/internal/format"
)

// mustEncode2 encodes f as a version-2 object of the given layout.
func mustEncode2(t *testing.T, f *format.InnerFile, front format.PageList, bundles []format.PageList) []byte {
	t.Helper()
	b, err := format.EncodeInnerBundled(f, front, bundles)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Inner pages in memory file their pages under the blocks' names at the
// checkpoint, drop block 0, and encode back to the object they came from.
func TestInnerPagesRoundTrip(t *testing.T) {
	page := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	in := &format.InnerFile{N: 12, Token: 1 << 60, BlockSize: 8192, FileSize: 8192 * 5, Unit: 1024,
		Pages: format.PageListOf([]int64{9, 10, 31}), Data: bytes.Join([][]byte{page(5, 1024), page(2, 1024), page(5, 1024)}, nil)}
	s := &format.Snapshot{BlockSize: in.BlockSize, Size: in.FileSize, Base: format.CheckpointRef{N: in.N, Token: in.Token},
		Blocks: format.BlockMap{}.With(5, map[int64]format.BlockRef{0: {Commit: 1, Token: 2}, 1: {Commit: 3, Token: 4, CRC: 5}, 3: {Commit: 3, Token: 4}})}
	ip := format.InnerOf("k", in, s)
	if got := ip.Count(); got != 3 {
		t.Fatalf("%d pages in memory, want 3", got)
	}
	for _, enc := range [][]byte{in.Encode(), mustEncode2(t, in, nil, []format.PageList{format.PageListOf([]int64{9, 10}), format.PageListOf([]int64{31})})} {
		if n, ok := format.InnerFrontLen(enc); ok {
			enc = enc[:n] // the front alone: the bundles are read when needed
		}
		set, _, err := format.InnerSetOf("k.inner", enc, s)
		if err != nil {
			t.Fatal(err)
		}
		if data, _, ok := set.Serves("k", s, 1, 9); !ok || (data == nil) != (set.Front != nil) {
			t.Errorf("page 9 of block 1 not served, or not from where it is")
		}
		moved := *s
		moved.Blocks = s.Blocks.With(5, map[int64]format.BlockRef{1: {Commit: 6, Token: 4, CRC: 5}})
		if set.Has("k", &moved, 1, 9*1024) || !set.Has("k", s, 1, 9*1024+17) {
			t.Errorf("page 9 served from a block that changed since the checkpoint, or not from the one that did not")
		}
	}
	if got := ip.File(s).Encode(); !bytes.Equal(got, in.Encode()) {
		t.Errorf("re-encoded inner pages differ")
	}
	// A page in block 0 is dropped: the open reads block 0 anyway, and its
	// header is served, not stored.
	in0 := &format.InnerFile{N: 1, Token: 2, BlockSize: 4096, FileSize: 8192, Unit: 1024, Pages: format.PageListOf([]int64{2, 5}),
		Data: bytes.Repeat([]byte{5}, 2048)}
	s0 := &format.Snapshot{BlockSize: 4096, Size: 8192, Blocks: format.BlockMap{}.With(2, map[int64]format.BlockRef{0: {Commit: 1, Token: 2}, 1: {Commit: 1, Token: 2}})}
	if got := format.InnerOf("k", in0, s0).Count(); got != 1 {
		t.Errorf("%d pages kept, want 1 (page 2 is in block 0)", got)
	}
}

// The layout puts the top levels of the b-trees in the front while it
// fits, and the rest in bundles in page order; a set read from the front
// alone knows every page's bundle, and one read whole holds every page.
func TestInnerLayout(t *testing.T) {
	const unit = 1024
	interior := func(kids ...uint32) []byte {
		page := make([]byte, unit)
		page[0] = 5
		binary.BigEndian.PutUint16(page[3:], uint16(len(kids)-1))
		binary.BigEndian.PutUint32(page[8:], kids[len(kids)-1])
		for i, c := range kids[:len(kids)-1] {
			off := 200 + 8*i
			binary.BigEndian.PutUint16(page[12+2*i:], uint16(off))
			binary.BigEndian.PutUint32(page[off:], c)
		}
		return page
	}
	// A root (page 10 as SQLite numbers it, 9 here) over 40 interior pages
	// (100..139 here), each over leaves.
	pages := map[int64][]byte{9: interior(101, 102, 103)}
	var kids []uint32
	for p := int64(100); p < 140; p++ {
		pages[p] = interior(uint32(1000+p), uint32(2000+p))
		kids = append(kids, uint32(p+1))
	}
	pages[9] = interior(kids...)
	f := &format.InnerFile{N: 3, Token: 4, BlockSize: 4096, FileSize: 4096 * 1000, Unit: unit}
	for _, p := range slices.Sorted(maps.Keys(pages)) {
		f.Pages = f.Pages.Add(p)
		f.Data = append(f.Data, pages[p]...)
	}
	front, bundles := InnerLayout(f, 8<<10)
	if !front.Contains(9) || front.Count() < 2 || len(bundles) == 0 {
		t.Fatalf("front %v and %d bundles: want the root and more in the front, bundles after", front, len(bundles))
	}
	enc := mustEncode2(t, f, front, bundles)
	n, _ := format.InnerFrontLen(enc)
	if n > 8<<10 {
		t.Errorf("front of %d bytes, over its 8 KiB", n)
	}
	if all, _ := InnerLayout(f, 1<<20); !slices.Equal(all, f.Pages) {
		t.Errorf("a layout with room for every page kept %v in the front", all)
	}
	refs := map[int64]format.BlockRef{}
	for idx := range int64(1000) {
		refs[idx] = format.BlockRef{Commit: 1, Token: 2}
	}
	s := &format.Snapshot{BlockSize: 4096, Size: f.FileSize, Blocks: format.BlockMap{}.With(1000, refs)}
	set, _, err := format.InnerSetOf("k.inner", enc[:n], s)
	if err != nil {
		t.Fatal(err)
	}
	for p := range pages {
		data, k, ok := set.Serves("k", s, p*unit/4096, p)
		if !ok || (data == nil && k < 0) || (data != nil && !bytes.Equal(data, pages[p])) {
			t.Errorf("page %d: served %v from bundle %d with %d bytes", p, ok, k, len(data))
		}
	}
	if _, _, ok := set.Serves("k", s, 375, 1500); ok {
		t.Errorf("a leaf page served as an inner page")
	}
	whole, _, err := format.InnerSetOf("k.inner", enc, s) // the object read whole: every bundle held
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range pages {
		if data, _, ok := whole.Serves("k", s, p*unit/4096, p); !ok || !bytes.Equal(data, want) {
			t.Errorf("page %d read whole: served %v with other bytes", p, ok)
		}
	}
}

// A layout whose page lists alone outgrow the front puts no page in it,
// and the object still decodes, front first, however long the front;
// with room for some, the front is as full as it may be.
func TestInnerLayoutLongLists(t *testing.T) {
	const unit = 512
	f := &format.InnerFile{N: 3, Token: 4, BlockSize: 4096, FileSize: 4096 * 100000, Unit: unit}
	for p := int64(8); p < 8+3*6000; p += 3 { // 6,000 scattered pages: a run each
		f.Pages = f.Pages.Add(p)
		page := make([]byte, unit)
		page[0] = 5
		f.Data = append(f.Data, page...)
	}
	for _, frontRead := range []int64{16 << 10, 64 << 10} {
		front, bundles := InnerLayout(f, frontRead)
		enc := mustEncode2(t, f, front, bundles)
		n, _ := format.InnerFrontLen(enc)
		lists := n - front.Count()*unit
		switch {
		case lists > frontRead && front.Count() != 0:
			t.Errorf("front of %d: the lists take %d bytes, and %d pages were put beside them", frontRead, lists, front.Count())
		case lists <= frontRead && (n > frontRead || n+unit <= frontRead && len(bundles) > 0):
			t.Errorf("front of %d: %d bytes with %d pages: over its bound, or with room for a page more", frontRead, n, front.Count())
		}
		if _, _, err := format.InnerSetOf("k.inner", enc[:n], &format.Snapshot{}); err != nil {
			t.Errorf("front of %d: the front alone (%d bytes) does not decode: %v", frontRead, n, err)
		}
	}
}
