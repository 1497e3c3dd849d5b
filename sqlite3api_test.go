package s3vfs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
)

// The VFS works through the sqlite3 package directly, not only database/sql;
// temporary tables, sorts and statement journals stay in memory.
func TestSQLite3API(t *testing.T) {
	e := newEnv(t, nil)
	conn, err := sqlite3.Open("file:api/direct.db?vfs=" + e.name)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, sql := range []string{
		"PRAGMA temp_store=FILE",
		"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)",
		"CREATE TEMP TABLE scratch(v)",
		"INSERT INTO scratch SELECT hex(randomblob(200)) FROM generate_series(1, 2000)",
		"INSERT INTO t(v) SELECT v FROM scratch ORDER BY v DESC",
		"BEGIN; UPDATE t SET v = lower(v) WHERE id % 2 = 0; SAVEPOINT s; DELETE FROM t WHERE id < 10; ROLLBACK TO s; COMMIT",
	} {
		if err := conn.Exec(sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	stmt, _, err := conn.Prepare("SELECT count(*), sum(v = lower(v)) FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	if !stmt.Step() || stmt.ColumnInt(0) != 2000 || stmt.ColumnInt(1) != 1000 {
		t.Fatalf("got %d rows, %d lowered; want 2000, 1000 (%v)", stmt.ColumnInt(0), stmt.ColumnInt(1), stmt.Err())
	}
	keys, err := server.Keys(context.Background(), e.bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "api/direct.db/_") {
			t.Errorf("object outside the database's folders: %s", k)
		}
	}
}
