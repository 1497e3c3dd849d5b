package s3vfs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// TestHungServerBounded: when every request hangs, reads and commits fail
// within Options.RequestTimeout with SQLITE_IOERR carrying the S3 cause,
// rather than hanging.
func TestHungServerBounded(t *testing.T) {
	opts := &s3vfs.Options{BlockSize: 4096, RequestTimeout: 2 * time.Second, AttemptTimeout: 300 * time.Millisecond}
	e := newEnv(t, opts)
	db := e.open("hung.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	// A megabyte: more than a record carries (format version 2), so most
	// blocks are objects that the other process has not read yet.
	mustExec(t, db, "INSERT INTO t SELECT randomblob(1000) FROM generate_series(1, 1000)")

	// Another process, opened before the server hangs; staleness lets its
	// transactions skip the head check, so its first query reads a block.
	v2 := e.register(e.newVFS(opts))
	db2 := openDB(t, v2, "hung.db", "staleness=60000")
	if err := db2.Ping(); err != nil {
		t.Fatal(err)
	}

	s3test.NewFaults(1, 1, s3test.Hang).Install(e.proxy)
	defer e.proxy.SetHook(nil)

	check := func(what string, err error, elapsed time.Duration, code sqlite3.ErrorCode) {
		t.Helper()
		var s3err *s3vfs.Error
		switch {
		case err == nil:
			t.Fatalf("%s: no error with a hung server", what)
		case !errors.Is(err, code):
			t.Fatalf("%s: %v, want %v", what, err, code)
		case !errors.As(err, &s3err):
			t.Fatalf("%s: %v does not carry the S3 error", what, err)
		case !strings.Contains(err.Error(), "deadline exceeded"):
			t.Fatalf("%s: %v does not say that the request timed out", what, err)
		case elapsed > 4*opts.RequestTimeout:
			t.Fatalf("%s took %v, more than the request timeout %v allows", what, elapsed, opts.RequestTimeout)
		}
		t.Logf("%s: %v after %v", what, err, elapsed.Round(time.Millisecond))
	}

	start := time.Now()
	_, err := db.Exec("INSERT INTO t VALUES (2)")
	check("write", err, time.Since(start), sqlite3.IOERR)

	start = time.Now()
	var n int
	err = db2.QueryRow("SELECT count(*) FROM t").Scan(&n)
	check("block read", err, time.Since(start), sqlite3.IOERR)

	start = time.Now()
	err = openDB(t, e.register(e.newVFS(opts)), "hung.db").Ping()
	check("open", err, time.Since(start), sqlite3.CANTOPEN)
}

// TestCancelInFlight: cancelling a query's context cancels its S3
// requests, even with generous timeouts.
func TestCancelInFlight(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("cancel.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	// A megabyte: more than a record carries (format version 2), so most
	// blocks are objects that the other process has not read yet.
	mustExec(t, db, "INSERT INTO t SELECT randomblob(1000) FROM generate_series(1, 1000)")

	// Another process with an empty cache; its first read must go to S3.
	// (Opening is not cancellable: it happens before the query's context
	// reaches the connection, and is bounded by Options.RequestTimeout.)
	db2 := openDB(t, e.register(e.newVFS(&s3vfsOptsSmall)), "cancel.db")
	if err := db2.Ping(); err != nil {
		t.Fatal(err)
	}
	s3test.NewFaults(2, 1, s3test.Hang).Install(e.proxy)
	defer e.proxy.SetHook(nil)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	var n int
	err := db2.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("query with a hung server returned no error")
	}
	if elapsed > 5*time.Second {
		t.Fatalf("cancelled query returned after %v", elapsed)
	}
	t.Logf("%v after %v", err, elapsed.Round(time.Millisecond))
}

// TestHungListAndDeleteBounded: LIST and DELETE requests are bounded by
// Options.RequestTimeout like every other request; a GC against a server
// whose listings hang fails instead of hanging, and so does the cleanup
// of the store's self-test when deletes hang.
func TestHungListAndDeleteBounded(t *testing.T) {
	opts := &s3vfs.Options{BlockSize: 4096, RequestTimeout: time.Second, AttemptTimeout: 200 * time.Millisecond}
	e := newEnv(t, opts)
	db := e.open("hunglist.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	db.Close()
	defer e.proxy.SetHook(nil)

	bounded := func(what string, kind s3proxy.Kind, run func() error) {
		t.Helper()
		s3test.NewFaults(3, 1, s3test.Hang).Only(func(r s3proxy.Request) bool { return r.Kind == kind }).Install(e.proxy)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- run() }()
		select {
		case err := <-done:
			if elapsed := time.Since(start); elapsed > 4*opts.RequestTimeout {
				t.Fatalf("%s took %v, more than the request timeout %v allows", what, elapsed, opts.RequestTimeout)
			}
			if err != nil && !strings.Contains(err.Error(), "deadline exceeded") {
				t.Fatalf("%s: %v does not say that the request timed out", what, err)
			}
			t.Logf("%s: %v after %v", what, err, time.Since(start).Round(time.Millisecond))
		case <-time.After(20 * opts.RequestTimeout):
			t.Fatalf("%s still running after %v: a %s request is not bounded by the request timeout", what, time.Since(start), kind)
		}
	}
	bounded("GC with hung listings", s3proxy.LIST, func() error {
		_, err := e.vfs.GC(context.Background(), "hunglist.db", nil)
		if err == nil {
			return errors.New("GC succeeded although every LIST hung")
		}
		return err
	})
	// The self-test's cleanup ignores its error, but must not hang.
	bounded("store check with hung deletes", s3proxy.DELETE, func() error {
		_, err := e.newVFS(opts).CheckStore(context.Background())
		return err
	})
}
