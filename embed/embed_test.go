package embed_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"

	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/s3vfs/s3vfs/embed"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

var server *s3test.Server

func TestMain(m *testing.M) {
	srv, err := s3test.Start(context.Background(), func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: no S3 server for the tests:", err)
		os.Exit(1)
	}
	code := func() int {
		defer srv.Close()
		server = srv
		return m.Run()
	}()
	os.Exit(code)
}

// awsEnv points the standard AWS configuration chain at the test server.
func awsEnv(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", server.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", server.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", server.SecretKey)
	t.Setenv("AWS_REGION", server.Region)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("S3VFS_PATH_STYLE", "1")
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
