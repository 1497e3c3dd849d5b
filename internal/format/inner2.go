package format

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Version 2 of a checkpoint's inner pages (docs/format.md, "Inner pages")
// is the same object name and the same pages, laid out so that a reader
// need not fetch it whole: a front, which a cold open reads with one
// ranged GET of at most InnerFrontRead bytes (the top levels of the
// b-trees and the page list of every bundle), then bundles of pages, each
// read with one ranged GET of its own when a lookup reaches one of its
// pages.

const inner2Magic = "s3vfsI2\n"

// InnerFrontRead is the number of bytes from the start of an inner-pages
// object that a cold open reads: the front of a version-2 object written
// by this release never exceeds it, and a small object is read whole.
const InnerFrontRead = 512 << 10

// InnerBundleBytes is the size this release aims at for a bundle's pages.
const InnerBundleBytes = 64 << 10

// InnerFront is the decoded front of a version-2 inner-pages object: its
// head and front pages (InnerFile, whose Pages and Data are the front's),
// and the bundles after it.
type InnerFront struct {
	InnerFile
	Len     int64         // the front's bytes, its checksum included
	Size    int64         // the object's bytes
	Bundles []InnerBundle // in the order of their pages, which do not overlap
}

// InnerBundle is one bundle of a version-2 object: its pages and the
// offset of its first byte. Its bytes are the pages' (Unit each) and
// their CRC32C.
type InnerBundle struct {
	Pages  PageList
	Offset int64
}

// Count returns the number of pages in the object, front and bundles.
func (f *InnerFront) Count() int64 {
	n := f.Pages.Count()
	for _, b := range f.Bundles {
		n += b.Pages.Count()
	}
	return n
}

// Len returns the bundle's bytes in an object of pages of unit bytes.
func (b InnerBundle) Len(unit int64) int64 { return b.Pages.Count()*unit + 4 }

// EncodeInnerBundled encodes f as a version-2 object whose front holds the
// pages of front and whose bundles hold the pages of each list of
// bundles: together they must hold each page of f exactly once, and the
// bundles must follow one another in page order.
func EncodeInnerBundled(f *InnerFile, front PageList, bundles []PageList) ([]byte, error) {
	if err := checkInnerLayout(f.Pages, front, bundles); err != nil {
		return nil, err
	}
	b := f.appendInner2Head(nil, front, bundles)
	at := indexOf(f.Pages)
	b = f.appendPages(b, front, at)
	size := int64(len(b)) + 4
	for _, l := range bundles {
		size += l.Count()*f.Unit + 4
	}
	if len(b)+4 > math.MaxUint32 {
		return nil, fmt.Errorf("format: inner pages: a front of %d bytes is too long", len(b)+4)
	}
	binary.LittleEndian.PutUint32(b[len(inner2Magic):], uint32(len(b)+4))
	binary.LittleEndian.PutUint64(b[len(inner2Magic)+4:], uint64(size))
	b = binary.LittleEndian.AppendUint32(b, Checksum(b))
	for _, l := range bundles {
		start := len(b)
		b = f.appendPages(b, l, at)
		b = binary.LittleEndian.AppendUint32(b, Checksum(b[start:]))
	}
	return b, nil
}

// appendInner2Head appends the head of a version-2 object of f with the
// given layout: everything of the front before its pages' bytes, the
// lengths left zero.
func (f *InnerFile) appendInner2Head(b []byte, front PageList, bundles []PageList) []byte {
	b = append(append(b, inner2Magic...), make([]byte, 12)...) // the front's and the object's lengths, set by the encoder
	b = appendCheckpointHead(b, f.N, f.Token, f.BlockSize, f.FileSize)
	b = binary.AppendUvarint(b, uint64(f.Unit))
	b = appendPageList(b, front)
	b = binary.AppendUvarint(b, uint64(len(bundles)))
	for _, l := range bundles {
		b = appendPageList(b, l)
	}
	return b
}

// FrontLen returns the length of the front of the version-2 object of f
// with the given layout, as EncodeInnerBundled would write it.
func (f *InnerFile) FrontLen(front PageList, bundles []PageList) int64 {
	return int64(len(f.appendInner2Head(nil, front, bundles))) + front.Count()*f.Unit + 4
}

// checkInnerLayout reports, as an error, whether front and bundles do not
// split all exactly once, bundles in page order.
func checkInnerLayout(all, front PageList, bundles []PageList) error {
	n := front.Count()
	for p := range front.All() {
		if !all.Contains(p) {
			return fmt.Errorf("format: inner pages: page %d of the front is not kept", p)
		}
	}
	for i, l := range bundles {
		if len(l) == 0 || (i > 0 && l[0].First <= bundles[i-1].Last()) {
			return fmt.Errorf("format: inner pages: bundle %d is empty or out of order", i)
		}
		for _, r := range l {
			if front.overlaps(r) {
				return fmt.Errorf("format: inner pages: bundle %d repeats a page of the front", i)
			}
		}
		for p := range l.All() {
			if !all.Contains(p) {
				return fmt.Errorf("format: inner pages: page %d of bundle %d is not kept", p, i)
			}
		}
		n += l.Count()
	}
	if n != all.Count() {
		return fmt.Errorf("format: inner pages: %d pages laid out, %d to lay out", n, all.Count())
	}
	return nil
}

// appendPages appends the bytes of the pages of l, each a page of f
// whose position at finds.
func (f *InnerFile) appendPages(b []byte, l PageList, at pageIndex) []byte {
	for p := range l.All() {
		i := at.of(p)
		b = append(b, f.Data[i*f.Unit:(i+1)*f.Unit]...)
	}
	return b
}

// pageIndex finds the position of a page in a page list in time
// logarithmic in its runs: the list, and the pages before each run.
type pageIndex struct {
	l      PageList
	before []int64
}

// indexOf returns the index of l.
func indexOf(l PageList) pageIndex {
	before := make([]int64, len(l))
	var n int64
	for i, r := range l {
		before[i] = n
		n += r.N
	}
	return pageIndex{l, before}
}

// of returns the position of page p, which must be in the list.
func (x pageIndex) of(p int64) int64 {
	r, _ := slices.BinarySearchFunc(x.l, p, func(q PageRun, p int64) int { return cmp.Compare(q.First+q.N-1, p) })
	return x.before[r] + p - x.l[r].First
}

// InnerFrontLen returns the length of the front of the inner-pages object
// whose first bytes are b, and false if b is too short to tell or the
// object is not of version 2.
func InnerFrontLen(b []byte) (int64, bool) {
	if len(b) < len(inner2Magic)+12 || string(b[:len(inner2Magic)]) != inner2Magic {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint32(b[len(inner2Magic):])), true
}

// IsInner1 reports whether b begins an inner-pages object of version 1.
func IsInner1(b []byte) bool {
	return len(b) >= len(innerMagic) && string(b[:len(innerMagic)]) == innerMagic
}

// DecodeInnerFront decodes the front of a version-2 inner-pages object
// from b, its first bytes (at least the front's).
func DecodeInnerFront(b []byte) (*InnerFront, error) {
	n, ok := InnerFrontLen(b)
	if !ok {
		return nil, open(b, inner2Magic).err
	}
	if n < int64(len(inner2Magic))+16 || n > int64(len(b)) {
		return nil, fmt.Errorf("%w: bad front length %d (%d bytes read)", ErrCorrupt, n, len(b))
	}
	d := open(b[:n], inner2Magic)
	d.fixed(4, "front length")
	var size int64
	if l := d.fixed(8, "object length"); l != nil {
		size = int64(binary.LittleEndian.Uint64(l))
	}
	if d.err == nil && (size < n || size > 1<<50) {
		d.fail("object length")
	}
	f := &InnerFront{Len: n, Size: size}
	f.N, f.Token, f.BlockSize, f.FileSize = d.checkpointHead()
	f.Unit = int64(d.uvarint("page unit"))
	if d.err == nil && !ValidUnit(f.Unit, f.BlockSize) {
		d.fail("page unit")
	}
	limit := int64(0)
	if d.err == nil {
		limit = f.FileSize / f.Unit
		f.Pages = d.pageList(limit, "front pages")
	}
	count := d.uvarint("bundle count")
	if d.err == nil && count > uint64(len(d.b))/2 {
		d.fail("bundle count")
	}
	lists := make([]PageList, 0, min(count, 1<<16))
	for range count {
		if l := d.pageList(limit, "bundle pages"); d.err == nil {
			lists = append(lists, l)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if int64(len(d.b)) != f.Pages.Count()*f.Unit {
		return nil, fmt.Errorf("%w: bad front pages", ErrCorrupt)
	}
	f.Data = d.b
	return f, f.placeBundles(lists)
}

// placeBundles sets f.Bundles from their page lists, checking that they
// follow one another, avoid the front and end where the object does.
func (f *InnerFront) placeBundles(lists []PageList) error {
	off := f.Len
	for i, l := range lists {
		if len(l) == 0 || (i > 0 && l[0].First <= lists[i-1].Last()) {
			return fmt.Errorf("%w: bundle %d is empty or out of order", ErrCorrupt, i)
		}
		for _, r := range l {
			if f.Pages.overlaps(r) {
				return fmt.Errorf("%w: bundle %d repeats a page of the front", ErrCorrupt, i)
			}
		}
		b := InnerBundle{Pages: l, Offset: off}
		if off += b.Len(f.Unit); off > f.Size {
			return fmt.Errorf("%w: bundle %d ends past the object", ErrCorrupt, i)
		}
		f.Bundles = append(f.Bundles, b)
	}
	if off != f.Size {
		return fmt.Errorf("%w: the bundles end at %d, the object at %d", ErrCorrupt, off, f.Size)
	}
	return nil
}

// BundleOf returns the index of the bundle holding page p, and false if
// none does.
func (f *InnerFront) BundleOf(p int64) (int, bool) {
	i, _ := slices.BinarySearchFunc(f.Bundles, p, func(b InnerBundle, p int64) int {
		switch {
		case b.Pages.Last() < p:
			return -1
		case b.Pages[0].First > p:
			return 1
		}
		return 0
	})
	if i < len(f.Bundles) && f.Bundles[i].Pages.Contains(p) {
		return i, true
	}
	return 0, false
}

// Bundle checks b, the bytes of bundle k, and returns its pages' bytes.
func (f *InnerFront) Bundle(k int, b []byte) ([]byte, error) {
	bd := f.Bundles[k]
	if int64(len(b)) != bd.Len(f.Unit) || Checksum(b[:len(b)-4]) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: bundle %d: length or checksum", ErrCorrupt, k)
	}
	return b[: len(b)-4 : len(b)-4], nil
}

// Whole returns every page of the object whose bytes are b, front and
// bundles, as one InnerFile.
func (f *InnerFront) Whole(b []byte) (*InnerFile, error) {
	if int64(len(b)) != f.Size {
		return nil, fmt.Errorf("%w: inner pages of %d bytes, want %d", ErrCorrupt, len(b), f.Size)
	}
	type page struct {
		p    int64
		data []byte
	}
	var all []page
	add := func(l PageList, data []byte) {
		i := int64(0)
		for p := range l.All() {
			all = append(all, page{p, data[i*f.Unit : (i+1)*f.Unit]})
			i++
		}
	}
	add(f.Pages, f.Data)
	for k, bd := range f.Bundles {
		data, err := f.Bundle(k, b[bd.Offset:bd.Offset+bd.Len(f.Unit)])
		if err != nil {
			return nil, err
		}
		add(bd.Pages, data)
	}
	slices.SortFunc(all, func(a, b page) int { return cmp.Compare(a.p, b.p) })
	out := f.InnerFile
	out.Pages, out.Data = nil, make([]byte, 0, int64(len(all))*f.Unit)
	for _, pg := range all {
		out.Pages = out.Pages.Add(pg.p)
		out.Data = append(out.Data, pg.data...)
	}
	return &out, nil
}

// DecodeInnerAny decodes a whole inner-pages object of either version.
func DecodeInnerAny(b []byte) (*InnerFile, error) {
	if IsInner1(b) {
		return DecodeInner(b)
	}
	f, err := DecodeInnerFront(b)
	if err != nil {
		return nil, err
	}
	return f.Whole(b)
}
