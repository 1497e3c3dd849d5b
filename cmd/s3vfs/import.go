package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/s3vfs/s3vfs"
)

const importHelp = `
Usage: s3vfs import [flags] FILE s3://BUCKET/KEY

Copies the SQLite database FILE ("-" for stdin) into S3 as one commit.
Nothing is published unless the whole file arrived: an interrupted or
failed import leaves the bucket as it was (apart from unreferenced blocks,
which are removed on a best-effort basis). A database already at KEY is
only replaced with --force. Export it first if you need a copy. A database
FILE in WAL mode is imported with the commits still in its -wal file, as
SQLite reads it (read through SQLite into a temporary copy; the file and
its -wal are left as they are). From stdin only the bytes given are imported: checkpoint a
WAL-mode database first (PRAGMA wal_checkpoint) so the file holds every
commit.

Examples:

	s3vfs import app.db s3://my-bucket/app.db
	sqlite3 app.db .dump | sqlite3 new.db && s3vfs import --force new.db s3://my-bucket/app.db
	gunzip -c app.db.gz | s3vfs import - s3://my-bucket/app.db
`

// importCommand copies a local database into S3.
type importCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *importCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("import", importHelp, c.stdout)
	c.aws.register(fs)
	force := fs.Bool("force", false, "replace a database that already exists at the key")
	fs.IntVar(&c.aws.blockSize, "block-size", 0, fmt.Sprintf("block object size in `bytes` for a new database (default %d)", s3vfs.DefaultBlockSize))
	if err := parseFlagsAnywhere(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("import needs a file and a database: s3vfs import FILE s3://BUCKET/KEY")
	}
	name := fs.Arg(0)
	in, size, closeIn, err := c.input(name)
	if err != nil {
		return err
	}
	defer closeIn()
	t, v, err := c.aws.open(ctx, fs.Arg(1))
	if err != nil {
		return err
	}
	if err := checkImportTarget(ctx, v, t, *force); err != nil {
		return err
	}
	if name != "-" && walPending(name) {
		// Its -wal holds commits the file lacks: import a copy that has
		// them.
		var cleanup func()
		if in, size, cleanup, err = walInput(ctx, name); err != nil {
			return err
		}
		defer cleanup()
	}
	return c.deserialize(ctx, v, t, in, size)
}

// walInput opens a copy of the database file name, in WAL mode, with the
// commits of its -wal file, and returns it with its size and a function
// that closes and removes it.
func walInput(ctx context.Context, name string) (_ io.Reader, size int64, cleanup func(), _ error) {
	snapshot, remove, err := walSnapshot(ctx, name)
	if err != nil {
		return nil, 0, nil, err
	}
	f, err := os.Open(snapshot)
	if err != nil {
		remove()
		return nil, 0, nil, err
	}
	cleanup = func() {
		f.Close()
		remove()
	}
	st, err := f.Stat()
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	return f, st.Size(), cleanup, nil
}

// input opens the database file name to import, or stdin for "-", and
// returns it with its size (-1 when unknown) and a function that closes it.
func (c *importCommand) input(name string) (_ io.Reader, size int64, done func(), _ error) {
	if name == "-" {
		return c.stdin, -1, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("s3vfs: cannot read %s: %w", name, errors.Unwrap(err))
	}
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		err = fmt.Errorf("s3vfs: %s is a directory: name a SQLite database file", name)
	}
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return f, st.Size(), func() { f.Close() }, nil
}

// checkImportTarget checks that t holds no database, or that force
// allows replacing the one it holds.
func checkImportTarget(ctx context.Context, v *s3vfs.VFS, t target, force bool) error {
	info, err := v.Info(ctx, t.key)
	switch {
	case err == nil && !force:
		return fmt.Errorf("s3vfs: %s already holds a database (commit %d): add --force to replace it", t, info.Commit)
	case err != nil && !errors.Is(err, s3vfs.ErrNoDatabase):
		return describe(err, t)
	}
	return nil
}

// deserialize imports the size bytes of in (-1 when unknown) into t as
// one commit, and reports it.
func (c *importCommand) deserialize(ctx context.Context, v *s3vfs.VFS, t target, in io.Reader, size int64) error {
	r, finish := progress(ctx, in, size, "import", c.stderr)
	err := v.Deserialize(ctx, t.key, r)
	finish()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return describe(err, t)
	}
	info, err := v.Info(ctx, t.key)
	if err != nil {
		return describe(err, t)
	}
	fmt.Fprintf(c.stderr, "imported %d bytes into %s (commit %d)\n", info.FileSize, t, info.Commit)
	return nil
}
