package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// Scenarios in which ordinary SQLite settings and features used to lose or
// hide committed data (docs/reliability.md, "SQLite settings").

// A transaction that changes two databases of one connection is refused at
// COMMIT before anything is published, whatever journal mode and whatever
// main database; each database alone commits as usual.
func TestAttachTwoDatabasesRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		main string // "s3", "local" or "memory"
		mode string // journal mode of every database
	}{
		{"s3+s3/DELETE", "s3", "DELETE"},     // a super-journal
		{"s3+s3/MEMORY", "s3", "MEMORY"},     // no super-journal: each database commits alone
		{"memory+s3+s3", "memory", "DELETE"}, // no super-journal: the main database has no file
		{"local+s3/DELETE", "local", "DELETE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil)
			mainDSN := "file:a.db?vfs=" + e.name
			switch c.main {
			case "local":
				mainDSN = "file:" + filepath.Join(t.TempDir(), "a.db") + "?vfs=os"
			case "memory":
				mainDSN = ":memory:"
			}
			init := []string{
				"PRAGMA journal_mode=" + c.mode,
				"ATTACH 'file:b.db?vfs=" + e.name + "' AS b",
				"PRAGMA b.journal_mode=" + c.mode,
			}
			first := "main"
			if c.main == "memory" {
				init = append(init, "ATTACH 'file:a.db?vfs="+e.name+"' AS a", "PRAGMA a.journal_mode="+c.mode)
				first = "a"
			}
			db := openWithInit(t, mainDSN, init...)
			db.SetMaxOpenConns(1)
			mustExec(t, db, "CREATE TABLE "+first+".t(x)")
			mustExec(t, db, "CREATE TABLE b.t(x)")

			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"INSERT INTO " + first + ".t VALUES ('both')", "INSERT INTO b.t VALUES ('both')"} {
				if _, err := tx.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			err = tx.Commit()
			if !errors.Is(err, s3vfs.ErrUnsupported) || !strings.Contains(err.Error(), "another database") {
				t.Fatalf("COMMIT of a transaction over two databases: %v, want ErrUnsupported naming the cause", err)
			}
			for _, q := range []string{"SELECT count(*) FROM " + first + ".t", "SELECT count(*) FROM b.t"} {
				if n := queryInt(t, db, q); n != 0 {
					t.Fatalf("%s on the same connection = %d after the refused COMMIT, want 0", q, n)
				}
			}
			fresh := e.register(e.newVFS(nil))
			for _, key := range []string{"a.db", "b.db"} {
				if c.main == "local" && key == "a.db" {
					continue
				}
				if n := queryInt(t, openDB(t, fresh, key), "SELECT count(*) FROM t"); n != 0 {
					t.Fatalf("a new process reads %d rows in %s after the refused COMMIT, want 0: part of it was published", n, key)
				}
			}
			// One database per transaction works.
			mustExec(t, db, "INSERT INTO "+first+".t VALUES ('alone')")
			mustExec(t, db, "INSERT INTO b.t VALUES ('alone')")
			if n := queryInt(t, openDB(t, e.register(e.newVFS(nil)), "b.db"), "SELECT count(*) FROM t"); n != 1 {
				t.Fatalf("b.db has %d rows, want 1", n)
			}
		})
	}
}

// A transaction that changes only the attached s3vfs database, and whose
// PUTs are refused (403), fails, publishes nothing, and leaves the
// connection reading what S3 holds.
func TestAttachRefusedPutsLeaveNothing(t *testing.T) {
	e := newEnv(t, nil)
	db := openWithInit(t, "file:"+filepath.Join(t.TempDir(), "a.db")+"?vfs=os",
		"ATTACH 'file:b.db?vfs="+e.name+"' AS b")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE b.t(x)")
	mustExec(t, db, "INSERT INTO b.t VALUES (1)")
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind == s3proxy.PUT && strings.HasPrefix(req.Key, "b.db/") {
			s3test.WriteError(w, http.StatusForbidden, "AccessDenied", "refused by the test")
			return true
		}
		return false
	})
	if _, err := db.Exec("INSERT INTO b.t VALUES (2)"); err == nil {
		t.Fatal("INSERT with every PUT refused succeeded")
	}
	e.proxy.SetHook(nil)
	if n := queryInt(t, db, "SELECT count(*) FROM b.t"); n != 1 {
		t.Fatalf("the connection reads %d rows after the failed commit, want 1", n)
	}
	if n := queryInt(t, openDB(t, e.register(e.newVFS(nil)), "b.db"), "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("a new process reads %d rows, want 1", n)
	}
}

// PRAGMA locking_mode=EXCLUSIVE is refused on an s3vfs database; NORMAL and
// the query form work.
func TestLockingModeExclusiveRefused(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("lock.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")
	if _, err := db.Exec("PRAGMA locking_mode=EXCLUSIVE"); !errors.Is(err, s3vfs.ErrUnsupported) && !strings.Contains(errString(err), "locking_mode=EXCLUSIVE") {
		t.Fatalf("PRAGMA locking_mode=EXCLUSIVE: %v, want an error naming locking_mode=EXCLUSIVE", err)
	}
	if got := queryString(t, db, "PRAGMA locking_mode"); got != "normal" {
		t.Fatalf("locking_mode = %q after the refusal, want normal", got)
	}
	mustExec(t, db, "PRAGMA locking_mode=NORMAL")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	mustExec(t, db, "INSERT INTO t VALUES (2)")
	if n := queryInt(t, openDB(t, e.register(e.newVFS(nil)), "lock.db"), "SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("another process reads %d rows, want 2", n)
	}
}

// locking_mode=EXCLUSIVE set for every database of a connection (a PRAGMA
// without a schema, which s3vfs does not see when the main database is
// local) cannot publish a WAL header nor write on top of a stale snapshot:
// the database stays readable and writable by every process.
func TestLockingModeExclusiveAttached(t *testing.T) {
	e := newEnv(t, nil)
	other := openDB(t, e.register(e.newVFS(nil)), "x.db")
	mustExec(t, other, "CREATE TABLE t(x)")

	db := openWithInit(t, "file:"+filepath.Join(t.TempDir(), "main.db")+"?vfs=os",
		"ATTACH 'file:x.db?vfs="+e.name+"' AS x")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA locking_mode=EXCLUSIVE")
	mustExec(t, db, "INSERT INTO x.t VALUES (1)")
	// A second transaction under the kept lock: refused, not published.
	mustExec(t, other, "INSERT INTO t VALUES (100)")
	if _, err := db.Exec("INSERT INTO x.t VALUES (2)"); !errors.Is(err, s3vfs.ErrUnsupported) {
		t.Fatalf("second transaction in locking_mode=EXCLUSIVE: %v, want ErrUnsupported", err)
	}
	if _, err := db.Exec("PRAGMA x.journal_mode=WAL"); err == nil {
		if mode := queryString(t, db, "PRAGMA x.journal_mode"); mode == "wal" {
			t.Log("journal_mode reports wal on the exclusive connection; checking that nothing says so in S3")
		}
	}
	db.Close()

	for _, q := range []string{"PRAGMA journal_mode", "SELECT count(*) FROM t"} {
		if _, err := other.Exec(q); err != nil {
			t.Fatalf("another process after the exclusive connection: %s: %v", q, err)
		}
	}
	fresh := openDB(t, e.register(e.newVFS(nil)), "x.db")
	if mode := queryString(t, fresh, "PRAGMA journal_mode"); mode == "wal" {
		t.Fatal("a new process opens x.db in WAL mode: the WAL flag was published")
	}
	if got := queryInt(t, fresh, "SELECT sum(x) FROM t"); got != 101 {
		t.Fatalf("sum = %d, want 101 (the first insert and the other process's)", got)
	}
	mustExec(t, fresh, "INSERT INTO t VALUES (1000)")
	integrityOK(t, fresh)
}

// A database whose stored header carries the WAL flag (as an earlier
// version could publish) opens, reads and writes in rollback mode.
func TestWALFlaggedDatabaseOpens(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("walflag.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	db.Close()
	raw := e.newVFS(s3vfs.WithWALHeaderAllowed(nil))
	setHeaderBytes(t, raw, "walflag.db", map[int]byte{18: 2, 19: 2})

	fresh := openDB(t, e.register(e.newVFS(nil)), "walflag.db")
	if n := queryInt(t, fresh, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	if mode := queryString(t, fresh, "PRAGMA journal_mode"); mode == "wal" {
		t.Fatalf("journal_mode = %s, want a rollback mode", mode)
	}
	mustExec(t, fresh, "INSERT INTO t VALUES (2)")
	integrityOK(t, fresh)
}

// setHeaderBytes commits a change of the given header bytes of key through
// the raw file interface of v.
func setHeaderBytes(t *testing.T, v *s3vfs.VFS, key string, bytes map[int]byte) {
	t.Helper()
	f, _, err := v.Open(key, vfs.OPEN_MAIN_DB|vfs.OPEN_READWRITE|vfs.OPEN_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Lock(vfs.LOCK_EXCLUSIVE); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 100)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		t.Fatal(err)
	}
	for at, b := range bytes {
		hdr[at] = b
	}
	if _, err := f.WriteAt(hdr, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(0); err != nil {
		t.Fatal(err)
	}
	if err := f.Unlock(vfs.LOCK_NONE); err != nil {
		t.Fatal(err)
	}
}

// A transaction that begins after a COMMIT returned sees that commit, this
// process's own or another's, even while freshness checks of other
// transactions are in flight (answers to record GETs delayed by 20 ms).
func TestReadAfterCommitIsFresh(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("fresh.db")
	mustExec(t, db, "CREATE TABLE c(id INTEGER PRIMARY KEY, n INTEGER)")
	mustExec(t, db, "INSERT INTO c VALUES (1, 0)")
	other := openDB(t, e.register(e.newVFS(nil)), "fresh.db")

	// Record GETs are answered by the server at once, and their answers
	// reach the client 20 ms later.
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind != s3proxy.GET || !strings.Contains(req.Key, "/_commits/") {
			return false
		}
		rec := s3test.Forward(e.proxy, r)
		time.Sleep(20 * time.Millisecond)
		for name, vs := range rec.Header() {
			w.Header()[name] = vs
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return true
	})
	// Background readers keep a freshness check in flight at all times.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var n int64
				db.QueryRowContext(ctx, "SELECT n FROM c").Scan(&n)
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()

	stale := 0
	for i := int64(1); i <= 10; i++ {
		mustExec(t, db, "UPDATE c SET n = ?", 2*i-1)
		if got := queryInt(t, db, "SELECT n FROM c"); got != 2*i-1 {
			t.Errorf("after this process's commit of n=%d, a new transaction read n=%d", 2*i-1, got)
			stale++
		}
		mustExec(t, other, "UPDATE c SET n = ?", 2*i)
		if got := queryInt(t, db, "SELECT n FROM c"); got != 2*i {
			t.Errorf("after another process's commit of n=%d, a new transaction read n=%d", 2*i, got)
			stale++
		}
	}
	if stale > 0 {
		t.Fatalf("%d stale reads of 20", stale)
	}
}

// Objects under the commit records' folder that are not records (the
// folder marker the S3 console's "Create folder" makes, a stray upload
// sorting first) are stepped over by every reader of the records.
func TestFolderMarkerAmongRecords(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("marked.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	db.Close()

	client := server.Client(e.proxy.URL)
	for _, key := range []string{"marked.db/_commits/", "marked.db/_commits/!stray", "marked.db/_commits/0000.tmp"} {
		_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(nil),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	v := e.newVFS(nil)
	fresh := openDB(t, e.register(v), "marked.db")
	if n := queryInt(t, fresh, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	mustExec(t, fresh, "INSERT INTO t VALUES (2)")
	var commits int
	for c, err := range v.History(context.Background(), "marked.db") {
		if err != nil {
			t.Fatal(err)
		}
		if c.N == 0 {
			t.Fatalf("history lists commit 0")
		}
		commits++
	}
	if commits != 3 {
		t.Fatalf("history lists %d commits, want 3", commits)
	}
	if _, err := v.GC(context.Background(), "marked.db", nil); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, openDB(t, e.register(e.newVFS(nil)), "marked.db"), "SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("after GC, %d rows, want 2", n)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// A VACUUM that changes the page size is one commit: SQLite writes again
// after its batch (it truncates the file), and publishing the batch alone
// would show other processes half a VACUUM.
func TestVacuumPageSizeOneCommit(t *testing.T) {
	for _, sizes := range [][2]int{{4096, 8192}, {8192, 1024}} {
		e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
		db := e.open("vac.db")
		db.SetMaxOpenConns(1)
		mustExec(t, db, "PRAGMA page_size="+strconv.Itoa(sizes[0]))
		mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
		mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 300)
			INSERT INTO t SELECT i, randomblob(300) FROM n`)
		before := queryInt(t, db, "PRAGMA s3vfs_commit")
		mustExec(t, db, "PRAGMA page_size="+strconv.Itoa(sizes[1]))
		mustExec(t, db, "VACUUM")
		if after := queryInt(t, db, "PRAGMA s3vfs_commit"); after != before+1 {
			t.Fatalf("VACUUM from page size %d to %d made %d commits, want 1", sizes[0], sizes[1], after-before)
		}
		fresh := openDB(t, e.register(e.newVFS(nil)), "vac.db")
		if got := queryInt(t, fresh, "PRAGMA page_size"); got != int64(sizes[1]) {
			t.Fatalf("page size %d after VACUUM, want %d", got, sizes[1])
		}
		if n := queryInt(t, fresh, "SELECT count(*) FROM t"); n != 300 {
			t.Fatalf("%d rows after VACUUM, want 300", n)
		}
		integrityOK(t, fresh)
	}
}

// With databases attached, BEGIN IMMEDIATE write-locks every one of them,
// so a transaction that changes one s3vfs database is refused at COMMIT,
// naming the fix; the same transaction under BEGIN commits.
func TestAttachBeginImmediate(t *testing.T) {
	e := newEnv(t, nil)
	db := openWithInit(t, "file:a.db?vfs="+e.name, "ATTACH 'file:b.db?vfs="+e.name+"' AS b")
	mustExec(t, db, "CREATE TABLE t(x)")
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	run := func(begin string) error {
		for _, q := range []string{begin, "INSERT INTO t VALUES (1)", "COMMIT"} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				conn.ExecContext(ctx, "ROLLBACK")
				return err
			}
		}
		return nil
	}
	if err := run("BEGIN IMMEDIATE"); !errors.Is(err, s3vfs.ErrUnsupported) || !strings.Contains(err.Error(), "BEGIN IMMEDIATE") {
		t.Fatalf("BEGIN IMMEDIATE with a database attached: %v, want ErrUnsupported naming BEGIN IMMEDIATE", err)
	}
	if err := run("BEGIN"); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, openDB(t, e.register(e.newVFS(nil)), "a.db"), "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}
