package s3vfs

import (
	"context"
	"iter"
	"time"

	"github.com/s3vfs/s3vfs/internal/engine"
)

// ErrNoCommit reports a commit that does not exist: not yet made, or older
// than the retention and collected.
var ErrNoCommit = engine.ErrNoCommit

// Commit describes one version of a database, as [VFS.History] lists it.
type Commit struct {
	N             uint64    // commit number: 1, 2, 3, ...
	Time          time.Time // when it was committed, by the writer's clock
	Writer        string    // the writer's Options.WriterID
	Size          int64     // the size of the database file, in bytes
	BlocksChanged int       // blocks the commit changed: block objects it wrote and, in format version 2, blocks it carried pages of in its record
	Checkpoint    bool      // whether the commit also wrote a full checkpoint

	// How the commit was made, as its record says: only a version-2
	// record can (a writer set to Options.FormatVersion 1 marks nothing).
	Made   string // how the commit was made when not by a SQLite transaction: "restore", "deserialize", "migrate", "branch" or "merge"; empty for a transaction
	From   uint64 // for a restore: the commit it brought back; for a branch or a merge: the commit of Source it was made from
	Source string // for a branch: the database it was made from; for a merge: the branch merged in
}

// History iterates over the versions of the database at key that are still
// kept (the newest, and every one within the retention that garbage
// collection has not yet removed), newest first. It lists the commit
// records once and reads them ahead in parallel; a commit that wrote a
// checkpoint costs one more GET. Any of them can be read with the URI
// parameter commit=N, exported with [VFS.SerializeAt] or brought back with
// [VFS.Restore].
func (v *VFS) History(ctx context.Context, key string) iter.Seq2[Commit, error] {
	return func(yield func(Commit, error) bool) {
		for c, err := range v.ops.History(ctx, key) {
			if !yield(Commit(c), err) {
				return
			}
		}
	}
}

// Info describes the newest commit of a database, as [VFS.Info] reads it.
type Info struct {
	Key           string    // the database's key (its SQLite filename)
	Commit        uint64    // the newest commit number; 0 for the Python layout, which keeps no commits
	Time          time.Time // when that commit was made; zero for the Python layout
	Writer        string    // the writer that made it (Options.WriterID); empty for the Python layout
	BlockSize     int64     // bytes per block object
	PageSize      int64     // the SQLite page size
	FileSize      int64     // bytes of the database file
	Blocks        int64     // block objects the commit references
	FormatVersion int       // the storage format version a reader needs for the newest commit: 1, 2, or 3 over a checkpoint in segments (see docs/format.md); 0 for the Python layout
	Layout        string    // "s3vfs", or "python" for a database of the Python library sqlite-s3vfs (read-only until migrated)

	// BranchOf and BranchPoint say, for a branch ([VFS.Branch]), the
	// database it was made from and the commit of it; empty and 0 for a
	// database that is not a branch.
	BranchOf    string
	BranchPoint uint64
}

// Info returns the description of the newest commit of the database at
// key, or an error matching [ErrNoDatabase] if there is none. It costs a
// few requests (the head check, the commit record and, unless cached, the
// first block); it never LISTs the whole prefix.
func (v *VFS) Info(ctx context.Context, key string) (Info, error) {
	i, err := v.ops.Info(ctx, key)
	return Info(i), err
}

// Usage is what a database occupies in the bucket, every version kept for
// the retention window included.
type Usage struct {
	Objects int64 // objects under the database's prefix
	Bytes   int64 // their total size
}

// Usage LISTs every object under the database's prefix (KEY/) and totals
// them. Its cost grows with the number of objects (one LIST request per
// 1,000), so it belongs in tools, not on a hot path.
func (v *VFS) Usage(ctx context.Context, key string) (Usage, error) {
	u, err := v.ops.Usage(ctx, key)
	return Usage(u), err
}
