package tx

import (
	"fmt"

	"github.com/s3vfs/s3vfs/internal/format"
)

// State is where a write transaction is in its life (docs/design.md, "The
// transaction"). The zero value, [Idle], is a connection that writes
// nothing: it reads, or holds no lock.
type State uint8

const (
	// Idle: no write transaction; the connection reads at most.
	Idle State = iota
	// Running: SQLite runs the transaction (the write lock, RESERVED or
	// more, is held); its writes change.
	Running
	// Queued: SQLite committed it; its rules are decided and its writes
	// frozen (a merged batch's grow only by absorbing the transactions
	// queued behind it, at a rebase). It waits for its record, or is
	// being published.
	Queued
	// Rebased: a try lost the race for its record, and its writes were
	// rewritten onto the newer head to be published there.
	Rebased
	// Published: its record exists; Snap is the snapshot it made.
	Published
	// Failed: refused, lost, or of unknown outcome; Err says which.
	Failed
)

var stateNames = [...]string{"idle", "running", "queued", "rebased", "published", "failed"}

// String returns the state's name.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// next lists, for each state, the states a transaction may move to from
// it. Any state may end in Idle (the connection releases its write lock:
// the transaction is dropped, or was settled); a published transaction
// may only be followed by a new one on the snapshot it made (the trim
// SQLite may make after a commit, Running).
var next = [...][]State{
	Idle:      {Running},
	Running:   {Queued, Failed},
	Queued:    {Published, Rebased, Failed},
	Rebased:   {Published, Rebased, Failed},
	Published: {Running},
	Failed:    {},
}

// Tx is one write transaction: the snapshot it runs on, its writes over
// it, what it read there, what rebases took in from other commits, how it
// may be published, and its outcome. It moves through its states only by
// [Tx.To]. The zero value is Idle.
type Tx struct {
	// Snap is the snapshot the transaction runs on (a chain's base, once
	// it joins one), or the one it published once Published.
	Snap *format.Snapshot

	Writes // its writes not yet committed, over Snap

	// Reads is what SQLite read on Snap (Reads.N and Reads.Token name
	// it): a rebase meets it against what other commits changed.
	Reads ReadSet

	// Theirs is the bytes other writers' commits changed that rebases
	// took in (never any it read or wrote).
	Theirs ByteSet

	// Rules is how its commit may be published, decided when it is
	// queued ([Writes.RulesFor]) and read, never decided again, by every
	// path of the commit.
	Rules Rules

	// Err is why it failed (Failed): every later commit of it returns Err.
	Err error

	state State
}

// State returns where t is in its life.
func (t *Tx) State() State { return t.state }

// To moves t to state s, and refuses (with the error of [Tx.Allows]) a
// move the life of a transaction does not allow.
func (t *Tx) To(s State) error {
	if err := t.Allows(s); err != nil {
		return err
	}
	t.state = s
	return nil
}

// Allows reports whether t may move to state s now: nil, or an error that
// names both states. Nothing may be published twice, rebased or published
// before it was queued, or revived once it failed; any state may end in
// Idle. A commit asks before its commit point, so that the move after it
// cannot be refused.
func (t *Tx) Allows(s State) error {
	if s == Idle {
		return nil
	}
	for _, ok := range next[t.state] {
		if ok == s {
			return nil
		}
	}
	return fmt.Errorf("s3vfs: internal error: a %s transaction cannot become %s", t.state, s)
}

// Begin starts the writes of a transaction over a snapshot of snapSize
// bytes: an Idle connection's first write, or the first after its last
// transaction was published (the trim SQLite may make after a commit),
// starts a new transaction, Running. Later writes change nothing here.
func (t *Tx) Begin(snapSize int64) {
	if t.state == Idle || t.state == Published {
		t.state = Running
	}
	t.Writes.Begin(snapSize)
}

// Queue decides t's rules and moves it to Queued: SQLite is done with its
// writes, and what may be rebased, merged or renewed is known before
// anything of it is released. committedSize is the size of its view before its writes.
func (t *Tx) Queue(committedSize int64) error {
	t.Rules = t.Writes.RulesFor(committedSize)
	return t.To(Queued)
}

// Fail moves t to Failed with err, and returns err. A failure ends a
// transaction in any state: every later commit of it returns err.
func (t *Tx) Fail(err error) error {
	t.Err = err
	t.state = Failed
	return err
}

// Merge returns the transaction that publishes members, queued one after
// another over base, as one commit: their pending blocks (each newest
// wins: a later member's block holds the earlier ones' bytes too), their
// size after the last, their read sets and written bytes together. It
// runs on base, Running: the caller queues it, which decides the rules of
// the merged writes.
func Merge(base *format.Snapshot, members ...*Tx) *Tx {
	t := &Tx{
		Snap:   base,
		Writes: Writes{Pending: map[int64][]byte{}, Dirty: true, Floor: base.Size},
		Reads:  ReadSet{N: base.N, Token: base.Token},
		state:  Running,
	}
	for _, m := range members {
		t.Absorb(m)
	}
	return t
}

// Absorb adds the writes and reads of m, queued after those t holds, to
// t (a merged transaction not yet published).
func (t *Tx) Absorb(m *Tx) {
	for idx, buf := range m.Pending {
		t.Pending[idx] = append([]byte(nil), buf...)
	}
	t.PendingSize = m.PendingSize
	for _, r := range m.Reads.Bytes {
		t.Reads.Bytes = t.Reads.Bytes.Add(r.Start, r.End)
	}
	for _, r := range m.Written {
		t.Written = t.Written.Add(r.Start, r.End)
	}
}
