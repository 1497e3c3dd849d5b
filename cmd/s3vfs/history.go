package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

// The helpers the history commands (log, gc, restore, export --commit)
// share: duration and commit-number arguments, and the errors of a commit
// that is not kept.

// durationFlag is a flag.Value for a duration of at least one second.
type durationFlag struct{ d *time.Duration }

// String implements [fmt.Stringer].
func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return f.d.String()
}

// Set implements [flag.Value].
func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second {
		return errors.New("want a duration of at least 1s such as 24h, 90m or 1h30m")
	}
	*f.d = d
	return nil
}

// fmtDuration drops the zero minutes and seconds of whole hours (24h, not
// 24h0m0s).
func fmtDuration(d time.Duration) string {
	s := d.String()
	for _, z := range []string{"0s", "0m"} {
		if len(s) > len(z)+1 && s[len(s)-len(z):] == z && (s[len(s)-len(z)-1] < '0' || s[len(s)-len(z)-1] > '9') {
			s = s[:len(s)-len(z)]
		}
	}
	return s
}

// registerRetention adds --retention, the retention the database is
// collected with, to a command that opens it.
func (a *awsFlags) registerRetention(fs *flag.FlagSet) {
	fs.Var(durationFlag{&a.retention}, "retention",
		"the `duration` old versions stay readable, as \"s3vfs gc\" uses it (default 24h); a long-lived writer must not use more than the collection")
}

// version is the old version of a database that --commit or --asof name.
type version struct {
	commitArg, asofArg string
	commit             uint64    // --commit, parsed
	asof               time.Time // --asof, parsed
}

// register adds --commit and --asof to fs; verb says what the command does
// with the version.
func (ver *version) register(fs *flag.FlagSet, verb string) {
	fs.StringVar(&ver.commitArg, "commit", "", verb+" commit `N` instead of the newest (see \"s3vfs log\")")
	fs.StringVar(&ver.asofArg, "asof", "", verb+" the newest commit made at or before `TIME` (RFC 3339, e.g. 2026-05-01T12:00:00Z)")
}

// parse checks the flags after parsing.
func (ver *version) parse() error {
	var err error
	switch {
	case ver.commitArg != "" && ver.asofArg != "":
		return usagef("--commit and --asof both name a version: use one of them")
	case ver.commitArg != "":
		ver.commit, err = parseCommit("--commit", ver.commitArg)
	case ver.asofArg != "":
		ver.asof, err = parseTime(ver.asofArg)
	}
	return err
}

// pinned reports whether a version was named.
func (ver *version) pinned() bool { return ver.commit != 0 || !ver.asof.IsZero() }

// uriParams returns the URI parameters that open the version read-only.
func (ver *version) uriParams() string {
	switch {
	case ver.commit != 0:
		return "&commit=" + strconv.FormatUint(ver.commit, 10)
	case !ver.asof.IsZero():
		return "&asof=" + url.QueryEscape(ver.asof.Format(time.RFC3339Nano))
	}
	return ""
}

// describe explains an error about the version of t, whose newest commit
// is head.
func (ver *version) describe(err error, t target, head uint64) error {
	if ver.asof.IsZero() || !errors.Is(err, s3vfs.ErrNoCommit) {
		return describeCommit(err, t, ver.commit, head)
	}
	return fmt.Errorf("s3vfs: no commit of %s as of %s: it is before the oldest commit kept (run \"s3vfs log %s\" for the commits kept)",
		t, ver.asof.Format(time.RFC3339Nano), t)
}

// parseCommit parses a commit number argument.
func parseCommit(what, s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, usagef("%s %q is not a commit number: use a number from 1, as \"s3vfs log\" lists them", what, s)
	}
	return n, nil
}

// parseTime parses an --asof argument.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usagef("--asof %q is not a time: write it in RFC 3339, such as 2026-05-01T12:00:00Z", s)
	}
	return t, nil
}

// describeCommit explains an error about commit n of the database t, whose
// newest commit is head.
func describeCommit(err error, t target, n, head uint64) error {
	if !errors.Is(err, s3vfs.ErrNoCommit) {
		return describe(err, t)
	}
	if n > head {
		return fmt.Errorf("s3vfs: commit %d of %s does not exist: the newest is %d (run \"s3vfs log %s\" for the commits kept)", n, t, head, t)
	}
	return fmt.Errorf("s3vfs: commit %d of %s is no longer kept: it is older than the retention and was collected (run \"s3vfs log %s\" for the commits kept)", n, t, t)
}

// commitAsOf returns the number and file size of the newest commit of t
// made at or before at. The VFS finds it (URI parameter asof=) with a LIST
// of the records and a binary search of GETs.
func commitAsOf(ctx context.Context, v *s3vfs.VFS, t target, at time.Time) (n uint64, size int64, err error) {
	ver := version{asof: at}
	name := fmt.Sprintf("s3vfs-cli-%d", sessions.Add(1))
	vfs.Register(name, v)
	defer vfs.Unregister(name)
	uri := "file:" + (&url.URL{Path: t.key}).EscapedPath() + "?vfs=" + name + ver.uriParams()
	conn, err := sqlite3.OpenFlags(uri, sqlite3.OPEN_READONLY|sqlite3.OPEN_URI)
	if err != nil {
		return 0, 0, ver.describe(err, t, 0)
	}
	defer conn.Close()
	conn.SetInterrupt(ctx)
	var vals [3]int64
	for i, pragma := range []string{"s3vfs_commit", "page_count", "page_size"} {
		stmt, _, err := conn.Prepare("PRAGMA " + pragma)
		if err != nil {
			return 0, 0, describe(err, t)
		}
		if stmt.Step() {
			vals[i] = stmt.ColumnInt64(0)
		}
		err = stmt.Err()
		stmt.Close()
		if err != nil {
			return 0, 0, describe(err, t)
		}
	}
	return uint64(vals[0]), vals[1] * vals[2], nil
}
