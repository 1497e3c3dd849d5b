package s3vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3server"
	"github.com/s3vfs/s3vfs/internal/testproc"
)

// server is the S3 server every test in this package talks to.
var server *s3server.Server

func TestMain(m *testing.M) {
	if child := os.Getenv(childEnv); child != "" {
		os.Exit(runChild(child))
	}
	srv, err := s3server.Start(context.Background(), func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, f+"\n", a...)
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: no S3 server for the tests: %v\n", err)
		os.Exit(1)
	}
	server = srv
	code := srv.Sweep(m.Run())
	stopDynamoServer()
	srv.Close()
	os.Exit(code)
}

// env is one test's bucket, the counting proxy in front of the server, and
// a VFS registered under a unique name that talks through the proxy.
type env struct {
	t      testing.TB
	bucket string
	proxy  *s3proxy.Proxy
	vfs    *s3vfs.VFS
	name   string // the registered VFS name
	table  string // configuration (b): the DynamoDB table of the coordinator; "" for none
}

// waveLatency is the latency the tests that count round trips (the
// proxy's Waves) set: long enough that requests the code sends in
// parallel overlap at the proxy even when the race detector and a loaded
// machine delay a goroutine by several milliseconds (5 ms did not, once).
const waveLatency = 20 * time.Millisecond

func newEnv(t testing.TB, opts *s3vfs.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, "")
}

// newEnvWith is newEnv with the coordinator table of configuration (b),
// or "" for none (coordinator_env_test.go).
func newEnvWith(t testing.TB, opts *s3vfs.Options, table string) *env {
	t.Helper()
	ctx := context.Background()
	bucket, err := server.CreateBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := s3proxy.New(server.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, bucket: bucket, proxy: proxy, table: table}
	e.vfs = e.newVFS(opts)
	e.name = e.register(e.vfs)
	t.Cleanup(func() {
		proxy.Close()
		server.RemoveBucket(context.Background(), bucket)
	})
	return e
}

// newVFS returns another VFS on the same bucket, as another process would
// have: its own cache and its own in-process state.
func (e *env) newVFS(opts *s3vfs.Options) *s3vfs.VFS {
	e.t.Helper()
	if os.Getenv("S3VFS_TEST_SEGMENTS") != "" {
		// Every map read segment by segment, each segment dropped as
		// soon as no read pins it, to find a read of an entry outside
		// the pin of Locate (docs/design.md, "The block map in
		// segments"); the tests that count requests then fail.
		opts = s3vfs.WithUncachedSegments(s3vfs.WithSegments(opts, 2, 64))
	}
	client, opts := coordinated(server.Client(e.proxy.URL), opts, e.table)
	v, err := s3vfs.New(client, e.bucket, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// register registers v under a fresh name, unregistered at cleanup.
func (e *env) register(v *s3vfs.VFS) string {
	name := "s3test-" + testproc.RandomHex(6)
	vfs.Register(name, v)
	e.t.Cleanup(func() { vfs.Unregister(name) })
	return name
}

// open opens key through the database/sql driver on the env's VFS.
func (e *env) open(key string, params ...string) *sql.DB {
	e.t.Helper()
	return openDB(e.t, e.name, key, params...)
}

func openDB(t testing.TB, vfsName, key string, params ...string) *sql.DB {
	t.Helper()
	dsn := "file:" + key + "?vfs=" + vfsName
	for _, p := range params {
		dsn += "&" + p
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func queryInt(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var v int64
	if err := db.QueryRow(query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func queryString(t testing.TB, db *sql.DB, query string, args ...any) string {
	t.Helper()
	var v string
	if err := db.QueryRow(query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func integrityOK(t testing.TB, db *sql.DB) {
	t.Helper()
	if got := queryString(t, db, "PRAGMA integrity_check"); got != "ok" {
		t.Fatalf("integrity_check: %s", got)
	}
}

var s3vfsOptsSmall = s3vfs.Options{BlockSize: 4096}
