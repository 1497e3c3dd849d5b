package engine

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// Group commit (docs/design.md, "Group commit"). In one process, one
// connection at a time runs a write transaction on a database, as SQLite
// expects; but it keeps the write lock only while SQLite runs the
// transaction, not while its commit is published. A transaction SQLite
// committed is queued and the lock handed on: the next writer runs over
// the queued transactions' blocks (they come before it in the serial
// order), and the transactions queued while one record was being created
// are published together, as the next record. The database then advances
// by every transaction its process ran in a round trip, not by one.
//
// A queued transaction may still fail (another process's commit changed a
// page it read). Every transaction that ran over its blocks then fails
// too, with SQLITE_BUSY, even one that wrote nothing: its COMMIT waits for
// the transactions ahead of it, in EndWrite (SQLite's Unlock).

// writeChain is, for one database in one process, the write transactions
// that ran one after another and are not all published yet: its members
// are the transactions that joined it (at RESERVED) and have not released
// the lock since. Its fields are guarded by Database.mu.
type writeChain struct {
	members []*Txn
	base    *format.Snapshot // the committed snapshot the members' views build on; nil when members == 0

	// The queued transactions, oldest first, and last, the newest queued
	// (it stays until published): a writer that joins now comes after it.
	queue []*queuedCommit
	last  *queuedCommit

	// spec is the blocks of the transactions queued or being published,
	// newest wins, over base; specSize the file's size after them; and
	// specChanged the bytes they changed (page 1's served fields aside).
	// spec is replaced, never modified: views share it.
	spec        map[int64][]byte
	specSize    int64
	specChanged tx.ByteSet

	publishing bool // a member publishes a batch

	// wins counts the batches in a row published without a rebase: see
	// publishBatch.
	wins int

	// specStale holds, for a block of spec, the bytes other processes'
	// commits changed that base has and the block lacks: a batch published
	// since the block was written was rebased over those commits.
	specStale map[int64]tx.ByteSet

	// failed is set once a transaction of the chain failed to publish:
	// every later one ran over its writes, and fails as well.
	failed error

	// history is what the records between the chain's bases changed,
	// oldest first: a writer whose snapshot is an older base than the
	// current one may still join if it read none of it.
	history []baseStep
}

// baseStep is the bytes the records after commit from, up to commit to,
// changed.
type baseStep struct {
	from, to uint64
	changed  tx.ByteSet
}

// maxHistory bounds a chain's history.
const maxHistory = 64

// changedSince returns the bytes the records after commit n up to base
// changed, and false if the history does not reach back to n.
func (c *writeChain) changedSince(n uint64) (tx.ByteSet, bool) {
	var out tx.ByteSet
	for i := len(c.history) - 1; i >= 0; i-- {
		out = out.Union(c.history[i].changed)
		if c.history[i].from <= n {
			return out, true
		}
	}
	return nil, false
}

// chainMember is a transaction's place in its database's chain.
type chainMember struct {
	joined bool
	after  *queuedCommit // the newest transaction ahead of this one when it joined; nil for none
	epoch  uint32        // see serveCounter
	seen   uint64        // the commit number of the snapshot the writer began on

	// ending is set when SQLite commits the transaction (Txn.CommitPhaseTwo,
	// which a rollback never sends); lastOfBatch once its writes are
	// published, last of their batch (only its trim may follow them).
	ending      bool
	lastOfBatch bool

	// The bytes other processes' commits changed that this writer's view
	// may lack: of the blocks it took from spec, those specStale named
	// when it joined (staleAtJoin), and all those the transactions ahead
	// of it took in since, when they were published (carried). Guarded by
	// Database.mu.
	staleAtJoin map[int64]tx.ByteSet
	carried     tx.ByteSet
}

// stale returns every byte m's view may lack.
func (m *chainMember) stale() tx.ByteSet {
	out := m.carried.Union(nil)
	for _, b := range m.staleAtJoin {
		out = out.Union(b)
	}
	return out
}

// staleIn returns the bytes block idx (of bs bytes) of m's writes may
// lack: those of the block it took from spec, and all those taken in
// since it joined.
func (m *chainMember) staleIn(t *Txn, idx, bs int64) tx.ByteSet {
	var out tx.ByteSet
	if _, fromSpec := t.Under[idx]; fromSpec {
		out = m.staleAtJoin[idx].Union(nil)
	}
	for _, r := range m.carried {
		if lo, hi := max(r.Start, idx*bs), min(r.End, (idx+1)*bs); lo < hi {
			out = out.Add(lo, hi)
		}
	}
	return out
}

// queuedCommit is one transaction waiting in a chain to be published.
type queuedCommit struct {
	t       *Txn       // its writes are t's pending blocks, untouched until done
	changed tx.ByteSet // the bytes it changed over its view
	alone   bool       // published by itself: t.Rules.Alone, decided when it was queued

	lastOfBatch bool // set with done: it came last in the batch published

	lead chan struct{} // closed when it is to publish the next batch
	done chan struct{} // closed once err, cause and head are set
	err  error
	head *format.Snapshot // the snapshot published, on success
}

// closed reports whether ch is closed.
func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// errChainFailed fails the transactions that ran over one that failed.
var errChainFailed = errors.New("s3vfs: a transaction this one ran after failed to commit")

// join makes t, which asks for RESERVED, a member of c, and reports
// whether it may write, and if not, what to wait for before asking again
// (nil: SQLITE_BUSY). A writer that joins while transactions are queued
// runs over them: its view becomes base overlaid with their blocks. SQLite
// read on t's snapshot already (the header, and pages it may keep in its
// cache), so the view must show what it read as it was: t may not join,
// and waits (SQLITE_BUSY, which SQLite's busy handler retries), when a
// byte it read or the header changed between its snapshot and the view,
// when that is not known (its snapshot is older than the chain's
// history), or when the chain failed. A snapshot newer than base while
// transactions are queued (other processes committed since base) waits
// for them: once they are published, base is newer than it.
func (c *writeChain) join(t *Txn) (bool, chan struct{}) {
	s := t.Snap
	if len(c.members) == 0 {
		*c = writeChain{}
		c.base = s
	}
	if c.failed != nil {
		return false, nil
	}
	var since tx.ByteSet // what changed from t's snapshot to its view
	switch {
	case s.N == c.base.N && s.Token == c.base.Token:
	case s.N > c.base.N && c.last == nil:
		// Nothing unpublished, and t's snapshot is newer: t's view.
		c.base, c.history = s, nil
	case s.N < c.base.N:
		var ok bool
		if since, ok = c.changedSince(s.N); !ok {
			return false, nil
		}
	case s.N > c.base.N:
		return false, c.last.done
	default:
		return false, nil
	}
	if c.last != nil {
		since = since.Union(c.specChanged)
	}
	if since.Overlaps(0, 100) || since.OverlapsAny(t.Reads.Bytes) {
		return false, nil
	}
	if t.Snap != c.base {
		t.Snap = c.base
		t.Reads.N, t.Reads.Token = c.base.N, c.base.Token // checked against base at the commit
	}
	if c.last != nil {
		t.Under, t.UnderSize = c.spec, c.specSize
		t.chain.staleAtJoin = c.specStale
	}
	c.members = append(c.members, t)
	t.chain.joined, t.chain.after, t.chain.seen = true, c.last, s.N
	return true, nil
}

// commitInChain queues the writes of t, a member of its database's chain,
// and returns once they are published (nil) or failed: when t is first in
// the queue and no batch is being published, its goroutine publishes the
// batch it heads, else it waits its turn.
func (t *Txn) commitInChain(ctx context.Context) error {
	db := t.db
	q := &queuedCommit{t: t, alone: t.Rules.Alone, lead: make(chan struct{}), done: make(chan struct{})}
	if !q.alone {
		q.changed = t.changedOverView()
	}
	db.mu.Lock()
	c := &db.chain
	if c.failed != nil {
		db.mu.Unlock()
		return t.lost()
	}
	c.queue = append(c.queue, q)
	c.last = q
	if !q.alone {
		c.spec, c.specStale = maps.Clone(c.spec), maps.Clone(c.specStale)
		c.addToSpec(q)
		if db.writer == t {
			db.writer = nil // the next writer runs over these writes
		}
	}
	lead, promoted := !c.publishing, false
	c.publishing = true
	db.mu.Unlock()

	if !lead {
		select {
		case <-q.lead:
			lead, promoted = true, true
		case <-q.done:
		}
	}
	if lead {
		db.publishBatch(context.WithoutCancel(ctx), promoted) // one interrupted statement must not fail the others
	}
	<-q.done
	if q.err != nil {
		return q.err
	}
	if !q.alone {
		// Published in its batch's record, the snapshot it made the
		// batch's. Queued until now (nothing else moves it), it may be.
		_ = t.To(tx.Published)
		t.Snap = q.head
		t.Discard(ctx)
	}
	// The transactions ahead are in the snapshot now: the view over them,
	// and what it lacked, are done with.
	db.mu.Lock()
	t.chain.staleAtJoin, t.chain.carried, t.chain.lastOfBatch = nil, nil, q.lastOfBatch
	db.mu.Unlock()
	t.Under, t.UnderSize = nil, 0
	return nil
}

// retakeLock gives t, whose transaction is published and whose write
// lock went on to the next writer, the lock back, to publish the trim
// SQLite makes after some commits (CommitPhaseTwo), and reports
// whether it did: only while no writer holds it, nothing was published or
// queued since, and t's writes came last in their batch (a trim by one
// that came before would cut what the later ones added).
func (t *Txn) retakeLock() bool {
	db := t.db
	db.mu.Lock()
	defer db.mu.Unlock()
	c := &db.chain
	if !t.chain.lastOfBatch || db.writer != nil && db.writer != t || c.last != nil || c.base == nil || c.base.N != t.Snap.N || c.base.Token != t.Snap.Token {
		return false
	}
	db.writer = t
	return true
}

// addToSpec adds the writes of q, queued last, to the chain's spec, which
// the caller made its own (views share the maps they saw).
func (c *writeChain) addToSpec(q *queuedCommit) {
	t := q.t
	if c.spec == nil {
		c.spec, c.specStale = map[int64][]byte{}, map[int64]tx.ByteSet{}
	}
	for idx, buf := range t.Pending {
		c.spec[idx] = buf
		c.specStale[idx] = t.chain.staleIn(t, idx, t.Snap.BlockSize)
		if len(c.specStale[idx]) == 0 {
			delete(c.specStale, idx)
		}
	}
	c.specSize = t.PendingSize
	c.specChanged = c.specChanged.Union(q.changed)
}

// leaveChain ends t's membership of its database's chain, when SQLite
// releases the write lock. A transaction that ran over others of its
// process and did not publish writes of its own (it wrote nothing, or was
// rolled back) waits for them here: SQLite fails its COMMIT with the error
// EndWrite returns from its Unlock, SQLITE_BUSY if they failed or if another process changed
// a byte it read that its view did not show. A ROLLBACK ignores it.
func (t *Txn) leaveChain() error {
	if !t.chain.joined {
		return nil
	}
	db := t.db
	var err error
	if after := t.chain.after; after != nil && t.chain.ending && !t.Committed && t.Err == nil {
		<-after.done
		db.mu.Lock()
		carried := t.chain.stale()
		db.mu.Unlock()
		// Its place in the serial order is right after them: they must
		// come after every commit it saw, and what they took in from other
		// processes must not be what it read without.
		if after.err != nil || after.head.N < t.chain.seen || carried.Overlaps(0, 100) || carried.OverlapsAny(t.Reads.Bytes) {
			err = t.lost()
		}
	}
	if t.chain.after != nil || t.Under != nil {
		// SQLite's page cache may hold bytes of the transactions ahead,
		// not published if they failed: make it read the file again.
		t.chain.epoch++
	}
	db.mu.Lock()
	c := &db.chain
	c.members = slices.DeleteFunc(c.members, func(m *Txn) bool { return m == t })
	if len(c.members) == 0 {
		*c = writeChain{}
	}
	t.chain.carried, t.chain.staleAtJoin = nil, nil
	db.mu.Unlock()
	t.chain.joined, t.chain.after, t.chain.ending, t.chain.lastOfBatch = false, nil, false, false
	t.Under, t.UnderSize = nil, 0
	return err
}

// serveCounter changes, in the bytes b SQLite read at off, the change
// counter and version-valid-for number (which OverlayHeader served) by
// the file's epoch, in their top byte: a connection whose view held
// transactions of its process that were not published then sees a counter
// it never saw, and drops its page cache, even if the database did not
// change since. It keeps the counter even (ServedCounter).
func (c *chainMember) serveCounter(b []byte, off int64) {
	if c.epoch == 0 {
		return
	}
	for _, at := range []int64{24, 92} {
		if p := at - off; p >= 0 && p < int64(len(b)) {
			b[p] ^= byte(c.epoch)
		}
	}
}

// Queued returns how many committed transactions of db wait for the
// batch being published before theirs.
func (db *Database) Queued() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.chain.queue)
}
