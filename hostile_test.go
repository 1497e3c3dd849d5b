package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
)

// TestHostileKeys: database keys that cannot name a database are refused
// with a clear error, through SQLite and through Serialize/Deserialize,
// and nothing is ever written outside the prefix of an accepted key.
func TestHostileKeys(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	ctx := context.Background()
	hostile := []struct{ key, why string }{
		{"..", "'..'"},
		{"a/../b", "'..'"},
		{"./a", "'.'"},
		{"/abs/db", "starts with '/'"},
		{"//db", "starts with '/'"},
		{"a//b", "empty path segment"},
		{"dir/", "ends with '/'"},
		{strings.Repeat("k", 901), "bytes long"},
		{strings.Repeat("long/", 200) + "db", "bytes long"}, // 1002 bytes
		{"bad\xff\xfeutf8", "UTF-8"},
		{"ctl\x01db", "control character"},
		{"tab\tdb", "control character"},
		{"a/_blocks/b", "reserved segment"},
		{"_commits", "reserved segment"},
		{"x/_checkpoints", "reserved segment"},
	}
	for _, h := range hostile {
		// Through SQLite. The URI form percent-encodes the key so that
		// SQLite hands the VFS exactly these bytes.
		db := openDB(t, e.name, uriEscape(h.key))
		_, err := db.Exec("CREATE TABLE t(x)")
		if err == nil || !errors.Is(err, sqlite3.CANTOPEN) || !strings.Contains(err.Error(), h.why) {
			t.Errorf("open %q: got %v, want SQLITE_CANTOPEN saying %q", h.key, err, h.why)
		}
		db.Close()

		// Through the Go API.
		err = e.vfs.Deserialize(ctx, h.key, bytes.NewReader(sqliteHeader(512, 2)))
		if !errors.Is(err, s3vfs.ErrInvalidKey) || !strings.Contains(err.Error(), h.why) {
			t.Errorf("Deserialize %q: got %v, want ErrInvalidKey saying %q", h.key, err, h.why)
		}
		for _, err := range e.vfs.Serialize(ctx, h.key) {
			if !errors.Is(err, s3vfs.ErrInvalidKey) {
				t.Errorf("Serialize %q: got %v, want ErrInvalidKey", h.key, err)
			}
			break
		}
	}
	// Longer names than SQLite's 1024-byte path limit make the driver
	// (go-sqlite3 v0.37.0) panic before the VFS sees them, so they are
	// only tried through the Go API.
	huge := strings.Repeat("huge/", 1000) + "db"
	if err := e.vfs.Deserialize(ctx, huge, bytes.NewReader(sqliteHeader(512, 2))); !errors.Is(err, s3vfs.ErrInvalidKey) {
		t.Errorf("Deserialize of a %d-byte key: %v, want ErrInvalidKey", len(huge), err)
	}

	// Keys that are fine, odd as they look; and the empty name, which
	// SQLite uses for a temporary database that never reaches the bucket.
	accepted := []string{"ok.db", "dir/sub/ok.db", "sp ace/ünï.db", "a..b", "...x", "%41"}
	for _, key := range accepted {
		db := openDB(t, e.name, uriEscape(key))
		mustExec(t, db, "CREATE TABLE t(x)")
		mustExec(t, db, "INSERT INTO t VALUES (1)")
		db.Close()
	}
	tmp := openDB(t, e.name, "")
	mustExec(t, tmp, "CREATE TABLE t(x)")
	tmp.Close()

	// Every object written lies under the prefix of an accepted key.
	written := e.proxy.Written()
	if len(written) == 0 {
		t.Fatal("nothing was written for the accepted keys")
	}
outer:
	for _, w := range written {
		key := strings.TrimPrefix(w, e.bucket+"/")
		for _, ok := range accepted {
			if strings.HasPrefix(key, ok+"/_") {
				continue outer
			}
		}
		t.Errorf("object written outside every accepted key's prefix: %q", key)
	}
}

// uriEscape percent-encodes what a URI path cannot hold verbatim.
func uriEscape(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("%?#&=", c) >= 0 {
			b.WriteString("%")
			b.WriteString(strings.ToUpper(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// TestHostileOptions: out-of-range options are refused by New with an
// error that names the setting and its range; none panics.
func TestHostileOptions(t *testing.T) {
	client := server.Client("")
	bad := []struct {
		opts s3vfs.Options
		want string
	}{
		{s3vfs.Options{BlockSize: -1}, "block size -1 is out of range"},
		{s3vfs.Options{BlockSize: 1}, "block size 1 is out of range"},
		{s3vfs.Options{BlockSize: 511}, "block size 511 is out of range"},
		{s3vfs.Options{BlockSize: 16<<20 + 1}, "out of range"},
		{s3vfs.Options{BlockSize: 1 << 40}, "out of range"},
		{s3vfs.Options{Concurrency: -3}, "concurrency -3 is out of range"},
		{s3vfs.Options{Concurrency: 1 << 20}, "out of range"},
		{s3vfs.Options{Retention: time.Millisecond}, "retention"},
		{s3vfs.Options{Retention: -time.Hour}, "retention"},
		{s3vfs.Options{RequestTimeout: -time.Second}, "request timeout"},
		{s3vfs.Options{AttemptTimeout: -time.Second}, "attempt timeout"},
	}
	for _, b := range bad {
		v, err := s3vfs.New(client, "bucket", &b.opts)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("New(%+v): %v, %v; want an error saying %q", b.opts, v, err, b.want)
		}
	}
	if _, err := s3vfs.New(nil, "bucket", nil); err == nil {
		t.Error("New with a nil client: no error")
	}
	if _, err := s3vfs.New(client, "", nil); err == nil {
		t.Error("New with no bucket: no error")
	}

	// Cache sizes: negative disables the cache, huge is only a bound.
	e := newEnv(t, &s3vfs.Options{CacheSize: -1 << 40})
	db := e.open("nocache.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	integrityOK(t, db)
	e2 := newEnv(t, &s3vfs.Options{CacheSize: 1 << 62})
	db2 := e2.open("hugecache.db")
	mustExec(t, db2, "CREATE TABLE t(x)")
	integrityOK(t, db2)
}

// TestHostileURIParameters: unknown or malformed URI parameters fail the
// open with a clear error and write nothing.
func TestHostileURIParameters(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	for _, p := range []struct{ param, want string }{
		{"blocksize=4096", `unknown URI parameter "blocksize"`},
		{"cache_size=1", `unknown URI parameter "cache_size"`},
		{"staleness=-1", "staleness"},
		{"staleness=abc", "staleness"},
		{"staleness=99999999999999999999", "staleness"},
		{"staleness=86400001", "staleness"},
	} {
		db := e.open("params.db", p.param)
		_, err := db.Exec("CREATE TABLE t(x)")
		if err == nil || !strings.Contains(err.Error(), p.want) {
			t.Errorf("?%s: %v, want an error saying %q", p.param, err, p.want)
		}
		db.Close()
	}
	if w := e.proxy.Written(); len(w) != 0 {
		t.Errorf("refused opens wrote %v", w)
	}
}
