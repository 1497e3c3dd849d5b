package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

const exportHelp = `
Usage: s3vfs export [flags] s3://BUCKET/KEY FILE

Copies the newest commit of the database, or an older one with --commit
or --asof, into the local file FILE ("-" for stdout), which plain SQLite
then opens. "s3vfs log" lists the commits kept. The file is written under a
temporary name in the same directory and renamed into place only when
complete, so an interrupted export never leaves a partial FILE behind.

Examples:

	s3vfs export s3://my-bucket/app.db app.db
	s3vfs export s3://my-bucket/app.db - | gzip > app.db.gz
	s3vfs export --commit 1234 s3://my-bucket/app.db app-1234.db
	s3vfs export --asof 2026-05-01T12:00:00Z s3://my-bucket/app.db app-may.db
`

// exportCommand copies a database from S3 into a local file.
type exportCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *exportCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("export", exportHelp, c.stdout)
	c.aws.register(fs)
	var ver version
	ver.register(fs, "export")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("export needs a database and a file: s3vfs export s3://BUCKET/KEY FILE")
	}
	t, err := parseTarget(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := ver.parse(); err != nil {
		return err
	}
	dest := fs.Arg(1)
	if dest != "-" {
		if st, err := os.Stat(dest); err == nil && st.IsDir() {
			return fmt.Errorf("s3vfs: %s is a directory: name the file to write", dest)
		}
	}
	v, err := c.aws.vfs(ctx, t)
	if err != nil {
		return err
	}
	info, err := v.Info(ctx, t.key)
	if err != nil {
		return describe(err, t)
	}
	src, size := v.SerializeReader(ctx, t.key), info.FileSize
	at := ver.commit
	switch {
	case !ver.asof.IsZero():
		at, size, err = commitAsOf(ctx, v, t, ver.asof)
		if err != nil {
			return err
		}
		src = v.SerializeReaderAt(ctx, t.key, at)
	case at != 0:
		// Pinned even when it is the newest: a commit made meanwhile
		// does not change what is exported.
		src, size = v.SerializeReaderAt(ctx, t.key, at), -1
		if at == info.Commit {
			size = info.FileSize
		}
	default:
		at = info.Commit
	}
	defer src.Close()
	// The first read of an older commit reads its record: check it exists
	// before any file is created.
	br := bufio.NewReaderSize(src, 64<<10)
	if _, err := br.Peek(1); err != nil && err != io.EOF {
		return describeCommit(err, t, at, info.Commit)
	}
	r, finish := progress(ctx, br, size, "export", c.stderr)
	if dest == "-" {
		_, err = io.Copy(c.stdout, r)
		finish()
		return describeCommit(err, t, at, info.Commit)
	}

	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".s3vfs-*")
	if err != nil {
		return fmt.Errorf("s3vfs: cannot write next to %s: %w", dest, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, r)
	finish()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return describeCommit(err, t, at, info.Commit)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return err
	}
	done = true
	fmt.Fprintf(c.stderr, "exported %s (commit %d, %d bytes) to %s\n", t, at, n, dest)
	return nil
}
