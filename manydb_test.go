package s3vfs_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs"
)

// manyDatabases writes n databases of 200 rows each under prefix, all
// copies of one file, by Deserialize, 16 at a time.
func manyDatabases(t testing.TB, e *env, prefix string, n int) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tenant.db")
	local, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, local, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, local, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 200) INSERT INTO t SELECT i, hex(randomblob(20)) FROM c")
	local.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, n)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s/tenant-%04d.db", prefix, i)
		g.Go(func() error { return e.vfs.Deserialize(context.Background(), keys[i], bytes.NewReader(data)) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// openedMany is what opening many databases in one process cost.
type openedMany struct {
	dbs        []*sql.DB
	elapsed    time.Duration
	requests   int
	heapPerDB  float64 // bytes of live heap per open, idle database
	goroutines float64 // goroutines per open, idle database running s3vfs or SQLite code
}

// openMany opens every database of keys cold on a fresh VFS of opts, at
// most concurrency at a time, and runs one point query on each; then,
// with all of them open and idle, measures the live heap and the
// goroutines they hold.
func openMany(t testing.TB, e *env, opts *s3vfs.Options, keys []string, concurrency int) openedMany {
	t.Helper()
	name := e.register(e.newVFS(opts))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := ownGoroutines()

	e.proxy.Reset()
	start := time.Now()
	r := openedMany{dbs: make([]*sql.DB, len(keys))}
	var g errgroup.Group
	g.SetLimit(concurrency)
	for i, key := range keys {
		g.Go(func() error {
			db, err := sql.Open("sqlite3", "file:"+key+"?vfs="+name)
			if err != nil {
				return err
			}
			db.SetMaxOpenConns(1)
			r.dbs[i] = db
			var v string
			return db.QueryRow("SELECT v FROM t WHERE id = ?", 1+i%200).Scan(&v)
		})
	}
	err := g.Wait()
	r.elapsed = time.Since(start)
	r.requests = e.proxy.Total()
	t.Cleanup(func() {
		for _, db := range r.dbs {
			if db != nil {
				db.Close()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	n := float64(len(keys))
	r.heapPerDB = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	r.goroutines = float64(ownGoroutines()-goroutines) / n
	return r
}

// ownGoroutines counts the goroutines that run code of s3vfs or of
// SQLite, outside this test: not database/sql's connection openers (one
// per *sql.DB) nor the HTTP client's idle connections, which belong to
// the program and do not grow with the number of databases.
func ownGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if (strings.Contains(g, "github.com/s3vfs/s3vfs") || strings.Contains(g, "github.com/ncruces/go-sqlite3")) &&
			!strings.Contains(g, "_test.go") && !strings.Contains(g, "internal/s3proxy") && !strings.Contains(g, "internal/s3server") {
			count++
		}
	}
	return count
}

// Many databases open in one process cost each what one costs alone, and
// nothing while idle: no request, no goroutine of their own.
func TestManyDatabasesIdle(t *testing.T) {
	e := newEnv(t, nil)
	keys := manyDatabases(t, e, "tenants", 40)
	one := openMany(t, e, nil, keys[:1], 1)
	r := openMany(t, e, nil, keys, 8)
	if r.requests != len(keys)*one.requests {
		t.Errorf("opening and querying %d databases cold: %d requests, want %d times one database's %d", len(keys), r.requests, len(keys), one.requests)
	}
	if r.goroutines != 0 {
		t.Errorf("%.2f goroutines of s3vfs or SQLite per idle open database, want none", r.goroutines)
	}
	e.proxy.Reset()
	time.Sleep(time.Second)
	if n := e.proxy.Total(); n != 0 {
		t.Errorf("%d open, idle databases made %d requests in a second (%v), want none", len(keys), n, e.proxy.Counts())
	}
	t.Logf("%d databases: %v, %d requests, %.0f B of heap and %.2f goroutines per idle database", len(keys), r.elapsed, r.requests, r.heapPerDB, r.goroutines)
}

// BenchmarkManyDatabases opens 1,000 databases of 200 rows in one process
// (one VFS, cold, 32 at a time), runs one point query on each, and
// measures them idle: heap per open database, with the default block
// cache and without one (what a database holds beyond its share of the
// cache), and goroutines per open database. S3VFS_MANY_DBS sets the
// number of databases.
func BenchmarkManyDatabases(b *testing.B) {
	n := 1000
	if s := os.Getenv("S3VFS_MANY_DBS"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
			b.Fatalf("S3VFS_MANY_DBS=%q: want a positive number of databases", s)
		}
	}
	e := newEnv(b, nil)
	keys := manyDatabases(b, e, "tenants", n)
	for _, tc := range []struct {
		name string
		opts *s3vfs.Options
	}{{"cache=default", nil}, {"cache=off", &s3vfs.Options{CacheSize: -1}}} {
		b.Run(tc.name, func(b *testing.B) {
			var r openedMany
			for b.Loop() {
				r = openMany(b, e, tc.opts, keys, 32)
				for _, db := range r.dbs {
					db.Close()
				}
			}
			b.ReportMetric(r.elapsed.Seconds(), "s/open-all")
			b.ReportMetric(float64(r.requests)/float64(n), "requests/db")
			b.ReportMetric(r.heapPerDB, "heap-B/idle-db")
			b.ReportMetric(r.goroutines, "goroutines/idle-db")
		})
	}
}
