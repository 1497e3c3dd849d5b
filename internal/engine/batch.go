package engine

import (
	"context"
	"errors"
	"slices"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// Publishing the batches of a write chain (groupcommit.go): the leader of
// a batch publishes the transaction at the head of the queue alone, or
// merged with those queued after it, then advances the chain over what
// was published and hands the next batch on.

// publishBatch publishes the batch at the head of the chain's queue: the
// transaction there, and those queued after it that may be merged with
// it. It then hands the next batch to its first transaction.
//
// A batch that was queued behind the last one (promoted) is ready the
// moment that one is published, and knows the head without asking: it
// would win the race for the next record against every other process,
// which must first read the record that beat it, again and again. After
// two such wins in a row, a promoted batch asks for the head first, as
// the others do, and races them on equal terms.
func (db *Database) publishBatch(ctx context.Context, promoted bool) {
	db.mu.Lock()
	c := &db.chain
	probe := promoted && c.wins >= 2
	if probe {
		c.wins = 0
	}
	batch := c.takeBatch()
	base, failed := c.base, c.failed
	var carried tx.ByteSet
	for _, q := range batch {
		carried = carried.Union(q.t.chain.stale())
	}
	db.mu.Unlock()

	if probe && failed == nil {
		db.Refresh(ctx, 0) // an error here is met again by the publish
	}
	var head *format.Snapshot
	var theirs tx.ByteSet
	var err, cause error
	switch {
	case failed != nil:
		err = errChainFailed
	case batch[0].alone:
		head, theirs, err, cause = db.publishAlone(ctx, batch[0], base, carried)
	default:
		var absorbed []*queuedCommit
		head, theirs, absorbed, err, cause = db.publishMerged(ctx, batch, base, carried)
		batch = append(batch, absorbed...)
	}

	db.mu.Lock()
	defer db.mu.Unlock()
	if err != nil {
		if c.failed == nil {
			c.failed = err
		}
	} else {
		db.advanceChain(batch, base, head, theirs)
	}
	c.endBatch(batch, head, err, cause)
}

// takeBatch removes from the head of the queue the batch published next:
// a transaction that must be published alone, or the run of those that
// may be merged.
func (c *writeChain) takeBatch() []*queuedCommit {
	n := 1
	if !c.queue[0].alone {
		for n < len(c.queue) && !c.queue[n].alone {
			n++
		}
	}
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	return batch
}

// advanceChain moves the chain's base to head, where batch was published
// over base (theirs: the bytes other processes' records in between
// changed): it records the step in the history, counts the win or the
// rebase and the transactions committed, and hands theirs on to the
// writers that ran over the batch's blocks. The caller holds db.mu.
func (db *Database) advanceChain(batch []*queuedCommit, base, head *format.Snapshot, theirs tx.ByteSet) {
	c := &db.chain
	c.history = append(c.history, publishedStep(c.base.N, head.N, theirs, batch))
	if len(c.history) > maxHistory {
		c.history = c.history[len(c.history)-maxHistory:]
	}
	c.base = head
	if len(theirs) == 0 {
		c.wins++
	} else {
		c.wins = 0
	}
	if head.N != base.N || head.Token != base.Token {
		db.Env.Counts.Commits.Add(int64(len(batch) - 1)) // one record, len(batch) transactions
	}
	if len(theirs) > 0 {
		// The writers that ran over this batch's blocks, before it
		// took in theirs, lack them.
		for _, m := range c.members {
			if a := m.chain.after; a != nil && (slices.Contains(batch, a) || !closed(a.done)) {
				m.chain.carried = m.chain.carried.Union(theirs)
			}
		}
	}
}

// publishedStep is the history step of batch, published as commit to over
// commit from: the bytes its transactions changed and theirs, every byte
// for a transaction published alone (what it changed is not known).
func publishedStep(from, to uint64, theirs tx.ByteSet, batch []*queuedCommit) baseStep {
	step := baseStep{from: from, to: to, changed: theirs}
	for _, q := range batch {
		step.changed = step.changed.Union(q.changed)
		if q.alone {
			step.changed = step.changed.Add(0, 1<<62) // not known
		}
	}
	return step
}

// endBatch ends the publish of batch, as head or with err (and its cause):
// it rebuilds spec from what is still queued, wakes the batch's
// transactions with their outcome, and hands the next batch to its first
// transaction, or ends the chain's publishing. The caller holds db.mu.
func (c *writeChain) endBatch(batch []*queuedCommit, head *format.Snapshot, err, cause error) {
	// What is still queued ran over this batch, which base now holds.
	c.spec, c.specSize, c.specChanged, c.specStale = nil, 0, nil, nil
	for _, q := range c.queue {
		if !q.alone {
			c.addToSpec(q)
		}
	}
	if c.last == batch[len(batch)-1] {
		c.last = nil
	}
	for i, q := range batch {
		q.head, q.lastOfBatch = head, i == len(batch)-1
		if err != nil {
			q.err = q.t.chainError(err, cause, i == 0 && !errors.Is(err, errChainFailed))
		}
		close(q.done)
	}
	if len(c.queue) > 0 {
		close(c.queue[0].lead)
	} else {
		c.publishing = false
	}
}

// publishAlone publishes, over base, the transaction of q that may not be
// merged with others. Its view was base overlaid with the transactions
// published before it: base itself, unless base took in commits of other
// processes it read over. Blocks it uploaded early carry the commit number
// after the base it joined, which the transactions ahead may have taken:
// its commit renews them (q.t.Rules.Renew) before its record is created.
func (db *Database) publishAlone(ctx context.Context, q *queuedCommit, base *format.Snapshot, carried tx.ByteSet) (*format.Snapshot, tx.ByteSet, error, error) {
	t := q.t
	if len(carried) > 0 {
		return nil, nil, sqlite3.BUSY_SNAPSHOT, nil
	}
	t.Snap = base
	t.Reads.N, t.Reads.Token = base.N, base.Token
	t.Under = nil
	t.Theirs = nil
	if err := t.commit(ctx); err != nil {
		return nil, nil, err, t.Cause
	}
	return t.Snap, t.Theirs, nil, nil
}

// publishMerged publishes the transactions of batch, which may be merged,
// as one commit over base: their blocks, newest wins, with the bytes of
// carried (which none of them read or wrote) taken from base, read sets
// and writes together, rebased as one. Each time it is rebased, it takes
// in the transactions queued behind it that may join it (absorbQueued),
// and returns them: they are published with it.
func (db *Database) publishMerged(ctx context.Context, batch []*queuedCommit, base *format.Snapshot, carried tx.ByteSet) (*format.Snapshot, tx.ByteSet, []*queuedCommit, error, error) {
	members := make([]*tx.Tx, len(batch))
	for i, q := range batch {
		members[i] = &q.t.Tx
	}
	m := &Txn{db: db, Tx: *tx.Merge(base, members...)}
	if carried.Overlaps(0, 100) || carried.OverlapsAny(m.Reads.Bytes) || carried.OverlapsAny(m.Written) {
		db.Env.Counts.Conflicts.Add(1)
		return nil, nil, nil, sqlite3.BUSY_SNAPSHOT, nil
	}
	if err := m.applyTheirs(ctx, base, carried); err != nil {
		return nil, nil, nil, m.IOErr(err, sqlite3.IOERR_READ), err
	}
	var absorbed []*queuedCommit
	m.absorb = func(ctx context.Context, head *format.Snapshot) error {
		qs, err := db.absorbQueued(ctx, m, head)
		absorbed = append(absorbed, qs...)
		return err
	}
	if err := m.Queue(base.Size); err != nil {
		return nil, nil, nil, err, nil
	}
	if err := m.commit(ctx); err != nil {
		m.releaseEarly(ctx, nil) // what its tries that lost uploaded (none after an unknown outcome)
		return nil, nil, absorbed, err, m.Cause
	}
	return m.Snap, m.Theirs, absorbed, nil, nil
}

// absorbQueued takes into m, the batch being published, which was just
// rebased onto head, the transactions queued behind it, oldest first, up
// to the first that may not join it, and returns them. They ran over the
// batch's writes, and were queued while its record was being created: a
// batch that lost the race takes them in rather than leaving them to the
// next record. One joins only if no byte it read or wrote is one the
// batch took in from other processes since base (m.Theirs) or one its own
// view lacked (its stale bytes), nor are those bytes any the batch read or
// wrote; head's bytes are then taken there, as for any rebase.
func (db *Database) absorbQueued(ctx context.Context, m *Txn, head *format.Snapshot) ([]*queuedCommit, error) {
	db.mu.Lock()
	c := &db.chain
	var take []*queuedCommit
	lack := m.Theirs.Union(nil)
	// What the batch and those taken so far read and wrote.
	reads, written := m.Reads.Bytes.Union(nil), m.Written.Union(nil)
	for _, q := range c.queue {
		stale := q.t.chain.stale().Union(m.Theirs)
		if q.alone || stale.Overlaps(0, 100) || stale.OverlapsAny(q.t.Reads.Bytes) || stale.OverlapsAny(q.t.Written) ||
			stale.OverlapsAny(reads) || stale.OverlapsAny(written) {
			break
		}
		take = append(take, q)
		lack = lack.Union(stale)
		reads, written = reads.Union(q.t.Reads.Bytes), written.Union(q.t.Written)
	}
	c.queue = c.queue[len(take):]
	db.mu.Unlock()
	if len(take) == 0 {
		return nil, nil
	}
	for _, q := range take {
		m.Absorb(&q.t.Tx)
	}
	return take, m.applyTheirs(ctx, head, lack)
}
