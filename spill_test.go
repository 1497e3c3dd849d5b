package s3vfs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/s3vfs/s3vfs"
)

// A transaction larger than the write buffer uploads blocks early: it
// reads its own writes back, commits as one, and its early uploads vanish
// when it rolls back or when they are superseded.
func TestLargeTransactionSpills(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096, WriteBuffer: 64 << 10, CacheSize: -1})
	db := e.open("spill.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA cache_size=-256") // a small page cache: SQLite spills too
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")

	fill := func(n int) {
		mustExec(t, db, `INSERT INTO t(v) SELECT hex(randomblob(300)) FROM generate_series(1, ?)`, n)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO t(v) SELECT hex(randomblob(300)) FROM generate_series(1, 5000)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE t SET v = lower(v) WHERE id % 3 = 0`); err != nil {
		t.Fatal(err)
	}
	var lowered int
	if err := tx.QueryRow(`SELECT count(*) FROM t WHERE v = lower(v)`).Scan(&lowered); err != nil || lowered != 1666 {
		t.Fatalf("inside the transaction: %d lowered, %v", lowered, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, db, "SELECT count(*) FROM t"); got != 0 {
		t.Fatalf("after ROLLBACK: %d rows", got)
	}
	keys, _ := server.Keys(context.Background(), e.bucket, "spill.db/_blocks/")
	for _, k := range keys {
		if !strings.Contains(k, ".0000000000000000001.") {
			t.Errorf("left behind by a rolled back transaction: %s", k)
		}
	}

	before := e.vfs.Stats()
	fill(5000)
	d := e.vfs.Stats().Sub(before)
	if d.Commits != 1 {
		t.Fatalf("%d commits, want 1", d.Commits)
	}
	integrityOK(t, db)
	db2 := openDB(t, e.register(e.newVFS(nil)), "spill.db")
	if got := queryInt(t, db2, "SELECT count(*) FROM t"); got != 5000 {
		t.Fatalf("another process sees %d rows", got)
	}
	integrityOK(t, db2)
	// Every block object left is one the newest commit references or one
	// of the two that CREATE TABLE wrote: no superseded early upload.
	keys, _ = server.Keys(context.Background(), e.bucket, "spill.db/_blocks/")
	size := queryInt(t, db2, "SELECT page_count FROM pragma_page_count")
	if int64(len(keys)) > size+2 {
		t.Errorf("%d block objects for %d blocks: superseded early uploads remain", len(keys), size)
	}
	t.Logf("spilled transaction: %v", d)
}
