package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/s3vfs/s3vfs"
)

const branchHelp = `
Usage: s3vfs branch [flags] s3://BUCKET/SRC[@N] s3://BUCKET/DST

Makes DST a branch of the database SRC: a new database that reads as
commit N of SRC (the newest unless told), and that both can then write
without either seeing the other's commits. It copies no block: the branch
names the objects of SRC, and writes objects of its own from its first
commit, numbered N+1. It costs a few requests whatever the size of the
database. DST must hold no database.

The commit is named by a trailing @N on SRC, by --commit N, or by --asof
TIME. Keys are taken as written, so only a trailing @ followed by digits
names a commit, and with --commit or --asof SRC is taken as written: name
a key that itself ends in @ and digits that way.

Both keys are in the same bucket: a branch names objects, and objects
cannot be named across buckets (copy the database with "s3vfs export" and
"s3vfs import" instead). Garbage collection of SRC keeps commit N for as
long as the branch exists; "s3vfs rm" of the branch releases it, and SRC
cannot be removed while it has branches. "s3vfs info" of the branch says
what it is a branch of.

Examples:

	s3vfs branch s3://my-bucket/app.db s3://my-bucket/app-test.db
	s3vfs branch s3://my-bucket/app.db@1234 s3://my-bucket/app-1234.db
	s3vfs branch --asof 2026-05-01T12:00:00Z s3://my-bucket/app.db s3://my-bucket/app-may.db
	s3vfs branch --json --commit 1234 s3://my-bucket/app.db s3://my-bucket/app-1234.db
`

// branchCommand makes a branch of a database.
type branchCommand struct {
	ioStreams
	aws awsFlags
}

// branchOptions are branch's command line, checked.
type branchOptions struct {
	src, dst target
	suffix   string // the trailing @N of SRC that named the commit; "" for none
	ver      version
	asJSON   bool
}

// Run implements command.
func (c *branchCommand) Run(ctx context.Context, args []string) error {
	o, err := c.parse(args)
	if err != nil {
		return err
	}
	return c.branch(ctx, o)
}

// parse reads and checks branch's flags and arguments.
func (c *branchCommand) parse(args []string) (branchOptions, error) {
	var o branchOptions
	fs := newFlagSet("branch", branchHelp, c.stdout)
	c.aws.register(fs)
	c.aws.registerRetention(fs)
	o.ver.register(fs, "branch from")
	asJSON := registerJSON(fs)
	if err := parseFlagsAnywhere(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() != 2 {
		return o, usagef("branch needs a database and the key of the branch: s3vfs branch s3://BUCKET/SRC[@N] s3://BUCKET/DST")
	}
	if err := o.ver.parse(); err != nil {
		return o, err
	}
	srcArg := fs.Arg(0)
	var err error
	if !o.ver.pinned() {
		if srcArg, o.ver.commit, err = cutCommitSuffix(srcArg); err != nil {
			return o, err
		}
		o.suffix = strings.TrimPrefix(fs.Arg(0), srcArg)
	}
	if o.src, err = parseTarget(srcArg); err != nil {
		return o, err
	}
	if o.dst, err = parseTarget(fs.Arg(1)); err != nil {
		return o, err
	}
	o.asJSON = *asJSON
	return o, checkBranchTargets(o.src, o.dst)
}

// checkBranchTargets checks, before any request, that dst may be a branch
// of src: in the same bucket, and another key.
func checkBranchTargets(src, dst target) error {
	switch {
	case dst.bucket != src.bucket:
		return usagef("%s and %s are in different buckets: a branch names its source's objects, which cannot be named across buckets: "+
			"branch within s3://%s/, or copy the database with \"s3vfs export\" and \"s3vfs import\"", src, dst, src.bucket)
	case dst.key == src.key:
		return usagef("%s cannot be a branch of itself: name another key for the branch", dst)
	}
	return nil
}

// branch makes o.dst a branch of the commit of o.src that o names, and
// reports it.
func (c *branchCommand) branch(ctx context.Context, o branchOptions) error {
	src, dst := o.src, o.dst
	_, v, err := c.aws.open(ctx, src.String())
	if err != nil {
		return err
	}
	info, err := v.Info(ctx, src.key)
	switch {
	case errors.Is(err, s3vfs.ErrNoDatabase) && o.suffix != "":
		return fmt.Errorf("s3vfs: no database at %s (the trailing %s named a commit of it): check the bucket and key; "+
			"for the key %s%s, name the commit with --commit or --asof, which take the key as written", src, o.suffix, src.key, o.suffix)
	case err != nil:
		return describe(err, src)
	}
	n := o.ver.commit
	if !o.ver.asof.IsZero() {
		if n, _, err = commitAsOf(ctx, v, src, o.ver.asof); err != nil {
			return err
		}
	}
	first, err := v.Branch(ctx, src.key, n, dst.key)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return describeBranch(err, src, dst, n, info.Commit)
	}
	return c.printBranch(o, first)
}

// printBranch reports the branch o made, whose first commit is first, as
// JSON with o.asJSON, else for people.
func (c *branchCommand) printBranch(o branchOptions, first uint64) error {
	at := first - 1
	if o.asJSON {
		return writeJSON(c.stdout, struct {
			Source      string `json:"source"`
			Commit      uint64 `json:"commit"`
			Branch      string `json:"branch"`
			FirstCommit uint64 `json:"first_commit"`
		}{o.src.String(), at, o.dst.String(), first})
	}
	fmt.Fprintf(c.stdout, "branched %s at commit %d to %s (its first commit: %d)\n", o.src, at, o.dst, first)
	return nil
}

// cutCommitSuffix splits a trailing "@N" off a source argument,
// s3://BUCKET/SRC@N, and returns the rest and N (0 when there is none).
// Only "@" followed by digits to the end is a commit: keys are taken as
// written, and one with "@" elsewhere is the key it says.
func cutCommitSuffix(arg string) (string, uint64, error) {
	i := strings.LastIndexByte(arg, '@')
	if i < 0 || i == len(arg)-1 || strings.Trim(arg[i+1:], "0123456789") != "" {
		return arg, 0, nil
	}
	n, err := strconv.ParseUint(arg[i+1:], 10, 64)
	if err != nil || n == 0 {
		return "", 0, usagef("%q: @%s is not a commit number: commits are numbered from 1, as \"s3vfs log\" lists them "+
			"(for a key that ends in @%s, name the commit with --commit or --asof, which take the key as written)", arg, arg[i+1:], arg[i+1:])
	}
	return arg[:i], n, nil
}

// describeBranch explains an error of branching commit n (0: the newest)
// of src, whose newest commit is head, to dst.
func describeBranch(err error, src, dst target, n, head uint64) error {
	switch {
	case errors.Is(err, s3vfs.ErrExists):
		return fmt.Errorf("s3vfs: %s holds a database already: name a new key for the branch, or remove that database first (s3vfs rm --yes %s)", dst, dst)
	case errors.Is(err, s3vfs.ErrNoDatabase):
		// src was found a moment ago: the library's message says which
		// key holds no database, and why (one reserved by a branch that
		// failed part way, or removed).
		return err
	case errors.Is(err, s3vfs.ErrNoCommit) && n != 0 && n <= head:
		return fmt.Errorf("s3vfs: commit %d of %s is no longer kept, or is about to pass the retention: branch a newer commit "+
			"(run \"s3vfs log %s\" for the commits kept), or give --retention the retention the database is collected with", n, src, src)
	}
	return describeCommit(err, src, n, head)
}
