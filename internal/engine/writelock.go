package engine

import (
	"context"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// TakeWriteLock makes t its database's writer in this process, if no other
// transaction is, and in format version 2 a member of the write chain
// (groupcommit.go). A chain that t may only join once the transactions
// queued now are published is waited for. The store's self-test, which
// the first commit waits for, starts meanwhile.
func (t *Txn) TakeWriteLock(ctx context.Context) error {
	db := t.db
	pageLevel := db.Env.writesPages(t.Snap)
	chained := pageLevel && !t.Encrypted(ctx) // before the lock: it may read block 0
	for {
		db.mu.Lock()
		if db.writer != nil && db.writer != t {
			t.waitingOn, t.refusedAt = db.writes, time.Now()
			db.mu.Unlock()
			return sqlite3.BUSY
		}
		if head, _ := db.Known.Get(); head != nil && head.N != t.Snap.N && !pageLevel {
			// Another connection of this process committed after our
			// snapshot was taken: the commit would lose the race for its
			// record. In format version 2 it may be rebased (rebase.go):
			// let it try.
			db.mu.Unlock()
			return sqlite3.BUSY_SNAPSHOT
		}
		if chained {
			ok, wait := db.chain.join(t)
			if !ok {
				db.mu.Unlock()
				if wait == nil {
					return sqlite3.BUSY
				}
				select {
				case <-wait:
					continue
				case <-ctx.Done():
					return sqlite3.BUSY
				}
			}
		}
		db.writer = t
		db.writes++
		t.waitingOn = 0
		db.mu.Unlock()
		// The commit waits for the store's self-test; run it meanwhile.
		db.Env.startStoreCheck(db.Key, db.Disk(), !t.Snap.Empty())
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

// StillRefused reports whether the connection of the process that refused
// t the write lock holds it still, and did so less than refusedFor ago
// (waitingOn).
func (t *Txn) StillRefused() bool {
	if t.waitingOn == 0 || time.Since(t.refusedAt) > refusedFor {
		t.waitingOn = 0
		return false
	}
	db := t.db
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.writer != nil && db.writes == t.waitingOn {
		return true
	}
	t.waitingOn = 0
	return false
}

// EndWrite ends the write transaction of t when SQLite releases its write
// lock: it leaves the write chain (leaveChain, whose error it returns),
// drops what was not committed (rolled back), and gives up the process's
// write lock.
func (t *Txn) EndWrite(ctx context.Context) error {
	err := t.leaveChain()
	t.Discard(ctx)
	t.Err = nil
	t.To(tx.Idle)
	t.Committed = false
	t.db.mu.Lock()
	if t.db.writer == t {
		t.db.writer = nil
	}
	t.db.mu.Unlock()
	return err
}

// HasWriter reports whether a connection of the process holds the
// database's write lock.
func (db *Database) HasWriter() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.writer != nil
}
