package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

const exportHelp = `
Usage: s3vfs export [flags] s3://BUCKET/KEY FILE

Copies the newest commit of the database into the local file FILE ("-"
for stdout), which plain SQLite then opens. The file is written under a
temporary name in the same directory and renamed into place only when
complete, so an interrupted export never leaves a partial FILE behind.

Examples:

	s3vfs export s3://my-bucket/app.db app.db
	s3vfs export s3://my-bucket/app.db - | gzip > app.db.gz
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
	src := v.SerializeReader(ctx, t.key)
	defer src.Close()
	r, finish := progress(ctx, src, info.FileSize, "export", c.stderr)
	if dest == "-" {
		_, err = io.Copy(c.stdout, r)
		finish()
		return describe(err, t)
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
		return describe(err, t)
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
	fmt.Fprintf(c.stderr, "exported %s (commit %d, %d bytes) to %s\n", t, info.Commit, n, dest)
	return nil
}
