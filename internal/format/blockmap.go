package format

import "iter"

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
// The zero BlockMap is empty.
type BlockMap struct {
	chunks []*[chunkLen]BlockRef
	n      int64
}

// Len returns the number of blocks.
func (m BlockMap) Len() int64 { return m.n }

// Get returns the reference of block i; a hole when i is out of range.
func (m BlockMap) Get(i int64) BlockRef {
	if i < 0 || i >= m.n {
		return BlockRef{}
	}
	return m.chunks[i>>chunkBits][i&(chunkLen-1)]
}

// With returns a copy of m resized to n blocks (new blocks are holes) with
// the given blocks replaced.
func (m BlockMap) With(n int64, changes map[int64]BlockRef) BlockMap {
	nchunks := int((n + chunkLen - 1) >> chunkBits)
	out := BlockMap{chunks: make([]*[chunkLen]BlockRef, nchunks), n: n}
	copy(out.chunks, m.chunks)
	owned := make(map[int]bool)
	own := func(c int) *[chunkLen]BlockRef {
		if !owned[c] {
			fresh := new([chunkLen]BlockRef)
			if old := out.chunks[c]; old != nil {
				*fresh = *old
			}
			out.chunks[c] = fresh
			owned[c] = true
		}
		return out.chunks[c]
	}
	// Clear the tail of a shrunk (or grown) last chunk so stale references
	// beyond n never reappear when the map grows again.
	if n < m.n && n&(chunkLen-1) != 0 {
		c := own(int(n >> chunkBits))
		clear(c[n&(chunkLen-1):])
	}
	for c := range out.chunks {
		if out.chunks[c] == nil {
			out.chunks[c] = new([chunkLen]BlockRef)
			owned[c] = true
		}
	}
	for i, ref := range changes {
		if i < 0 || i >= n {
			continue
		}
		own(int(i >> chunkBits))[i&(chunkLen-1)] = ref
	}
	return out
}

// All iterates over every block in index order.
func (m BlockMap) All() iter.Seq2[int64, BlockRef] {
	return func(yield func(int64, BlockRef) bool) {
		for i := int64(0); i < m.n; i++ {
			if !yield(i, m.chunks[i>>chunkBits][i&(chunkLen-1)]) {
				return
			}
		}
	}
}
