package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/s3vfs/s3vfs"
)

const migrateHelp = `
Usage: s3vfs migrate [flags] s3://BUCKET/KEY

Copies a database that the Python library sqlite-s3vfs keeps at KEY
(objects KEY/0000000000, KEY/0000000001, ...) into the s3vfs format, as one
atomic commit: in place (the two layouts' names never collide) or to
another key with --to. The new database is verified before anything is
deleted: it serializes to the same bytes as the old one and passes
integrity_check. The old objects are kept unless --delete-legacy. Running
it again finds the database migrated and copies nothing. Stop every Python
writer first; see docs/migrating.md.

Examples:

	s3vfs migrate s3://my-bucket/legacy/app.db
	s3vfs migrate --to s3://my-bucket/app.db --delete-legacy s3://my-bucket/legacy/app.db
`

// migrateCommand moves a Python-layout database to the s3vfs format.
type migrateCommand struct {
	ioStreams
	aws awsFlags
}

// Run implements command.
func (c *migrateCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("migrate", migrateHelp, c.stdout)
	c.aws.register(fs)
	to := fs.String("to", "", "the new database, s3://BUCKET/KEY in the same bucket (default: in place)")
	deleteLegacy := fs.Bool("delete-legacy", false, "delete the old objects once the new database is published and verified")
	fs.IntVar(&c.aws.blockSize, "block-size", 0, fmt.Sprintf("block object size in `bytes` of the new database (default %d)", s3vfs.DefaultBlockSize))
	if err := parseOneDatabase(fs, args); err != nil {
		return err
	}
	var dest target
	if *to != "" {
		var err error
		if dest, err = parseTarget(*to); err != nil {
			return err
		}
	}
	t, v, err := c.aws.open(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	switch {
	case *to == "":
		dest = t
	case dest.bucket != t.bucket:
		return usagef("--to %s is in another bucket than %s: migrate within the bucket, then copy with s3vfs export and import", dest, t)
	}
	opts := &s3vfs.MigrateOptions{To: dest.key, BlockSize: c.aws.blockSize, DeleteLegacy: *deleteLegacy}
	var finish func()
	opts.Progress, finish = progressFunc("migrate", c.stderr)
	r, err := v.Migrate(ctx, t.key, opts)
	finish() // the bar's line ends before anything else is printed
	switch {
	case errors.Is(err, s3vfs.ErrNoDatabase):
		return err // names the objects it looked for
	case err != nil:
		return describe(err, t)
	}
	switch {
	case r.Native:
		fmt.Fprintf(c.stdout, "%s is already an s3vfs database (commit %d), not one in the Python sqlite-s3vfs layout: nothing to migrate\n", t, r.Commit)
		return nil
	case r.AlreadyMigrated:
		fmt.Fprintf(c.stdout, "%s already holds this database (commit %d): nothing copied\n", dest, r.Commit)
	default:
		fmt.Fprintf(c.stdout, "migrated %s to %s: %d bytes, commit %d, verified\n", t, dest, r.Bytes, r.Commit)
	}
	if *deleteLegacy {
		fmt.Fprintf(c.stdout, "deleted %d objects of the old layout\n", r.LegacyDeleted)
	}
	return nil
}
