package tx

import (
	"io"

	"github.com/s3vfs/s3vfs/internal/format"
)

// Writes is the file as a write transaction sees it: the snapshot it
// began on, overlaid with its writes not yet committed. Reads, the copy of
// a block before it is changed, the check for a commit that changes
// nothing and the commit's plan all interpret the overlay through its
// methods. The zero value is a view with no writes.
type Writes struct {
	// Pending holds the writes not yet committed, as whole blocks; those
	// uploaded early (the engine's spill.go) are in Spilled, and every object
	// the transaction uploaded that no record names yet is in Early.
	// PendingSize is the size of the file in the view once Dirty.
	Pending     map[int64][]byte
	Spilled     map[int64]format.BlockRef
	Early       Early
	PendingSize int64

	// SpilledPages holds, for a block of Spilled, the pages it changed
	// over the view's bytes before the writes, in pages of SpillUnit bytes
	// (a block missing here counts every page changed): a rebase over
	// another commit's pages elsewhere in the block keeps it.
	SpilledPages map[int64]format.PageList
	SpillUnit    int64
	Floor        int64 // the least size since the writes began: committed bytes past it are gone
	Dirty        bool  // writes began (Begin): PendingSize and Floor hold

	// Written is the bytes SQLite wrote since the writes began.
	Written ByteSet

	// Under holds, for a writer that runs after transactions of its own
	// process not yet published (the engine's groupcommit.go), their
	// blocks: the view is the snapshot overlaid with them, then with the
	// writes, and it is UnderSize bytes long before the writes. Never modified; nil for none.
	Under     map[int64][]byte
	UnderSize int64
}

// CommittedSize returns the size of the view before the writes, over a
// snapshot of snapSize bytes.
func (t *Writes) CommittedSize(snapSize int64) int64 {
	if t.Under != nil {
		return t.UnderSize
	}
	return snapSize
}

// Begin starts tracking uncommitted writes on top of a snapshot of
// snapSize bytes.
func (t *Writes) Begin(snapSize int64) {
	if !t.Dirty {
		t.Dirty = true
		t.PendingSize = t.CommittedSize(snapSize)
		t.Floor = t.PendingSize
		if t.Pending == nil {
			t.Pending = map[int64][]byte{}
		}
	}
}

// DropSpilled forgets the spilled block idx: back in memory, or cut.
func (t *Writes) DropSpilled(idx int64) {
	delete(t.Spilled, idx)
	delete(t.SpilledPages, idx)
}

// SpilledChanged returns the pages spilled block idx changed, in pages of
// unit bytes, in a file of size bytes: those noted when it was uploaded,
// or every page of it when none were or the page size differs.
func (t *Writes) SpilledChanged(idx, bs, unit, size int64) format.PageList {
	if pages, ok := t.SpilledPages[idx]; ok && t.SpillUnit == unit {
		return pages
	}
	return format.BlockPages(idx, bs, unit, size)
}

// Truncate cuts the view to size bytes, in blocks of bs. A spilled block
// it would cut short must be back in memory first (the engine's
// Txn.TruncateTo).
func (t *Writes) Truncate(bs, size int64) {
	for idx, buf := range t.Pending {
		switch start := idx * bs; {
		case start >= size:
			delete(t.Pending, idx)
		case start+bs > size:
			clear(buf[size-start:])
		}
	}
	t.PendingSize = size
	t.Floor = min(t.Floor, size)
}

// Size returns the size of the file in the view over a snapshot of
// snapSize bytes.
func (t *Writes) Size(snapSize int64) int64 {
	if t.Dirty {
		return t.PendingSize
	}
	return t.CommittedSize(snapSize)
}

// Live returns how many bytes of a snapshot of snapSize bytes the view
// still shows: those no truncation since the writes began has removed.
func (t *Writes) Live(snapSize int64) int64 {
	if t.Dirty {
		return min(t.CommittedSize(snapSize), t.Floor)
	}
	return t.CommittedSize(snapSize)
}

// SameShape reports whether the view over a snapshot of snapSize bytes
// has its size, no truncation, and every changed block in memory: whether
// its pending blocks alone can tell if it changes the snapshot at all
// (the engine's Txn.unchanged).
func (t *Writes) SameShape(snapSize int64) bool {
	return t.PendingSize == snapSize && t.Floor >= snapSize && len(t.Spilled) == 0
}

// ReadAt reads the view over a snapshot of snapSize bytes, in blocks of
// bs, into b from off: pending blocks, then spilled ones (read with
// spilled), then the committed bytes of the snapshot that are still live
// (read with committed), and zeros up to the view's size. Like
// [io.ReaderAt], it returns io.EOF when b reaches past the end; an error
// of committed or spilled ends the read.
func (t *Writes) ReadAt(bs, snapSize int64, b []byte, off int64,
	committed func(b []byte, off int64) (int, error),
	spilled func(idx int64, ref format.BlockRef) ([]byte, error)) (int, error) {
	size, live := t.Size(snapSize), t.Live(snapSize)
	n := 0
	for n < len(b) && off+int64(n) < size {
		pos := off + int64(n)
		idx := pos / bs
		if buf, ok := t.Pending[idx]; ok {
			end := min(int64(len(buf)), size-idx*bs)
			n += copy(b[n:], buf[pos-idx*bs:end])
			continue
		}
		if ref, ok := t.Spilled[idx]; ok {
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
