package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ncruces/go-sqlite3"
)

// readObject, writeObject and removeObject change objects on the server
// behind the library's back: straight to the server, not through the
// env's proxy, so on any store.
func (e *env) readObject(key string) []byte {
	e.t.Helper()
	out, err := server.Client("").GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		e.t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		e.t.Fatalf("get %s: %v", key, err)
	}
	return data
}

func (e *env) writeObject(key string, data []byte) {
	e.t.Helper()
	_, err := server.Client("").PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	if err != nil {
		e.t.Fatalf("put %s: %v", key, err)
	}
}

func (e *env) removeObject(key string) {
	e.t.Helper()
	_, err := server.Client("").DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		e.t.Fatalf("delete %s: %v", key, err)
	}
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
			data := e.readObject(victim)
			data[len(data)/2] ^= 0x01
			e.writeObject(victim, data)
		}},
		{"swapped block", func(e *env, victim, other string) {
			e.writeObject(victim, e.readObject(other))
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
	data := e.readObject(keys[0]) // the newest
	data[len(data)/2] ^= 0x80
	e.writeObject(keys[0], data)

	db2 := openDB(t, e.register(e.newVFS(&s3vfsOptsSmall)), "rec.db")
	err = db2.Ping()
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("open with a corrupt head record: %v, want an error saying it is corrupt", err)
	}
	t.Log(err)
}
