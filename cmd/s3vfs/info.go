package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/s3vfs/s3vfs"
)

const infoHelp = `
Usage: s3vfs info [flags] s3://BUCKET/KEY

Describes the newest commit of the database: block size, page size, file
size, commit number, time and writer, storage format version, for a
branch the database and commit it was made from ("s3vfs branch"), and the
objects under the key with their total size. Counting the objects LISTs
the key's whole prefix (one request per 1,000 objects); --no-list skips it.

Examples:

	s3vfs info s3://my-bucket/app.db
	s3vfs info --json s3://my-bucket/app.db
`

// infoCommand describes a database in S3.
type infoCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *infoCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("info", infoHelp, c.stdout)
	c.aws.register(fs)
	asJSON := registerJSON(fs)
	noList := fs.Bool("no-list", false, "skip counting the objects (no LIST requests)")
	if err := parseOneDatabase(fs, args); err != nil {
		return err
	}
	t, v, info, err := c.aws.openExisting(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	out := newInfoOutput(t, info)
	if !*noList {
		u, err := v.Usage(ctx, t.key)
		if err != nil {
			return describe(err, t)
		}
		out.Objects, out.ObjectBytes = &u.Objects, &u.Bytes
	}
	if *asJSON {
		return writeJSON(c.stdout, out)
	}
	return out.print(c.stdout)
}

// infoOutput is what info prints. A database in the Python layout has no
// commits: no number, time, writer or format version, which are left out
// rather than shown as zeros.
type infoOutput struct {
	Database      string     `json:"database"`
	Layout        string     `json:"layout"`
	FormatVersion int        `json:"format_version,omitempty"`
	Commit        uint64     `json:"commit,omitempty"`
	CommitTime    *time.Time `json:"commit_time,omitempty"`
	Writer        string     `json:"writer,omitempty"`
	BranchOf      string     `json:"branch_of,omitempty"`    // for a branch: the database it was made from, s3://BUCKET/KEY
	BranchPoint   uint64     `json:"branch_point,omitempty"` // and the commit of it
	BlockSize     int64      `json:"block_size"`
	PageSize      int64      `json:"page_size"`
	FileSize      int64      `json:"file_size"`
	Blocks        int64      `json:"blocks"`
	Objects       *int64     `json:"objects,omitempty"`
	ObjectBytes   *int64     `json:"object_bytes,omitempty"`
}

// newInfoOutput describes the database t whose newest commit info
// describes, without its objects.
func newInfoOutput(t target, info s3vfs.Info) infoOutput {
	out := infoOutput{
		Database: t.String(), Layout: info.Layout, FormatVersion: info.FormatVersion, Commit: info.Commit,
		Writer: info.Writer, BlockSize: info.BlockSize,
		PageSize: info.PageSize, FileSize: info.FileSize, Blocks: info.Blocks,
	}
	if !out.python() {
		ct := info.Time.UTC()
		out.CommitTime = &ct
	}
	if info.BranchOf != "" {
		out.BranchOf, out.BranchPoint = target{bucket: t.bucket, key: info.BranchOf}.String(), info.BranchPoint
	}
	return out
}

// python reports whether the database is in the Python layout.
func (out infoOutput) python() bool { return out.Layout == "python" }

// print writes out to w for people.
func (out infoOutput) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "database:\t%s\n", out.Database)
	if out.python() {
		fmt.Fprintf(tw, "layout:\tPython sqlite-s3vfs (read-only: migrate it with \"s3vfs migrate %s\")\n", out.Database)
		fmt.Fprintf(tw, "commit:\tnone (the Python layout keeps no commits)\n")
	} else {
		fmt.Fprintf(tw, "format version:\t%d\n", out.FormatVersion)
		fmt.Fprintf(tw, "commit:\t%d\n", out.Commit)
		fmt.Fprintf(tw, "commit time:\t%s\n", out.CommitTime.Format(time.RFC3339))
		fmt.Fprintf(tw, "writer:\t%s\n", out.Writer)
	}
	if out.BranchOf != "" {
		fmt.Fprintf(tw, "branch of:\t%s at commit %d\n", out.BranchOf, out.BranchPoint)
	}
	fmt.Fprintf(tw, "block size:\t%d\n", out.BlockSize)
	fmt.Fprintf(tw, "page size:\t%d\n", out.PageSize)
	fmt.Fprintf(tw, "file size:\t%d\n", out.FileSize)
	fmt.Fprintf(tw, "blocks:\t%d\n", out.Blocks)
	if out.Objects != nil {
		fmt.Fprintf(tw, "objects:\t%d (%d bytes, every kept version)\n", *out.Objects, *out.ObjectBytes)
	}
	return tw.Flush()
}
