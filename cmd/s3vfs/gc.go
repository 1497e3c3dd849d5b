package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/s3vfs/s3vfs"
)

const gcHelp = `
Usage: s3vfs gc [flags] s3://BUCKET/KEY

Garbage-collects the database: deletes the commit records, checkpoints and
block objects that no version within the retention needs, and the
leftovers of failed commit attempts once they are older than the grace
period. It is safe while other processes read and write the database,
provided the retention is at least the one they use (default 24h). Every
version that was the newest within the retention stays readable, and so
does the newest. --dry-run deletes nothing: its report is the accounting
of the database. The report counts objects and bytes:

	live      what some retained version needs: what the database costs
	pending   unused objects of commit attempts younger than the grace
	          period (or still in flight): a later collection may free them
	garbage   what no retained version needs: what a collection frees
	deleted   what this collection deleted
	branches  branches made from the database ("s3vfs branch"), shown if
	          any: each keeps the commit it was made from

It LISTs the key's objects (one request per 1,000), reads the record of
every retained commit, and deletes in batches of 1,000.

Examples:

	s3vfs gc --dry-run s3://my-bucket/app.db
	s3vfs gc s3://my-bucket/app.db
	s3vfs gc --retention 168h --json s3://my-bucket/app.db
`

// gcCommand garbage-collects a database.
type gcCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *gcCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("gc", gcHelp, c.stdout)
	c.aws.register(fs)
	var opts s3vfs.GCOptions
	fs.Var(durationFlag{&opts.Retention}, "retention", "keep every version that was the newest within this `duration` (default "+fmtDuration(s3vfs.DefaultRetention)+"); at least the retention of the database's readers and writers")
	fs.Var(durationFlag{&opts.Grace}, "grace", "keep the objects of unfinished commit attempts younger than this `duration` (default "+fmtDuration(s3vfs.DefaultGrace)+")")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "delete nothing: report what is live and what would be freed")
	asJSON := registerJSON(fs)
	if err := parseOneDatabase(fs, args); err != nil {
		return err
	}
	t, v, _, err := c.aws.openExisting(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	rep, err := v.GC(ctx, t.key, &opts)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return describe(err, t)
	}
	if *asJSON {
		return printGCReportJSON(c.stdout, t, opts.DryRun, rep)
	}
	return printGCReport(c.stdout, t, opts.DryRun, rep)
}

// printGCReportJSON prints the report of a collection of t as JSON.
func printGCReportJSON(w io.Writer, t target, dryRun bool, rep s3vfs.GCReport) error {
	type count struct {
		Objects     int   `json:"objects"`
		Blocks      int   `json:"blocks"`
		Records     int   `json:"records"`
		Checkpoints int   `json:"checkpoints"`
		Bytes       int64 `json:"bytes"`
	}
	cnt := func(o s3vfs.ObjectCount) count {
		return count{o.Objects(), o.Blocks, o.Records, o.Checkpoints, o.Bytes}
	}
	return writeJSON(w, struct {
		Database  string `json:"database"`
		DryRun    bool   `json:"dry_run"`
		Retention string `json:"retention"`
		Grace     string `json:"grace"`
		Head      uint64 `json:"head"`
		HeadSize  int64  `json:"head_size"`
		Oldest    uint64 `json:"oldest_retained"`
		Live      count  `json:"live"`
		Pending   count  `json:"pending"`
		Garbage   count  `json:"garbage"`
		Deleted   count  `json:"deleted"`
		Unknown   int    `json:"unknown"`
		Branches  int    `json:"branches"`
		Read      int    `json:"read"`
		Summed    int    `json:"summarized"`
	}{
		t.String(), dryRun, fmtDuration(rep.Retention), fmtDuration(rep.Grace),
		rep.Head, rep.HeadSize, rep.Oldest,
		cnt(rep.Live), cnt(rep.Pending), cnt(rep.Garbage), cnt(rep.Deleted), rep.Unknown, rep.Branches,
		rep.Read, rep.Summarized,
	})
}

// printGCReport prints the report of a collection of t for people.
func printGCReport(w io.Writer, t target, dryRun bool, rep s3vfs.GCReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "database:\t%s\n", t)
	fmt.Fprintf(tw, "newest commit:\t%d, %s\n", rep.Head, fmtBytes(rep.HeadSize))
	fmt.Fprintf(tw, "oldest kept:\t%d (retention %s, grace %s)\n", rep.Oldest, fmtDuration(rep.Retention), fmtDuration(rep.Grace))
	fmt.Fprintf(tw, "live:\t%s\n", fmtCount(rep.Live))
	fmt.Fprintf(tw, "pending:\t%s\n", fmtCount(rep.Pending))
	fmt.Fprintf(tw, "read:\t%d records and checkpoints (%d more from the last collection's summary)\n", rep.Read, rep.Summarized)
	if dryRun {
		fmt.Fprintf(tw, "garbage:\t%s (dry run: nothing deleted)\n", fmtCount(rep.Garbage))
	} else {
		fmt.Fprintf(tw, "garbage:\t%s\n", fmtCount(rep.Garbage))
		fmt.Fprintf(tw, "deleted:\t%s\n", fmtCount(rep.Deleted))
	}
	if rep.Unknown > 0 {
		fmt.Fprintf(tw, "unknown:\t%s (names s3vfs does not write; left alone)\n", plural(rep.Unknown, "object"))
	}
	if rep.Branches > 0 {
		fmt.Fprintf(tw, "branches:\t%d (each keeps the commit it was made from, counted as live)\n", rep.Branches)
	}
	return tw.Flush()
}

// fmtCount formats an object count for people.
func fmtCount(o s3vfs.ObjectCount) string {
	if o.Objects() == 0 {
		return "none"
	}
	return fmt.Sprintf("%s, %s: %s, %s, %s", plural(o.Objects(), "object"), fmtBytes(o.Bytes),
		plural(o.Blocks, "block"), plural(o.Records, "record"), plural(o.Checkpoints, "checkpoint"))
}

// plural formats n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// fmtBytes formats a byte count exactly, with a binary-prefixed figure
// beside it from 1 KiB up.
func fmtBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	f, unit := float64(n), ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		f /= 1024
		unit = u
		if f < 1024 {
			break
		}
	}
	return fmt.Sprintf("%d bytes (%.1f %s)", n, f, unit)
}
