package s3vfs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/testproc"
)

func TestDeserializeRejectsNonDatabase(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("keep.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES ('original')")
	ctx := context.Background()
	before := e.vfs.Stats().Commits

	inputs := map[string][]byte{
		"text":      []byte(strings.Repeat("this is not a database\n", 1000)),
		"empty":     nil,
		"truncated": nil, // a real header, cut short of a page
	}
	var real bytes.Buffer
	for b, err := range e.vfs.Serialize(ctx, "keep.db") {
		if err != nil {
			t.Fatal(err)
		}
		real.Write(b)
	}
	inputs["truncated"] = real.Bytes()[:real.Len()-100]

	for name, in := range inputs {
		err := e.vfs.Deserialize(ctx, "keep.db", bytes.NewReader(in))
		if !errors.Is(err, s3vfs.ErrNotDatabase) {
			t.Errorf("%s: Deserialize = %v, want ErrNotDatabase", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	if got := e.vfs.Stats().Commits; got != before {
		t.Fatalf("a refused Deserialize committed (%d commits)", got-before)
	}
	if got := queryString(t, db, "SELECT x FROM t"); got != "original" {
		t.Fatalf("database changed: %q", got)
	}
	// Nothing of the refused uploads is left behind.
	keys, err := server.Keys(ctx, e.bucket, "keep.db/_blocks/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 { // the original commit's blocks: table page and page 1
		t.Logf("blocks: %v", keys)
	}
	for _, k := range keys {
		if !strings.Contains(k, ".0000000000000000001.") && !strings.Contains(k, ".0000000000000000002.") {
			t.Errorf("left behind by a refused Deserialize: %s", k)
		}
	}
}

func TestOpenCreates(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("brand/new.db")
	if got := queryInt(t, db, "SELECT count(*) FROM sqlite_schema"); got != 0 {
		t.Fatalf("new database has %d schema rows", got)
	}
	mustExec(t, db, "CREATE TABLE t(x)")
	keys, err := server.Keys(context.Background(), e.bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("creating a table wrote nothing")
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "brand/new.db/") {
			t.Errorf("object outside the database's prefix: %s", k)
		}
	}
}

// A missing bucket or bad credentials give a clear error from the first
// statement, quickly.
func TestClearErrors(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name   string
		client *s3.Client
		bucket string
		want   string
	}{
		{"missing bucket", server.Client(e.proxy.URL), "no-such-bucket-" + testproc.RandomHex(4), "bucket does not exist"},
		{"bad credentials", s3.New(s3.Options{
			BaseEndpoint: aws.String(e.proxy.URL), Region: server.Region, UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider("nobody", "wrong", ""),
		}), e.bucket, "access denied"},
		{"wrong secret", s3.New(s3.Options{
			BaseEndpoint: aws.String(e.proxy.URL), Region: server.Region, UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(server.AccessKey, "wrong", ""),
		}), e.bucket, "access denied"},
		{"unreachable endpoint", server.Client("http://127.0.0.1:1"), e.bucket, "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := s3vfs.New(c.client, c.bucket, &s3vfs.Options{RequestTimeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite3", "file:x.db?vfs="+e.register(v))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			start := time.Now()
			_, err = db.Exec("CREATE TABLE t(x)")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one saying %q", err, c.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %v", d)
			}
			// The SDK's request and host IDs are kept for errors.As, but
			// are noise in the message.
			if msg := err.Error(); strings.Contains(msg, "RequestID") || strings.Contains(msg, "HostID") {
				t.Errorf("the message carries the SDK's IDs: %s", msg)
			}
			t.Log(err)
		})
	}
}

func TestNewRejectsBadArguments(t *testing.T) {
	c := server.Client("")
	for _, tc := range []struct {
		name   string
		client *s3.Client
		bucket string
		opts   *s3vfs.Options
		want   string
	}{
		{"nil client", nil, "b", nil, "nil *s3.Client"},
		{"empty bucket", c, "", nil, "empty bucket"},
		{"small block", c, "b", &s3vfs.Options{BlockSize: 511}, "block size 511 is out of range"},
		{"huge block", c, "b", &s3vfs.Options{BlockSize: 16<<20 + 1}, "out of range"},
		{"negative block", c, "b", &s3vfs.Options{BlockSize: -4096}, "out of range"},
	} {
		_, err := s3vfs.New(tc.client, tc.bucket, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func TestBadKeys(t *testing.T) {
	e := newEnv(t, nil)
	for _, key := range []string{"/abs.db", "a//b.db", "a/../b.db", "x.db/_blocks/y.db", "dir/"} {
		db := e.open(key)
		_, err := db.Exec("CREATE TABLE t(x)")
		if err == nil || !strings.Contains(err.Error(), "invalid database key") {
			t.Errorf("key %q: %v, want an invalid key error", key, err)
		}
	}
	if w := e.proxy.Written(); len(w) != 0 {
		t.Fatalf("bad keys wrote objects: %v", w)
	}
}

func TestWALRefused(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("wal.db")
	mode := queryString(t, db, "PRAGMA journal_mode=WAL")
	if mode == "wal" {
		t.Fatal("journal_mode=WAL was accepted")
	}
	mustExec(t, db, "CREATE TABLE t(x)")
	integrityOK(t, db)
}

// A main database without a name is refused: it is not a temporary file
// (SQLite flags those TEMP_DB), and an in-memory file would silently lose
// every write.
func TestMainDatabaseWithoutName(t *testing.T) {
	e := newEnv(t, nil)
	f, flags, err := e.vfs.Open("", vfs.OPEN_MAIN_DB|vfs.OPEN_READWRITE|vfs.OPEN_CREATE)
	if err == nil {
		f.Close()
		t.Fatalf("opened (flags %#x), want CANTOPEN", flags)
	}
	if !strings.Contains(err.Error(), "invalid database key") {
		t.Fatalf("error %v does not name the missing key", err)
	}
}
