package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// sampleLayouts returns inner-page objects of version 2 with their
// layouts, for the tests and the fuzz corpus.
func sampleLayouts() []struct {
	f       *InnerFile
	front   PageList
	bundles []PageList
} {
	in := sampleInner()
	return []struct {
		f       *InnerFile
		front   PageList
		bundles []PageList
	}{
		{in[0], nil, nil},
		{in[1], PageListOf([]int64{10}), []PageList{PageListOf([]int64{9}), PageListOf([]int64{31})}},
		{in[1], nil, []PageList{PageListOf([]int64{9, 10, 31})}},
		{in[2], PageListOf([]int64{128, 256}), nil},
	}
}

// A version-2 object decodes to the pages it was made of, whatever its
// layout; its front alone says which bundle holds a page, and the decoder
// of either version reads it whole.
func TestInner2RoundTrip(t *testing.T) {
	for i, c := range sampleLayouts() {
		enc, err := EncodeInnerBundled(c.f, c.front, c.bundles)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		n, ok := InnerFrontLen(enc)
		if !ok {
			t.Fatalf("%d: no front length", i)
		}
		front, err := DecodeInnerFront(enc[:n])
		if err != nil {
			t.Fatalf("%d: front: %v", i, err)
		}
		if !reflect.DeepEqual(front.Pages, c.front) || len(front.Bundles) != len(c.bundles) {
			t.Errorf("%d: front pages %v and %d bundles, want %v and %d", i, front.Pages, len(front.Bundles), c.front, len(c.bundles))
		}
		for k, l := range c.bundles {
			for p := range l.All() {
				if got, ok := front.BundleOf(p); !ok || got != k {
					t.Errorf("%d: page %d in bundle %d (%v), want %d", i, p, got, ok, k)
				}
			}
		}
		if _, ok := front.BundleOf(11); ok {
			t.Errorf("%d: page 11 found in a bundle", i)
		}
		whole, err := DecodeInnerAny(enc)
		if err != nil {
			t.Fatalf("%d: whole: %v", i, err)
		}
		if !reflect.DeepEqual(whole.Pages, c.f.Pages) || !bytes.Equal(whole.Data, c.f.Data) || whole.N != c.f.N {
			t.Errorf("%d: whole object differs from the pages it was made of", i)
		}
	}
}

// A layout that loses, repeats or misorders a page is refused at encoding.
func TestInner2BadLayout(t *testing.T) {
	f := sampleInner()[1] // pages 9, 10, 31
	for _, c := range []struct {
		front   PageList
		bundles []PageList
	}{
		{PageListOf([]int64{9}), []PageList{PageListOf([]int64{10})}},          // 31 lost
		{PageListOf([]int64{9, 10}), []PageList{PageListOf([]int64{10, 31})}},  // 10 twice
		{nil, []PageList{PageListOf([]int64{31}), PageListOf([]int64{9, 10})}}, // out of order
		{PageListOf([]int64{9, 10, 31}), []PageList{nil}},                      // empty bundle
		{PageListOf([]int64{9, 10, 31, 32}), nil},                              // a page not kept
	} {
		if _, err := EncodeInnerBundled(f, c.front, c.bundles); err == nil {
			t.Errorf("layout %v %v accepted", c.front, c.bundles)
		}
	}
}

// A front cut short, or an object of version 1, is no version-2 front;
// a version-2 object is refused by the version-1 decoder, naming the
// version.
func TestInner2Versions(t *testing.T) {
	c := sampleLayouts()[1]
	enc, _ := EncodeInnerBundled(c.f, c.front, c.bundles)
	n, _ := InnerFrontLen(enc)
	if _, err := DecodeInnerFront(enc[:n-1]); err == nil {
		t.Error("front cut short accepted")
	}
	v1 := c.f.Encode()
	if !IsInner1(v1) || IsInner1(enc) {
		t.Error("IsInner1 mistakes the versions")
	}
	if _, ok := InnerFrontLen(v1); ok {
		t.Error("a version-1 object has a front")
	}
	if _, err := DecodeInner(enc); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("version-1 decoder on version 2: %v, want ErrUnknownVersion", err)
	}
}

// FuzzDecodeInner2: the decoder of a version-2 object never panics, and
// whatever it accepts has whole pages within the file, bundles that end
// where the object does, and re-encodes to the same bytes; a flipped bit
// anywhere (front or bundle) is refused by the whole-object decoder.
func FuzzDecodeInner2(f *testing.F) {
	for _, c := range sampleLayouts() {
		enc, err := EncodeInnerBundled(c.f, c.front, c.bundles)
		if err != nil {
			f.Fatal(err)
		}
		n, _ := InnerFrontLen(enc)
		f.Add(enc, false, []byte(nil), uint16(0), byte(0))
		f.Add(enc, false, []byte(nil), uint16(len(enc)-3), byte(0x10))
		f.Add(enc[len(inner2Magic)+12:n-4], true, enc[n:], uint16(0), byte(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, seal bool, tail []byte, pos uint16, flip byte) {
		if seal {
			b = sealedInner2(b, tail)
		}
		front, err := DecodeInnerFront(b)
		if err != nil {
			return
		}
		if front.N == 0 || !ValidUnit(front.Unit, front.BlockSize) || int64(len(front.Data)) != front.Pages.Count()*front.Unit {
			t.Fatalf("decoded a front with bad numbering or sizes: %+v", front)
		}
		if int64(len(b)) != front.Size {
			return // a front read without the whole object
		}
		whole, err := front.Whole(b)
		if err != nil {
			return // a bundle's checksum fails: refused when read
		}
		for p := range whole.Pages.All() {
			if (p+1)*whole.Unit > whole.FileSize {
				t.Fatalf("page %d of %d bytes lies past the file (%d bytes)", p, whole.Unit, whole.FileSize)
			}
		}
		lists := make([]PageList, len(front.Bundles))
		for k, bd := range front.Bundles {
			lists[k] = bd.Pages
		}
		enc, err := EncodeInnerBundled(whole, front.Pages, lists)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("accepted object does not re-encode to its bytes (%v)", err)
		}
		checkReencoding(t, "inner pages v2", enc, DecodeInnerAny, func(w *InnerFile) bool { return reflect.DeepEqual(w, whole) }, pos, flip)
	})
}

// sealedInner2 returns the version-2 object whose front, after its magic
// and lengths and before its checksum, is body, and whose bundles are
// tail: lengths and the front's checksum made right, so that the fuzzer
// reaches the decoder's rules.
func sealedInner2(body, tail []byte) []byte {
	b := append([]byte(inner2Magic), make([]byte, 12)...)
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[len(inner2Magic):], uint32(len(b)+4))
	binary.LittleEndian.PutUint64(b[len(inner2Magic)+4:], uint64(len(b)+4+len(tail)))
	b = binary.LittleEndian.AppendUint32(b, Checksum(b))
	return append(b, tail...)
}
