package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/s3vfs/s3vfs"
)

const exportHelp = `
Usage: s3vfs export [flags] s3://BUCKET/KEY FILE
       s3vfs export --layout python [--block-size N] [flags] s3://BUCKET/KEY s3://BUCKET/DEST

Copies the newest commit of the database, or an older one with --commit
or --asof, into the local file FILE ("-" for stdout), which plain SQLite
then opens. "s3vfs log" lists the commits kept. The file is written under a
temporary name in the same directory and renamed into place only when
complete, so an interrupted export never leaves a partial FILE behind. An
existing FILE is only replaced with --force.

With --layout python it writes the database instead to DEST in the same
bucket in the layout of the Python library sqlite-s3vfs (objects
DEST/0000000000, DEST/0000000001, ... of --block-size bytes, 4096 by
default, the block_size the Python reader must use), and deletes the
blocks past its end. That layout has no commit point: a Python reader may
see a mix of old and new blocks while it is written. It is one-way
publication for Python readers; DEST may not hold an s3vfs database or
other objects.

Examples:

	s3vfs export s3://my-bucket/app.db app.db
	s3vfs export s3://my-bucket/app.db - | gzip > app.db.gz
	s3vfs export --commit 1234 s3://my-bucket/app.db app-1234.db
	s3vfs export --asof 2026-05-01T12:00:00Z s3://my-bucket/app.db app-may.db
	s3vfs export --layout python s3://my-bucket/app.db s3://my-bucket/old-app.db
`

// exportCommand copies a database from S3 into a local file.
type exportCommand struct {
	ioStreams
	aws awsFlags
}

// exportOptions are export's command line, checked.
type exportOptions struct {
	src, dest string // s3://BUCKET/KEY, and FILE ("-" for stdout) or s3://BUCKET/DEST
	python    bool   // --layout python
	blockSize int    // --block-size, with --layout python
	force     bool   // --force: replace FILE
	ver       version
}

// Run implements command.
func (c *exportCommand) Run(ctx context.Context, args []string) error {
	o, err := c.parse(args)
	if err != nil {
		return err
	}
	if o.python {
		return c.exportPython(ctx, o.src, o.dest, o.blockSize, o.ver)
	}
	if err := checkExportFile(o.dest, o.force); err != nil {
		return err
	}
	return c.exportFile(ctx, o)
}

// parse reads and checks export's flags and arguments.
func (c *exportCommand) parse(args []string) (exportOptions, error) {
	var o exportOptions
	fs := newFlagSet("export", exportHelp, c.stdout)
	c.aws.register(fs)
	o.ver.register(fs, "export")
	layout := fs.String("layout", "file", "what to write: `file` (a SQLite file) or python (sqlite-s3vfs objects in the bucket)")
	fs.IntVar(&o.blockSize, "block-size", 0, "with --layout python: block object size in `bytes`, the Python reader's block_size (default 4096)")
	fs.BoolVar(&o.force, "force", false, "replace FILE if it exists")
	if err := parseFlagsAnywhere(fs, args); err != nil {
		return o, err
	}
	switch *layout {
	case "file":
		if o.blockSize != 0 {
			return o, usagef("--block-size applies only to --layout python: drop it, or add --layout python")
		}
	case "python":
		if fs.NArg() != 2 {
			return o, usagef("export --layout python needs a database and a destination: s3vfs export --layout python s3://BUCKET/KEY s3://BUCKET/DEST")
		}
	default:
		return o, usagef("--layout %q is not a layout: use file (the default) or python", *layout)
	}
	if fs.NArg() != 2 {
		return o, usagef("export needs a database and a file: s3vfs export s3://BUCKET/KEY FILE")
	}
	if err := o.ver.parse(); err != nil {
		return o, err
	}
	o.src, o.dest, o.python = fs.Arg(0), fs.Arg(1), *layout == "python"
	return o, nil
}

// checkExportFile checks, before anything is read, that dest names a
// local file export may write: not an S3 name, not a directory, and not an
// existing file unless force.
func checkExportFile(dest string, force bool) error {
	if strings.HasPrefix(dest, "s3://") {
		return usagef("%q is an S3 name, not a local file: to write the Python sqlite-s3vfs layout there, add --layout python; to copy a database, export it to a file and import that", dest)
	}
	if dest == "-" {
		return nil
	}
	if st, err := os.Stat(dest); err == nil && st.IsDir() {
		return fmt.Errorf("s3vfs: %s is a directory: name the file to write", dest)
	} else if err == nil && !force {
		return fmt.Errorf("s3vfs: %s already exists: add --force to replace it, or name another file", dest)
	}
	return nil
}

// exportFile copies the version o.ver of the database o.src into the local
// file o.dest, or to stdout.
func (c *exportCommand) exportFile(ctx context.Context, o exportOptions) error {
	t, v, info, err := c.aws.openExisting(ctx, o.src)
	if err != nil {
		return err
	}
	src, size, at, err := exportSource(ctx, v, t, info, o.ver)
	if err != nil {
		return err
	}
	defer src.Close()
	// The first read of an older commit reads its record: check it exists
	// before any file is created.
	br := bufio.NewReaderSize(src, 64<<10)
	if _, err := br.Peek(1); err != nil && err != io.EOF {
		return describeCommit(err, t, at, info.Commit)
	}
	r, finish := progress(ctx, br, size, "export", c.stderr)
	if o.dest == "-" {
		_, err = io.Copy(c.stdout, r)
		finish()
		return describeCommit(err, t, at, info.Commit)
	}
	n, err := replaceFile(o.dest, func(w io.Writer) (int64, error) {
		n, err := io.Copy(w, r)
		finish()
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			return n, describeCommit(err, t, at, info.Commit)
		}
		return n, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "exported %s (commit %d, %d bytes) to %s\n", t, at, n, o.dest)
	return nil
}

// exportSource returns a reader of the version ver of the database t whose
// newest commit info describes, its size (-1 when unknown) and the number
// of its commit.
func exportSource(ctx context.Context, v *s3vfs.VFS, t target, info s3vfs.Info, ver version) (src io.ReadCloser, size int64, at uint64, err error) {
	size, at = info.FileSize, ver.commit
	switch {
	case !ver.asof.IsZero():
		at, size, err = commitAsOf(ctx, v, t, ver.asof)
		if err != nil {
			return nil, 0, 0, err
		}
		return v.SerializeReaderAt(ctx, t.key, at), size, at, nil
	case at != 0:
		// Pinned even when it is the newest: a commit made meanwhile
		// does not change what is exported.
		size = -1
		if at == info.Commit {
			size = info.FileSize
		}
		return v.SerializeReaderAt(ctx, t.key, at), size, at, nil
	}
	return v.SerializeReader(ctx, t.key), size, info.Commit, nil
}

// replaceFile writes dest through write, under a temporary name in the
// same directory renamed into place only when complete, so that a failed
// or interrupted write never leaves a partial dest behind. It returns what
// write returns, or the error of making the file durable.
func replaceFile(dest string, write func(io.Writer) (int64, error)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".s3vfs-*")
	if err != nil {
		return 0, fmt.Errorf("s3vfs: cannot write next to %s: %w", dest, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := write(tmp)
	if err != nil {
		return n, err
	}
	if err := tmp.Sync(); err != nil {
		return n, err
	}
	if err := tmp.Close(); err != nil {
		return n, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return n, err
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return n, err
	}
	done = true
	return n, nil
}

// exportPython writes the database srcArg (s3://BUCKET/KEY) to destArg
// (s3://BUCKET/DEST, in the same bucket) in the layout of the Python
// library sqlite-s3vfs.
func (c *exportCommand) exportPython(ctx context.Context, srcArg, destArg string, blockSize int, ver version) error {
	t, v, err := c.aws.open(ctx, srcArg)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(destArg, "s3://") {
		return usagef("with --layout python the destination is a key in the bucket: write it as s3://%s/KEY, not %q", t.bucket, destArg)
	}
	d, err := parseTarget(destArg)
	if err != nil {
		return err
	}
	if d.bucket != t.bucket {
		return usagef("--layout python writes within the database's bucket: name the destination as s3://%s/%s, then copy it with \"aws s3 sync s3://%s/%s/ s3://%s/%s/\" if it must live in %s",
			t.bucket, d.key, t.bucket, d.key, d.bucket, d.key, d.bucket)
	}
	info, err := v.Info(ctx, t.key)
	if err != nil {
		return describe(err, t)
	}
	var res s3vfs.PythonExport
	at := ver.commit
	switch {
	case !ver.asof.IsZero():
		if at, _, err = commitAsOf(ctx, v, t, ver.asof); err != nil {
			return err
		}
		fallthrough
	case at != 0:
		res, err = v.ExportPythonLayoutAt(ctx, t.key, at, d.key, blockSize)
	default:
		at = info.Commit
		res, err = v.ExportPythonLayout(ctx, t.key, d.key, blockSize)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *s3vfs.Error
		if errors.As(err, &se) && (se.Key == d.key || strings.HasPrefix(se.Key, d.key+"/") || strings.HasPrefix(se.Key, d.key+"-journal/")) {
			return describe(err, d) // a request about the destination failed
		}
		return describeCommit(err, t, at, info.Commit)
	}
	removed := ""
	if res.Removed > 0 {
		removed = fmt.Sprintf("; removed %d stale blocks past its end", res.Removed)
	}
	fmt.Fprintf(c.stderr, "exported %s (commit %d, %d bytes) to %s in the Python layout (%d blocks of %d bytes%s)\n",
		t, at, res.Size, d, res.Blocks, res.BlockSize, removed)
	return nil
}
