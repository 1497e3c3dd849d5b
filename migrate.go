package s3vfs

import (
	"context"

	"github.com/s3vfs/s3vfs/internal/versions"
)

// MigrateOptions are the settings of [VFS.Migrate]. A nil *MigrateOptions
// migrates in place with the defaults.
type MigrateOptions struct {
	// To is the key of the new database; empty migrates in place (the
	// format's names never collide with the Python layout's).
	To string

	// BlockSize is the block size of the new database, from 512 bytes to
	// 16 MiB; 0 means Options.BlockSize.
	BlockSize int

	// DeleteLegacy deletes the Python-layout objects (and its journal's)
	// once the new database is published and verified.
	DeleteLegacy bool

	// Progress, if set, is called as the database is copied, with the
	// bytes copied so far and the total.
	Progress func(done, total int64)
}

// MigrateReport says what [VFS.Migrate] did.
type MigrateReport struct {
	Key             string // the new database
	Commit          uint64 // its commit holding the migrated database
	Bytes           int64  // the size of the database file
	AlreadyMigrated bool   // the new database already held exactly this database: nothing was copied
	Native          bool   // in place, the key held an s3vfs database and none in the Python layout: nothing to migrate (AlreadyMigrated too)
	LegacyDeleted   int    // Python-layout objects deleted (DeleteLegacy)
}

// Migrate copies the database that the Python library sqlite-s3vfs keeps
// at key into the s3vfs format, as one atomic commit, in place or to
// o.To; the old objects are kept unless o.DeleteLegacy. [VFS.History]
// lists the commit as a migration ([Commit].Made; not under
// Options.FormatVersion 1, whose records cannot say so). It verifies the
// result before it reports success or deletes anything: the new commit
// serializes to the same bytes as the old database (the change counter
// aside, which s3vfs serves) and passes PRAGMA integrity_check. Running
// it again finds the database already migrated and copies nothing, also
// in place once the old objects are deleted (a key that holds an s3vfs
// database and no Python-layout one reports Native). It refuses a database with a hot journal, and a destination that holds a
// different s3vfs database. No Python process may write the database
// meanwhile: a block rewritten during the copy fails it.
func (v *VFS) Migrate(ctx context.Context, key string, o *MigrateOptions) (MigrateReport, error) {
	r, err := v.ops.Migrate(ctx, key, (*versions.MigrateOptions)(o))
	return MigrateReport(r), err
}

// DefaultPythonBlockSize is the block size of the layout of the Python
// library sqlite-s3vfs (its S3VFS block_size default), and the block size
// [VFS.ExportPythonLayout] uses for 0: 4096 bytes.
const DefaultPythonBlockSize = versions.DefaultPythonBlockSize

// PythonExport describes what [VFS.ExportPythonLayout] wrote.
type PythonExport struct {
	Size      int64 // bytes of the database file
	BlockSize int   // size of every block object but the last
	Blocks    int64 // block objects written, DEST/0000000000 on
	Removed   int   // stale block objects at or past Blocks deleted
}

// ExportPythonLayout writes the newest commit of the database at key to
// dest in the layout of the Python library sqlite-s3vfs, for Python
// readers: objects dest/0000000000, dest/0000000001, … (the block index,
// 10 digits, zero-padded), each exactly blockSize bytes but the last, which
// holds the rest of the file; the database file is their concatenation.
// blockSize 0 means [DefaultPythonBlockSize], the Python default; otherwise
// it must be 512 to 16 MiB, and the Python reader must be given the same
// block_size. Blocks are uploaded in parallel (up to Options.Concurrency at
// once) while the database is read, so memory stays bounded. Block objects
// already at dest with an index at or past the new block count are then
// deleted: the Python library counts every object under dest/ into the file
// size.
//
// This layout has no commit point. While the export runs (and after one
// that failed), a reader of dest may see a mix of old and new blocks, a
// missing block, or stale blocks past the new end: publish when no Python
// reader is at work, or accept that one may fail or see a torn file. It is
// one-way publication for Python readers, by one exporter at a time, never
// a second writer: changes made at dest (by Python) are not carried back
// to key, and the next export overwrites them.
//
// Nothing is written, and the error says why, if dest is not a valid key,
// is key itself or a folder that holds key, holds an s3vfs database
// (objects under dest/_commits/, dest/_blocks/ or dest/_checkpoints/: it is
// never overwritten), holds any object other than 10-digit block names
// (which the Python library would read as part of the file; an empty
// folder marker dest/ aside), or has a hot rollback journal under
// dest-journal/ (a Python transaction that died half-way, which the next
// Python opener would roll back over the export). Errors reading the
// source (such as [ErrNoDatabase]) are also reported before anything is
// written.
func (v *VFS) ExportPythonLayout(ctx context.Context, key, dest string, blockSize int) (PythonExport, error) {
	r, err := v.ops.ExportPythonLayout(ctx, key, dest, blockSize)
	return PythonExport(r), err
}

// ExportPythonLayoutAt is [VFS.ExportPythonLayout] for commit n instead of
// the newest. Commit n must be within the retention (see [VFS.History]);
// otherwise the error matches [ErrNoCommit] and nothing is written.
func (v *VFS) ExportPythonLayoutAt(ctx context.Context, key string, n uint64, dest string, blockSize int) (PythonExport, error) {
	r, err := v.ops.ExportPythonLayoutAt(ctx, key, n, dest, blockSize)
	return PythonExport(r), err
}
