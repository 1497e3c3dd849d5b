package s3vfs

import (
	"cmp"
	"slices"

	"github.com/s3vfs/s3vfs/internal/format"
)

// A write transaction's read set is the bytes of the file SQLite asked for
// (ReadAt), not what read-ahead fetched, while its connection was on one
// snapshot: SQLite keeps its page cache across transactions for as long
// as the change counter it reads at the start of each one stays the same,
// and s3vfs serves a counter that changes with every commit, so pages read
// by an earlier transaction on the same snapshot are pages this one may
// use without reading them again. A rebase (rebase.go) needs exactly this:
// every byte the transaction's writes may depend on.

// byteRange is the bytes [start, end) of the file.
type byteRange struct{ start, end int64 }

// byteSet is a set of bytes of the file as sorted, disjoint, non-adjacent
// ranges. The zero value is empty.
type byteSet []byteRange

// add returns s with the bytes [start, end).
func (s byteSet) add(start, end int64) byteSet {
	if start >= end {
		return s
	}
	// The first range that ends at or after start, and the first that
	// begins after end: every range between them merges with the new one.
	i, _ := slices.BinarySearchFunc(s, start, func(r byteRange, start int64) int { return cmp.Compare(r.end, start) })
	j, _ := slices.BinarySearchFunc(s, end, func(r byteRange, end int64) int { return cmp.Compare(r.start, end+1) })
	if i < j {
		start, end = min(start, s[i].start), max(end, s[j-1].end)
	}
	return slices.Replace(s, i, j, byteRange{start, end})
}

// union returns the bytes of s and t, as a new set.
func (s byteSet) union(t byteSet) byteSet {
	out := slices.Clone(s)
	for _, r := range t {
		out = out.add(r.start, r.end)
	}
	return out
}

// overlaps reports whether s holds any byte of [start, end).
func (s byteSet) overlaps(start, end int64) bool {
	if start >= end {
		return false
	}
	i, _ := slices.BinarySearchFunc(s, start, func(r byteRange, start int64) int { return cmp.Compare(r.end, start+1) })
	return i < len(s) && s[i].start < end
}

// overlapsAny reports whether s and t share a byte.
func (s byteSet) overlapsAny(t byteSet) bool {
	for _, r := range t {
		if s.overlaps(r.start, r.end) {
			return true
		}
	}
	return false
}

// pagesAsBytes returns the bytes of the pages of l, of unit bytes each.
func pagesAsBytes(l format.PageList, unit int64) byteSet {
	var s byteSet
	for _, r := range l {
		s = s.add(r.First*unit, (r.First+r.N)*unit)
	}
	return s
}

// readSet is what SQLite read of the file on snapshot (n, token).
type readSet struct {
	n, token uint64
	bytes    byteSet
}

// noteReadSet adds [off, end) to the read set of f on snapshot s,
// starting a new set when s is not the snapshot of the last one.
func (f *file) noteReadSet(s *snapshot, off, end int64) {
	if f.reads.n != s.n || f.reads.token != s.token {
		f.reads = readSet{n: s.n, token: s.token}
	}
	f.reads.bytes = f.reads.bytes.add(off, end)
}
