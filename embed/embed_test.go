package embed_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/dynamodb"
	"github.com/s3vfs/s3vfs/embed"
	"github.com/s3vfs/s3vfs/internal/dyntest"
	"github.com/s3vfs/s3vfs/internal/s3server"
)

var server *s3server.Server

func TestMain(m *testing.M) {
	srv, err := s3server.Start(context.Background(), func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: no S3 server for the tests:", err)
		os.Exit(1)
	}
	code := func() int {
		defer srv.Close()
		server = srv
		return srv.Sweep(m.Run())
	}()
	os.Exit(code)
}

// awsEnv points the standard AWS configuration chain at the test server.
func awsEnv(t *testing.T) {
	for _, kv := range server.AWSEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func bucket(t *testing.T) string {
	t.Helper()
	b, err := server.CreateBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.RemoveBucket(context.Background(), b) })
	return b
}

// TestErrorsAtOpen runs first: the AWS configuration is only loaded once
// it succeeds, so a missing-credentials error must come before any success.
func TestErrorsAtOpen(t *testing.T) {
	awsEnv(t)
	t.Setenv(embed.EnvBucket, "")
	db, err := sql.Open("sqlite3", "file:x.db?vfs=s3")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err == nil || !strings.Contains(err.Error(), "bucket=NAME") {
		t.Errorf("no bucket: %v", err)
	}
	// A misspelt bucket parameter is named, not taken for a missing one.
	typo, err := sql.Open("sqlite3", "file:x.db?vfs=s3&bucekt=some-bucket")
	if err != nil {
		t.Fatal(err)
	}
	defer typo.Close()
	if err := typo.Ping(); err == nil || !strings.Contains(err.Error(), `unknown URI parameter "bucekt"`) {
		t.Errorf("&bucekt=: %v", err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	db2, err := sql.Open("sqlite3", "file:x.db?vfs=s3&bucket=some-bucket")
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.Ping(); err == nil || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Errorf("no credentials: %v", err)
	}
}

func TestBucketFromURIAndEnv(t *testing.T) {
	awsEnv(t)
	b1, b2 := bucket(t), bucket(t)
	t.Setenv(embed.EnvBucket, b2)

	// Same key in two buckets: one from the URI, one from the environment.
	for _, dsn := range []string{"file:my/db.sqlite?vfs=s3&bucket=" + b1, "file:my/db.sqlite?vfs=s3"} {
		db, err := sql.Open("sqlite3", dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("CREATE TABLE t(dsn)"); err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		if _, err := db.Exec("INSERT INTO t VALUES (?)", dsn); err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		db.Close()
	}
	for b, want := range map[string]string{b1: "bucket=" + b1, b2: "vfs=s3"} {
		keys, err := server.Keys(context.Background(), b, "my/db.sqlite/_commits/")
		if err != nil || len(keys) == 0 {
			t.Fatalf("bucket %s holds no commit: %v %v", b, keys, err)
		}
		db, err := sql.Open("sqlite3", "file:my/db.sqlite?vfs=s3&bucket="+b)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.QueryRow("SELECT dsn FROM t").Scan(&got); err != nil || !strings.HasSuffix(got, want) {
			t.Errorf("bucket %s: %q %v, want ...%s", b, got, err, want)
		}
		db.Close()
	}
	// One VFS per bucket, reachable for its statistics.
	v1, err := embed.Bucket(b1)
	if err != nil {
		t.Fatal(err)
	}
	v1again, _ := embed.Bucket(b1)
	v2, _ := embed.Bucket(b2)
	if v1 != v1again || v1 == v2 || v1.Bucket() != b1 || v1.Stats().Commits != 2 {
		t.Errorf("per-bucket VFS: %p %p %p, stats %v", v1, v1again, v2, v1.Stats())
	}
}

// A transaction over two databases of the "s3" VFS is refused at COMMIT and
// rolled back in both, as with a VFS of the library's own: the registry
// answers for super-journals too.
func TestAttachRefusedThroughRegistry(t *testing.T) {
	awsEnv(t)
	b := bucket(t)
	db, err := sql.Open("sqlite3", "file:a.db?vfs=s3&bucket="+b)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		"ATTACH 'file:b.db?vfs=s3&bucket=" + b + "' AS b",
		"CREATE TABLE main.t(x)", "CREATE TABLE b.t(x)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"INSERT INTO main.t VALUES (1)", "INSERT INTO b.t VALUES (1)"} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); !errors.Is(err, s3vfs.ErrUnsupported) {
		t.Fatalf("COMMIT over two databases: %v, want ErrUnsupported", err)
	}
	for _, q := range []string{"SELECT count(*) FROM main.t", "SELECT count(*) FROM b.t"} {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s = %d, %v after the refused COMMIT, want 0", q, n, err)
		}
	}
}

// coordinator=dynamodb&table= in the URI keeps the commits in that table:
// no record object reaches the bucket, and the data reads back.
func TestDynamoDBCoordinatorFromURI(t *testing.T) {
	awsEnv(t)
	dyn, err := dyntest.Start(context.Background(), nil)
	if err != nil {
		t.Fatalf("no DynamoDB server for the test: %v", err)
	}
	defer dyn.Close()
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", dyn.Endpoint)
	table := dyn.NewTableName()
	if err := dynamodb.CreateTable(context.Background(), dyn.Client(), table); err != nil {
		t.Fatal(err)
	}
	b := bucket(t)
	dsn := "file:c.db?vfs=s3&bucket=" + b + "&coordinator=dynamodb&table=" + table
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"CREATE TABLE t(x)", "INSERT INTO t VALUES (42)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	keys, err := server.Keys(context.Background(), b, "c.db/_commits/")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasSuffix(k, "!coordinator") {
			t.Fatalf("record object %s in the bucket", k)
		}
	}
	var x int
	if err := db.QueryRow("SELECT x FROM t").Scan(&x); err != nil || x != 42 {
		t.Fatalf("read %d, %v", x, err)
	}
	// Without the coordinator, the database is refused, not shown empty.
	plain, err := sql.Open("sqlite3", "file:c.db?vfs=s3&bucket="+b)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.QueryRow("SELECT x FROM t").Scan(&x); err == nil || !strings.Contains(err.Error(), table) {
		t.Fatalf("without the coordinator: %v, want an error naming the table", err)
	}
}

// A main database is always a named object in a bucket: one without a
// name is refused rather than opened in memory, and Open (without a URI)
// opens the named database in the bucket of S3VFS_BUCKET.
func TestMainDatabaseNeedsName(t *testing.T) {
	awsEnv(t)
	t.Setenv(embed.EnvBucket, bucket(t))
	db, err := sql.Open("sqlite3", "file:named.db?vfs=s3")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	r := vfs.Find(embed.Name)
	const flags = vfs.OPEN_MAIN_DB | vfs.OPEN_READWRITE | vfs.OPEN_CREATE
	for what, open := range map[string]func() (vfs.File, vfs.OpenFlag, error){
		"OpenFilename(nil)": func() (vfs.File, vfs.OpenFlag, error) { return r.(vfs.VFSFilename).OpenFilename(nil, flags) },
		"Open(\"\")":        func() (vfs.File, vfs.OpenFlag, error) { return r.Open("", flags) },
	} {
		f, got, err := open()
		if err == nil {
			f.Close()
			t.Errorf("%s of a main database: opened (flags %#x), want CANTOPEN", what, got)
			continue
		}
		t.Logf("%s: %v", what, err)
	}

	f, _, err := r.Open("named.db", vfs.OPEN_MAIN_DB|vfs.OPEN_READONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size, err := f.Size(); err != nil || size == 0 {
		t.Fatalf("Open(\"named.db\"): size %d, %v: not the database in the bucket", size, err)
	}
}

// S3VFS_CACHE_DIR gives the VFS of a bucket a disk cache.
func TestCacheDirFromEnv(t *testing.T) {
	awsEnv(t)
	b, dir := bucket(t), t.TempDir()
	t.Setenv(embed.EnvCacheDir, dir)
	// block_cache=0: no memory cache, so that the reads reach the disk cache.
	db, err := sql.Open("sqlite3", "file:cached.db?vfs=s3&block_cache=0&bucket="+b)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	var x int
	if err := db.QueryRow("SELECT x FROM t").Scan(&x); err != nil || x != 42 {
		t.Fatalf("SELECT: %d %v", x, err)
	}
	v, _ := embed.Bucket(b)
	entries, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*")) // LAYOUT/XX/ENTRY
	if st := v.Stats(); st.DiskMisses+st.DiskHits == 0 || len(entries) == 0 {
		t.Errorf("disk cache in %s: %d entries, stats %v", dir, len(entries), st)
	}
}
