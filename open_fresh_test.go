package s3vfs_test

import (
	"testing"
)

// SQLite reads the header of a database at open without taking a lock,
// and takes the page size from it. A new connection in a process that
// already knows the database must therefore see the newest head at open:
// after another process changed the page size (PRAGMA page_size; VACUUM),
// it reports the new size, not the one cached by the process.
func TestOpenSeesNewPageSize(t *testing.T) {
	e := newEnv(t, nil)
	key := "fresh/pagesize.db"

	// Process A makes the database and keeps it open.
	a := e.open(key)
	a.SetMaxOpenConns(1)
	mustExec(t, a, "PRAGMA page_size=4096")
	mustExec(t, a, "CREATE TABLE t(x)")
	mustExec(t, a, "INSERT INTO t VALUES (1), (2), (3)")
	if got := queryInt(t, a, "PRAGMA page_size"); got != 4096 {
		t.Fatalf("page_size = %d, want 4096", got)
	}

	// Process B changes the page size.
	b := openDB(t, e.register(e.newVFS(nil)), key)
	b.SetMaxOpenConns(1)
	mustExec(t, b, "PRAGMA page_size=8192")
	mustExec(t, b, "VACUUM")
	if got := queryInt(t, b, "PRAGMA page_size"); got != 8192 {
		t.Fatalf("process B: page_size = %d after VACUUM, want 8192", got)
	}

	// A new connection of process A, asked first thing.
	a2 := e.open(key)
	if got := queryInt(t, a2, "PRAGMA page_size"); got != 8192 {
		t.Errorf("a new connection of process A: page_size = %d, want the new 8192", got)
	}
	if got := queryInt(t, a2, "SELECT count(*) FROM t"); got != 3 {
		t.Errorf("a new connection of process A: %d rows, want 3", got)
	}
	if got := queryInt(t, a2, "PRAGMA page_size"); got != 8192 {
		t.Errorf("a new connection of process A, after a read: page_size = %d, want 8192", got)
	}
	integrityOK(t, a2)

	// With staleness= the process may serve its cached head at open, as it
	// would at the start of a transaction: that is what staleness= allows,
	// and it saves the request.
	e.proxy.Reset()
	a3 := e.open(key, "staleness=600000")
	if got := queryInt(t, a3, "PRAGMA page_size"); got != 8192 {
		t.Errorf("staleness=: page_size = %d, want 8192", got)
	}
	if got := e.proxy.Total(); got != 0 {
		t.Errorf("staleness=: a new connection made %d requests (%v), want none", got, e.proxy.Counts())
	}
}
