package s3vfs

import (
	"io"

	"github.com/s3vfs/s3vfs/internal/format"
)

// txView is the file as a write transaction sees it: the snapshot it
// began on, overlaid with its writes not yet committed. Reads, the copy of
// a block before it is changed, the check for a commit that changes
// nothing and the commit's plan all interpret the overlay through its
// methods. The zero value is a view with no writes.
type txView struct {
	// Writes not yet committed, as whole blocks; those uploaded early
	// (see spill.go) are in spilled, and every object the transaction
	// uploaded that no record names yet is in early.
	pending     map[int64][]byte
	spilled     map[int64]format.BlockRef
	early       earlyObjects
	pendingSize int64

	// spilledPages holds, for a block of spilled, the pages it changed
	// over the view's bytes before the writes, in pages of spillUnit bytes
	// (a block missing here counts every page changed): a rebase over
	// another commit's pages elsewhere in the block keeps it.
	spilledPages map[int64]format.PageList
	spillUnit    int64
	floor        int64 // the least size since the writes began: committed bytes past it are gone
	dirty        bool

	// written is the bytes SQLite wrote since the writes began.
	written byteSet

	// under holds, for a writer that runs after transactions of its own
	// process not yet published (groupcommit.go), their blocks: the view
	// is the snapshot overlaid with them, then with the writes, and it is
	// underSize bytes long before the writes. Never modified; nil for none.
	under     map[int64][]byte
	underSize int64
}

// committedSize returns the size of the view over s before the writes.
func (t *txView) committedSize(s *snapshot) int64 {
	if t.under != nil {
		return t.underSize
	}
	return s.size
}

// begin starts tracking uncommitted writes on top of snapshot s.
func (t *txView) begin(s *snapshot) {
	if !t.dirty {
		t.dirty = true
		t.pendingSize = t.committedSize(s)
		t.floor = t.pendingSize
		if t.pending == nil {
			t.pending = map[int64][]byte{}
		}
	}
}

// dropSpilled forgets the spilled block idx: back in memory, or cut.
func (t *txView) dropSpilled(idx int64) {
	delete(t.spilled, idx)
	delete(t.spilledPages, idx)
}

// spilledChanged returns the pages spilled block idx changed, in pages of
// unit bytes, in a file of size bytes: those noted when it was uploaded,
// or every page of it when none were or the page size differs.
func (t *txView) spilledChanged(idx, bs, unit, size int64) format.PageList {
	if pages, ok := t.spilledPages[idx]; ok && t.spillUnit == unit {
		return pages
	}
	return blockPages(idx, bs, unit, size)
}

// truncate cuts the view to size bytes, in blocks of bs. A spilled block
// it would cut short must be back in memory first (file.Truncate).
func (t *txView) truncate(bs, size int64) {
	for idx, buf := range t.pending {
		switch start := idx * bs; {
		case start >= size:
			delete(t.pending, idx)
		case start+bs > size:
			clear(buf[size-start:])
		}
	}
	t.pendingSize = size
	t.floor = min(t.floor, size)
}

// size returns the size of the file in the view over s.
func (t *txView) size(s *snapshot) int64 {
	if t.dirty {
		return t.pendingSize
	}
	return t.committedSize(s)
}

// live returns how many bytes of s the view still shows: those no
// truncation since the writes began has removed.
func (t *txView) live(s *snapshot) int64 {
	if t.dirty {
		return min(t.committedSize(s), t.floor)
	}
	return t.committedSize(s)
}

// sameShape reports whether the view over s has the size of s, no
// truncation, and every changed block in memory: whether its pending
// blocks alone can tell if it changes s at all (file.unchanged).
func (t *txView) sameShape(s *snapshot) bool {
	return t.pendingSize == s.size && t.floor >= s.size && len(t.spilled) == 0
}

// readAt reads the view over s into b from off: pending blocks, then
// spilled ones (read with spilled), then the committed bytes of s that
// are still live (read with committed), and zeros up to the view's size.
// Like [io.ReaderAt], it returns io.EOF when b reaches past the end; an
// error of committed or spilled ends the read.
func (t *txView) readAt(s *snapshot, b []byte, off int64,
	committed func(b []byte, off int64) (int, error),
	spilled func(idx int64, ref format.BlockRef) ([]byte, error)) (int, error) {
	bs, size, live := s.blockSize, t.size(s), t.live(s)
	n := 0
	for n < len(b) && off+int64(n) < size {
		pos := off + int64(n)
		idx := pos / bs
		if buf, ok := t.pending[idx]; ok {
			end := min(int64(len(buf)), size-idx*bs)
			n += copy(b[n:], buf[pos-idx*bs:end])
			continue
		}
		if ref, ok := t.spilled[idx]; ok {
			buf, err := spilled(idx, ref)
			if err != nil {
				return n, err
			}
			end := min(int64(len(buf)), size-idx*bs)
			n += copy(b[n:], buf[pos-idx*bs:end])
			continue
		}
		// Read the committed bytes of this block, up to the view's size,
		// except those a truncation removed.
		end := min((idx+1)*bs, size)
		m := 0
		if pos < min(end, live) {
			var err error
			m, err = committed(b[n:n+int(min(int64(len(b)-n), min(end, live)-pos))], pos)
			if err != nil {
				return n + m, err
			}
		}
		n += m
		if pos+int64(m) < end {
			// Past the committed (or truncated) size but within the
			// view's: zeros.
			z := min(int64(len(b)-n), end-pos-int64(m))
			clear(b[n : n+int(z)])
			n += int(z)
		}
	}
	if n < len(b) {
		clear(b[n:])
		return n, io.EOF
	}
	return n, nil
}
