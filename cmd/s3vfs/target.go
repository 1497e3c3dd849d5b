package main

import (
	"context"
	"net/url"
	"strings"

	"github.com/s3vfs/s3vfs"
)

// target is a database named s3://BUCKET/KEY.
type target struct {
	bucket string
	key    string
}

func (t target) String() string { return "s3://" + t.bucket + "/" + t.key }

// parseTarget parses an s3://BUCKET/KEY argument.
func parseTarget(s string) (target, error) {
	const example = "s3://my-bucket/path/app.db"
	if !strings.HasPrefix(s, "s3://") {
		return target{}, usagef("%q is not an S3 database name: write it as %s", s, example)
	}
	u, err := url.Parse(s)
	if err != nil || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return target{}, usagef("%q is not a valid S3 database name: write it as %s (no query, fragment or user)", s, example)
	}
	t := target{bucket: u.Host, key: strings.TrimPrefix(u.Path, "/")}
	switch {
	case t.bucket == "":
		return target{}, usagef("%q names no bucket: write it as %s", s, example)
	case t.key == "" || strings.HasSuffix(t.key, "/"):
		return target{}, usagef("%q names no database key after the bucket: write it as %s", s, example)
	}
	return t, nil
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
