package s3vfs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// Databases written by the Python library sqlite-s3vfs, built here from
// its documented naming (KEY/0000000000, … of block_size bytes, the last
// shorter), since the library cannot be installed on CI machines.

// localDatabase returns the bytes of a local SQLite file with the given
// page size and rows rows in table items.
func localDatabase(t *testing.T, pageSize, rows int) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "src.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?vfs=os")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		fmt.Sprintf("PRAGMA page_size=%d", pageSize),
		"CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, pad BLOB)",
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d)
			INSERT INTO items SELECT i, 'item ' || i, randomblob(i %% 300) FROM n`, rows),
		"CREATE INDEX items_name ON items(name)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// putPythonLayout uploads data under key in the Python library's layout.
func putPythonLayout(t *testing.T, e *env, key string, data []byte, blockSize int) {
	t.Helper()
	client := server.Client(e.proxy.URL)
	for i := 0; i*blockSize < len(data) || i == 0; i++ {
		block := data[i*blockSize : min((i+1)*blockSize, len(data))]
		putObject(t, client, e.bucket, fmt.Sprintf("%s/%010d", key, i), block)
	}
}

func putObject(t *testing.T, client *s3.Client, bucket, key string, data []byte) {
	t.Helper()
	_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// serializedFile returns the newest commit of key as a file.
func serializedFile(t *testing.T, v *s3vfs.VFS, key string) []byte {
	t.Helper()
	var b bytes.Buffer
	for data, err := range v.Serialize(context.Background(), key) {
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.Bytes()
}

// sameFile compares two database files, the change counter and
// version-valid-for number aside (s3vfs serves them).
func sameFile(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(i >= 24 && i < 28 || i >= 92 && i < 96) {
			return false
		}
	}
	return true
}

// A Python-layout database opens read-only with its rows, refuses writes
// naming the migration, migrates in place to a byte-identical database,
// and a second Migrate copies nothing; over block and page sizes.
func TestLegacyReadAndMigrate(t *testing.T) {
	for _, bs := range []int{512, 4095, 4096, 4097, 65536} {
		for _, ps := range []int{512, 1024, 4096, 16384, 65536} {
			t.Run(fmt.Sprintf("block=%d/page=%d", bs, ps), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, &s3vfs.Options{BlockSize: 8192})
				src := localDatabase(t, ps, 400)
				putPythonLayout(t, e, "legacy/seed.db", src, bs)

				db := e.open("legacy/seed.db")
				if n := queryInt(t, db, "SELECT count(*) FROM items"); n != 400 {
					t.Fatalf("%d rows, want 400", n)
				}
				integrityOK(t, db)
				_, err := db.Exec("INSERT INTO items(name) VALUES ('new')")
				if !errors.Is(err, s3vfs.ErrLegacyLayout) || !strings.Contains(err.Error(), "s3vfs migrate s3://"+e.bucket+"/legacy/seed.db") {
					t.Fatalf("write before migration: %v, want ErrLegacyLayout naming s3vfs migrate with the bucket and key", err)
				}
				db.Close()

				ctx := context.Background()
				var progress int64
				r, err := e.vfs.Migrate(ctx, "legacy/seed.db", &s3vfs.MigrateOptions{Progress: func(done, total int64) { progress = done }})
				if err != nil {
					t.Fatal(err)
				}
				if r.Commit != 1 || r.AlreadyMigrated || r.Bytes != int64(len(src)) || progress != int64(len(src)) {
					t.Fatalf("report %+v, progress %d; want commit 1 of %d bytes", r, progress, len(src))
				}
				fresh := e.newVFS(nil)
				if got := serializedFile(t, fresh, "legacy/seed.db"); !sameFile(got, src) {
					t.Fatalf("the migrated database (%d bytes) differs from the source (%d bytes)", len(got), len(src))
				}
				again, err := fresh.Migrate(ctx, "legacy/seed.db", nil)
				if err != nil || !again.AlreadyMigrated || again.Commit != 1 {
					t.Fatalf("second Migrate: %+v, %v; want already migrated at commit 1", again, err)
				}
				mdb := openDB(t, e.register(fresh), "legacy/seed.db")
				mustExec(t, mdb, "INSERT INTO items(name) VALUES ('new')")
				if n := queryInt(t, mdb, "SELECT count(*) FROM items"); n != 401 {
					t.Fatalf("after migration: %d rows, want 401", n)
				}
				integrityOK(t, mdb)
			})
		}
	}
}

// Migrate to another key, deleting the old objects (and a zeroed journal)
// only once the new database is published.
func TestLegacyMigrateToDeleteLegacy(t *testing.T) {
	e := newEnv(t, nil)
	src := localDatabase(t, 4096, 200)
	putPythonLayout(t, e, "old.db", src, 4096)
	putObject(t, server.Client(e.proxy.URL), e.bucket, "old.db-journal/0000000000", make([]byte, 512))
	r, err := e.vfs.Migrate(context.Background(), "old.db", &s3vfs.MigrateOptions{To: "new.db", BlockSize: 65536, DeleteLegacy: true})
	if err != nil {
		t.Fatal(err)
	}
	wantDeleted := (len(src)+4095)/4096 + 1
	if r.Key != "new.db" || r.LegacyDeleted != wantDeleted {
		t.Fatalf("report %+v, want new.db and %d objects deleted", r, wantDeleted)
	}
	if n := countObjects(t, e, "old.db"); n != 0 {
		t.Fatalf("%d objects left under old.db", n)
	}
	if got := serializedFile(t, e.newVFS(nil), "new.db"); !sameFile(got, src) {
		t.Fatal("new.db differs from the source")
	}
	info, err := e.newVFS(nil).Info(context.Background(), "new.db")
	if err != nil || info.BlockSize != 65536 {
		t.Fatalf("info %+v, %v: want block size 65536", info, err)
	}
	wantMade(t, e.vfs, history(t, e.vfs, "new.db"), "new.db", r.Commit, "migrate", 0, magicR3)
	// Nothing left to migrate.
	if _, err := e.vfs.Migrate(context.Background(), "old.db", nil); !errors.Is(err, s3vfs.ErrNoDatabase) {
		t.Fatalf("Migrate after the old objects are gone: %v, want ErrNoDatabase", err)
	}
}

// Migrate of a key that holds an s3vfs database and no Python-layout one
// finds nothing to migrate: in place it reports so (Native), as after an
// in-place migration that deleted the old objects; to another key it is
// an error that names the database, not ErrNoDatabase.
func TestMigrateNativeDatabase(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	mustExec(t, e.open("native.db"), "CREATE TABLE t(x)")
	r, err := e.vfs.Migrate(ctx, "native.db", &s3vfs.MigrateOptions{DeleteLegacy: true})
	if err != nil || !r.Native || !r.AlreadyMigrated || r.Commit != 1 || r.Key != "native.db" || r.LegacyDeleted != 0 {
		t.Fatalf("Migrate of an s3vfs database in place: %+v, %v; want Native at commit 1", r, err)
	}
	_, err = e.vfs.Migrate(ctx, "native.db", &s3vfs.MigrateOptions{To: "copy.db"})
	if err == nil || errors.Is(err, s3vfs.ErrNoDatabase) || !strings.Contains(err.Error(), "s3://"+e.bucket+"/native.db is already an s3vfs database") {
		t.Fatalf("Migrate of an s3vfs database to another key: %v, want an error naming the s3vfs database", err)
	}
	if n := countObjects(t, e, "copy.db"); n != 0 {
		t.Fatalf("%d objects written under copy.db", n)
	}
}

// A journal whose header is not zeroed (a Python transaction died
// half-way) is refused rather than read torn; an empty or zeroed one is
// not hot.
func TestLegacyHotJournal(t *testing.T) {
	e := newEnv(t, nil)
	client := server.Client(e.proxy.URL)
	src := localDatabase(t, 4096, 50)
	for _, c := range []struct {
		key     string
		journal []byte // nil: none
		hot     bool
	}{
		{"none.db", nil, false},
		{"empty.db", []byte{}, false},
		{"zeroed.db", make([]byte, 28), false},
		{"hot.db", append([]byte{0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7}, make([]byte, 20)...), true},
	} {
		putPythonLayout(t, e, c.key, src, 4096)
		if c.journal != nil {
			putObject(t, client, e.bucket, c.key+"-journal/0000000000", c.journal)
		}
		info, err := e.newVFS(nil).Info(context.Background(), c.key)
		db := openDB(t, e.register(e.newVFS(nil)), c.key)
		var n int64
		qerr := db.QueryRow("SELECT count(*) FROM items").Scan(&n)
		switch {
		case c.hot && (qerr == nil || !strings.Contains(qerr.Error(), "hot journal")):
			t.Errorf("%s: %v, want an error naming the hot journal", c.key, qerr)
		case !c.hot && (qerr != nil || n != 50):
			t.Errorf("%s: %d rows, %v; want 50", c.key, n, qerr)
		}
		if c.hot {
			if _, err := e.vfs.Migrate(context.Background(), c.key, nil); err == nil || !strings.Contains(err.Error(), "hot journal") {
				t.Errorf("Migrate of %s: %v, want the hot journal refused", c.key, err)
			}
		} else if info.Layout != "python" || info.FormatVersion != 0 || info.FileSize != int64(len(src)) || err != nil {
			t.Errorf("Info of %s: %+v, %v; want the Python layout, %d bytes", c.key, info, err, len(src))
		}
	}
}

// A key holding a Python-layout database and a different s3vfs database is
// an error naming both; a.db next to a.db2 are two databases.
func TestLegacyBothLayoutsAndNeighbours(t *testing.T) {
	e := newEnv(t, nil)
	putPythonLayout(t, e, "a.db", localDatabase(t, 4096, 10), 4096)
	putPythonLayout(t, e, "a.db2", localDatabase(t, 4096, 20), 4096)
	for key, want := range map[string]int64{"a.db": 10, "a.db2": 20} {
		if n := queryInt(t, openDB(t, e.register(e.newVFS(nil)), key), "SELECT count(*) FROM items"); n != want {
			t.Fatalf("%s: %d rows, want %d", key, n, want)
		}
	}
	other := e.open("v1.db")
	mustExec(t, other, "CREATE TABLE t(x)")
	_, err := e.vfs.Migrate(context.Background(), "a.db", &s3vfs.MigrateOptions{To: "v1.db"})
	if !errors.Is(err, s3vfs.ErrLegacyLayout) || !strings.Contains(err.Error(), "a.db") || !strings.Contains(err.Error(), "v1.db") {
		t.Fatalf("Migrate onto a different s3vfs database: %v, want an error naming both", err)
	}
	if err := e.vfs.Deserialize(context.Background(), "a.db", bytes.NewReader(localDatabase(t, 4096, 1))); !errors.Is(err, s3vfs.ErrLegacyLayout) {
		t.Fatalf("Deserialize over a Python-layout database: %v, want ErrLegacyLayout", err)
	}
}

// A block rewritten after the database was opened (a Python writer at
// work) fails the read rather than mixing versions.
func TestLegacyChangedBlock(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{CacheSize: -1})
	src := localDatabase(t, 4096, 300)
	putPythonLayout(t, e, "busy.db", src, 4096)
	db := e.open("busy.db")
	db.SetMaxOpenConns(1)
	if n := queryInt(t, db, "PRAGMA page_count"); n < 3 {
		t.Fatalf("page_count %d", n)
	}
	changed := bytes.Clone(src[4096:8192])
	changed[100] ^= 0xff
	putObject(t, server.Client(e.proxy.URL), e.bucket, "busy.db/0000000001", changed)
	var n int64
	err := db.QueryRow("SELECT sum(length(pad)) FROM items").Scan(&n) // every page of the table, block 1 too
	if err == nil || !strings.Contains(err.Error(), "changed since") {
		t.Fatalf("read after a block changed: %d, %v; want an error saying it changed", n, err)
	}
}

// Looking for the Python layout costs nothing on a format-v1 database: its
// open never lists the key's whole prefix. A key with no database at all
// costs one LIST more at open, once.
func TestLegacyLookupOnlyForNewKeys(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("v1.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	var mu sync.Mutex
	var lists []string
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind == s3proxy.LIST {
			mu.Lock()
			lists = append(lists, req.Query.Get("prefix"))
			mu.Unlock()
		}
		return false
	})
	v1 := openDB(t, e.register(e.newVFS(nil)), "v1.db")
	queryInt(t, v1, "SELECT count(*) FROM t")
	queryInt(t, v1, "SELECT count(*) FROM t")
	mu.Lock()
	if len(lists) != 1 || lists[0] != "v1.db/_commits/" {
		t.Errorf("opening and reading a v1 database listed %q, want only v1.db/_commits/", lists)
	}
	lists = nil
	mu.Unlock()

	fresh := openDB(t, e.register(e.newVFS(nil)), "new.db")
	queryInt(t, fresh, "PRAGMA user_version")
	queryInt(t, fresh, "PRAGMA user_version")
	mu.Lock()
	defer mu.Unlock()
	if len(lists) != 2 || lists[0] != "new.db/_commits/" || lists[1] != "new.db/" {
		t.Errorf("opening a new key listed %q, want new.db/_commits/ then new.db/ once", lists)
	}
}

// What ExportPythonLayout writes, s3vfs reads as the Python layout and
// migrates back: the round trip is byte for byte.
func TestLegacyExportRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("src.db")
	mustExec(t, db, "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)")
	mustExec(t, db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
		INSERT INTO items SELECT i, 'item ' || i FROM n`)
	ctx := context.Background()
	if _, err := e.vfs.ExportPythonLayout(ctx, "src.db", "py.db", 4096); err != nil {
		t.Fatal(err)
	}
	py := openDB(t, e.register(e.newVFS(nil)), "py.db")
	if n := queryInt(t, py, "SELECT count(*) FROM items"); n != 2000 {
		t.Fatalf("the exported database reads %d rows, want 2000", n)
	}
	if _, err := e.vfs.Migrate(ctx, "py.db", &s3vfs.MigrateOptions{To: "back.db"}); err != nil {
		t.Fatal(err)
	}
	v := e.newVFS(nil)
	if !sameFile(serializedFile(t, v, "back.db"), serializedFile(t, v, "src.db")) {
		t.Fatal("src.db → Python layout → back.db changed the database")
	}
}

// Objects the Python library never leaves, a gap or a short block before
// the last, are refused naming the block rather than read as a shifted file.
func TestLegacyTornLayoutRefused(t *testing.T) {
	e := newEnv(t, nil)
	client := server.Client(e.proxy.URL)
	src := localDatabase(t, 4096, 200)
	putPythonLayout(t, e, "gap.db", src, 4096)
	if _, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{
		Bucket: aws.String(e.bucket), Key: aws.String("gap.db/0000000001"),
	}); err != nil {
		t.Fatal(err)
	}
	putPythonLayout(t, e, "short.db", src, 4096)
	putObject(t, client, e.bucket, "short.db/0000000001", src[4096:5000])
	for key, want := range map[string]string{"gap.db": "block 1 is missing", "short.db": "block 1 is 904 bytes"} {
		var n int64
		err := openDB(t, e.register(e.newVFS(nil)), key).QueryRow("SELECT count(*) FROM items").Scan(&n)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", key, err, want)
		}
	}
}
