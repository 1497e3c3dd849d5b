// Package sqltest holds what the tests of several packages share for
// checking databases with plain SQLite.
package sqltest

import (
	"database/sql"
	"testing"

	_ "github.com/ncruces/go-sqlite3/driver" // the "sqlite3" driver
)

// OpenLocal opens the SQLite file at path on local disk with SQLite's
// default VFS, on one connection, closed when the test ends.
func OpenLocal(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}
