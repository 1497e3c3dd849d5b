package s3vfs

import (
	"context"
	"io"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
)

// file is the vfs.File of a main database: SQLite's connection to it
// (its lock level, its URI parameters, what it keeps across transactions)
// over the transaction it runs (engine.Txn). SQLite uses one file from
// one connection at a time, so its own fields need no lock; what
// connections share lives in its engine.Database, behind that one's lock.
type file struct {
	engine.Txn // the connection's transaction: idle, reading, or writing

	db  *engine.Database
	vfs *VFS

	params   engine.Params
	readOnly bool
	pinned   *format.Snapshot // set by commit= or asof=: the only snapshot read, forever
	conn     *sqlite3.Conn    // set by SetDB; its interrupt context cancels requests

	lock vfs.LockLevel

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

// Close implements [vfs.File]: it drops the connection's locks and its
// read-ahead, and releases its hold on the database's shared state.
func (f *file) Close() error {
	if f.db == nil {
		return nil
	}
	f.Unlock(vfs.LOCK_NONE)
	f.stopReadAhead()
	f.vfs.env.Release(f.db)
	f.db = nil
	return nil
}

// ReadAt implements [vfs.File]: it serves the bytes at off of the
// snapshot the connection reads (its pending writes over it, in a write
// transaction), from the cache or S3, and notes the read for read-ahead.
func (f *file) ReadAt(b []byte, off int64) (int, error) {
	s := f.view()
	if size := f.Writes.Size(s.Size); len(b) > 0 && off < size && !f.InnerPageRead(s, off, len(b)) {
		f.noteRead(s, off/s.BlockSize, (min(off+int64(len(b)), size)-1)/s.BlockSize)
	}
	n, err := f.Read(f.ctx(), s, b, off)
	if err != nil && err != io.EOF {
		if f.pinned != nil {
			err = f.db.CollectedWhileRead(s, err)
		}
		return n, f.IOErr(err, sqlite3.IOERR_READ)
	}
	return n, err
}

// WriteAt implements [vfs.File]: the bytes go to the connection's write
// transaction, in memory (or uploaded early past Options.WriteBuffer)
// until the commit publishes them.
func (f *file) WriteAt(b []byte, off int64) (int, error) {
	if f.readOnly {
		return 0, sqlite3.READONLY
	}
	if f.Committed {
		return 0, f.IOErr(errWriteAfterCommit(f.db.Key), sqlite3.IOERR_WRITE)
	}
	n, err := f.Write(f.ctx(), f.view(), b, off)
	if err != nil {
		return n, f.IOErr(err, sqlite3.IOERR_WRITE)
	}
	return n, nil
}

// Truncate implements [vfs.File]: the write transaction's file becomes
// size bytes long.
func (f *file) Truncate(size int64) error {
	if f.readOnly {
		return sqlite3.READONLY
	}
	if err := f.TruncateTo(f.ctx(), f.view(), size); err != nil {
		return f.IOErr(err, sqlite3.IOERR_TRUNCATE)
	}
	return nil
}

// Size implements [vfs.File]: the size of the file the connection sees,
// its pending writes included.
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
	f.Discard(f.ctx())
	return f.keepCause()
}

// CommitPhaseTwo implements [vfs.FileCommitPhaseTwo]. SQLite has already
// dropped its journal here, so the commit is published earlier, at
// SyncSuper; this is only the last resort for writes still pending, and
// where the trim that may follow a commit is published (Txn.CommitPhaseTwo).
func (f *file) CommitPhaseTwo() error {
	return f.Txn.CommitPhaseTwo(f.ctx(), func() error { return f.checkCommittable("") })
}

// commitPending publishes the pending writes, if any, unless the
// connection's settings refuse them (checkCommittable). super is the
// super-journal SQLite named (SyncSuper), or "".
func (f *file) commitPending(super string) error {
	return f.CommitPending(f.ctx(), func() error { return f.checkCommittable(super) })
}

// keepCause returns what a successful call that follows a failure returns:
// success, with the failure's cause still set as the connection's system
// error, so that SQLite's error for the statement names it.
func (f *file) keepCause() error {
	if f.Cause == nil {
		return nil
	}
	return vfs.SystemError(f.Cause, sqlite3.ErrorCode(0)) // SQLITE_OK
}

// Lock implements [vfs.File]. SHARED pins a snapshot: the newest commit,
// checked with one request unless staleness= allows an older one, or the
// version commit= or asof= names. RESERVED and above make the connection
// its database's writer in this process (Txn.TakeWriteLock); other
// processes are not locked out, and the commit settles any race.
func (f *file) Lock(lock vfs.LockLevel) error {
	if f.lock >= lock {
		return nil
	}
	db := f.db
	if f.lock == vfs.LOCK_NONE {
		f.Cause = nil // a new transaction
		if f.StillRefused() {
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
				return f.IOErr(err, sqlite3.IOERR_LOCK)
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
		return f.IOErr(f.db.LegacyReadOnly(), sqlite3.IOERR_LOCK)
	}
	if f.lock == vfs.LOCK_SHARED {
		if err := f.TakeWriteLock(f.ctx()); err != nil {
			return err
		}
		f.noteWriter(true)
	}
	// Readers never block a writer: they keep their snapshots.
	f.lock = lock
	return nil
}

// Unlock implements [vfs.File]: below RESERVED the connection stops being
// the writer and drops what it has not committed; at NONE it lets go of
// its snapshot.
func (f *file) Unlock(lock vfs.LockLevel) error {
	if f.lock <= lock {
		return f.keepCause()
	}
	var err error
	if lock < vfs.LOCK_RESERVED && f.lock >= vfs.LOCK_RESERVED {
		err = f.EndWrite(f.ctx())
		f.noteWriter(false)
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

// CheckReservedLock implements [vfs.File]: whether a connection of this
// process is its database's writer.
func (f *file) CheckReservedLock() (bool, error) {
	if f.lock >= vfs.LOCK_RESERVED {
		return true, nil
	}
	return f.db.HasWriter(), nil
}

// LockState implements [vfs.FileLockState].
func (f *file) LockState() vfs.LockLevel { return f.lock }

// SectorSize returns 0 (the default), so SQLite picks its own page size.
func (f *file) SectorSize() int { return 0 }

// DeviceCharacteristics implements [vfs.File]: writes are buffered and
// published whole, so SQLite may batch a transaction's writes
// (IOCAP_BATCH_ATOMIC), except in a database whose header is encrypted:
// without batches SQLite bumps the change counter in page 1 itself, which
// the VFS cannot do inside ciphertext (Txn.Encrypted).
func (f *file) DeviceCharacteristics() vfs.DeviceCharacteristic {
	caps := vfs.IOCAP_SAFE_APPEND |
		vfs.IOCAP_SEQUENTIAL |
		vfs.IOCAP_POWERSAFE_OVERWRITE |
		vfs.IOCAP_SUBPAGE_READ
	if !f.Encrypted(f.ctx()) {
		caps |= vfs.IOCAP_BATCH_ATOMIC
	}
	return caps
}
