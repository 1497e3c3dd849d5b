package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/s3vfs/s3vfs"
)

const mergeHelp = `
Usage: s3vfs merge [flags] s3://BUCKET/BRANCH s3://BUCKET/INTO

Publishes, as one new commit of INTO, the pages the branch BRANCH changed
since it was made ("s3vfs branch"), and prints that commit's number. INTO
must be the database the branch was made from.

It is a three-way merge of pages: a page the branch changed and INTO did
not takes the branch's bytes; a page INTO changed and the branch did not
keeps INTO's. If both changed a page (to different bytes) the merge is
refused, naming how many pages conflict and the tables and indexes they
belong to, and nothing is published. Both sides growing or shrinking the
file conflict (the size is on page 1), and so does an index made on one
side while the other changed rows (it would miss them). The merge is of pages, not of SQL:
it does not run the branch's statements again over INTO's changes.

The merge commit is like any other: writers of INTO that committed
meanwhile make it try again on top of them (their changes checked
again). The branch stays as it is, still a branch; "s3vfs log" of INTO
marks the commit "merge of BRANCH@N". It reads the blocks that differ
between the branch point and each side, and commits like a transaction:
a small merge is one PUT, its record carrying the pages.

Examples:

	s3vfs merge s3://my-bucket/app-next.db s3://my-bucket/app.db
	s3vfs merge --json s3://my-bucket/app-next.db s3://my-bucket/app.db
`

// mergeCommand merges a branch back into the database it was made from.
type mergeCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *mergeCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("merge", mergeHelp, c.stdout)
	c.aws.register(fs)
	asJSON := registerJSON(fs)
	if err := parseFlagsAnywhere(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("merge needs the branch and the database it was made from: s3vfs merge s3://BUCKET/BRANCH s3://BUCKET/INTO")
	}
	branch, err := parseTarget(fs.Arg(0))
	if err != nil {
		return err
	}
	into, err := parseTarget(fs.Arg(1))
	if err != nil {
		return err
	}
	switch {
	case branch.bucket != into.bucket:
		return usagef("%s and %s are in different buckets: a branch is always in its source's bucket", branch, into)
	case branch.key == into.key:
		return usagef("%s cannot merge into itself: name the database it was made from", branch)
	}
	_, v, err := c.aws.open(ctx, into.String())
	if err != nil {
		return err
	}
	n, err := v.Merge(ctx, branch.key, into.key)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, s3vfs.ErrMergeConflict) {
			return fmt.Errorf("%w: change the branch so it no longer touches those pages, or merge by hand", err)
		}
		return describe(err, into)
	}
	if *asJSON {
		return writeJSON(c.stdout, struct {
			Branch string `json:"branch"`
			Into   string `json:"into"`
			Commit uint64 `json:"commit"`
		}{branch.String(), into.String(), n})
	}
	fmt.Fprintf(c.stdout, "merged %s into %s as commit %d\n", branch, into, n)
	return nil
}
