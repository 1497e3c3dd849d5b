package s3vfs

import (
	"context"

	"github.com/s3vfs/s3vfs/internal/versions"
)

// ErrBranchesLive reports a database that cannot be removed because
// branches of it exist: remove them first.
var ErrBranchesLive = versions.ErrBranchesLive

// ErrMergeConflict reports a merge refused because the branch and the
// database it merges into both changed some of the same pages since the
// branch was made. Nothing was published.
var ErrMergeConflict = versions.ErrMergeConflict

// Branch makes a new database at dst that reads as commit n of the
// database at src (0: the newest), and returns the number of its first
// commit (n+1: a branch continues the numbering of its source). It copies
// no block: the branch names the source's objects, and its own commits
// write objects of its own. It costs a fixed number of requests whatever
// the size of the database.
//
// The branch is a database like any other: read, written, collected,
// restored, branched again. Writes to either never change what the other
// reads. [VFS.History] and [VFS.Info] say where it came from. Garbage
// collection of src keeps version n for as long as the branch exists;
// [VFS.Remove] of the branch releases it.
//
// dst must hold no database. Both keys are in the VFS's bucket: a branch
// names objects, and objects cannot be named across buckets (copy with
// [VFS.Serialize] and [VFS.Deserialize] instead). Commit n must be a
// readable version of src (see [VFS.History]); the newest always is.
func (v *VFS) Branch(ctx context.Context, src string, n uint64, dst string) (uint64, error) {
	return v.ops.Branch(ctx, src, n, dst)
}

// Merge publishes, as one new commit of into, the pages the branch at
// branch changed since it was made, and returns that commit's number.
// into must be the database the branch was made from ([VFS.Branch]).
//
// It is a three-way merge of pages: the version the branch was made from
// is the base; a page the branch changed and into did not takes the
// branch's bytes; a page into changed and the branch did not keeps
// into's; a page both changed to the same bytes is no conflict. A page
// both changed otherwise is a conflict, and the merge is refused with an
// error matching [ErrMergeConflict] that counts them and names the tables
// and indexes they belong to, publishing nothing. Page 1's bytes that
// readers serve (the change counter) are not compared. Since a growth or
// a shrink of the file changes page 1 (its size field), a merge where
// both sides changed the size conflicts.
//
// The merge is a commit like any other, planned as a transaction's (a
// small merge is one PUT, its record carrying the pages): a conditional
// create over the newest commit of into, made again on top of any commit
// that lands meanwhile (with its changes checked again). Its record lists
// exactly the pages it changed, so writers of into that touched other
// pages are not disturbed. An index one side made since the branch point
// while the other changed rows is a conflict too (the index would miss
// them). The branch is left as it is, still a branch; a page
// merged and then changed again on the branch conflicts with the merged
// copy at a later merge. The merge is of pages, not statements: it does
// not run the branch's SQL again over into's changes.
func (v *VFS) Merge(ctx context.Context, branch, into string) (uint64, error) {
	return v.ops.Merge(ctx, branch, into)
}

// Restore makes the database at key read again as it did at commit n, by
// publishing that version as a new commit on top of the newest one:
// nothing is rewritten, the history is kept, and a restore can itself be
// undone by restoring the commit before it. Commit n must be within the
// retention (see [VFS.History]). It returns the number of the new commit,
// which History lists as a restore of n ([Commit].Made and From; not
// under Options.FormatVersion 1, whose records cannot say so).
//
// Blocks the newest version shares with commit n are reused; the others
// are copied (read, checked, and written anew), because a commit may only
// use its parent's blocks and its own (docs/design.md, "Garbage
// collection"). Connections that have the database open see the restored
// version at their next transaction, like any other commit. A
// commit that lands meanwhile is retried over, as [VFS.Deserialize] does:
// after a growing, jittered pause, for up to a minute after the first lost
// race (or until ctx's deadline, if sooner).
func (v *VFS) Restore(ctx context.Context, key string, n uint64) (uint64, error) {
	return v.ops.Restore(ctx, key, n)
}

// Remove deletes the database at key: its blocks and checkpoints, and
// its records but the last few, and, for a branch, the registration that
// keeps the version of its source it was made from (released at the
// source's next garbage collection). Databases under key/ as a folder
// (a.db/b.db beside a.db) are other databases and stay.
//
// It first commits a record that says the database is removed: from
// then on readers find no database, and a process writing it fails (its
// commit would land on a database half deleted). That record stays for
// good (a few hundred bytes): a new database made at the key numbers its
// commits on from it, so that no process that still knows the removed
// database can ever write a record above the new one's. The records
// younger than the retention stay too, overwritten with records that say
// the database is removed, for a process that still knows the database to find them and learn of
// the removal: it would otherwise take a missing record for proof that
// its old head is the newest. A Remove run again once they are older
// deletes them; [VFS.GC] does too.
//
// A database that has branches is refused with [ErrBranchesLive], naming
// them: remove the branches first. A branch made at the very moment of
// the removal leaves the database removed but its objects kept, and the
// error says so. A removal that fails part way can be run again.
func (v *VFS) Remove(ctx context.Context, key string) error {
	return v.ops.Remove(ctx, key)
}
