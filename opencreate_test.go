package s3vfs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
)

// TestOpenWithoutCreate: as plain SQLite does with a missing file, a key
// that holds no database opened with mode=ro or mode=rw fails with
// SQLITE_CANTOPEN, naming the key and the fix, and writes nothing; the
// default mode (rwc) creates it, and the modes then open it.
func TestOpenWithoutCreate(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	for _, mode := range []string{"ro", "rw"} {
		db := e.open("typo.db", "mode="+mode)
		_, err := db.Exec("CREATE TABLE t(x)")
		if !errors.Is(err, sqlite3.CANTOPEN) || !errors.Is(err, s3vfs.ErrNoDatabase) ||
			!strings.Contains(err.Error(), "/typo.db was opened without create") || !strings.Contains(err.Error(), "mode=rwc") {
			t.Errorf("mode=%s on a missing key: %v, want SQLITE_CANTOPEN naming the key and mode=rwc", mode, err)
		}
	}
	if written := e.proxy.Written(); len(written) != 0 {
		t.Fatalf("opens without create wrote %v", written)
	}
	mustExec(t, e.open("typo.db"), "CREATE TABLE t(x)")
	mustExec(t, e.open("typo.db", "mode=rw"), "INSERT INTO t VALUES (1)")
	if got := queryInt(t, e.open("typo.db", "mode=ro"), "SELECT count(*) FROM t"); got != 1 {
		t.Errorf("mode=ro reads %d rows, want 1", got)
	}
}

// TestOpenWithoutCreateAsksAgain: a process that knows the key as empty
// (a connection opened before another process created the database) asks
// S3 again before it refuses an open without create.
func TestOpenWithoutCreateAsksAgain(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	early := e.open("later.db")
	if got := queryInt(t, early, "SELECT count(*) FROM sqlite_schema"); got != 0 {
		t.Fatalf("%d schema rows in a key that holds nothing", got)
	}
	other := openDB(t, e.register(e.newVFS(&s3vfsOptsSmall)), "later.db")
	mustExec(t, other, "CREATE TABLE t(x)")
	for _, params := range [][]string{{"mode=ro", "immutable=1"}, {"mode=rw", "staleness=60000"}} {
		if got := queryInt(t, e.open("later.db", params...), "SELECT count(*) FROM sqlite_schema"); got != 1 {
			t.Errorf("%v: %d schema rows, want 1", params, got)
		}
	}
}
