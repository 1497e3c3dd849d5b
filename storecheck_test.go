package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
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

// The real server keeps every promise; the self-test costs seven requests
// once per VFS, the first commit pays it, and nothing is left behind.
func TestCheckStore(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.proxy.Reset()
	r, err := e.vfs.CheckStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Err() != nil || len(r.Checks) != 3 {
		t.Fatalf("report %+v, want three checks passed", r)
	}
	if got := e.proxy.Total(); got != 7 {
		t.Fatalf("the self-test made %d requests (%v), want 7", got, e.proxy.Counts())
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
	if n := selfTest.Load(); n != 6 {
		t.Fatalf("two commits made %d self-test requests outside the batched delete, want 6 (once)", n)
	}
	if n := countObjects(t, e, "checked.db/_storecheck/"); n != 0 {
		t.Fatalf("%d objects of the self-test left under checked.db/", n)
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
