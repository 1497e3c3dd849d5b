package main

import (
	"context"
	"flag"
	"strings"

	"github.com/s3vfs/s3vfs"
)

// target is a database named s3://BUCKET/KEY.
type target struct {
	bucket string
	key    string
}

// String implements [fmt.Stringer].
func (t target) String() string { return "s3://" + t.bucket + "/" + t.key }

// parseTarget parses an s3://BUCKET/KEY argument. As with the aws command,
// the key is everything after the bucket, verbatim: "%20", "?" and "#"
// are characters of the key, not URL syntax.
func parseTarget(s string) (target, error) {
	const example = "s3://my-bucket/path/app.db"
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return target{}, usagef("%q is not an S3 database name: write it as %s", s, example)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	t := target{bucket: bucket, key: key}
	switch {
	case t.bucket == "":
		return target{}, usagef("%q names no bucket: write it as %s", s, example)
	case strings.IndexFunc(t.bucket, func(r rune) bool { return !bucketRune(r) }) >= 0:
		return target{}, usagef("%q is not a valid S3 database name: %q is not a bucket name (letters, digits, '.', '-' and '_' only): write it as %s", s, t.bucket, example)
	case t.key == "" || strings.HasSuffix(t.key, "/"):
		return target{}, usagef("%q names no database key after the bucket: write it as %s", s, example)
	}
	return t, nil
}

// bucketRune reports whether r may appear in a bucket name: S3's rules
// (lower-case letters, digits, '.', '-'), with the upper-case letters and
// '_' that older buckets and some S3-compatible stores allow.
func bucketRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
}

// open parses arg, a database named s3://BUCKET/KEY, and builds the S3
// client and the VFS of its bucket from the flags. Commands check the rest
// of their command line first, so that a usage error needs no AWS
// configuration.
func (a *awsFlags) open(ctx context.Context, arg string) (target, *s3vfs.VFS, error) {
	t, err := parseTarget(arg)
	if err != nil {
		return target{}, nil, err
	}
	v, err := a.vfs(ctx, t)
	if err != nil {
		return target{}, nil, err
	}
	return t, v, nil
}

// openExisting is open for a command on a database that must exist: it
// also reads the database's [s3vfs.Info], which reports a missing bucket,
// missing credentials or a missing database as one line.
func (a *awsFlags) openExisting(ctx context.Context, arg string) (target, *s3vfs.VFS, s3vfs.Info, error) {
	t, v, err := a.open(ctx, arg)
	if err != nil {
		return target{}, nil, s3vfs.Info{}, err
	}
	info, err := v.Info(ctx, t.key)
	if err != nil {
		return target{}, nil, s3vfs.Info{}, describe(err, t)
	}
	return t, v, info, nil
}

// parseOneDatabase parses the command line of a command whose one
// argument is a database, s3://BUCKET/KEY, with flags before or after it
// (parseFlagsAnywhere).
func parseOneDatabase(fs *flag.FlagSet, args []string) error {
	if err := parseFlagsAnywhere(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		name := strings.TrimPrefix(fs.Name(), "s3vfs ")
		return usagef("%s needs one database: s3vfs %s s3://BUCKET/KEY", name, name)
	}
	return nil
}
