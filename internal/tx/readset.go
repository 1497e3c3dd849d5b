package tx

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
// use without reading them again. A rebase (the engine's rebase.go) needs
// exactly this: every byte the transaction's writes may depend on. The
// connection notes the bytes (the engine's Txn.noteReadSet).

// ByteRange is the bytes [Start, End) of the file.
type ByteRange struct{ Start, End int64 }

// ByteSet is a set of bytes of the file as sorted, disjoint, non-adjacent
// ranges. The zero value is empty.
type ByteSet []ByteRange

// Add returns s with the bytes [start, end).
func (s ByteSet) Add(start, end int64) ByteSet {
	if start >= end {
		return s
	}
	// The first range that ends at or after start, and the first that
	// begins after end: every range between them merges with the new one.
	i, _ := slices.BinarySearchFunc(s, start, func(r ByteRange, start int64) int { return cmp.Compare(r.End, start) })
	j, _ := slices.BinarySearchFunc(s, end, func(r ByteRange, end int64) int { return cmp.Compare(r.Start, end+1) })
	if i < j {
		start, end = min(start, s[i].Start), max(end, s[j-1].End)
	}
	return slices.Replace(s, i, j, ByteRange{start, end})
}

// Union returns the bytes of s and t, as a new set.
func (s ByteSet) Union(t ByteSet) ByteSet {
	out := slices.Clone(s)
	for _, r := range t {
		out = out.Add(r.Start, r.End)
	}
	return out
}

// Overlaps reports whether s holds any byte of [start, end).
func (s ByteSet) Overlaps(start, end int64) bool {
	if start >= end {
		return false
	}
	i, _ := slices.BinarySearchFunc(s, start, func(r ByteRange, start int64) int { return cmp.Compare(r.End, start+1) })
	return i < len(s) && s[i].Start < end
}

// OverlapsAny reports whether s and t share a byte.
func (s ByteSet) OverlapsAny(t ByteSet) bool {
	for _, r := range t {
		if s.Overlaps(r.Start, r.End) {
			return true
		}
	}
	return false
}

// PagesAsBytes returns the bytes of the pages of l, of unit bytes each.
func PagesAsBytes(l format.PageList, unit int64) ByteSet {
	var s ByteSet
	for _, r := range l {
		s = s.Add(r.First*unit, (r.First+r.N)*unit)
	}
	return s
}

// ReadSet is what SQLite read of the file, Bytes, on snapshot (N, Token).
type ReadSet struct {
	N, Token uint64
	Bytes    ByteSet
}
