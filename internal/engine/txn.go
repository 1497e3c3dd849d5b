package engine

import (
	"context"
	"errors"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// Txn is a transaction on a database (docs/design.md, "The
// transaction"): the value (tx.Tx: the snapshot, the writes, the read set,
// the rules, the state and the outcome) and what committing it needs from
// the process. A connection (the root's file) holds one, which reads while
// Idle and writes from Running on; group commit publishes a batch of
// queued transactions as one Txn of their merged values (batch.go).
// The commit path (commit.go, commitpages.go, rebase.go, spill.go) takes
// a Txn, never a connection.
type Txn struct {
	db *Database
	tx.Tx

	// Cause is the last I/O error this transaction handed to SQLite. The
	// connection reports the system error of the last VFS call, and SQLite
	// unlocks after a failure, which would clear it; the connection's Unlock
	// keeps it so the application's error carries the S3 cause.
	Cause error

	chain chainMember // this writer's place among its process's writers (groupcommit.go)

	// Committed is set once a commit was published under the current write
	// lock. SQLite releases the lock right after a commit, except in
	// locking_mode=EXCLUSIVE or to undo a transaction over several
	// databases: a write before the release is refused (the root's settings.go).
	Committed bool

	// waitingOn is the write lock (Database.writes) another connection of
	// the process held when it refused this one's, at refusedAt; 0 for
	// none. SQLite's busy handler retries from no lock at all: while that
	// connection still holds it, for up to refusedFor, the retry is
	// refused before its freshness check, which would cost a request each
	// time and change nothing.
	waitingOn uint64
	refusedAt time.Time

	// absorb, set on the Txn that publishes a batch of queued
	// transactions, takes the transactions queued behind the batch into
	// it each time it is rebased (batch.go, absorbQueued).
	absorb func(ctx context.Context, head *format.Snapshot) error

	// header remembers whether the block 0 object ref holds a plain SQLite
	// header (see Encrypted).
	header struct {
		known, encrypted bool
		ref              format.BlockRef
	}
}

// IOErr records err as the cause of the transaction's failure and returns
// it as the I/O error code to hand SQLite.
func (t *Txn) IOErr(err error, code sqlite3.ExtendedErrorCode) error {
	t.Cause = err
	return vfs.SystemError(err, code)
}

// Discard drops uncommitted writes.
func (t *Txn) Discard(ctx context.Context) {
	t.releaseEarly(ctx, nil)
	t.Early = tx.Early{}
	clear(t.Pending)
	t.Dirty = false
	t.PendingSize = 0
	t.Written = nil
}

// pendingBlock returns the writable copy of block idx, reading its
// committed bytes first unless the caller overwrites all of it.
func (t *Txn) pendingBlock(ctx context.Context, s *format.Snapshot, idx int64, whole bool) ([]byte, error) {
	if buf, ok := t.Pending[idx]; ok {
		return buf, nil
	}
	if ref, ok := t.Spilled[idx]; ok {
		return t.unspill(ctx, idx, ref, s.BlockSize, !whole)
	}
	buf := make([]byte, s.BlockSize)
	if !whole {
		if live := format.BlockLen(idx, s.BlockSize, t.Writes.Live(s.Size)); live > 0 {
			data, ok := t.Under[idx]
			if !ok {
				var err error
				if data, err = t.db.ReadBlock(ctx, s, idx); err != nil {
					return nil, err
				}
			}
			if err := t.db.CheckBlockLen(s, idx, data, live); err != nil {
				return nil, err
			}
			copy(buf, data[:live])
			if idx == 0 {
				ClearWALFlag(buf) // as SQLite read it (overlayHeader)
			}
		}
	}
	t.Pending[idx] = buf
	return buf, nil
}

// Encrypted reports whether the database's header is not plain SQLite
// (a wrapper encrypts the pages). Without batch atomic writes SQLite then
// bumps the change counter in page 1 at every commit itself, which the VFS
// cannot do inside ciphertext; the commit happens at Sync instead. When
// block 0 cannot be read, the answer is not known and Encrypted says yes:
// giving up batch atomic writes for a plain header is only slower, while
// offering them for ciphertext would leave other connections' page
// caches stale. The next call reads block 0 again.
func (t *Txn) Encrypted(ctx context.Context) bool {
	s, _ := t.db.Known.Get()
	if s == nil || s.Size < 100 {
		return false
	}
	// SQLite asks for the device characteristics several times a
	// transaction: look at block 0 once per version of it, not per call.
	pin, err := t.db.Locate(ctx, s, 0)
	defer pin.Release()
	if err != nil {
		return true
	}
	ref := s.Blocks.Get(0)
	if t.header.known && t.header.ref == ref {
		return t.header.encrypted
	}
	b0, err := t.db.ReadBlock(ctx, s, 0)
	if err != nil {
		return true
	}
	t.header.known, t.header.ref, t.header.encrypted = true, ref, !format.PlainHeader(b0)
	return t.header.encrypted
}

// changedOverView returns the bytes of the pages t's writes changed over
// its view (a block whose bytes before are not at hand counts whole).
func (t *Txn) changedOverView() tx.ByteSet {
	s := t.Snap
	bs := s.BlockSize
	before := t.committedBefore
	block0 := t.Pending[0]
	if block0 == nil {
		block0 = before(0)
	}
	unit := plan.PageUnit(bs, block0)
	live := t.Writes.Live(s.Size)
	var out tx.ByteSet
	for idx, buf := range t.Pending {
		data := buf[:format.BlockLen(idx, bs, t.PendingSize)]
		for _, r := range plan.ChangedPages(idx, bs, unit, data, before(idx), format.BlockLen(idx, bs, live)) {
			out = out.Add(r.First*unit, (r.First+r.N)*unit)
		}
	}
	if t.PendingSize != t.Writes.CommittedSize(s.Size) {
		out = out.Add(0, 100) // the size in the header
	}
	return out
}

// committedBefore returns the bytes of block idx in t's view before its
// writes, when they are at hand: those of the transactions queued ahead
// of it (under), else those of its snapshot the cache holds (zeros for a
// hole); nil when not at hand (its entry too: format.Snapshot.PinHeld), or
// past the snapshot's end.
func (t *Txn) committedBefore(idx int64) []byte {
	s := t.Snap
	if buf, ok := t.Under[idx]; ok {
		return buf
	}
	if idx >= s.Blocks.Len() {
		return nil
	}
	pin, held := s.PinHeld(idx)
	defer pin.Release()
	if !held {
		return nil
	}
	name, ok := s.BlockID(t.db.Key, idx)
	if !ok {
		return make([]byte, format.BlockLen(idx, s.BlockSize, s.Size))
	}
	data, _ := t.db.Cache().Get(name)
	return data
}

// chainError returns the error t's commit ends with when its batch failed
// with err (its cause, the S3 error, is cause): SQLITE_BUSY for a lost
// race or a failed transaction ahead, else err as the batch's publisher
// got it. counted says whether the publisher counted the conflict.
func (t *Txn) chainError(err, cause error, counted bool) error {
	if errors.Is(err, errChainFailed) || errors.Is(err, sqlite3.BUSY_SNAPSHOT) {
		if !counted {
			t.db.Env.Counts.Conflicts.Add(1)
		}
		t.db.Known.Distrust()
		return sqlite3.BUSY_SNAPSHOT
	}
	t.Cause = cause
	return err
}

// NewTxn returns the transaction of a new connection to db: idle.
func NewTxn(db *Database) Txn { return Txn{db: db} }
