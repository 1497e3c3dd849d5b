package s3vfs_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
)

// VACUUM INTO a local file from a connection on the s3 VFS: the target is
// opened by the main database's VFS unless its URI names another, so an
// absolute path is refused as a key, with an error that names the fix.
func TestVacuumIntoLocal(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("vi.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 300)
		INSERT INTO t SELECT i, hex(randomblob(50)) FROM c`)
	sum := queryString(t, db, "SELECT group_concat(v, '') FROM (SELECT v FROM t ORDER BY id)")

	dir := t.TempDir()

	// The plain path is taken as a key of the bucket and refused, naming
	// the URI form that writes a local file.
	plain := filepath.Join(dir, "plain.db")
	_, err := db.Exec("VACUUM INTO ?", plain)
	if err == nil || !errors.Is(err, sqlite3.CANTOPEN) ||
		!strings.Contains(err.Error(), "starts with '/'") ||
		!strings.Contains(err.Error(), "VACUUM INTO 'file:/tmp/x.db?vfs=os'") {
		t.Fatalf("VACUUM INTO %s: got %v, want SQLITE_CANTOPEN naming VACUUM INTO 'file:/tmp/x.db?vfs=os'", plain, err)
	}

	// The fix the message names works.
	local := filepath.Join(dir, "x.db")
	mustExec(t, db, "VACUUM INTO ?", "file:"+local+"?vfs=os")
	l, err := sql.Open("sqlite3", "file:"+local+"?vfs=os&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	integrityOK(t, l)
	if got := queryInt(t, l, "SELECT count(*) FROM t"); got != 300 {
		t.Fatalf("the local copy has %d rows, want 300", got)
	}
	if got := queryString(t, l, "SELECT group_concat(v, '') FROM (SELECT v FROM t ORDER BY id)"); got != sum {
		t.Fatal("the local copy's rows differ from the database's")
	}

	// ATTACH takes the same URI form; the plain path gets the same error.
	if _, err := db.Exec("ATTACH ? AS plain", plain); err == nil ||
		!strings.Contains(err.Error(), "vfs=os") {
		t.Fatalf("ATTACH %s: got %v, want the error naming vfs=os", plain, err)
	}
	mustExec(t, db, "ATTACH ? AS l", "file:"+local+"?vfs=os")
	if got := queryInt(t, db, "SELECT count(*) FROM l.t"); got != 300 {
		t.Fatalf("the attached local copy has %d rows, want 300", got)
	}
	mustExec(t, db, "DETACH l")

	// There is no "unix" VFS in this build: "os" is the name to give.
	if _, err := db.Exec("VACUUM INTO ?", "file:"+filepath.Join(dir, "u.db")+"?vfs=unix"); err == nil ||
		!strings.Contains(err.Error(), "no such vfs") {
		t.Fatalf("vfs=unix: got %v, want no such vfs", err)
	}
}
