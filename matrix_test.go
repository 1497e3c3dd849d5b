package s3vfs_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/sqltest"
)

// The test matrix of the Python library this package descends from: every
// page size, block sizes around a page and the default, every rollback
// journal mode. With -short (the race run of CI, after the whole matrix
// ran without it) the page sizes are the smallest, the default and the
// largest: the race detector looks for races, which the page size does not
// change.
var (
	matrixPageSizes      = []int{512, 1024, 2048, 4096, 8192, 16384, 32768, 65536}
	matrixShortPageSizes = []int{512, 4096, 65536}
	matrixBlockSizes     = []int{4095, 4096, 4097, 0} // 0: the default
	matrixJournalModes   = []string{"DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF"}
)

func TestMatrix(t *testing.T) {
	for _, bs := range matrixBlockSizes {
		t.Run(fmt.Sprintf("block=%d", bs), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, &s3vfs.Options{BlockSize: bs})
			pageSizes := matrixPageSizes
			if testing.Short() {
				pageSizes = matrixShortPageSizes
			}
			for _, ps := range pageSizes {
				for _, jm := range matrixJournalModes {
					t.Run(fmt.Sprintf("page=%d/%s", ps, jm), func(t *testing.T) {
						e.t = t
						runMatrixCase(t, e, ps, jm)
					})
				}
			}
		})
	}
}

// createFoo runs the Python library's fixture on db: table foo with 100 rows
// (1, 2) and empty tables foo_0 … foo_9.
func createFoo(t testing.TB, db *sql.DB, pageSize int, journal string) {
	t.Helper()
	mustExec(t, db, fmt.Sprintf("PRAGMA page_size=%d", pageSize))
	mustExec(t, db, "PRAGMA journal_mode="+journal)
	mustExec(t, db, "CREATE TABLE foo(x, y)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := tx.Exec("INSERT INTO foo VALUES (1, 2)"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if _, err := tx.Exec(fmt.Sprintf("CREATE TABLE foo_%d(x, y)", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func dropAllAndVacuum(t testing.TB, db *sql.DB) {
	t.Helper()
	mustExec(t, db, "DROP TABLE foo")
	for i := range 10 {
		mustExec(t, db, fmt.Sprintf("DROP TABLE foo_%d", i))
	}
	mustExec(t, db, "VACUUM")
}

func runMatrixCase(t *testing.T, e *env, pageSize int, journal string) {
	ctx := context.Background()
	key := fmt.Sprintf("matrix/%d/%s.sqlite", pageSize, journal)
	db := e.open(key)
	db.SetMaxOpenConns(1)
	createFoo(t, db, pageSize, journal)
	integrityOK(t, db)
	if got := queryInt(t, db, "PRAGMA page_size"); got != int64(pageSize) {
		t.Fatalf("page_size = %d, want %d", got, pageSize)
	}

	// The same database on local disk, for sizes.
	local := filepath.Join(t.TempDir(), "local.sqlite")
	ldb := sqltest.OpenLocal(t, local)
	createFoo(t, ldb, pageSize, journal)

	// ROLLBACK of an INSERT and of an UPDATE leaves the data unchanged.
	if journal != "OFF" {
		checkRollback(t, db)
	}

	// Reopen (another VFS: nothing cached) and query.
	db.Close()
	db2 := openDB(t, e.register(e.newVFS(nil)), key)
	if got := queryInt(t, db2, "SELECT count(*) FROM foo WHERE x = 1 AND y = 2"); got != 100 {
		t.Fatalf("after reopen: %d rows, want 100", got)
	}
	integrityOK(t, db2)

	checkSerialized(t, e, key, local)
	dropAllAndVacuum(t, db2)
	dropAllAndVacuum(t, ldb)
	checkSerialized(t, e, key, local)

	// Deserialize a local database fed in uneven chunks, and query it.
	ldb.Close()
	ldb = sqltest.OpenLocal(t, local)
	createFoo(t, ldb, pageSize, journal)
	ldb.Close()
	raw, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	key2 := key + ".restored"
	if err := e.vfs.Deserialize(ctx, key2, &unevenReader{data: raw}); err != nil {
		t.Fatal(err)
	}
	db3 := openDB(t, e.register(e.newVFS(nil)), key2)
	if got := queryInt(t, db3, "SELECT count(*) FROM foo"); got != 100 {
		t.Fatalf("deserialized: %d rows, want 100", got)
	}
	integrityOK(t, db3)
}

// checkSerialized checks that both forms of Serialize yield a file that
// plain SQLite opens, with the size of the local copy.
func checkSerialized(t *testing.T, e *env, key, local string) {
	t.Helper()
	ctx := context.Background()
	var viaIter bytes.Buffer
	for b, err := range e.vfs.Serialize(ctx, key) {
		if err != nil {
			t.Fatal(err)
		}
		viaIter.Write(b)
	}
	r := e.vfs.SerializeReader(ctx, key)
	viaReader, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(viaIter.Bytes(), viaReader) {
		t.Fatal("Serialize and SerializeReader differ")
	}
	st, err := os.Stat(local)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(viaReader)) != st.Size() {
		t.Fatalf("serialized %d bytes, the same database on disk has %d", len(viaReader), st.Size())
	}
	out := filepath.Join(t.TempDir(), "serialized.sqlite")
	if err := os.WriteFile(out, viaReader, 0o644); err != nil {
		t.Fatal(err)
	}
	sdb := sqltest.OpenLocal(t, out)
	integrityOK(t, sdb)
	sdb.Close()
}

func checkRollback(t *testing.T, db *sql.DB) {
	t.Helper()
	sum := func() int64 { return queryInt(t, db, "SELECT count(*) * 1000 + total(x) + total(y) FROM foo") }
	before := sum()
	rollbackEach(t, db, []string{"INSERT INTO foo VALUES (3, 4)", "UPDATE foo SET y = 5"}, func(stmt string) {
		if after := sum(); after != before {
			t.Fatalf("after ROLLBACK of %q: checksum %d, want %d", stmt, after, before)
		}
	})
}

// unevenReader returns its data in chunks of varying, awkward sizes.
type unevenReader struct {
	data []byte
	i    int
}

func (r *unevenReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	sizes := []int{1, 7, 4095, 100, 65537, 3, 12345}
	n := min(len(p), len(r.data), sizes[r.i%len(sizes)])
	r.i++
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}
