package s3vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// smallFront is the front of inner pages the tests of bundles use: 8 KiB,
// so that a database of a few MB has most of its inner pages in bundles.
const smallFront = 8 << 10

// coldLookup runs query on a fresh VFS of options opts (a new process),
// after the open, and returns the block GETs, the GETs of inner pages and
// the round trips it waited for, with the VFS's stats.
func coldLookup(t *testing.T, e *env, opts *s3vfs.Options, key, query string, args ...any) (blocks, inner, waves int, st s3vfs.Stats) {
	t.Helper()
	blocks, inner, waves, _, st = coldQuery(t, e, opts, key, query, args...)
	return blocks, inner, waves, st
}

// coldQuery is coldLookup that also returns the query's answer.
func coldQuery(t *testing.T, e *env, opts *s3vfs.Options, key, query string, args ...any) (blocks, inner, waves int, got int64, st s3vfs.Stats) {
	t.Helper()
	v := e.newVFS(opts)
	c := conn(t, openDB(t, e.register(v), key))
	e.proxy.SetLatency(waveLatency)
	defer e.proxy.SetLatency(0)
	var mu sync.Mutex
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case req.Kind == s3proxy.GET && strings.Contains(req.Key, "/_blocks/"):
			blocks++
		case req.Kind == s3proxy.GET && strings.HasSuffix(req.Key, ".inner"):
			inner++
		}
		return false
	})
	defer e.proxy.SetHook(nil)
	before := v.Stats()
	e.proxy.Reset()
	got = connInt(t, c, query, args...)
	mu.Lock()
	defer mu.Unlock()
	return blocks, inner, e.proxy.Waves(), got, v.Stats().Sub(before)
}

// A cold open reads the front of the inner pages, never more than its
// bound, and a cold lookup reads, besides the leaf's block, the bundle of
// each level of inner pages below the front that it passes: one round
// trip each, one ranged GET each. With a front that holds them all (the
// default, for a database this small) the lookup is the leaf alone.
func TestInnerBundlesColdLookup(t *testing.T) {
	e, small, db := deepWithSmallFront(t, "deep.db")
	v777 := queryString(t, db, "SELECT v FROM t WHERE id = 777")

	ranges := recordRanges(e, func(key string) bool { return strings.HasSuffix(key, ".inner") })
	counts, waves := coldOpenCostWith(t, e, small, "deep.db")
	e.proxy.SetHook(nil)
	if counts["LIST"] != 1 || counts["GET"] != 4 || waves != 3 || len(ranges()) != 1 || ranges()[0] != fmt.Sprintf("bytes=0-%d", smallFront-1) {
		t.Errorf("cold open: %v in %d round trips, inner pages read as %q; want 1 LIST and 4 GETs in 3, the front's %d bytes alone",
			counts, waves, ranges(), smallFront)
	}

	for _, q := range []struct {
		name, query string
		arg         any
	}{{"rowid", "SELECT grp FROM t WHERE id = ?", 15000}, {"index", "SELECT count(*) FROM t INDEXED BY t_v WHERE v = ?", v777}} {
		blocks, inner, waves, st := coldLookup(t, e, small, "deep.db", q.query, q.arg)
		t.Logf("%s lookup, small front: %d block GETs, %d bundle GETs, %d round trips, %d inner page reads", q.name, blocks, inner, waves, st.InnerHits)
		if blocks != 1 || inner == 0 || int64(inner) != st.InnerBundles || waves != 3+inner {
			t.Errorf("%s lookup, small front: %d block GETs, %d bundle GETs (%d counted), %d round trips; "+
				"want 1 block, 1 or more bundles, and 3 round trips plus one per bundle", q.name, blocks, inner, st.InnerBundles, waves)
		}
		blocks, inner, waves, st = coldLookup(t, e, nil, "deep.db", q.query, q.arg)
		if blocks != 1 || inner != 0 || waves != 3 || st.InnerBundles != 0 {
			t.Errorf("%s lookup, default front: %d block GETs, %d bundle GETs, %d round trips; want the leaf alone in 3",
				q.name, blocks, inner, waves)
		}
	}
}

// deepWithSmallFront makes, in a new env whose VFS writes inner pages
// with a front of smallFront, the database key of 20,000 rows in 4 KiB
// blocks with a unique index on 200-byte keys (four levels), its last
// commit a checkpoint; it returns the env, the options (no prefetch of
// bundles: lookups read the ones they need) and the database.
func deepWithSmallFront(t *testing.T, key string) (*env, *s3vfs.Options, *sql.DB) {
	t.Helper()
	small := s3vfs.WithInnerFront(&s3vfs.Options{BlockSize: 4096, OpenPrefetch: -1}, smallFront)
	e := newEnv(t, small)
	db := e.open(key)
	db.SetMaxOpenConns(1)
	fillRows(t, db, 20000)
	mustExec(t, db, "CREATE UNIQUE INDEX t_v ON t(v)")
	mustExec(t, db, "UPDATE t SET grp = grp + 1") // a checkpoint, written by a commit with the small front
	return e, small, db
}

// recordRanges records, until the proxy of e gets another hook, the
// Range header of every GET of an object whose key match accepts; the
// returned function reads them.
func recordRanges(e *env, match func(key string) bool) func() []string {
	var mu sync.Mutex
	var ranges []string
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind == s3proxy.GET && match(req.Key) {
			mu.Lock()
			ranges = append(ranges, r.Header.Get("Range"))
			mu.Unlock()
		}
		return false
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ranges)
	}
}

// coldOpenCostWith is coldOpenCost on a VFS of options opts.
func coldOpenCostWith(t *testing.T, e *env, opts *s3vfs.Options, key string) (counts map[string]int, waves int) {
	t.Helper()
	d := openDB(t, e.register(e.newVFS(opts)), key)
	e.proxy.SetLatency(waveLatency)
	defer e.proxy.SetLatency(0)
	e.proxy.Reset()
	conn(t, d)
	counts = map[string]int{}
	for k, n := range e.proxy.Counts() {
		counts[string(k)] = n
	}
	return counts, e.proxy.Waves()
}

// Randomized: writers of several processes delete, insert and rewrite
// rows (which splits, merges and moves interior pages), some of their
// commits writing checkpoints from inner pages whose bundles they never
// read; after every round a new process reads every page its inner pages
// serve, through them and from the blocks, and they must agree; and the
// database must pass integrity_check through them.
func TestInnerBundlesNeverStale(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	small := s3vfs.WithInnerFront(&s3vfs.Options{BlockSize: 8192}, smallFront)
	e := newEnv(t, small)
	db := e.open("churn.db")
	db.SetMaxOpenConns(1)
	fillRows(t, db, 12000)
	mustExec(t, db, "CREATE INDEX t_v ON t(v)")
	ctx := context.Background()
	served := 0
	rounds := 12
	if testing.Short() {
		rounds = 8 // one checkpoint among them (round 7)
	}
	for round := range rounds {
		w := openDB(t, e.register(e.newVFS(small)), "churn.db") // another process each round
		w.SetMaxOpenConns(1)
		lo := rng.IntN(12000)
		switch round % 4 {
		case 0:
			mustExec(t, w, "DELETE FROM t WHERE id BETWEEN ? AND ?", lo, lo+50+rng.IntN(300))
		case 1:
			mustExec(t, w, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?)
				INSERT OR REPLACE INTO t SELECT ? + i, i, hex(randomblob(100)) FROM c`, 50+rng.IntN(200), lo)
		case 2:
			mustExec(t, w, "UPDATE t SET v = hex(randomblob(100)) WHERE id % 97 = ?", rng.IntN(97))
		case 3:
			if round%8 == 7 {
				mustExec(t, w, "UPDATE t SET grp = grp + 1") // a checkpoint
			}
		}
		quiet := s3vfs.WithLog(small, func(f string, args ...any) { t.Errorf("round %d: logged: "+f, append([]any{round}, args...)...) })
		n, err := s3vfs.CheckInnerPagesForTest(ctx, e.newVFS(quiet), "churn.db")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		served += n
		if got := queryString(t, openDB(t, e.register(e.newVFS(small)), "churn.db"), "PRAGMA integrity_check"); got != "ok" {
			t.Fatalf("round %d: integrity_check through the inner pages: %s", round, got)
		}
	}
	if served == 0 {
		t.Fatal("the inner pages served no page in any round: nothing was checked")
	}
	t.Logf("%d inner page reads checked against their blocks", served)
}

// innerObject returns the name of the one inner-pages object of the
// newest checkpoint of key.
func innerObject(t *testing.T, e *env, key string) string {
	t.Helper()
	var newest string
	for _, k := range e.keys(key) {
		if strings.HasSuffix(k, ".inner") && k > newest {
			newest = k
		}
	}
	if newest == "" {
		t.Fatalf("%s has no inner pages", key)
	}
	return newest
}

// Inner pages written by the previous release (format version 1 of the
// object, one piece) still serve: a cold open reads the front's worth of
// it, sees the version, and reads the rest (one round trip more, until
// the next checkpoint rewrites it); lookups then read the leaf alone.
func TestInnerPagesVersion1(t *testing.T) {
	e, small, _ := deepWithSmallFront(t, "v1.db")
	name := innerObject(t, e, "v1.db")
	f, err := format.DecodeInnerAny(e.readObject(name))
	if err != nil {
		t.Fatal(err)
	}
	v1 := f.Encode()
	if len(v1) <= smallFront {
		t.Fatalf("a version-1 object of %d bytes fits the front read: it tests nothing", len(v1))
	}
	e.writeObject(name, v1)
	counts, waves := coldOpenCostWith(t, e, small, "v1.db")
	// The second part of the object is one round trip more, unless the
	// other GETs of the open's last round trip are still out.
	if counts["GET"] != 5 || waves < 3 || waves > 4 {
		t.Errorf("cold open over version-1 inner pages: %v in %d round trips, want 5 GETs (the object in two) in 3 or 4", counts, waves)
	}
	blocks, inner, waves, st := coldLookup(t, e, small, "v1.db", "SELECT grp FROM t WHERE id = ?", 15000)
	if blocks != 1 || inner != 0 || waves != 3 || st.InnerHits == 0 {
		t.Errorf("lookup over version-1 inner pages: %d block GETs, %d inner GETs, %d round trips, %d inner page reads; want the leaf alone in 3",
			blocks, inner, waves, st.InnerHits)
	}
}

// A bundle that fails its checksum is logged and done without: its pages
// are read from their blocks, the answer is right, and nothing fails.
func TestInnerBundleCorrupt(t *testing.T) {
	small := s3vfs.WithInnerFront(&s3vfs.Options{BlockSize: 4096, OpenPrefetch: -1}, smallFront)
	e := newEnv(t, small)
	db := e.open("bad.db")
	db.SetMaxOpenConns(1)
	fillRows(t, db, 20000)
	mustExec(t, db, "UPDATE t SET grp = grp + 1")
	name := innerObject(t, e, "bad.db")
	b := e.readObject(name)
	n, ok := format.InnerFrontLen(b)
	if !ok || int64(len(b)) <= n {
		t.Fatalf("inner pages of %d bytes with a front of %d: no bundle to spoil", len(b), n)
	}
	for i := n; i < int64(len(b)); i += 512 {
		b[i] ^= 0x20 // every bundle
	}
	e.writeObject(name, b)
	var log logLines
	opts := s3vfs.WithLog(small, log.logf)
	blocks, inner, _, st := coldLookup(t, e, opts, "bad.db", "SELECT grp FROM t WHERE id = ?", 15000)
	c := conn(t, openDB(t, e.register(e.newVFS(opts)), "bad.db"))
	if got := connInt(t, c, "SELECT grp FROM t WHERE id = ?", 15000); got != 1 {
		t.Errorf("grp = %d, want 1", got)
	}
	logged := log.all()
	if inner == 0 || blocks < 2 || st.InnerBundles != 0 || len(logged) == 0 || !strings.Contains(logged[0], "bundle") {
		t.Errorf("lookup through a spoilt bundle: %d bundle GETs, %d block GETs, %d bundles counted, logged %q; "+
			"want the bundle tried, its pages read from their blocks, and a line logged", inner, blocks, st.InnerBundles, logged)
	}
}

// logLines keeps the lines a VFS logs (its Logf, through s3vfs.WithLog);
// safe for concurrent use.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(f string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, args...))
}

// all returns the lines logged so far.
func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}
