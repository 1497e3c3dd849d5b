package s3vfs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// fillRows creates table t with n rows of about 220 bytes each.
func fillRows(t testing.TB, db *sql.DB, n int) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, v TEXT)")
	mustExec(t, db, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?)
		INSERT INTO t SELECT i, i % 100, hex(randomblob(100)) FROM c`, n)
}

// conn opens one connection, which opens the database file.
func conn(t testing.TB, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func connInt(t testing.TB, c *sql.Conn, query string, args ...any) int64 {
	t.Helper()
	var v int64
	if err := c.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// A warm point query costs one request (is there a newer commit?), and
// none within the staleness bound.
func TestWarmPointQueryRequests(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("warm.db")
	fillRows(t, db, 2000)
	for _, tc := range []struct {
		params string
		want   int
	}{{"", 1}, {"staleness=60000", 0}, {"immutable=1", 0}} {
		c := conn(t, openDB(t, e.name, "warm.db", tc.params))
		connInt(t, c, "SELECT grp FROM t WHERE id = 1234") // warm the cache
		e.proxy.Reset()
		before := e.vfs.Stats()
		for range 10 {
			if got := connInt(t, c, "SELECT grp FROM t WHERE id = 1234"); got != 34 {
				t.Fatalf("grp = %d, want 34", got)
			}
		}
		if got := e.proxy.Total(); got != 10*tc.want {
			t.Errorf("%q: 10 warm point queries made %d requests (%v), want %d", tc.params, got, e.proxy.Counts(), 10*tc.want)
		}
		if st := e.vfs.Stats().Sub(before); st.CacheMisses != 0 {
			t.Errorf("%q: warm point queries missed the cache: %v", tc.params, st)
		}
	}
}

// Options.Staleness is the default for databases without staleness=.
func TestStalenessOption(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{Staleness: time.Minute})
	db := e.open("stale.db")
	fillRows(t, db, 10)
	c := conn(t, db)
	connInt(t, c, "SELECT count(*) FROM t")
	e.proxy.Reset()
	connInt(t, c, "SELECT count(*) FROM t")
	if got := e.proxy.Total(); got != 0 {
		t.Errorf("with Staleness a warm query made %d requests, want 0", got)
	}
	c0 := conn(t, openDB(t, e.name, "stale.db", "staleness=0"))
	connInt(t, c0, "SELECT count(*) FROM t")
	e.proxy.Reset()
	connInt(t, c0, "SELECT count(*) FROM t")
	if got := e.proxy.Total(); got != 1 {
		t.Errorf("staleness=0 overrides Options.Staleness: a warm query made %d requests, want 1", got)
	}
}

// scanEnv makes a database of about 2 MB in 4 KiB blocks and returns it
// with the number of its blocks.
func scanEnv(t *testing.T) (*env, int) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	db := e.open("scan.db")
	fillRows(t, db, 8000)
	blocks := int(queryInt(t, db, "PRAGMA page_count")) // page = block = 4 KiB
	db.Close()
	return e, blocks
}

// A full scan is read ahead: far fewer sequential round trips than blocks.
func TestScanReadAhead(t *testing.T) {
	e, blocks := scanEnv(t)
	for _, ra := range []int{0, -1} {
		v := e.newVFS(&s3vfs.Options{ReadAhead: ra})
		c := conn(t, openDB(t, e.register(v), "scan.db"))
		e.proxy.SetLatency(waveLatency)
		e.proxy.Reset()
		if got := connInt(t, c, "SELECT count(*) FROM t WHERE v LIKE '%ABCDEF%'"); got < 0 {
			t.Fatal(got)
		}
		e.proxy.SetLatency(0)
		waves, gets := e.proxy.Waves(), e.proxy.Counts()["GET"]
		t.Logf("ReadAhead=%d: scan of %d blocks: %d GETs in %d sequential waves", ra, blocks, gets, waves)
		switch {
		case gets < blocks*9/10:
			t.Errorf("ReadAhead=%d: scan of %d blocks made only %d GETs", ra, blocks, gets)
		case ra == 0 && waves > blocks/4:
			t.Errorf("read-ahead on: %d sequential waves for %d blocks, want at most %d", waves, blocks, blocks/4)
		case ra < 0 && waves < blocks*9/10:
			t.Errorf("read-ahead off: %d sequential waves for %d blocks, want one per block", waves, blocks)
		}
	}
}

// Serialize fetches ahead in parallel too.
func TestSerializeReadAhead(t *testing.T) {
	e, blocks := scanEnv(t)
	v := e.newVFS(nil)
	e.proxy.SetLatency(waveLatency)
	defer e.proxy.SetLatency(0)
	e.proxy.Reset()
	r := v.SerializeReader(context.Background(), "scan.db")
	n, err := io.Copy(io.Discard, r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	waves := e.proxy.Waves()
	t.Logf("Serialize of %d bytes in %d blocks: %d requests in %d waves", n, blocks, e.proxy.Total(), waves)
	if n != int64(blocks)*4096 {
		t.Errorf("Serialize gave %d bytes, want %d", n, blocks*4096)
	}
	if waves > blocks/4 {
		t.Errorf("Serialize of %d blocks took %d sequential waves, want at most %d", blocks, waves, blocks/4)
	}
}

// Opening a database costs the same few requests however long its
// history: one LIST, the head record, its checkpoint if it has one, and
// the block SQLite reads the header from.
func TestColdOpenConstant(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	db := e.open("hist.db")
	fillRows(t, db, 500)
	openCost := func() map[string]int {
		v := e.newVFS(nil)
		d := openDB(t, e.register(v), "hist.db")
		e.proxy.Reset()
		conn(t, d) // opens the file
		counts := map[string]int{}
		for k, n := range e.proxy.Counts() {
			counts[string(k)] = n
		}
		return counts
	}
	first := openCost()
	for i := range 300 {
		mustExec(t, db, "UPDATE t SET grp = grp + 1 WHERE id = ?", 1+i%500)
	}
	later := openCost()
	t.Logf("cold open: %v at commit 2, %v after 300 more commits", first, later)
	for _, c := range []map[string]int{first, later} {
		if c["LIST"] != 1 || c["GET"] < 2 || c["GET"] > 3 || len(c) != 2 {
			t.Errorf("cold open made %v, want 1 LIST and 2 or 3 GETs", c)
		}
	}
	if later["GET"] > first["GET"] {
		t.Errorf("cold open grew with history: %v at first, %v after 300 commits", first, later)
	}
}

// block_cache= gives a database a cache of its own; block_cache=0 none.
// SQLite itself owns cache= and refuses sizes there.
func TestBlockCacheParam(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("bc.db")
	fillRows(t, db, 100)
	db.Close()

	v := e.newVFS(nil)
	name := e.register(v)
	c := conn(t, openDB(t, name, "bc.db", "block_cache=0"))
	connInt(t, c, "SELECT count(*) FROM t")
	before := v.Stats()
	connInt(t, c, "SELECT count(*) FROM t")
	if st := v.Stats().Sub(before); st.CacheHits != 0 || st.Gets < 2 {
		t.Errorf("block_cache=0: a repeated query did %v, want block GETs and no cache hits", st)
	}

	bad := openDB(t, name, "bc.db", "cache=1048576")
	err := bad.Ping()
	if err == nil || !strings.Contains(err.Error(), "no such cache mode") {
		t.Errorf("cache=1048576: got %v, want SQLite's \"no such cache mode\"", err)
	}
	if err := openDB(t, name, "bc.db", "block_cache=-1").Ping(); err == nil {
		t.Error("block_cache=-1 was accepted")
	}
}

// Within the staleness bound a transaction may start from an old head;
// a write from it loses its commit (SQLITE_BUSY) instead of overwriting
// the newer commit, and the retry sees the newer commit.
func TestStalenessWriteConflict(t *testing.T) {
	e := newEnv(t, nil)
	a := e.open("sw.db", "staleness=600000")
	a.SetMaxOpenConns(1)
	mustExec(t, a, "CREATE TABLE c(n)")
	mustExec(t, a, "INSERT INTO c VALUES (0)")

	b := openDB(t, e.register(e.newVFS(nil)), "sw.db")
	mustExec(t, b, "UPDATE c SET n = n + 1")

	if got := queryInt(t, a, "SELECT n FROM c"); got != 0 {
		t.Fatalf("within the staleness bound a read saw n=%d, want the old 0", got)
	}
	_, err := a.Exec("UPDATE c SET n = n + 10")
	if !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("a write from a stale head: got %v, want SQLITE_BUSY", err)
	}
	mustExec(t, a, "UPDATE c SET n = n + 10")
	if got := queryInt(t, b, "SELECT n FROM c"); got != 11 {
		t.Fatalf("n = %d, want 11: no update lost", got)
	}
}

// A commit and Deserialize upload their blocks in parallel: far fewer
// sequential round trips than blocks.
func TestUploadsParallel(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	db := e.open("up.db")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, v TEXT)")
	e.proxy.SetLatency(waveLatency)
	defer e.proxy.SetLatency(0)
	e.proxy.Reset()
	mustExec(t, db, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 4000)
		INSERT INTO t SELECT i, i % 100, hex(randomblob(100)) FROM c`)
	puts, waves := e.proxy.Counts()["PUT"], e.proxy.Waves()
	t.Logf("commit: %d PUTs in %d round trips", puts, waves)
	if puts < 200 || waves > puts/8 {
		t.Errorf("commit: %d PUTs in %d round trips, want at least 200 PUTs in at most %d", puts, waves, puts/8)
	}

	var buf bytes.Buffer
	r := e.vfs.SerializeReader(context.Background(), "up.db")
	if _, err := io.Copy(&buf, r); err != nil {
		t.Fatal(err)
	}
	r.Close()
	e.proxy.Reset()
	if err := e.vfs.Deserialize(context.Background(), "up2.db", &buf); err != nil {
		t.Fatal(err)
	}
	puts, waves = e.proxy.Counts()["PUT"], e.proxy.Waves()
	t.Logf("Deserialize: %d PUTs in %d round trips", puts, waves)
	if puts < 200 || waves > puts/8 {
		t.Errorf("Deserialize: %d PUTs in %d round trips, want at least 200 PUTs in at most %d", puts, waves, puts/8)
	}
}

// A cold lookup makes one freshness request per transaction (two for the
// first statement of a connection: SQLite loads the schema in a
// transaction of its own), and none with staleness=.
func TestColdLookupFreshness(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("cf.db")
	fillRows(t, db, 2000)
	db.Close()
	var mu sync.Mutex
	records := 0
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind == s3proxy.GET && strings.Contains(req.Key, "/_commits/") {
			mu.Lock()
			records++
			mu.Unlock()
		}
		return false
	})
	for _, tc := range []struct {
		params string
		want   int
	}{{"", 2}, {"staleness=60000", 0}} {
		c := conn(t, openDB(t, e.register(e.newVFS(nil)), "cf.db", tc.params))
		mu.Lock()
		records = 0
		mu.Unlock()
		connInt(t, c, "SELECT grp FROM t WHERE id = 1500")
		mu.Lock()
		got := records
		mu.Unlock()
		if got != tc.want {
			t.Errorf("%q: a cold lookup read %d commit records, want %d", tc.params, got, tc.want)
		}
	}
}
