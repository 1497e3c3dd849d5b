package s3vfs

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ncruces/go-sqlite3"
	"github.com/s3vfs/s3vfs/internal/engine"
)

// This file holds the rules for SQLite settings and features under which a
// commit could otherwise publish part of a transaction, or publish a state
// no process can open (docs/reliability.md, "SQLite settings"):
// transactions that change several databases, locking_mode=EXCLUSIVE, and
// the WAL flag in the header.

// ErrUnsupported reports a SQLite feature or setting that s3vfs refuses
// because it could not keep SQLite's guarantees under it. The error names
// the feature and what to do instead; nothing was published.
var ErrUnsupported = errors.New("s3vfs: not supported")

// errSeveralDatabases refuses a transaction that changes an s3vfs database
// and another database at once. Each database commits on its own (its own
// record in its own key), so such a transaction could be published in part.
func errSeveralDatabases(key string) error {
	return fmt.Errorf("%w: a transaction that changes %s and another database (ATTACH) at once: "+
		"s3vfs publishes each database with its own commit, so the transaction could not be atomic; "+
		"nothing was committed: change one database per transaction "+
		"(and use BEGIN rather than BEGIN IMMEDIATE, which write-locks every attached database)",
		ErrUnsupported, key)
}

// errExclusiveLocking refuses locking_mode=EXCLUSIVE.
func errExclusiveLocking(key string) error {
	return fmt.Errorf("%w: PRAGMA locking_mode=EXCLUSIVE on %s: SQLite then never releases its lock, "+
		"so the connection would never see other processes' commits and could not commit after them; "+
		"use locking_mode=NORMAL (the default)", ErrUnsupported, key)
}

// errWriteAfterCommit refuses a write that follows a commit of the same
// lock: SQLite only does that in locking_mode=EXCLUSIVE (set for every
// database of a connection by a PRAGMA without a schema name), or to undo
// a transaction over several databases after this one was published.
func errWriteAfterCommit(key string) error {
	return fmt.Errorf("%w: a write to %s after a commit without SQLite releasing its lock: "+
		"PRAGMA locking_mode=EXCLUSIVE is in effect (use locking_mode=NORMAL), "+
		"or SQLite is undoing a transaction over several databases that %s already committed "+
		"(change one database per transaction)", ErrUnsupported, key, key)
}

// errWALHeader refuses a commit that would publish the WAL flag.
func errWALHeader(key string) error {
	return fmt.Errorf("%w: switching %s to journal_mode=WAL: s3vfs has no WAL, "+
		"and a database flagged WAL could not be opened in rollback mode by older readers; "+
		"nothing was committed: use a rollback journal mode (DELETE, the default)", ErrUnsupported, key)
}

// connWriters tracks, per SQLite connection, the s3vfs files that hold
// RESERVED or more: a connection with two of them at a commit is in a
// transaction over several s3vfs databases. It spans every VFS, since one
// connection may use several.
var connWriters struct {
	mu sync.Mutex
	m  map[*sqlite3.Conn][]*file // guarded by mu
}

// noteWriter records that f holds (held is true) or no longer holds a
// write lock for its connection.
func (f *file) noteWriter(held bool) {
	if f.conn == nil {
		return
	}
	connWriters.mu.Lock()
	defer connWriters.mu.Unlock()
	files := connWriters.m[f.conn]
	i := -1
	for j, g := range files {
		if g == f {
			i = j
		}
	}
	switch {
	case held && i < 0:
		if connWriters.m == nil {
			connWriters.m = map[*sqlite3.Conn][]*file{}
		}
		connWriters.m[f.conn] = append(files, f)
	case !held && i >= 0:
		files = append(files[:i], files[i+1:]...)
		if len(files) == 0 {
			delete(connWriters.m, f.conn)
		} else {
			connWriters.m[f.conn] = files
		}
	}
}

// otherWriter reports whether another s3vfs file of f's connection holds
// a write lock.
func (f *file) otherWriter() bool {
	if f.conn == nil {
		return false
	}
	connWriters.mu.Lock()
	defer connWriters.mu.Unlock()
	for _, g := range connWriters.m[f.conn] {
		if g != f {
			return true
		}
	}
	return false
}

// shareCause makes err the cause every s3vfs file of f's connection
// reports until its transaction ends: SQLite rolls back each database of
// the transaction after the refusal, and the connection's error names the
// cause set by the last VFS call (see file.keepCause).
func (f *file) shareCause(err error) {
	if f.conn == nil {
		return
	}
	connWriters.mu.Lock()
	defer connWriters.mu.Unlock()
	for _, g := range connWriters.m[f.conn] {
		g.Cause = err
	}
}

// checkCommittable returns why the pending writes of f may not be
// published, or nil. super is the super-journal SQLite named for this
// commit (a transaction over several databases with a rollback journal).
func (f *file) checkCommittable(super string) error {
	if super != "" || f.otherWriter() {
		err := errSeveralDatabases(f.db.Key)
		f.shareCause(err)
		return err
	}
	if buf, ok := f.Pending[0]; ok && !f.db.Env.Cfg.Hooks.WALHeaderAllowed() && engine.WALFlagged(buf) {
		return errWALHeader(f.db.Key)
	}
	return nil
}

// checkPragma refuses settings s3vfs cannot honour before SQLite applies
// them.
func (f *file) checkPragma(name, value string) error {
	if name == "locking_mode" && strings.EqualFold(strings.TrimSpace(value), "exclusive") {
		return errExclusiveLocking(f.db.Key)
	}
	return nil
}
