package format

import (
	"cmp"
	"encoding/binary"
	"iter"
	"slices"
)

// A page list is a sorted set of page numbers, kept and encoded as runs of
// consecutive pages (docs/format.md, "Page lists"): a commit's changed
// pages, and the pages its record carries inline.

// PageRun is the pages First, First+1, …, First+N-1.
type PageRun struct {
	First, N int64 // the first page, and how many
}

// PageList is a set of pages as sorted, disjoint, non-adjacent runs, so
// that every set has one representation. The zero value is empty.
type PageList []PageRun

// PageListOf returns the set of the given pages, which must be sorted
// ascending (duplicates are dropped).
func PageListOf(pages []int64) PageList {
	var l PageList
	for _, p := range pages {
		l = l.Add(p)
	}
	return l
}

// Add returns l with page p, which must not be below l's last run.
func (l PageList) Add(p int64) PageList { return l.AddRun(p, 1) }

// AddRun returns l with the n pages from first, which must not start
// below the first page of l's last run.
func (l PageList) AddRun(first, n int64) PageList {
	if n <= 0 {
		return l
	}
	if len(l) > 0 {
		last := &l[len(l)-1]
		if end := last.First + last.N; first <= end {
			last.N = max(end, first+n) - last.First
			return l
		}
	}
	return append(l, PageRun{first, n})
}

// Count returns the number of pages in l.
func (l PageList) Count() int64 {
	var c int64
	for _, r := range l {
		c += r.N
	}
	return c
}

// Contains reports whether page p is in l.
func (l PageList) Contains(p int64) bool {
	lo, hi := 0, len(l)
	for lo < hi {
		mid := (lo + hi) / 2
		switch r := l[mid]; {
		case p < r.First:
			hi = mid
		case p >= r.First+r.N:
			lo = mid + 1
		default:
			return true
		}
	}
	return false
}

// Rank returns how many pages of l lie below page p, and whether p is in
// l: the index of p's bytes among l's pages.
func (l PageList) Rank(p int64) (int64, bool) {
	var below int64
	for _, r := range l {
		switch {
		case p < r.First:
			return below, false
		case p < r.First+r.N:
			return below + p - r.First, true
		}
		below += r.N
	}
	return below, false
}

// overlaps reports whether run r shares a page with l.
func (l PageList) overlaps(r PageRun) bool {
	i, _ := slices.BinarySearchFunc(l, r.First, func(q PageRun, p int64) int { return cmp.Compare(q.First+q.N-1, p) })
	return i < len(l) && l[i].First < r.First+r.N
}

// Last returns the last page of l, which must not be empty.
func (l PageList) Last() int64 { r := l[len(l)-1]; return r.First + r.N - 1 }

// All iterates over the pages of l in order.
func (l PageList) All() iter.Seq[int64] {
	return func(yield func(int64) bool) {
		for _, r := range l {
			for p := r.First; p < r.First+r.N; p++ {
				if !yield(p) {
					return
				}
			}
		}
	}
}

// appendPageList encodes l: the run count, then per run the gap from the
// end of the previous run (from page 0 for the first) and the length
// minus one.
func appendPageList(b []byte, l PageList) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	end := int64(0)
	for _, r := range l {
		b = binary.AppendUvarint(b, uint64(r.First-end))
		b = binary.AppendUvarint(b, uint64(r.N-1))
		end = r.First + r.N
	}
	return b
}

// pageList decodes a page list whose pages are all below limit.
func (d *decoder) pageList(limit int64, what string) PageList {
	nr := d.uvarint(what)
	if d.err == nil && nr > uint64(len(d.b))/2 {
		d.fail(what)
	}
	if d.err != nil || nr == 0 {
		return nil
	}
	l := make(PageList, 0, nr)
	end := int64(0)
	for i := uint64(0); i < nr && d.err == nil; i++ {
		gap := d.uvarint(what)
		n := d.uvarint(what)
		if d.err != nil {
			break
		}
		// Runs after the first are never adjacent to the one before.
		if (i > 0 && gap == 0) || gap >= uint64(limit-end) || n >= uint64(limit-end)-gap {
			d.fail(what)
			break
		}
		first := end + int64(gap)
		l = append(l, PageRun{first, int64(n) + 1})
		end = first + int64(n) + 1
	}
	if d.err != nil {
		return nil
	}
	return l
}

// BlockPages returns every page, of unit bytes, of block idx, of
// blockSize bytes, in a file of size bytes.
func BlockPages(idx, blockSize, unit, size int64) PageList {
	l := BlockLen(idx, blockSize, size)
	if l == 0 {
		return nil
	}
	return PageList{{First: idx * blockSize / unit, N: NPages(l, unit)}}
}
