package s3vfs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
	"github.com/ncruces/go-sqlite3/vfs/adiantum"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
	"github.com/s3vfs/s3vfs/internal/testproc"
)

// TestAdiantumCiphertextOnly checks that with the adiantum wrapper every
// object in the bucket is ciphertext, that another VFS with the key reads
// the data back, and that a wrong key cannot.
func TestAdiantumCiphertextOnly(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	name := registerVFS(t, adiantum.Wrap(e.vfs, nil))
	db, err := openEncrypted(name, "enc/db.sqlite", exampleHexKey)
	if err != nil {
		t.Fatal(err)
	}
	const marker = "PLAINTEXT-MARKER-a1b2c3"
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, secret TEXT)")
	mustExec(t, db, "CREATE INDEX t_secret ON t(secret)")
	for i := 0; i < 3; i++ {
		mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 200)
			INSERT INTO t(secret) SELECT ? || i FROM n`, marker)
	}
	integrityOK(t, db)
	db.Close()

	// Every object in the bucket: no plaintext, no SQLite header, no schema.
	ctx := context.Background()
	keys, err := server.Keys(ctx, e.bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	var blocks int
	for _, k := range keys {
		out, err := server.Client("").GetObject(ctx, &s3.GetObjectInput{Bucket: &e.bucket, Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(out.Body)
		out.Body.Close()
		for _, plain := range []string{marker, "SQLite format 3", "CREATE TABLE", "t_secret"} {
			if bytes.Contains(buf.Bytes(), []byte(plain)) {
				t.Errorf("object %s holds plaintext %q", k, plain)
			}
		}
		if strings.Contains(k, "/_blocks/") {
			blocks++
		}
	}
	if blocks < 3 {
		t.Fatalf("only %d block objects: the test checked too little (keys %v)", blocks, keys)
	}

	// Another VFS (another process) with the key reads it back.
	other := registerVFS(t, adiantum.Wrap(e.newVFS(&s3vfsOptsSmall), nil))
	db2, err := openEncrypted(other, "enc/db.sqlite", exampleHexKey)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if n := queryInt(t, db2, "SELECT count(*) FROM t WHERE secret LIKE ?", marker+"%"); n != 600 {
		t.Fatalf("read back %d rows, want 600", n)
	}
	integrityOK(t, db2)

	// A wrong key reads nothing.
	wrong := strings.Repeat("00", 32)
	db3, err := openEncrypted(registerVFS(t, adiantum.Wrap(e.newVFS(&s3vfsOptsSmall), nil)), "enc/db.sqlite", wrong)
	if err != nil {
		t.Fatal(err)
	}
	defer db3.Close()
	var n int
	if err := db3.QueryRow("SELECT count(*) FROM t").Scan(&n); err == nil {
		t.Fatalf("a wrong key read %d rows", n)
	}
}

// registerVFS registers any VFS under a fresh name, unregistered at cleanup.
func registerVFS(t *testing.T, v vfs.VFS) string {
	name := "s3test-" + testproc.RandomHex(6)
	vfs.Register(name, v)
	t.Cleanup(func() { vfs.Unregister(name) })
	return name
}

// TestAdiantumNoStaleCache checks the change counter rule under
// encryption: a connection that cached pages sees another connection's
// commit even when that commit leaves page 1 alone.
func TestAdiantumNoStaleCache(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	name := registerVFS(t, adiantum.Wrap(e.vfs, nil))
	db, err := openEncrypted(name, "enc/stale.db", exampleHexKey)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
		INSERT INTO t SELECT i, 'v0' FROM n`)

	ctx := context.Background()
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := 1; i <= 5; i++ {
		var got string
		if err := a.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1500").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := "v" + strconv.Itoa(i-1); got != want {
			t.Fatalf("round %d: connection a read %q, want %q (stale cache)", i, got, want)
		}
		if _, err := b.ExecContext(ctx, "UPDATE t SET v = ? WHERE id = 1500", "v"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	integrityOK(t, db)
}

// TestBatchAtomicUnknownHeader: whether a database is encrypted is read
// from its block 0. When that read fails, the file must not offer batch
// atomic writes (for ciphertext they would leave other connections' page
// caches stale); once block 0 reads again, the answer is the true one.
func TestBatchAtomicUnknownHeader(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	enc, err := openEncrypted(registerVFS(t, adiantum.Wrap(e.vfs, nil)), "hdr/enc.db", exampleHexKey)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	mustExec(t, enc, "CREATE TABLE t(x)")
	plain := e.open("hdr/plain.db")
	mustExec(t, plain, "CREATE TABLE t(x)")

	for _, c := range []struct {
		key       string
		encrypted bool
	}{{"hdr/enc.db", true}, {"hdr/plain.db", false}} {
		t.Run(c.key, func(t *testing.T) {
			// Another process without a block cache: every look at the
			// header is a request.
			v := e.newVFS(&s3vfs.Options{BlockSize: 4096, CacheSize: -1})
			f, _, err := v.Open(c.key, vfs.OPEN_MAIN_DB|vfs.OPEN_READWRITE)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			var denied atomic.Int64
			e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
				// Block 0: its object, or in format version 2 the
				// records whose pages overlay it.
				if req.Kind == s3proxy.GET && (strings.HasPrefix(req.Key, c.key+"/_blocks/000000000000.") ||
					strings.HasPrefix(req.Key, c.key+"/_commits/")) {
					denied.Add(1)
					s3test.WriteError(w, http.StatusForbidden, "AccessDenied", "Access Denied")
					return true
				}
				return false
			})
			caps := f.DeviceCharacteristics()
			e.proxy.SetHook(nil)
			if denied.Load() == 0 {
				t.Fatal("block 0 was not read")
			}
			if caps&vfs.IOCAP_BATCH_ATOMIC != 0 {
				t.Fatalf("block 0 unreadable: batch atomic writes offered (%#x)", caps)
			}
			caps = f.DeviceCharacteristics()
			if got := caps&vfs.IOCAP_BATCH_ATOMIC != 0; got == c.encrypted {
				t.Fatalf("block 0 readable again: batch atomic writes offered = %v, want %v", got, !c.encrypted)
			}
		})
	}
}

// TestAdiantumNeverRebases measures what docs/reference.md says of
// encrypted databases: SQLite rewrites page 1 (inside ciphertext) at every
// commit, so every lost race of two processes writing disjoint rows fails
// with SQLITE_BUSY, where the same races on a plain database are all
// rebased.
func TestAdiantumNeverRebases(t *testing.T) {
	const rounds = 10
	for _, encrypted := range []bool{false, true} {
		e := newEnv(t, &s3vfsOptsSmall)
		open := func() (*sql.DB, *s3vfs.VFS) {
			v := e.newVFS(&s3vfsOptsSmall)
			if !encrypted {
				return openDB(t, e.register(v), "enc/race.db"), v
			}
			db, err := openEncrypted(registerVFS(t, adiantum.Wrap(v, nil)), "enc/race.db", exampleHexKey)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, v
		}
		a, va := open()
		b, _ := open()
		a.SetMaxOpenConns(1)
		b.SetMaxOpenConns(1)
		mustExec(t, a, "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, pad TEXT)")
		mustExec(t, a, "INSERT INTO t SELECT value, 0, printf('%02000d', value) FROM generate_series(1, 20)")
		before := va.Stats()
		busy := 0
		for range rounds {
			tx, err := a.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("UPDATE t SET n = n + 1 WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			mustExec(t, b, "UPDATE t SET n = n + 1 WHERE id = 20") // another page, committed first
			switch err := tx.Commit(); {
			case errors.Is(err, sqlite3.BUSY):
				busy++
			case err != nil:
				t.Fatal(err)
			}
		}
		d := va.Stats().Sub(before)
		t.Logf("encrypted=%v: %d lost races, %d rebased, %d BUSY", encrypted, rounds, d.Rebases, busy)
		if want := map[bool]int{false: 0, true: rounds}[encrypted]; busy != want || d.Rebases != int64(rounds-want) {
			t.Errorf("encrypted=%v: %d of %d lost races BUSY and %d rebased, want %d BUSY", encrypted, busy, rounds, d.Rebases, want)
		}
		integrityOK(t, b)
	}
}
