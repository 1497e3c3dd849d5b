package s3vfs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
)

// objectFile returns the file in which the local server keeps an object:
// versitygw's posix backend stores each object as a plain file at
// DataDir/bucket/key.
func (e *env) objectFile(key string) string {
	e.t.Helper()
	if server.DataDir() == "" {
		e.t.Skip("tampering with objects needs the local server (S3VFS_TEST_ENDPOINT is set)")
	}
	path := filepath.Join(server.DataDir(), e.bucket, filepath.FromSlash(key))
	if _, err := os.Stat(path); err != nil {
		e.t.Fatalf("object %s is not at %s: %v", key, path, err)
	}
	return path
}

// blockObjects returns, for each block index of the database at key, the
// name of its newest object (names sort by index, then by commit).
func (e *env) blockObjects(key string) []string {
	e.t.Helper()
	prefix := key + "/_blocks/"
	keys, err := server.Keys(context.Background(), e.bucket, prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	var newest []string
	for i, k := range keys {
		idx := strings.TrimPrefix(k, prefix)[:12]
		if i+1 == len(keys) || !strings.HasPrefix(keys[i+1], prefix+idx) {
			newest = append(newest, k)
		}
	}
	return newest
}

// TestCorruptBlockDetected: a block object changed on the server behind
// the library's back (one byte flipped, or the object replaced by another
// block of the same length) is detected by its CRC32C and reported as an
// error; its bytes are never served.
func TestCorruptBlockDetected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(e *env, victim, other string)
	}{
		{"flipped byte", func(e *env, victim, _ string) {
			path := e.objectFile(victim)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0x01
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"swapped block", func(e *env, victim, other string) {
			data, err := os.ReadFile(e.objectFile(other))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(e.objectFile(victim), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &s3vfsOptsSmall)
			db := e.open("corrupt.db", "_pragma=page_size(4096)")
			mustExec(t, db, "CREATE TABLE t(x)")
			mustExec(t, db, "INSERT INTO t SELECT randomblob(3000) FROM generate_series(1, 20)")
			db.Close()

			// Two full blocks of table data, past the header block.
			blocks := e.blockObjects("corrupt.db")
			if len(blocks) < 4 {
				t.Fatalf("only %d block objects", len(blocks))
			}
			victim, other := blocks[2], blocks[3]
			tc.tamper(e, victim, other)

			// A process with an empty cache must notice.
			db2 := openDB(t, e.register(e.newVFS(&s3vfsOptsSmall)), "corrupt.db")
			var n int64
			err := db2.QueryRow("SELECT count(*) FROM t WHERE length(x) = 3000").Scan(&n)
			if err == nil {
				t.Fatalf("read a database with a corrupt block: no error (count %d)", n)
			}
			if !errors.Is(err, sqlite3.IOERR) || !strings.Contains(err.Error(), "corrupt") {
				t.Fatalf("got %v, want SQLITE_IOERR naming the corrupt block", err)
			}
			if !strings.Contains(err.Error(), victim) {
				t.Fatalf("the error %q does not name the object %s", err, victim)
			}
			t.Log(err)

			// And Serialize refuses it too, rather than yield its bytes.
			var serr error
			for _, err := range e.newVFS(&s3vfsOptsSmall).Serialize(context.Background(), "corrupt.db") {
				if err != nil {
					serr = err
					break
				}
			}
			if serr == nil || !strings.Contains(serr.Error(), "corrupt") {
				t.Fatalf("Serialize of a corrupt database: %v, want an error naming the corrupt block", serr)
			}
		})
	}
}

// TestCorruptRecordDetected: a commit record damaged on the server makes
// opening the database fail with a clear error.
func TestCorruptRecordDetected(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("rec.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	db.Close()

	keys, err := server.Keys(context.Background(), e.bucket, "rec.db/_commits/")
	if err != nil || len(keys) == 0 {
		t.Fatalf("records: %v %v", keys, err)
	}
	path := e.objectFile(keys[0]) // the newest
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x80
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	db2 := openDB(t, e.register(e.newVFS(&s3vfsOptsSmall)), "rec.db")
	err = db2.Ping()
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("open with a corrupt head record: %v, want an error saying it is corrupt", err)
	}
	t.Log(err)
}
