package engine

import (
	"context"
	"io"

	"github.com/ncruces/go-sqlite3"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// A transaction's reads and writes as SQLite makes them through its
// connection, and its commit.

// Read reads into b the bytes at off of t's view over s: its writes over
// the committed bytes. A read of a write transaction joins its read set.
// The error is the store's, for the caller to hand SQLite.
func (t *Txn) Read(ctx context.Context, s *format.Snapshot, b []byte, off int64) (int, error) {
	if t.Snap != nil && len(b) > 0 {
		t.noteReadSet(s, off, off+int64(len(b)))
	}
	n, err := t.Writes.ReadAt(s.BlockSize, s.Size, b, off,
		func(b []byte, off int64) (int, error) { return t.readCommitted(ctx, s, b, off) },
		func(idx int64, ref format.BlockRef) ([]byte, error) {
			return t.readSpilled(ctx, idx, ref, s.BlockSize)
		})
	if err != nil && err != io.EOF {
		return n, err
	}
	if _, own := t.Pending[0]; !own && t.Spilled[0].IsHole() && t.chain.epoch != 0 && !t.Encrypted(ctx) {
		t.chain.serveCounter(b[:n], off)
	}
	return n, err
}

// InnerPageRead reports whether the n bytes at off will be served from
// the snapshot's inner pages (docs/design.md, "Inner pages"). Such reads
// are not evidence of a sequential reader: a lookup that descends from
// an interior page to the leaf right after it in the file would otherwise
// fetch the block after the leaf as well.
func (t *Txn) InnerPageRead(s *format.Snapshot, off int64, n int) bool {
	idx := off / s.BlockSize
	if _, own := t.Pending[idx]; own {
		return false
	}
	if _, queued := t.Under[idx]; queued {
		return false
	}
	return s.Inner.Has(t.db.Key, s, idx, off) && (off+int64(n)-1)/s.Inner.Unit == off/s.Inner.Unit
}

// readCommitted reads, into b from off (within one block), the bytes the
// view over s has before the writes: those of the transactions ahead of
// it in its process (under), else of s.
func (t *Txn) readCommitted(ctx context.Context, s *format.Snapshot, b []byte, off int64) (int, error) {
	idx := off / s.BlockSize
	buf, ok := t.Under[idx]
	if !ok {
		return t.db.ReadAt(ctx, s, b, off)
	}
	n := copy(b, buf[off-idx*s.BlockSize:])
	if idx == 0 {
		OverlayHeader(b[:n], off, s.N, buf)
	}
	return n, nil
}

// noteReadSet adds [off, end) to the read set of t on snapshot s,
// starting a new set when s is not the snapshot of the last one.
func (t *Txn) noteReadSet(s *format.Snapshot, off, end int64) {
	if t.Reads.N != s.N || t.Reads.Token != s.Token {
		t.Reads = tx.ReadSet{N: s.N, Token: s.Token}
	}
	t.Reads.Bytes = t.Reads.Bytes.Add(off, end)
}

// Write writes b at off into t's pending blocks over s, reading first the
// committed bytes of a block it changes in part, and spills the pending
// blocks to the store once they outgrow the write buffer (spill.go). The
// error is the store's, for the caller to hand SQLite.
func (t *Txn) Write(ctx context.Context, s *format.Snapshot, b []byte, off int64) (int, error) {
	t.Begin(s.Size)
	bs := s.BlockSize
	n := 0
	for n < len(b) {
		pos := off + int64(n)
		idx := pos / bs
		within := pos - idx*bs
		take := min(int64(len(b)-n), bs-within)
		buf, err := t.pendingBlock(ctx, s, idx, within == 0 && take == bs)
		if err != nil {
			return n, err
		}
		copy(buf[within:], b[n:n+int(take)])
		n += int(take)
	}
	t.Written = t.Written.Add(off, off+int64(len(b)))
	t.PendingSize = max(t.PendingSize, off+int64(len(b)))
	if int64(len(t.Pending))*bs > t.db.Env.Cfg.WriteBuffer {
		if err := t.spill(ctx); err != nil {
			return n, err
		}
	}
	return n, nil
}

// TruncateTo sets the size of t's view over s, bringing a spilled block it
// cuts short back into memory. The error is the store's, for the caller
// to hand SQLite.
func (t *Txn) TruncateTo(ctx context.Context, s *format.Snapshot, size int64) error {
	t.Begin(s.Size)
	bs := s.BlockSize
	for idx, ref := range t.Spilled {
		switch start := idx * bs; {
		case start >= size:
			t.DropSpilled(idx)
		case start+bs > size:
			// Cut short: back into memory, where the tail is cleared below.
			if _, err := t.unspill(ctx, idx, ref, bs, true); err != nil {
				return err
			}
		}
	}
	t.Writes.Truncate(bs, size)
	return nil
}

// CommitPending publishes the pending writes of t, if any, as one commit
// (alone, or in its batch of the write chain: groupcommit.go), once
// check, the connection's own refusals, passes; its rules are decided
// before. It returns the error to hand SQLite, and keeps t's writes only
// if it published them.
func (t *Txn) CommitPending(ctx context.Context, check func() error) error {
	if t.Err != nil {
		return t.Err
	}
	if !t.Dirty {
		return nil
	}
	t.Theirs = nil
	// Its rules are decided before anything of the transaction is released.
	err := t.Queue(t.Writes.CommittedSize(t.Snap.Size))
	if err == nil {
		err = check()
	}
	switch {
	case err != nil:
		err = t.IOErr(err, sqlite3.IOERR_WRITE)
	case t.chain.joined:
		err = t.commitInChain(ctx)
	default:
		err = t.commit(ctx)
	}
	if err != nil {
		t.Fail(err)
		t.Discard(ctx)
		return err
	}
	t.Committed = true
	return nil
}

// CommitPhaseTwo is SQLite's last call of a commit, after it dropped its
// journal: the commit was published at SyncSuper (CommitPending), so this
// publishes only writes still pending, and the trim SQLite makes after
// some commits. check is as for CommitPending.
func (t *Txn) CommitPhaseTwo(ctx context.Context, check func() error) error {
	// A COMMIT, not a ROLLBACK: Unlock settles a transaction that ran
	// over others of its process (leaveChain).
	t.chain.ending = t.chain.joined
	if !t.Committed {
		return t.CommitPending(ctx, check)
	}
	if t.chain.joined && !t.retakeLock() {
		// The write lock went to the next writer at the commit: a trim
		// published now could cut what it adds. Dropped.
		t.Discard(ctx)
		return nil
	}
	// SQLite truncates the file after a commit that left it longer than
	// the database (pager_end_transaction; seen after VACUUM), and only
	// then sends this. The pages cut are past the database size in the
	// header, which is what SQLite reads: the trim changes nothing SQLite
	// sees, so it is published as a commit of its own, best effort, and
	// a trim that loses a race is dropped rather than failing a COMMIT
	// whose transaction is already published.
	if err := t.CommitPending(ctx, check); err != nil {
		t.Err, t.Cause = nil, nil
		t.To(tx.Idle) // the trim is dropped; the commit before it stands
	}
	return nil
}
