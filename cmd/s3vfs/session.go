package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"sync/atomic"

	"github.com/aws/smithy-go"
	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

// session is one SQLite connection to a database in S3, for query and
// shell.
type session struct {
	t      target
	v      *s3vfs.VFS
	conn   *sqlite3.Conn
	vfsKey string // the name the VFS is registered under
}

var sessions atomic.Int64

// sessionFlags are the flags of the commands that open a session (query
// and shell): the AWS flags and --retention, the version to read,
// --read-only, and the format of the rows printed.
type sessionFlags struct {
	aws      awsFlags
	ver      version
	readOnly bool
	format   string // --format, or --json; settled by open
}

// register adds the flags to fs; formatUsage is the usage of --format.
func (f *sessionFlags) register(fs *flag.FlagSet, formatUsage string) {
	f.aws.register(fs)
	f.aws.registerRetention(fs)
	f.ver.register(fs, "read")
	fs.BoolVar(&f.readOnly, "read-only", false, "open the database read-only")
	fs.StringVar(&f.format, "format", "", formatUsage)
	registerJSONFormat(fs, &f.format)
}

// parse makes the flag set of command name, whose usage text is help and
// goes to stdout, with the session flags (formatUsage telling --format)
// and those extra registers if it is not nil, then parses args with it.
func (f *sessionFlags) parse(name, help, formatUsage string, stdout io.Writer, args []string, extra func(*flag.FlagSet)) (*flag.FlagSet, error) {
	fs := newFlagSet(name, help, stdout)
	f.register(fs, formatUsage)
	if extra != nil {
		extra(fs)
	}
	return fs, parseFlags(fs, args)
}

// open checks the format and version flags, the format's default being
// the one for stdout, and opens a session on the database arg names, as
// the flags say.
func (f *sessionFlags) open(ctx context.Context, arg string, stdout io.Writer) (*session, error) {
	if err := settleFormat(&f.format, stdout); err != nil {
		return nil, err
	}
	if err := f.ver.parse(); err != nil {
		return nil, err
	}
	return openSession(ctx, &f.aws, arg, f.readOnly, &f.ver)
}

// openSession connects to the database arg names (s3://BUCKET/KEY). A
// database that does not exist yet is created by the first write, unless
// readOnly. If at names an old version, the session reads it, read-only.
func openSession(ctx context.Context, a *awsFlags, arg string, readOnly bool, at *version) (*session, error) {
	readOnly = readOnly || at.pinned()
	t, v, err := a.open(ctx, arg)
	if err != nil {
		return nil, err
	}
	s := &session{t: t, v: v, vfsKey: fmt.Sprintf("s3vfs-cli-%d", sessions.Add(1))}
	vfs.Register(s.vfsKey, v)
	flags := sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE
	if readOnly {
		flags = sqlite3.OPEN_READONLY
	}
	uri := "file:" + (&url.URL{Path: t.key}).EscapedPath() + "?vfs=" + s.vfsKey + at.uriParams()
	conn, openErr := sqlite3.OpenFlags(uri, flags|sqlite3.OPEN_URI)
	// Then the probe: a missing bucket, bad credentials or a missing
	// database are reported as one clear line, not as a failed SQLite
	// open. After the open it reuses the head the open read (one request,
	// the freshness check) instead of reading it again.
	info, err := v.Info(ctx, t.key)
	if err != nil && (!errors.Is(err, s3vfs.ErrNoDatabase) || readOnly) {
		openErr = describe(err, t)
	} else if openErr != nil {
		openErr = at.describe(openErr, t, info.Commit)
	}
	if openErr != nil {
		if conn != nil {
			conn.Close()
		}
		vfs.Unregister(s.vfsKey)
		return nil, openErr
	}
	s.conn = conn
	return s, nil
}

// Close closes the connection.
func (s *session) Close() error {
	err := s.conn.Close()
	vfs.Unregister(s.vfsKey)
	return err
}

// describe adds to err the database it is about and the likely fix. Where
// it gives a fix the library's message also gives (a missing bucket,
// access denied), it replaces that message rather than add to it: each
// fix is given once.
func describe(err error, t target) error {
	switch {
	case errors.Is(err, s3vfs.ErrNoDatabase):
		return fmt.Errorf("s3vfs: no database at %s: check the bucket and key, or create one with \"s3vfs import FILE %s\"", t, t)
	case errors.Is(err, s3vfs.ErrNoBucket):
		return fmt.Errorf("s3vfs: bucket %q does not exist: create it (aws s3 mb s3://%s) or fix the bucket name", t.bucket, t.bucket)
	case errors.Is(err, s3vfs.ErrAccessDenied):
		code := "AccessDenied"
		var api smithy.APIError
		if errors.As(err, &api) {
			code = api.ErrorCode()
		}
		return fmt.Errorf("s3vfs: access denied to %s (%s): check the AWS credentials and their permissions on bucket %s", t, code, t.bucket)
	}
	var se *sqlite3.Error
	if errors.As(err, &se) && se.Code() == sqlite3.NOTADB {
		return fmt.Errorf("s3vfs: %s is not a SQLite database: its objects do not hold a valid SQLite file", t)
	}
	if be := (*busyError)(nil); errors.As(err, &be) {
		return be.describe(t)
	}
	return err
}
