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
	var in io.Reader = c.stdin
	size := int64(-1)
	name := fs.Arg(0)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("s3vfs: cannot read %s: %w", name, errors.Unwrap(err))
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.IsDir() {
			return fmt.Errorf("s3vfs: %s is a directory: name a SQLite database file", name)
		}
		in, size = f, st.Size()
	}
	t, v, err := c.aws.open(ctx, fs.Arg(1))
	if err != nil {
		return err
	}
	info, err := v.Info(ctx, t.key)
	switch {
	case err == nil && !*force:
		return fmt.Errorf("s3vfs: %s already holds a database (commit %d): add --force to replace it", t, info.Commit)
	case err != nil && !errors.Is(err, s3vfs.ErrNoDatabase):
		return describe(err, t)
	}
	if name != "-" && walPending(name) {
		// Its -wal holds commits the file lacks: import a copy that has
		// them.
		snapshot, cleanup, err := walSnapshot(ctx, name)
		if err != nil {
			return err
		}
		defer cleanup()
		f, err := os.Open(snapshot)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		in, size = f, st.Size()
	}
	r, finish := progress(ctx, in, size, "import", c.stderr)
	err = v.Deserialize(ctx, t.key, r)
	finish()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return describe(err, t)
	}
	info, err = v.Info(ctx, t.key)
	if err != nil {
		return describe(err, t)
	}
	fmt.Fprintf(c.stderr, "imported %d bytes into %s (commit %d)\n", info.FileSize, t, info.Commit)
	return nil
}
