package format

import (
	"iter"
	"slices"
)

// BlockRef locates the object that holds one block in some snapshot.
// The zero BlockRef is a hole: a block of zeros with no object behind it.
type BlockRef struct {
	Commit uint64 // number of the commit attempt that wrote the object
	Token  uint64 // random token of that attempt
	CRC    uint32 // CRC32C of the object's bytes
}

// IsHole reports whether r is a hole (no object).
func (r BlockRef) IsHole() bool { return r.Commit == 0 }

const chunkBits = 10
const chunkLen = 1 << chunkBits

// BlockMap maps block indexes to objects. It is persistent: With returns a
// new map sharing every chunk it does not change, so a commit costs memory
// in proportion to the blocks it changes, not to the size of the database.
// Chunks hold chunkLen references, but the last, which holds only the
// blocks there are: a database of a few blocks keeps a map of a few
// references (a process that holds many small databases open pays for
// what they have). The zero BlockMap is empty.
//
// A map over a version-3 checkpoint is lazy (segments.go): it has no
// chunks, and reads what a commit did not set from the checkpoint's
// segments.
type BlockMap struct {
	chunks [][]BlockRef // chunk c holds blocks c<<chunkBits onwards
	n      int64
	lazy   *lazyMap // set for a map over a version-3 checkpoint's segments
}

// Len returns the number of blocks.
func (m BlockMap) Len() int64 { return m.n }

// Get returns the reference of block i; a hole when i is out of range.
func (m BlockMap) Get(i int64) BlockRef {
	if i < 0 || i >= m.n {
		return BlockRef{}
	}
	if m.lazy != nil {
		return m.lazy.get(i)
	}
	return m.chunks[i>>chunkBits][i&(chunkLen-1)]
}

// chunkLenOf returns the length of chunk c of a map of n blocks.
func chunkLenOf(n int64, c int) int {
	return int(min(chunkLen, n-int64(c)<<chunkBits))
}

// With returns a copy of m resized to n blocks (new blocks are holes) with
// the given blocks replaced.
func (m BlockMap) With(n int64, changes map[int64]BlockRef) BlockMap {
	n = max(n, 0)
	if m.lazy != nil {
		return BlockMap{n: n, lazy: m.lazy.with(m.n, n, changes)}
	}
	out := BlockMap{chunks: make([][]BlockRef, (n+chunkLen-1)>>chunkBits), n: n}
	owned := make(map[int]bool)
	for c := range out.chunks {
		want := chunkLenOf(n, c)
		if c < len(m.chunks) && len(m.chunks[c]) == want {
			out.chunks[c] = m.chunks[c] // shared until changed
			continue
		}
		// Resized (grown, or shrunk: references beyond n are dropped, so
		// they never reappear when the map grows again) or new.
		fresh := make([]BlockRef, want)
		if c < len(m.chunks) {
			copy(fresh, m.chunks[c])
		}
		out.chunks[c], owned[c] = fresh, true
	}
	for i, ref := range changes {
		if i < 0 || i >= n {
			continue
		}
		c := int(i >> chunkBits)
		if !owned[c] {
			out.chunks[c], owned[c] = slices.Clone(out.chunks[c]), true
		}
		out.chunks[c][i&(chunkLen-1)] = ref
	}
	return out
}

// All iterates over every block in index order; for a lazy map, only
// once Whole.
func (m BlockMap) All() iter.Seq2[int64, BlockRef] {
	return func(yield func(int64, BlockRef) bool) {
		for i := int64(0); i < m.n; i++ {
			if !yield(i, m.Get(i)) {
				return
			}
		}
	}
}
