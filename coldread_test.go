package s3vfs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// copyDatabase copies the database at src to dst through Serialize and
// Deserialize, as one commit with a checkpoint.
func copyDatabase(t *testing.T, v *s3vfs.VFS, src, dst string) {
	t.Helper()
	var buf bytes.Buffer
	r := v.SerializeReader(context.Background(), src)
	if _, err := io.Copy(&buf, r); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := v.Deserialize(context.Background(), dst, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
}

// coldOpenCost opens key on a fresh VFS (another process, a cold cache)
// with a latency on every request, and returns the requests and
// sequential round trips the open made.
func coldOpenCost(t *testing.T, e *env, key string) (counts map[string]int, waves int) {
	t.Helper()
	return coldOpenCostWith(t, e, nil, key)
}

// A cold open fetches block 0 while it reads the head's checkpoint: three
// sequential round trips (LIST; the record; the checkpoint and block 0),
// four requests. In format version 1, where block 0 is not where the
// record suggests, the guess costs one more GET in the same round trip,
// and the block a fourth; a version-2 record names block 0 always.
func TestColdOpenRoundTrips(t *testing.T) {
	for _, format := range []int{1, 2} {
		t.Run(fmt.Sprintf("format=%d", format), func(t *testing.T) {
			testColdOpenRoundTrips(t, format)
		})
	}
}

func testColdOpenRoundTrips(t *testing.T, format int) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096, FormatVersion: format})
	db := e.open("src.db")
	db.SetMaxOpenConns(1)
	fillRows(t, db, 2000)
	copyDatabase(t, e.vfs, "src.db", "cold.db")

	// In format version 2 the checkpoint's inner pages come with it: one
	// GET more, in the same round trip.
	inner := map[int]int{1: 0, 2: 1}[format]
	counts, waves := coldOpenCost(t, e, "cold.db")
	t.Logf("cold open after Deserialize: %v in %d round trips", counts, waves)
	if counts["LIST"] != 1 || counts["GET"] != 3+inner || len(counts) != 2 || waves != 3 {
		t.Errorf("cold open after Deserialize: %v in %d round trips, want 1 LIST and %d GETs in 3", counts, waves, 3+inner)
	}

	// A commit that rewrites every row but not page 1 writes a checkpoint
	// (its delta is too long) without block 0: in version 1 the guess
	// misses.
	d := openDB(t, e.name, "cold.db")
	mustExec(t, d, "UPDATE t SET grp = grp + 1")
	counts, waves = coldOpenCost(t, e, "cold.db")
	t.Logf("cold open after a checkpoint without block 0: %v in %d round trips", counts, waves)
	wantGets, wantWaves := map[int]int{1: 4, 2: 4}[format], map[int]int{1: 4, 2: 3}[format]
	if counts["LIST"] != 1 || counts["GET"] != wantGets || len(counts) != 2 || waves != wantWaves {
		t.Errorf("cold open after a checkpoint without block 0: %v in %d round trips, want 1 LIST and %d GETs in %d",
			counts, waves, wantGets, wantWaves)
	}
	c := conn(t, openDB(t, e.register(e.newVFS(nil)), "cold.db"))
	if got := connInt(t, c, "SELECT sum(grp) FROM t"); got != 99000+2000 {
		t.Errorf("sum(grp) = %d, want %d", got, 99000+2000)
	}
}

// After a cold open, a point lookup waits for the two freshness checks
// (SQLite loads the schema in a transaction of its own before the
// statement's) and for the leaf's block: the interior pages above it came
// with the checkpoint (its inner pages), which the fill's commit wrote.
// No request is spent on anything else, and none overlaps.
func TestColdLookupRoundTrips(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	db := e.open("look.db")
	db.SetMaxOpenConns(1)
	fillRows(t, db, 20000) // three levels of 4 KiB pages
	c := conn(t, openDB(t, e.register(e.newVFS(nil)), "look.db"))
	e.proxy.SetLatency(waveLatency)
	defer e.proxy.SetLatency(0)
	var mu sync.Mutex
	var records, blocks int
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case req.Kind == s3proxy.GET && strings.Contains(req.Key, "/_commits/"):
			records++
		case req.Kind == s3proxy.GET && strings.Contains(req.Key, "/_blocks/"):
			blocks++
		}
		return false
	})
	e.proxy.Reset()
	if got := connInt(t, c, "SELECT grp FROM t WHERE id = 15000"); got != 0 {
		t.Fatalf("grp = %d, want 0", got)
	}
	mu.Lock()
	defer mu.Unlock()
	waves, total := e.proxy.Waves(), e.proxy.Total()
	t.Logf("cold lookup after the open: %d freshness GETs, %d block GETs, %d round trips", records, blocks, waves)
	if records != 2 || total != records+blocks || waves != total || blocks != 1 {
		t.Errorf("cold lookup after the open: %d freshness GETs and %d block GETs (%d requests) in %d round trips, "+
			"want 2 freshness GETs and 1 block GET (the leaf: the inner pages came with the checkpoint), one round trip each",
			records, blocks, total, waves)
	}
}
