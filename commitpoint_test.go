package s3vfs_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// Tests of the commit point when the answer to the conditional create of a
// commit record is lost or misleading: the outcome is settled by reading
// the record back, and a commit is never reported BUSY when the record is
// ours, nor OK when it is someone else's.

// isCreate reports whether req is the conditional create of a commit record.
func isCreate(req s3proxy.Request) bool {
	return req.Kind == s3proxy.PUT && req.Header.Get("If-None-Match") != "" && strings.Contains(req.Key, "/_commits/")
}

// once returns a function that reports true the first time it is called.
func once() func() bool {
	var o sync.Once
	return func() (first bool) {
		o.Do(func() { first = true })
		return first
	}
}

// TestCommitLostAnswer: the server creates the record, the client gets
// 500. The retry meets 412; reading back finds our own record: COMMIT OK.
func TestCommitLostAnswer(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("lost.db")
	mustExec(t, db, "CREATE TABLE t(x)")

	first := once()
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if isCreate(req) && first() {
			s3test.Forward(e.proxy, r) // carried out; the answer is lost
			s3test.WriteError(w, http.StatusInternalServerError, "InternalError", "lost answer")
			return true
		}
		return false
	})
	mustExec(t, db, "INSERT INTO t VALUES (42)")
	e.proxy.SetHook(nil)

	db2 := openDB(t, e.register(e.newVFS(&s3vfsOptsSmall)), "lost.db")
	if got := queryInt(t, db2, "SELECT count(*) FROM t WHERE x = 42"); got != 1 {
		t.Fatalf("committed row: count = %d, want 1", got)
	}
	integrityOK(t, db2)
}

// TestCommitGarbledReadBack: the record is created but the answer lost,
// and the record read back arrives damaged. The commit may be ours: it must
// not be reported as a lost race (which would delete its blocks), but as
// an I/O error of unknown outcome, and the database must stay intact.
func TestCommitGarbledReadBack(t *testing.T) {
	t.Run("small", func(t *testing.T) { testGarbledReadBack(t, &s3vfsOptsSmall, 1) })
	// A transaction larger than the write buffer uploads blocks before
	// COMMIT: the rollback after an unknown outcome must not delete them.
	t.Run("spilled", func(t *testing.T) {
		testGarbledReadBack(t, &s3vfs.Options{BlockSize: 4096, WriteBuffer: 16 << 10}, 200)
	})
}

func testGarbledReadBack(t *testing.T, opts *s3vfs.Options, rows int) {
	e := newEnv(t, opts)
	db := e.open("garbled.db")
	mustExec(t, db, "CREATE TABLE t(x)")

	firstCreate, firstGet := once(), once()
	var armed sync.Mutex
	var created string
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		armed.Lock()
		defer armed.Unlock()
		switch {
		case isCreate(req) && firstCreate():
			s3test.Forward(e.proxy, r)
			created = req.Key
			s3test.WriteError(w, http.StatusInternalServerError, "InternalError", "lost answer")
			return true
		case req.Kind == s3proxy.GET && req.Key == created && firstGet():
			rec := s3test.Forward(e.proxy, r)
			body := rec.Body.Bytes()
			body[len(body)/2] ^= 0x55
			w.Header().Set("Content-Length", rec.Header().Get("Content-Length"))
			w.WriteHeader(rec.Code)
			w.Write(body)
			return true
		}
		return false
	})
	_, err := db.Exec("INSERT INTO t SELECT randomblob(500) FROM generate_series(1, ?)", rows)
	e.proxy.SetHook(nil)
	if err == nil || errors.Is(err, sqlite3.BUSY) || !errors.Is(err, sqlite3.IOERR) || !strings.Contains(err.Error(), "outcome unknown") {
		t.Fatalf("COMMIT with a damaged read-back: got %v, want SQLITE_IOERR with an unknown outcome", err)
	}
	t.Log(err)

	// The record was created: the commit happened, and its blocks are there.
	db2 := openDB(t, e.register(e.newVFS(opts)), "garbled.db")
	integrityOK(t, db2)
	if got := queryInt(t, db2, "SELECT count(*) FROM t"); got != int64(rows) {
		t.Fatalf("count = %d, want %d (the commit was published)", got, rows)
	}
}

// TestCommitOthersRecord: while our create is in flight, another writer
// creates the same record; our request then fails and its retry meets
// 412. Reading back finds the other writer's record: COMMIT is BUSY, and
// only the other writer's transaction is in the database.
func TestCommitOthersRecord(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("others.db")
	mustExec(t, db, "CREATE TABLE t(x)")

	// The other writer: another VFS, through a proxy without faults.
	other, err := s3proxy.New(server.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	vb, err := newVFSAt(other.URL, e.bucket, &s3vfsOptsSmall)
	if err != nil {
		t.Fatal(err)
	}
	dbB := openDB(t, e.register(vb), "others.db")
	queryInt(t, dbB, "SELECT count(*) FROM t") // load the same head

	first := once()
	var otherErr error
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if isCreate(req) && first() {
			_, otherErr = dbB.Exec("INSERT INTO t VALUES ('other')")
			s3test.WriteError(w, http.StatusServiceUnavailable, "SlowDown", "slow down")
			return true
		}
		return false
	})
	_, err = db.Exec("INSERT INTO t VALUES ('ours')")
	e.proxy.SetHook(nil)
	if otherErr != nil {
		t.Fatalf("the other writer: %v", otherErr)
	}
	if !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("COMMIT that lost the race: got %v, want SQLITE_BUSY", err)
	}

	db2 := openDB(t, e.register(e.newVFS(&s3vfsOptsSmall)), "others.db")
	integrityOK(t, db2)
	if got := queryString(t, db2, "SELECT group_concat(x) FROM t"); got != "other" {
		t.Fatalf("rows = %q, want only the other writer's", got)
	}
	// And the loser can carry on from the new head.
	mustExec(t, db, "INSERT INTO t VALUES ('ours')")
	if got := queryInt(t, db, "SELECT count(*) FROM t"); got != 2 {
		t.Fatalf("count = %d, want 2", got)
	}
}

// newVFSAt returns a VFS on bucket that talks to the server at endpoint
// (a proxy of its own, say).
func newVFSAt(endpoint, bucket string, opts *s3vfs.Options) (*s3vfs.VFS, error) {
	return s3vfs.New(server.Client(endpoint), bucket, opts)
}

// TestCommitRefused: the create of the record is refused (403
// AccessDenied): nothing was created, so the commit fails at once and for
// certain, naming the cause, rather than retrying and reporting an
// unknown outcome.
func TestCommitRefused(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("refused.db")
	mustExec(t, db, "CREATE TABLE t(x)")

	var creates atomic.Int64
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if isCreate(req) {
			creates.Add(1)
			s3test.WriteError(w, http.StatusForbidden, "AccessDenied", "Access Denied")
			return true
		}
		return false
	})
	_, err := db.Exec("INSERT INTO t VALUES (1)")
	e.proxy.SetHook(nil)
	var s3err *s3vfs.Error
	switch {
	case err == nil:
		t.Fatal("COMMIT succeeded with the create refused")
	case errors.Is(err, sqlite3.BUSY) || !errors.Is(err, sqlite3.IOERR):
		t.Fatalf("got %v, want SQLITE_IOERR", err)
	case strings.Contains(err.Error(), "outcome unknown"):
		t.Fatalf("got %v, want a definite failure", err)
	case !errors.Is(err, s3vfs.ErrAccessDenied) || !errors.As(err, &s3err):
		t.Fatalf("got %v, want the S3 error classified as ErrAccessDenied", err)
	}
	if n := creates.Load(); n != 1 {
		t.Errorf("the refused create was sent %d times, want 1", n)
	}
	t.Log(err)

	if got := queryInt(t, db, "SELECT count(*) FROM t"); got != 0 {
		t.Fatalf("count = %d after a refused commit, want 0", got)
	}
	mustExec(t, db, "INSERT INTO t VALUES (2)")
	integrityOK(t, db)
}

// TestCommitUnknownOutcomeHintOnce: a commit whose outcome stays unknown
// reports the failed create and the failed read-back in one message; when
// both have the same cause, the fix is given once. Here the first create
// is rejected without being carried out (400), the retry is refused (403,
// as after a change of permissions) and so is the read-back.
func TestCommitUnknownOutcomeHintOnce(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("hint.db")
	mustExec(t, db, "CREATE TABLE t(x)")

	var mu sync.Mutex
	var creates int
	var record string
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case isCreate(req):
			creates++
			record = req.Key
			if creates == 1 {
				s3test.WriteError(w, http.StatusBadRequest, "InvalidRequest", "Bad request")
			} else {
				s3test.WriteError(w, http.StatusForbidden, "AccessDenied", "Access Denied")
			}
			return true
		case req.Kind == s3proxy.GET && req.Key == record && creates >= 2:
			s3test.WriteError(w, http.StatusForbidden, "AccessDenied", "Access Denied")
			return true
		}
		return false
	})
	_, err := db.Exec("INSERT INTO t VALUES (1)")
	e.proxy.SetHook(nil)
	if err == nil || !strings.Contains(err.Error(), "outcome unknown") || !strings.Contains(err.Error(), "reading it back") {
		t.Fatalf("got %v, want an unknown outcome that failed to read back", err)
	}
	const fix = "check the AWS credentials"
	if n := strings.Count(err.Error(), fix); n != 1 {
		t.Fatalf("the fix %q is given %d times in: %v", fix, n, err)
	}
	t.Log(err)
}
