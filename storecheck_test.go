package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// The real server keeps every promise; the self-test costs eight requests
// in three rounds once per VFS (seven in two before a write, where the
// object it tries to create again is kept), the first commit pays it, and
// nothing is left behind but that object, in a database that exists.
func TestCheckStore(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.proxy.SetLatency(waveLatency)
	e.proxy.Reset()
	r, err := e.vfs.CheckStore(ctx)
	e.proxy.SetLatency(0)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Err() != nil || len(r.Checks) != 3 {
		t.Fatalf("report %+v, want three checks passed", r)
	}
	if got, waves := e.proxy.Total(), e.proxy.Waves(); got != 8 || waves != 4 {
		t.Fatalf("the self-test made %d requests (%v) in %d round trips, want 8 in 4 (three rounds, then the DELETE)", got, e.proxy.Counts(), waves)
	}
	e.proxy.Reset()
	if _, err := e.vfs.CheckStore(ctx); err != nil || e.proxy.Total() != 0 {
		t.Fatalf("a second CheckStore: %v, %d requests; want the cached report", err, e.proxy.Total())
	}
	if n := countObjects(t, e, "_s3vfs/"); n != 0 {
		t.Fatalf("%d objects left under _s3vfs/", n)
	}

	// A fresh VFS runs it before its first commit, and only then.
	var selfTest atomic.Int64
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if strings.HasPrefix(req.Key, "checked.db/_storecheck/") || strings.HasPrefix(req.Query.Get("prefix"), "checked.db/_storecheck/") {
			selfTest.Add(1)
		}
		return false
	})
	v := e.newVFS(nil)
	db := openDB(t, e.register(v), "checked.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA user_version") // opening reads: no self-test
	if n := selfTest.Load(); n != 0 {
		t.Fatalf("opening and reading made %d self-test requests, want 0", n)
	}
	mustExec(t, db, "CREATE TABLE t1(x)")
	mustExec(t, db, "CREATE TABLE t2(x)")
	if n := selfTest.Load(); n != 7 {
		t.Fatalf("two commits made %d self-test requests outside the batched delete, want 7 (once; the first under this database: three rounds)", n)
	}
	if n := countObjects(t, e, "checked.db/_storecheck/"); n != 0 {
		t.Fatalf("%d objects of the self-test left under checked.db/, want 0 (a new database keeps none)", n)
	}
}

// The reserved prefix cannot be a database.
func TestCheckStoreReservedPrefix(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("_s3vfs/storecheck/x")
	if _, err := db.Exec("CREATE TABLE t(x)"); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("a database under _s3vfs/: %v, want an error saying the name is reserved", err)
	}
}

// stripConditions is an S3 API option that clears If-None-Match from every
// PutObject before it is signed: the requests reach the server as they
// would a store that ignores the header.
func stripConditions(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("StripIfNoneMatch",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if put, ok := in.Parameters.(*s3.PutObjectInput); ok {
				put.IfNoneMatch = nil
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// clientIgnoringConditions returns a client of the env's bucket through
// which conditional creates are plain PUTs.
func clientIgnoringConditions(e *env) *s3.Client {
	o := server.Client(e.proxy.URL).Options()
	o.APIOptions = append(o.APIOptions, stripConditions)
	return s3.New(o)
}

// On a store that ignores conditional creates, every write is refused
// before anything is published, naming the cause; reads work; the
// documented opt-out writes.
func TestStoreIgnoringConditionsRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	good := e.open("data.db")
	mustExec(t, good, "CREATE TABLE t(x)")
	mustExec(t, good, "INSERT INTO t VALUES (1)")

	v, err := s3vfs.New(clientIgnoringConditions(e), e.bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := v.CheckStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || !errors.Is(r.Err(), s3vfs.ErrUnsafeStore) || !strings.Contains(r.Err().Error(), "ignores the condition") {
		t.Fatalf("report %+v, err %v: want the conditional create failed", r, r.Err())
	}

	name := e.register(v)
	db := openDB(t, name, "data.db")
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("read %d rows, want 1", n)
	}
	e.proxy.Reset()
	_, err = db.Exec("INSERT INTO t VALUES (2)")
	if !errors.Is(err, s3vfs.ErrUnsafeStore) || !strings.Contains(err.Error(), "refuses to write") {
		t.Fatalf("write: %v, want ErrUnsafeStore saying s3vfs refuses to write", err)
	}
	if got := e.proxy.Counts()[s3proxy.PUT]; got != 0 {
		t.Fatalf("the refused write made %d PUTs", got)
	}
	if n := queryInt(t, e.open("data.db"), "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("after the refused write another process reads %d rows, want 1", n)
	}
	if err := v.Deserialize(ctx, "other.db", bytes.NewReader(nil)); !errors.Is(err, s3vfs.ErrUnsafeStore) {
		t.Fatalf("Deserialize: %v, want ErrUnsafeStore", err)
	}
	if _, err := v.Restore(ctx, "data.db", 1); !errors.Is(err, s3vfs.ErrUnsafeStore) {
		t.Fatalf("Restore: %v, want ErrUnsafeStore", err)
	}
	if n := countObjects(t, e, "other.db/"); n != 0 {
		t.Fatalf("the refused Deserialize left %d objects", n)
	}

	// The opt-out, for a single writer that vouches for itself.
	unsafe, err := s3vfs.New(clientIgnoringConditions(e), e.bucket, &s3vfs.Options{UnsafeSkipStoreCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, openDB(t, e.register(unsafe), "data.db"), "INSERT INTO t VALUES (2)")
	if n := queryInt(t, e.open("data.db"), "SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("with UnsafeSkipStoreCheck: %d rows, want 2", n)
	}
}

// A store that answers conditional creates with 501 Not Implemented fails
// the self-test saying so.
func TestStoreRejectingConditions(t *testing.T) {
	e := newEnv(t, nil)
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind == s3proxy.PUT && req.Header.Get("If-None-Match") != "" {
			s3test.WriteError(w, http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented")
			return true
		}
		return false
	})
	r, err := e.vfs.CheckStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || !strings.Contains(r.Err().Error(), "501") {
		t.Fatalf("report %+v: want the conditional create failed with 501", r)
	}
	db := e.open("x.db")
	if _, err := db.Exec("CREATE TABLE t(x)"); !errors.Is(err, s3vfs.ErrUnsafeStore) {
		t.Fatalf("write: %v, want ErrUnsafeStore", err)
	}
}

// countObjects counts the objects of the env's bucket under prefix.
func countObjects(t *testing.T, e *env, prefix string) int {
	t.Helper()
	out, err := server.Client(e.proxy.URL).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{
		Bucket: aws.String(e.bucket), Prefix: aws.String(prefix),
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Contents)
}

// firstAndLaterWrite opens key on a fresh VFS (a new process), reads it,
// then runs two single-row updates, and returns the requests and the
// sequential round trips of each.
func firstAndLaterWrite(t *testing.T, e *env, v *s3vfs.VFS, key string) (first, later map[s3proxy.Kind]int, firstWaves, laterWaves int) {
	t.Helper()
	db := openDB(t, e.register(v), key)
	db.SetMaxOpenConns(1)
	queryInt(t, db, "SELECT n FROM t WHERE id = 7")
	e.proxy.SetLatency(waveLatency)
	defer e.proxy.SetLatency(0)
	e.proxy.Reset()
	mustExec(t, db, "UPDATE t SET n = n + 1 WHERE id = 7")
	first, firstWaves = e.proxy.Counts(), e.proxy.Waves()
	e.proxy.Reset()
	mustExec(t, db, "UPDATE t SET n = n + 1 WHERE id = 7")
	return first, e.proxy.Counts(), firstWaves, e.proxy.Waves()
}

// counterTable writes a database at key with a table t(id, n) of 100 rows.
func counterTable(t *testing.T, e *env, key string) {
	t.Helper()
	db := e.open(key)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 100) INSERT INTO t SELECT i, 0 FROM c")
}

// A new process's first write costs two round trips more than its later
// ones: the self-test starts with the write lock and takes two rounds of
// parallel requests; its cleanup overlaps the commit. With a disk cache
// that a process which passed the test shares, it costs none more.
func TestFirstWriteRoundTrips(t *testing.T) {
	e := newEnv(t, nil)
	counterTable(t, e, "first.db")

	// The first self-test of an existing database creates the object it
	// keeps: one round more.
	first, later, firstWaves, laterWaves := firstAndLaterWrite(t, e, e.newVFS(nil), "first.db")
	if firstWaves != laterWaves+3 || first[s3proxy.PUT] != 5 {
		t.Fatalf("the first self-test of the database: %v in %d round trips, want five PUTs in %d", first, firstWaves, laterWaves+3)
	}
	if n := countObjects(t, e, "first.db/_storecheck/"); n != 1 {
		t.Fatalf("%d objects under first.db/_storecheck/, want 1 (the kept object)", n)
	}

	first, later, firstWaves, laterWaves = firstAndLaterWrite(t, e, e.newVFS(nil), "first.db")
	wantLater := map[s3proxy.Kind]int{s3proxy.GET: 1, s3proxy.PUT: 1} // is there a commit n+1; the record
	if !maps.Equal(later, wantLater) || laterWaves != 2 {
		t.Fatalf("a later write: %v in %d round trips, want %v in 2", later, laterWaves, wantLater)
	}
	// The self-test: PUT the kept object (refused), "1" and "0"; GET the
	// kept object and "1", LIST; DELETE "1" and "0".
	wantFirst := map[s3proxy.Kind]int{s3proxy.GET: 3, s3proxy.PUT: 4, s3proxy.LIST: 1, s3proxy.DELETE: 1}
	if !maps.Equal(first, wantFirst) || firstWaves != laterWaves+2 {
		t.Fatalf("a new process's first write: %v in %d round trips, want %v in %d", first, firstWaves, wantFirst, laterWaves+2)
	}
	if n := countObjects(t, e, "first.db/_storecheck/"); n != 1 {
		t.Fatalf("%d objects under first.db/_storecheck/, want 1 (the kept object)", n)
	}

	// The verdict kept in a disk cache spares the next process the test.
	dir := t.TempDir()
	firstAndLaterWrite(t, e, e.newVFS(&s3vfs.Options{CacheDir: dir}), "first.db")
	first, later, firstWaves, laterWaves = firstAndLaterWrite(t, e, e.newVFS(&s3vfs.Options{CacheDir: dir}), "first.db")
	if !maps.Equal(first, later) || firstWaves != laterWaves {
		t.Fatalf("with a disk cache that holds a passed self-test: first write %v in %d round trips, later %v in %d; want the same",
			first, firstWaves, later, laterWaves)
	}

	// The verdict is the endpoint's: a VFS of the same bucket at another
	// endpoint (the server itself, not the proxy) tests again.
	direct, err := s3vfs.New(server.Client(server.Endpoint), e.bucket, &s3vfs.Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, openDB(t, e.register(direct), "first.db"), "UPDATE t SET n = n + 1 WHERE id = 7")
	if st := direct.Stats(); st.Puts != 4 || st.Deletes != 1 {
		t.Fatalf("a VFS at another endpoint: %+v, want the self-test's three PUTs and DELETE, and the commit's PUT", st)
	}
}

// A store that answers a conditional create of an existing object with
// 412 but replaces the object all the same fails the self-test.
func TestStoreReplacingOnRefusal(t *testing.T) {
	e := newEnv(t, nil)
	direct := server.Client(server.Endpoint)
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind != s3proxy.PUT || req.Header.Get("If-None-Match") == "" || !strings.HasSuffix(req.Key, "exists") {
			return false
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		out, err := direct.HeadObject(r.Context(), &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(req.Key)})
		if _, err2 := direct.PutObject(r.Context(), &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(req.Key), Body: bytes.NewReader(body)}); err2 != nil {
			t.Error(err2)
		}
		if err == nil && out != nil {
			s3test.WriteError(w, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
			return true // refused, and replaced
		}
		w.WriteHeader(http.StatusOK)
		return true
	})
	r, err := e.vfs.CheckStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || !strings.Contains(r.Err().Error(), "replaced the object anyway") {
		t.Fatalf("report %+v: want the conditional create failed, replaced anyway", r)
	}
	if _, err := e.open("x.db").Exec("CREATE TABLE t(x)"); !errors.Is(err, s3vfs.ErrUnsafeStore) {
		t.Fatalf("write: %v, want ErrUnsafeStore", err)
	}
}

// A conditional create whose first attempt lands but whose answer is
// lost is retried by the client and refused: the object then holds the
// refused create's bytes, as on a store that replaces on refusal. The
// self-test tries once more on the object, which now exists, and passes.
func TestStoreCheckCreateAnswerLost(t *testing.T) {
	e := newEnv(t, nil)
	var lost, keptPuts atomic.Int64
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind != s3proxy.PUT || !strings.HasSuffix(req.Key, ".exists") {
			return false
		}
		keptPuts.Add(1)
		if !lost.CompareAndSwap(0, 1) {
			return false
		}
		return landAnswerLost(t, e, w, r, req)
	})
	r, err := e.vfs.CheckStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("report %+v, err %v: want every check passed", r, r.Err())
	}
	if lost.Load() != 1 || keptPuts.Load() != 3 {
		t.Fatalf("%d creates of the kept object reached the proxy (%d answers lost), want 3: the lost one, its retry, the second try", keptPuts.Load(), lost.Load())
	}
}

// landAnswerLost carries out the conditional create req on the server
// behind e's proxy, then answers the client 500 InternalError, as a fault
// that lands a create and loses its answer; it reports that it answered.
func landAnswerLost(t *testing.T, e *env, w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Error(err)
	}
	direct := server.Client(server.Endpoint)
	if _, err := direct.PutObject(r.Context(), &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(req.Key),
		Body: bytes.NewReader(body), IfNoneMatch: aws.String("*")}); err != nil {
		t.Error(err)
	}
	s3test.WriteError(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	return true
}
