package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

const restoreHelp = `
Usage: s3vfs restore [flags] s3://BUCKET/KEY COMMIT

Makes the database read again as it did at commit COMMIT, by publishing
that version as a new commit on top of the newest: nothing is rewritten
or forgotten, the commits in between stay in the history (within the
retention), and a restore is undone by restoring the commit before it.
Connections that have the database open see the restored version at their
next transaction. Prints the number of the new commit on stdout.

Only the blocks that differ between COMMIT and the newest version are
copied. "s3vfs log" lists the commits that can be restored. --dry-run
checks that COMMIT can be restored and publishes nothing. To download an
old version instead, use "s3vfs export --commit COMMIT".

Examples:

	s3vfs log --limit 5 s3://my-bucket/app.db
	s3vfs restore --dry-run s3://my-bucket/app.db 1234
	s3vfs restore s3://my-bucket/app.db 1234
`

// restoreCommand publishes an old version of a database as a new commit.
type restoreCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *restoreCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("restore", restoreHelp, c.stdout)
	c.aws.register(fs)
	dryRun := fs.Bool("dry-run", false, "check that the commit can be restored; publish nothing")
	if err := parseFlagsAnywhere(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("restore needs a database and a commit number: s3vfs restore s3://BUCKET/KEY COMMIT")
	}
	n, err := parseCommit("commit", fs.Arg(1))
	if err != nil {
		return err
	}
	t, v, info, err := c.aws.openExisting(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *dryRun {
		// Reading the version's record and first block proves it kept.
		src := v.SerializeReaderAt(ctx, t.key, n)
		_, err := bufio.NewReader(src).Peek(1)
		src.Close()
		if err != nil && err != io.EOF {
			return describeCommit(err, t, n, info.Commit)
		}
		fmt.Fprintf(c.stderr, "would restore %s to commit %d as a new commit after %d; nothing was published (run again without --dry-run)\n", t, n, info.Commit)
		return nil
	}
	next, err := v.Restore(ctx, t.key, n)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return describeCommit(err, t, n, info.Commit)
	}
	fmt.Fprintf(c.stderr, "restored %s to commit %d as commit %d\n", t, n, next)
	fmt.Fprintln(c.stdout, next)
	return nil
}
