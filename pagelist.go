package s3vfs

import (
	"encoding/binary"
	"iter"
)

// A page list is a sorted set of page numbers, kept and encoded as runs of
// consecutive pages (docs/format.md, "Page lists"): a commit's changed
// pages, and the pages its record carries inline.

// pageRun is the pages first, first+1, …, first+n-1.
type pageRun struct {
	first, n int64
}

// pageList is a set of pages as sorted, disjoint, non-adjacent runs, so
// that every set has one representation. The zero value is empty.
type pageList []pageRun

// pageListOf returns the set of the given pages, which must be sorted
// ascending (duplicates are dropped).
func pageListOf(pages []int64) pageList {
	var l pageList
	for _, p := range pages {
		l = l.add(p)
	}
	return l
}

// add returns l with page p, which must not be below l's last run.
func (l pageList) add(p int64) pageList { return l.addRun(p, 1) }

// addRun returns l with the n pages from first, which must not start
// below the first page of l's last run.
func (l pageList) addRun(first, n int64) pageList {
	if n <= 0 {
		return l
	}
	if len(l) > 0 {
		last := &l[len(l)-1]
		if end := last.first + last.n; first <= end {
			last.n = max(end, first+n) - last.first
			return l
		}
	}
	return append(l, pageRun{first, n})
}

// count returns the number of pages in l.
func (l pageList) count() int64 {
	var c int64
	for _, r := range l {
		c += r.n
	}
	return c
}

// contains reports whether page p is in l.
func (l pageList) contains(p int64) bool {
	lo, hi := 0, len(l)
	for lo < hi {
		mid := (lo + hi) / 2
		switch r := l[mid]; {
		case p < r.first:
			hi = mid
		case p >= r.first+r.n:
			lo = mid + 1
		default:
			return true
		}
	}
	return false
}

// all iterates over the pages of l in order.
func (l pageList) all() iter.Seq[int64] {
	return func(yield func(int64) bool) {
		for _, r := range l {
			for p := r.first; p < r.first+r.n; p++ {
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
func appendPageList(b []byte, l pageList) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	end := int64(0)
	for _, r := range l {
		b = binary.AppendUvarint(b, uint64(r.first-end))
		b = binary.AppendUvarint(b, uint64(r.n-1))
		end = r.first + r.n
	}
	return b
}

// pageList decodes a page list whose pages are all below limit.
func (d *decoder) pageList(limit int64, what string) pageList {
	nr := d.uvarint(what)
	if d.err == nil && nr > uint64(len(d.b))/2 {
		d.fail(what)
	}
	if d.err != nil || nr == 0 {
		return nil
	}
	l := make(pageList, 0, nr)
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
		l = append(l, pageRun{first, int64(n) + 1})
		end = first + int64(n) + 1
	}
	if d.err != nil {
		return nil
	}
	return l
}
