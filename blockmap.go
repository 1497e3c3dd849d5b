package s3vfs

import "iter"

// blockRef locates the object that holds one block in some snapshot.
// The zero blockRef is a hole: a block of zeros with no object behind it.
type blockRef struct {
	commit uint64 // number of the commit attempt that wrote the object
	token  uint64 // random token of that attempt
	crc    uint32 // CRC32C of the object's bytes
}

func (r blockRef) isHole() bool { return r.commit == 0 }

const chunkBits = 10
const chunkLen = 1 << chunkBits

// blockMap maps block indexes to objects. It is persistent: with returns a
// new map sharing every chunk it does not change, so a commit costs memory
// in proportion to the blocks it changes, not to the size of the database.
// The zero blockMap is empty.
type blockMap struct {
	chunks []*[chunkLen]blockRef
	n      int64
}

// len returns the number of blocks.
func (m blockMap) len() int64 { return m.n }

// get returns the reference of block i; a hole when i is out of range.
func (m blockMap) get(i int64) blockRef {
	if i < 0 || i >= m.n {
		return blockRef{}
	}
	return m.chunks[i>>chunkBits][i&(chunkLen-1)]
}

// with returns a copy of m resized to n blocks (new blocks are holes) with
// the given blocks replaced.
func (m blockMap) with(n int64, changes map[int64]blockRef) blockMap {
	nchunks := int((n + chunkLen - 1) >> chunkBits)
	out := blockMap{chunks: make([]*[chunkLen]blockRef, nchunks), n: n}
	copy(out.chunks, m.chunks)
	owned := make(map[int]bool)
	own := func(c int) *[chunkLen]blockRef {
		if !owned[c] {
			fresh := new([chunkLen]blockRef)
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
			out.chunks[c] = new([chunkLen]blockRef)
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

// all iterates over every block in index order.
func (m blockMap) all() iter.Seq2[int64, blockRef] {
	return func(yield func(int64, blockRef) bool) {
		for i := int64(0); i < m.n; i++ {
			if !yield(i, m.chunks[i>>chunkBits][i&(chunkLen-1)]) {
				return
			}
		}
	}
}
