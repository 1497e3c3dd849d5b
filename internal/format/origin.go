package format

import (
	"encoding/binary"
	"fmt"
)

// Record version 3 (docs/format.md, "Record version 3") is a version-2
// record with two fields more: how its commit was made, when not by an
// ordinary transaction, and, for a branch, the databases whose objects its
// map names. A writer writes version 3 only when a record needs either;
// every other record stays version 2.

const recordMagic3 = "s3vfsR3\n"

// MaxLineage bounds the ancestors a record may name: a branch of a
// branch of … deeper is refused when it is made.
const MaxLineage = 16

// MadeBy says how a commit was made.
type MadeBy uint8

// The ways a commit is made. The zero value is an ordinary transaction.
const (
	ByTransaction MadeBy = iota // a SQLite transaction (or a group of them)
	ByRestore                   // Restore of commit Made.Commit of the same database
	ByDeserialize               // Deserialize: the database replaced by a file
	ByMigrate                   // migration from the Python library's layout
	ByBranch                    // the first commit of a branch of Made.Key at its commit Made.Commit
	ByMerge                     // a merge of branch Made.Key at its commit Made.Commit
	Reserved                    // record 1 of a key being made a branch of Made.Key at Made.Commit: no database yet
	Removed                     // the last record of a database being removed: no database any more
	madeByEnd
)

// String names m as `s3vfs log` prints it.
func (m MadeBy) String() string {
	switch m {
	case ByTransaction:
		return "transaction"
	case ByRestore:
		return "restore"
	case ByDeserialize:
		return "deserialize"
	case ByMigrate:
		return "migrate"
	case ByBranch:
		return "branch"
	case ByMerge:
		return "merge"
	case Reserved:
		return "reserved"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("MadeBy(%d)", uint8(m))
}

// Made is how a commit was made: by what, and from which commit of which
// database where that applies.
type Made struct {
	By     MadeBy
	Commit uint64 // ByRestore: the commit restored; ByBranch, ByMerge: the commit of Key
	Key    string // ByBranch: the database branched; ByMerge: the branch merged
}

// hasCommit reports whether m names a commit; hasKey, a database.
func (m Made) hasCommit() bool { return m.By == ByRestore || m.hasKey() }
func (m Made) hasKey() bool    { return m.By == ByBranch || m.By == ByMerge || m.By == Reserved }

// ownCommit reports whether m's commit is one before the record's own:
// of the same database (a restore), or of the source a branch continues
// the numbering of. A merge names a commit of the branch merged, a
// reservation that of the database to be branched: numbers of their own.
func (m Made) ownCommit() bool { return m.By == ByRestore || m.By == ByBranch }

// NoDatabase reports whether a record made so holds no database: it
// reserves a key for a branch, or marks one removed.
func (m Made) NoDatabase() bool { return m.By == Reserved || m.By == Removed }

// Ancestor is a database a branch was made from: the objects of its
// commits up to Commit live under Key (or under an ancestor of Key).
type Ancestor struct {
	Key    string
	Commit uint64
}

// Lineage lists the ancestors of a branch, nearest first: commits
// strictly decreasing. Empty for a database that is not a branch.
type Lineage []Ancestor

// KeyOf returns the key under which the objects written by commit c live,
// for a database at key with lineage l: the farthest ancestor whose
// commit is at least c, or key itself.
func (l Lineage) KeyOf(key string, c uint64) string {
	for _, a := range l {
		if c > a.Commit {
			break
		}
		key = a.Key
	}
	return key
}

// Point returns the branch point: the commit of the nearest ancestor
// (0 for a database that is not a branch).
func (l Lineage) Point() uint64 {
	if len(l) == 0 {
		return 0
	}
	return l[0].Commit
}

// version3 reports whether r needs record version 3.
func (r *Record) version3() bool { return r.Made != (Made{}) || len(r.Lineage) > 0 }

// appendOrigin appends the version-3 fields of r.
func (r *Record) appendOrigin(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(r.Made.By))
	if r.Made.hasCommit() {
		b = binary.AppendUvarint(b, r.Made.Commit)
	}
	if r.Made.hasKey() {
		b = appendString(b, r.Made.Key)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Lineage)))
	for _, a := range r.Lineage {
		b = binary.AppendUvarint(b, a.Commit)
		b = appendString(b, a.Key)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// origin decodes the version-3 fields of record r and checks them: a
// known way, commits below r's own, keys that can name a database, and
// ancestors nearest first.
func (d *decoder) origin(r *Record) {
	by := d.uvarint("made by")
	if d.err == nil && by >= uint64(madeByEnd) {
		d.fail("made by")
	}
	r.Made.By = MadeBy(by)
	if r.Made.hasCommit() {
		r.Made.Commit = d.uvarint("made from commit")
		if d.err == nil && (r.Made.Commit == 0 || r.Made.Commit >= r.N && r.Made.ownCommit()) {
			d.fail("made from commit")
		}
	}
	if r.Made.hasKey() {
		r.Made.Key = d.key("made from key")
	}
	n := d.uvarint("lineage")
	if d.err == nil && n > MaxLineage {
		d.fail("lineage")
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		a := Ancestor{Commit: d.uvarint("ancestor commit")}
		a.Key = d.key("ancestor key")
		limit := r.N
		if i > 0 {
			limit = r.Lineage[i-1].Commit
		}
		if d.err == nil && (a.Commit == 0 || a.Commit >= limit) {
			d.fail("ancestor commit")
		}
		if d.err == nil {
			r.Lineage = append(r.Lineage, a)
		}
	}
	if d.err == nil && !r.version3() {
		d.fail("made by") // a version-2 record has the shorter encoding
	}
	if d.err == nil && r.Made.By == ByBranch && len(r.Lineage) == 0 {
		d.fail("lineage") // a branch names its source
	}
	// A record of no database is empty: reserving a key, it is record 1.
	if d.err == nil && r.Made.NoDatabase() && (r.FileSize != 0 || len(r.Delta) > 0 || len(r.Changed) > 0 ||
		r.Made.By == Reserved && (r.N != 1 || len(r.Lineage) > 0)) {
		d.fail("made by")
	}
}

// key decodes a database key and checks it can name one.
func (d *decoder) key(what string) string {
	l := d.uvarint(what)
	if d.err == nil && l > maxKeyLen {
		d.fail(what)
	}
	s := string(d.fixed(int(min(l, maxKeyLen)), what))
	if d.err == nil && ValidateKey(s) != nil {
		d.fail(what)
	}
	return s
}
