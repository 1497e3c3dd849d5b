package s3vfs

import (
	"context"
	"io"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// file is the vfs.File of a main database: SQLite's connection to it
// (its lock level, its URI parameters, what it keeps across transactions)
// over the transaction it runs (txn, txn.go). SQLite uses one file from
// one connection at a time, so its own fields need no lock; what
// connections share lives in database, behind database.mu.
type file struct {
	txn // the connection's transaction: idle, reading, or writing

	params   engine.Params
	readOnly bool
	pinned   *format.Snapshot // set by commit= or asof=: the only snapshot read, forever
	conn     *sqlite3.Conn    // set by SetDB; its interrupt context cancels requests

	lock vfs.LockLevel

	// waitingOn is the write lock (database.writes) another connection of
	// the process held when it refused this one's, at refusedAt; 0 for
	// none. SQLite's busy handler retries from no lock at all: while that
	// connection still holds it, for up to refusedFor, the retry is
	// refused before its freshness check, which would cost a request each
	// time and change nothing.
	waitingOn uint64
	refusedAt time.Time

	// committed is set once a commit was published under the current write
	// lock. SQLite releases the lock right after a commit, except in
	// locking_mode=EXCLUSIVE or to undo a transaction over several
	// databases: a write before the release is refused (settings.go).
	committed bool

	ra readAhead // sequential read detection and its fetches
}

var (
	// Ensure these interfaces are implemented:
	_ vfs.FileLockState        = &file{}
	_ vfs.FileBatchAtomicWrite = &file{}
	_ vfs.FileCommitPhaseTwo   = &file{}
	_ vfs.FilePragma           = &file{}
	_ vfs.FileSizeHint         = &file{}
	_ vfs.FileSync             = &file{}
)

// ctx returns the context of the statement running on the connection, so
// that an interrupted query cancels its S3 requests.
func (f *file) ctx() context.Context {
	if f.conn != nil {
		if ctx := f.conn.GetInterrupt(); ctx != nil {
			return ctx
		}
	}
	return context.Background()
}

// SetDB receives the connection that owns the file (SQLITE_FCNTL_PDB).
func (f *file) SetDB(db any) {
	if c, ok := db.(*sqlite3.Conn); ok {
		f.conn = c
	}
}

// view returns the snapshot reads are served from: the pinned one, or the
// newest known when SQLite reads without a lock.
func (f *file) view() *format.Snapshot {
	if f.Snap != nil {
		return f.Snap
	}
	if f.pinned != nil {
		return f.pinned
	}
	head, _ := f.db.Known.Get()
	return head
}

func (f *file) Close() error {
	if f.db == nil {
		return nil
	}
	f.Unlock(vfs.LOCK_NONE)
	f.stopReadAhead()
	f.db.vfs.release(f.db)
	f.db = nil
	return nil
}

func (f *file) ReadAt(b []byte, off int64) (int, error) {
	s := f.view()
	if size := f.Writes.Size(s.Size); len(b) > 0 && off < size && !f.innerPageRead(s, off, len(b)) {
		f.noteRead(s, off/s.BlockSize, (min(off+int64(len(b)), size)-1)/s.BlockSize)
	}
	if f.Snap != nil && len(b) > 0 {
		f.noteReadSet(s, off, off+int64(len(b)))
	}
	n, err := f.Writes.ReadAt(s.BlockSize, s.Size, b, off,
		func(b []byte, off int64) (int, error) { return f.readCommitted(s, b, off) },
		func(idx int64, ref format.BlockRef) ([]byte, error) {
			return f.readSpilled(f.ctx(), idx, ref, s.BlockSize)
		})
	if err != nil && err != io.EOF {
		if f.pinned != nil {
			err = f.db.collectedWhileRead(s, err)
		}
		return n, f.fail(err, sqlite3.IOERR_READ)
	}
	if _, own := f.Pending[0]; !own && f.Spilled[0].IsHole() && f.chain.epoch != 0 && !f.encrypted(f.ctx()) {
		f.chain.serveCounter(b[:n], off)
	}
	return n, err
}

// innerPageRead reports whether the n bytes at off will be served from
// the snapshot's inner pages (docs/design.md, "Inner pages"). Such reads
// are not evidence of a sequential reader: a lookup that descends from
// an interior page to the leaf right after it in the file would otherwise
// fetch the block after the leaf as well.
func (f *file) innerPageRead(s *format.Snapshot, off int64, n int) bool {
	idx := off / s.BlockSize
	if _, own := f.Pending[idx]; own {
		return false
	}
	if _, queued := f.Under[idx]; queued {
		return false
	}
	return s.Inner.Has(f.db.Key, s, idx, off) && (off+int64(n)-1)/s.Inner.Unit == off/s.Inner.Unit
}

// readCommitted reads, into b from off (within one block), the bytes the
// view over s has before the writes: those of the transactions ahead of
// it in its process (under), else of s.
func (f *file) readCommitted(s *format.Snapshot, b []byte, off int64) (int, error) {
	idx := off / s.BlockSize
	buf, ok := f.Under[idx]
	if !ok {
		return f.db.ReadAt(f.ctx(), s, b, off)
	}
	n := copy(b, buf[off-idx*s.BlockSize:])
	if idx == 0 {
		engine.OverlayHeader(b[:n], off, s.N, buf)
	}
	return n, nil
}

func (f *file) WriteAt(b []byte, off int64) (int, error) {
	if f.readOnly {
		return 0, sqlite3.READONLY
	}
	if f.committed {
		return 0, f.fail(errWriteAfterCommit(f.db.Key), sqlite3.IOERR_WRITE)
	}
	s := f.view()
	f.Begin(s.Size)
	bs := s.BlockSize
	n := 0
	for n < len(b) {
		pos := off + int64(n)
		idx := pos / bs
		within := pos - idx*bs
		take := min(int64(len(b)-n), bs-within)
		buf, err := f.pendingBlock(f.ctx(), s, idx, within == 0 && take == bs)
		if err != nil {
			return n, f.fail(err, sqlite3.IOERR_WRITE)
		}
		copy(buf[within:], b[n:n+int(take)])
		n += int(take)
	}
	f.Written = f.Written.Add(off, off+int64(len(b)))
	f.PendingSize = max(f.PendingSize, off+int64(len(b)))
	if int64(len(f.Pending))*bs > f.db.vfs.opts.WriteBuffer {
		if err := f.spill(f.ctx()); err != nil {
			return n, f.fail(err, sqlite3.IOERR_WRITE)
		}
	}
	return n, nil
}

func (f *file) Truncate(size int64) error {
	if f.readOnly {
		return sqlite3.READONLY
	}

	s := f.view()
	f.Begin(s.Size)
	bs := s.BlockSize
	for idx, ref := range f.Spilled {
		switch start := idx * bs; {
		case start >= size:
			f.DropSpilled(idx)
		case start+bs > size:
			// Cut short: back into memory, where the tail is cleared below.
			if _, err := f.unspill(f.ctx(), idx, ref, bs, true); err != nil {
				return f.fail(err, sqlite3.IOERR_TRUNCATE)
			}
		}
	}
	f.Writes.Truncate(bs, size)
	return nil
}

func (f *file) Size() (int64, error) {
	return f.Writes.Size(f.view().Size), nil
}

// SizeHint implements [vfs.FileSizeHint]; blocks are allocated on write.
func (f *file) SizeHint(size int64) error { return nil }

// Sync publishes writes made outside a batch (journal mode OFF, a
// transaction larger than the page cache, an encrypted database), unless
// SyncSuper already did.
func (f *file) Sync(flags vfs.SyncFlag) error { return f.commitPending("") }

// SyncSuper implements [vfs.FileSync]. SQLite sends it in the first phase
// of every commit, just before Sync, and in place of Sync with
// PRAGMA synchronous=OFF: the last point where SQLite can still roll the
// transaction back. super names the super-journal of a transaction over
// several databases, which s3vfs refuses (settings.go).
func (f *file) SyncSuper(super string) error {
	return f.commitPending(super)
}

// BeginAtomicWrite implements [vfs.FileBatchAtomicWrite]: the writes that
// follow are buffered, as all writes are.
func (f *file) BeginAtomicWrite() error { return nil }

// CommitAtomicWrite implements [vfs.FileBatchAtomicWrite]. The batch is
// not published yet: SQLite may go on writing before it syncs (a VACUUM
// that changes the page size truncates the file after its batch), and the
// whole transaction must be one commit. SyncSuper, which SQLite sends
// right after, publishes it.
func (f *file) CommitAtomicWrite() error { return nil }

// RollbackAtomicWrite implements [vfs.FileBatchAtomicWrite].
func (f *file) RollbackAtomicWrite() error {
	f.discard(f.ctx())
	return f.keepCause()
}

// CommitPhaseTwo implements [vfs.FileCommitPhaseTwo]. SQLite has already
// dropped its journal here, so the commit is published earlier, at
// SyncSuper; this is only the last resort for writes still pending, and
// where the trim that may follow a commit is published.
func (f *file) CommitPhaseTwo() error {
	// A COMMIT, not a ROLLBACK: Unlock settles a transaction that ran
	// over others of its process (leaveChain).
	f.chain.ending = f.chain.joined
	if !f.committed {
		return f.commitPending("")
	}
	if f.chain.joined && !f.retakeLock() {
		// The write lock went to the next writer at the commit: a trim
		// published now could cut what it adds. Dropped.
		f.discard(f.ctx())
		return nil
	}
	// SQLite truncates the file after a commit that left it longer than
	// the database (pager_end_transaction; seen after VACUUM), and only
	// then sends this. The pages cut are past the database size in the
	// header, which is what SQLite reads: the trim changes nothing SQLite
	// sees, so it is published as a commit of its own, best effort, and
	// a trim that loses a race is dropped rather than failing a COMMIT
	// whose transaction is already published.
	if err := f.commitPending(""); err != nil {
		f.Err, f.cause = nil, nil
		f.To(tx.Idle) // the trim is dropped; the commit before it stands
	}
	return nil
}

// commitPending publishes the pending writes, if any. super is the
// super-journal SQLite named (SyncSuper), or "".
func (f *file) commitPending(super string) error {
	if f.Err != nil {
		return f.Err
	}
	if !f.Dirty {
		return nil
	}
	f.Theirs = nil
	// Its rules are decided before anything of the transaction is released.
	err := f.Queue(f.Writes.CommittedSize(f.Snap.Size))
	if err == nil {
		err = f.checkCommittable(super)
	}
	switch {
	case err != nil:
		err = f.fail(err, sqlite3.IOERR_WRITE)
	case f.chain.joined:
		err = f.commitInChain(f.ctx())
	default:
		err = f.commit(f.ctx())
	}
	if err != nil {
		f.Fail(err)
		f.discard(f.ctx())
		return err
	}
	f.committed = true
	return nil
}

// keepCause returns what a successful call that follows a failure returns:
// success, with the failure's cause still set as the connection's system
// error, so that SQLite's error for the statement names it.
func (f *file) keepCause() error {
	if f.cause == nil {
		return nil
	}
	return vfs.SystemError(f.cause, sqlite3.ErrorCode(0)) // SQLITE_OK
}

func (f *file) Lock(lock vfs.LockLevel) error {
	if f.lock >= lock {
		return nil
	}
	db := f.db
	if f.lock == vfs.LOCK_NONE {
		f.cause = nil // a new transaction
		if f.stillRefused() {
			return sqlite3.BUSY
		}
		// Pin a snapshot: the newest commit, checked with one request.
		maxAge := f.params.Staleness
		if f.params.Immutable {
			maxAge = 1 << 62
		}
		s := f.pinned
		if s == nil {
			var err error
			if s, err = db.Refresh(f.ctx(), maxAge); err != nil {
				return f.fail(err, sqlite3.IOERR_LOCK)
			}
		}
		f.Snap = s
		f.lock = vfs.LOCK_SHARED
	}
	if lock == vfs.LOCK_SHARED {
		return nil
	}
	if f.readOnly {
		return sqlite3.READONLY
	}
	if f.Snap.Legacy != nil {
		return f.fail(f.db.LegacyReadOnly(), sqlite3.IOERR_LOCK)
	}
	if f.lock == vfs.LOCK_SHARED {
		if err := f.takeWriteLock(); err != nil {
			return err
		}
		// The commit waits for the store's self-test; run it meanwhile.
		db.vfs.startStoreCheck(db.Key, db.Disk(), !f.Snap.Empty())
	}
	// Readers never block a writer: they keep their snapshots.
	f.lock = lock
	return nil
}

// takeWriteLock makes f its database's writer in this process, if no other
// connection is, and in format version 2 a member of the write chain
// (groupcommit.go). A chain that f may only join once the transactions
// queued now are published is waited for.
func (f *file) takeWriteLock() error {
	db := f.db
	pageLevel := db.vfs.writesPages(f.Snap)
	chained := pageLevel && !f.encrypted(f.ctx()) // before the lock: it may read block 0
	for {
		db.mu.Lock()
		if db.writer != nil && db.writer != f {
			f.waitingOn, f.refusedAt = db.writes, time.Now()
			db.mu.Unlock()
			return sqlite3.BUSY
		}
		if head, _ := db.Known.Get(); head != nil && head.N != f.Snap.N && !pageLevel {
			// Another connection of this process committed after our
			// snapshot was taken: the commit would lose the race for its
			// record. In format version 2 it may be rebased (rebase.go):
			// let it try.
			db.mu.Unlock()
			return sqlite3.BUSY_SNAPSHOT
		}
		if chained {
			ok, wait := db.chain.join(&f.txn)
			if !ok {
				db.mu.Unlock()
				if wait == nil {
					return sqlite3.BUSY
				}
				select {
				case <-wait:
					continue
				case <-f.ctx().Done():
					return sqlite3.BUSY
				}
			}
		}
		db.writer = f
		db.writes++
		f.waitingOn = 0
		db.mu.Unlock()
		f.noteWriter(true)
		return nil
	}
}

// refusedFor is how long after another connection of its process refused
// a connection the write lock its new transactions are refused too, while
// that one holds it: long enough that SQLite's busy handler, which sleeps
// up to 100 ms between tries, makes one freshness check in twenty tries;
// short enough that a connection that gave up writing soon reads again
// (a read refused meanwhile gets SQLITE_BUSY, which its busy handler
// retries).
const refusedFor = 2 * time.Second

// stillRefused reports whether the connection of the process that refused
// f the write lock holds it still, and did so less than refusedFor ago
// (waitingOn).
func (f *file) stillRefused() bool {
	if f.waitingOn == 0 || time.Since(f.refusedAt) > refusedFor {
		f.waitingOn = 0
		return false
	}
	db := f.db
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.writer != nil && db.writes == f.waitingOn {
		return true
	}
	f.waitingOn = 0
	return false
}

func (f *file) Unlock(lock vfs.LockLevel) error {
	if f.lock <= lock {
		return f.keepCause()
	}
	var err error
	if lock < vfs.LOCK_RESERVED && f.lock >= vfs.LOCK_RESERVED {
		err = f.leaveChain()
		// Anything not committed by now was rolled back.
		f.discard(f.ctx())
		f.Err = nil
		f.To(tx.Idle)
		f.committed = false
		f.noteWriter(false)
		f.db.mu.Lock()
		if f.db.writer == f {
			f.db.writer = nil
		}
		f.db.mu.Unlock()
	}
	if lock == vfs.LOCK_NONE {
		f.Snap = nil
	}
	f.lock = lock
	if err != nil {
		return err
	}
	return f.keepCause()
}

func (f *file) CheckReservedLock() (bool, error) {
	if f.lock >= vfs.LOCK_RESERVED {
		return true, nil
	}
	f.db.mu.Lock()
	defer f.db.mu.Unlock()
	return f.db.writer != nil, nil
}

func (f *file) LockState() vfs.LockLevel { return f.lock }

// SectorSize returns 0 (the default), so SQLite picks its own page size.
func (f *file) SectorSize() int { return 0 }

func (f *file) DeviceCharacteristics() vfs.DeviceCharacteristic {
	caps := vfs.IOCAP_SAFE_APPEND |
		vfs.IOCAP_SEQUENTIAL |
		vfs.IOCAP_POWERSAFE_OVERWRITE |
		vfs.IOCAP_SUBPAGE_READ
	if !f.encrypted(f.ctx()) {
		caps |= vfs.IOCAP_BATCH_ATOMIC
	}
	return caps
}

// noteReadSet adds [off, end) to the read set of f on snapshot s,
// starting a new set when s is not the snapshot of the last one.
func (f *file) noteReadSet(s *format.Snapshot, off, end int64) {
	if f.Reads.N != s.N || f.Reads.Token != s.Token {
		f.Reads = tx.ReadSet{N: s.N, Token: s.Token}
	}
	f.Reads.Bytes = f.Reads.Bytes.Add(off, end)
}
