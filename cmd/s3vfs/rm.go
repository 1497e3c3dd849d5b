package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/s3vfs/s3vfs"
)

const rmHelp = `
Usage: s3vfs rm --yes [flags] s3://BUCKET/KEY

Removes the database: every version of it, its blocks, checkpoints and
commit records. There is no undo, so it asks for --yes. The record that
says it was removed stays (a few hundred bytes), and for the retention
so do the younger records, overwritten to say the same: a process that
still knows the database then learns of the removal rather than write to
it ("s3vfs rm" run again once they are older deletes them). Databases in
folders under KEY (KEY/other.db) are other databases and stay. A new
database can be made at KEY at once; its commits number on.

A process writing the database meanwhile fails rather than commit to a
database half removed, and readers then find no database. A database that
has branches ("s3vfs branch") is refused, naming them: remove the
branches first. Removing a branch releases the version of its source it
was made from, which the source's next "s3vfs gc" may then collect. A
removal that failed part way is finished by running it again, and so is a
key left reserved by a branch that failed part way.

Examples:

	s3vfs rm --yes s3://my-bucket/app-test.db
`

// rmCommand removes a database.
type rmCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *rmCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("rm", rmHelp, c.stdout)
	c.aws.register(fs)
	yes := fs.Bool("yes", false, "remove the database: every version and object of it, with no undo")
	if err := parseFlagsAnywhere(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("rm needs one database: s3vfs rm --yes s3://BUCKET/KEY")
	}
	t, err := parseTarget(fs.Arg(0))
	if err != nil {
		return err
	}
	if !*yes {
		return usagef("rm would remove the database %s, every version and object of it, with no undo: add --yes to remove it", t)
	}
	_, v, err := c.aws.open(ctx, t.String())
	if err != nil {
		return err
	}
	if err := v.Remove(ctx, t.key); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return describeRemove(ctx, v, err, t)
	}
	fmt.Fprintf(c.stdout, "removed %s\n", t)
	return nil
}

// describeRemove explains an error of removing the database t.
func describeRemove(ctx context.Context, v *s3vfs.VFS, err error, t target) error {
	switch {
	case errors.Is(err, s3vfs.ErrBranchesLive):
		// The library's message names the branches after its sentinel's.
		which := strings.TrimPrefix(err.Error(), s3vfs.ErrBranchesLive.Error()+": ")
		return fmt.Errorf("s3vfs: cannot remove %s: branches of it exist, which read its objects: %s; remove the branches first (s3vfs rm --yes s3://%s/BRANCH for each), then run this again",
			t, strings.TrimSuffix(which, "; remove them first"), t.bucket)
	case errors.Is(err, s3vfs.ErrNoDatabase):
		if info, ierr := v.Info(ctx, t.key); ierr == nil && info.Layout == "python" {
			return fmt.Errorf("s3vfs: %s is a database of the Python library sqlite-s3vfs, which rm does not remove: delete its block objects (%s/0000000000 and on) with the aws command",
				t, t)
		}
		return fmt.Errorf("s3vfs: no database at %s: nothing to remove (check the bucket and key)", t)
	}
	return describe(err, t)
}
