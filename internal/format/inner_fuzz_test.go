package format

import (
	"bytes"
	"reflect"
	"testing"
)

// sampleInner returns inner-page objects for the decoder's fuzz corpus.
func sampleInner() []*InnerFile {
	page := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	return []*InnerFile{
		{N: 1, Token: 7, BlockSize: 4096, FileSize: 4096, Unit: 4096},
		{N: 12, Token: 1 << 60, BlockSize: 8192, FileSize: 8192 * 5, Unit: 1024,
			Pages: PageListOf([]int64{9, 10, 31}), Data: bytes.Join([][]byte{page(5, 1024), page(2, 1024), page(5, 1024)}, nil)},
		{N: 3, Token: 9, BlockSize: 65536, FileSize: 65536*2 + 512, Unit: 512,
			Pages: PageListOf([]int64{128, 256}), Data: bytes.Join([][]byte{page(2, 512), page(5, 512)}, nil)},
	}
}

// FuzzDecodeInner: the decoder of a checkpoint's inner pages never
// panics, and whatever it accepts has whole pages within the file and
// re-encodes to the same bytes; a flipped bit is refused.
func FuzzDecodeInner(f *testing.F) {
	for _, in := range sampleInner() {
		enc := in.Encode()
		f.Add(enc, false, uint16(0), byte(0))
		f.Add(enc[len(innerMagic):len(enc)-4], true, uint16(len(enc)/2), byte(0x40))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, pos uint16, flip byte) {
		if seal {
			b = sealed(innerMagic, b)
		}
		in, err := DecodeInner(b)
		if err != nil {
			return
		}
		if in.N == 0 || !ValidUnit(in.Unit, in.BlockSize) || int64(len(in.Data)) != in.Pages.Count()*in.Unit {
			t.Fatalf("decoded inner pages with bad numbering or sizes: %+v", in)
		}
		for p := range in.Pages.All() {
			if (p+1)*in.Unit > in.FileSize {
				t.Fatalf("page %d of %d bytes lies past the file (%d bytes)", p, in.Unit, in.FileSize)
			}
		}
		checkReencoding(t, "inner pages", in.Encode(), DecodeInner, func(in2 *InnerFile) bool { return reflect.DeepEqual(in, in2) }, pos, flip)
	})
}
