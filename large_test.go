package s3vfs_test

import (
	"testing"

	"github.com/s3vfs/s3vfs"
)

// A database that crosses the lock-byte page at 1 GiB, which SQLite never
// writes: page = block = 64 KiB, about 1.2 GB of blobs, deleted and
// inserted again.
func TestLockBytePage(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2.4 GB through S3; runs without -short (CI runs it)")
	}
	e := newEnv(t, &s3vfs.Options{BlockSize: 65536})
	db := e.open("large.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA page_size=65536")
	mustExec(t, db, "CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)")

	const rows, perTx = 1150, 50 // 1 MiB each
	fill := func() {
		for i := 0; i < rows; i += perTx {
			mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
				INSERT INTO blobs SELECT i, randomblob(1048576) FROM n`, i, i+perTx)
		}
	}
	fill()
	size := queryInt(t, db, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
	if size <= 1<<30 {
		t.Fatalf("database is %d bytes: it does not cross the lock-byte page", size)
	}
	integrityOK(t, db)
	mustExec(t, db, "DELETE FROM blobs")
	integrityOK(t, db)
	fill()
	if got := queryInt(t, db, "SELECT count(*) FROM blobs WHERE length(b) = 1048576"); got != rows {
		t.Fatalf("%d rows, want %d", got, rows)
	}
	integrityOK(t, db)

	// Another process's view, from nothing cached.
	db2 := openDB(t, e.register(e.newVFS(nil)), "large.db")
	integrityOK(t, db2)
	t.Logf("%d bytes; %v", size, e.vfs.Stats())
}
