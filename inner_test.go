package s3vfs_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
)

// blockGets runs query on a connection of a fresh VFS (a new process) to
// key, after the open, and returns how many block GETs and sequential
// round trips it waited for, with the VFS's stats.
func blockGets(t *testing.T, e *env, key, query string, args ...any) (blocks, waves int, got int64, st s3vfs.Stats) {
	t.Helper()
	blocks, _, waves, got, st = coldQuery(t, e, nil, key, query, args...)
	return blocks, waves, got, st
}

// A cold point lookup reads one block, the leaf's, whatever the depth of
// the b-tree: the interior pages above it came with the checkpoint. Both
// writers of checkpoints are covered: a commit (the fill, whose delta is
// too long) and Deserialize; and both kinds of b-tree: a table's (three
// levels) and an index on 200-byte keys (four levels: about 19 keys fit an
// interior page).
func TestInnerPagesColdLookup(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	db := e.open("deep.db")
	db.SetMaxOpenConns(1)
	fillRows(t, db, 20000)
	mustExec(t, db, "CREATE UNIQUE INDEX t_v ON t(v)") // unique: a lookup stops at its entry, no step to the next leaf
	v777 := queryString(t, db, "SELECT v FROM t WHERE id = 777")
	copyDatabase(t, e.vfs, "deep.db", "copy.db")

	for _, key := range []string{"deep.db", "copy.db"} {
		blocks, waves, got, st := blockGets(t, e, key, "SELECT grp FROM t WHERE id = 15000")
		t.Logf("%s: rowid lookup: %d block GETs, %d round trips, %d pages from inner pages", key, blocks, waves, st.InnerHits)
		if got != 0 || blocks != 1 || waves != 3 || st.InnerHits == 0 {
			t.Errorf("%s: rowid lookup: grp %d, %d block GETs in %d round trips (%d inner page reads), "+
				"want grp 0, 1 block GET in 3 round trips (2 freshness checks and the leaf)", key, got, blocks, waves, st.InnerHits)
		}
		blocks, waves, got, st = blockGets(t, e, key, "SELECT count(*) FROM t INDEXED BY t_v WHERE v = ?", v777)
		t.Logf("%s: index lookup: %d block GETs, %d round trips, %d pages from inner pages", key, blocks, waves, st.InnerHits)
		if got != 1 || blocks != 1 || waves != 3 || st.InnerHits < 3 {
			t.Errorf("%s: index lookup: count %d, %d block GETs in %d round trips (%d inner page reads), "+
				"want 1 row, 1 block GET in 3 round trips, 3 or more inner page reads", key, got, blocks, waves, st.InnerHits)
		}
	}
}

// Inner pages are served only while their block reads as it did at the
// checkpoint: after a commit that rewrites interior pages (a delete that
// frees leaves and rewrites their parents), and after one that rewrites
// every page of the index and writes a new checkpoint, a cold reader sees the new tree, whole. Garbage collection
// keeps a checkpoint's inner pages exactly as long as the checkpoint.
func TestInnerPagesChanged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096, Retention: time.Second})
	db := e.open("chg.db")
	db.SetMaxOpenConns(1)
	fillRows(t, db, 20000)
	mustExec(t, db, "CREATE INDEX t_grp ON t(grp)")
	want := func(key string, rows, sum int64) {
		t.Helper()
		d := openDB(t, e.register(e.newVFS(nil)), key)
		if n, s := queryInt(t, d, "SELECT count(*) FROM t"), queryInt(t, d, "SELECT sum(grp) FROM t INDEXED BY t_grp WHERE grp >= 0"); n != rows || s != sum {
			t.Errorf("cold reader: %d rows, sum %d, want %d and %d", n, s, rows, sum)
		}
		if got := queryInt(t, d, "SELECT count(*) FROM t WHERE id = 15001"); got != 1 {
			t.Errorf("cold reader: row 15001 found %d times", got)
		}
		integrityOK(t, d)
	}
	sum := func(from, to int64) (s int64) {
		for i := from; i <= to; i++ {
			s += i % 100
		}
		return s
	}
	checkpoints := func() (ckpts, inner []string) {
		for _, k := range e.keys("chg.db") {
			switch {
			case strings.HasSuffix(k, ".inner"):
				inner = append(inner, strings.TrimSuffix(k, ".inner"))
			case strings.Contains(k, "/_checkpoints/"):
				ckpts = append(ckpts, k)
			}
		}
		return ckpts, inner
	}
	before, _ := checkpoints()

	// A small delete: a few leaves and their parent change, no checkpoint.
	mustExec(t, db, "DELETE FROM t WHERE id BETWEEN 5000 AND 5600")
	if after, _ := checkpoints(); len(after) != len(before) {
		t.Fatalf("the small delete wrote a checkpoint: %v, then %v", before, after)
	}
	want("chg.db", 20000-601, sum(1, 4999)+sum(5601, 20000))

	// One that rewrites every row and the whole index: a new checkpoint,
	// whose inner pages the writer builds from the last ones and the
	// blocks it has at hand.
	mustExec(t, db, "UPDATE t SET grp = grp + 1")
	rows := int64(20000 - 601)
	want("chg.db", rows, rows+sum(1, 4999)+sum(5601, 20000))
	blocks, waves, got, _ := blockGets(t, e, "chg.db", "SELECT grp FROM t WHERE id = 15000")
	if got != 1 || blocks != 1 || waves != 3 {
		t.Errorf("lookup after the new checkpoint: grp %d, %d block GETs in %d round trips, want 1, 1 in 3", got, blocks, waves)
	}

	ckpts, inner := checkpoints()
	if len(ckpts) < 2 || !slices.Equal(ckpts, inner) {
		t.Fatalf("checkpoints %v, inner pages of %v: want two or more, each with its inner pages", ckpts, inner)
	}
	time.Sleep(3 * time.Second)
	if _, err := e.vfs.GC(ctx, "chg.db", &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second}); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, k := range e.keys("chg.db") {
		if strings.Contains(k, "/_checkpoints/") {
			left = append(left, k)
		}
	}
	if len(left) != 2 || left[0]+".inner" != left[1] {
		t.Errorf("after collection: %v, want the head's checkpoint and its inner pages", left)
	}
	want("chg.db", rows, rows+sum(1, 4999)+sum(5601, 20000))
}

// A checkpoint without inner pages (written before there were any) reads
// as before: a lookup reads its blocks, one level at a time. So does one
// whose inner pages were changed outside s3vfs: they are optional, and
// done without (and logged), not an error.
func TestInnerPagesAbsent(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	db := e.open("old.db")
	db.SetMaxOpenConns(1)
	fillRows(t, db, 20000)
	copyDatabase(t, e.vfs, "old.db", "bad.db")
	inner := func(key string) (objs []string) {
		for _, k := range e.keys(key) {
			if strings.HasSuffix(k, ".inner") {
				objs = append(objs, k)
			}
		}
		if len(objs) == 0 {
			t.Fatalf("%s has no inner pages", key)
		}
		return objs
	}
	for _, k := range inner("old.db") {
		e.removeObject(k)
	}
	for _, k := range inner("bad.db") {
		b := e.readObject(k)
		b[len(b)/2] ^= 0x20
		e.writeObject(k, b)
	}
	for _, key := range []string{"old.db", "bad.db"} {
		blocks, waves, got, st := blockGets(t, e, key, "SELECT grp FROM t WHERE id = 15000")
		t.Logf("%s: without inner pages: %d block GETs in %d round trips", key, blocks, waves)
		if got != 0 || blocks < 2 || waves != 2+blocks || st.InnerHits != 0 {
			t.Errorf("%s: without inner pages: grp %d, %d block GETs in %d round trips, %d inner page reads; "+
				"want grp 0, a block per level below the root, one round trip each", key, got, blocks, waves, st.InnerHits)
		}
	}
}

// Inner pages do not decay over checkpoints written by a writer that holds
// nothing: one without a block cache makes single-row updates (each
// changes a leaf, and so the block it shares with other pages, interior
// ones among them) until its commits write a new checkpoint. That
// checkpoint still has every interior page: a lookup of any row reads one
// block, its leaf's.
func TestInnerPagesKeptAcrossCheckpoints(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 8192})
	db := e.open("keep.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA page_size = 1024")
	fillRows(t, db, 20000) // 8 pages a block: interior pages share blocks with leaves

	ckpts := func() int {
		n := 0
		for _, k := range e.keys("keep.db") {
			if strings.Contains(k, "/_checkpoints/") && !strings.HasSuffix(k, ".inner") {
				n++
			}
		}
		return n
	}
	before := ckpts()
	w := openDB(t, e.register(e.newVFS(&s3vfs.Options{BlockSize: 8192})), "keep.db", "block_cache=0")
	w.SetMaxOpenConns(1)
	for i := 0; ckpts() == before; i++ {
		if i == 1000 {
			t.Fatal("no checkpoint after 1,000 commits")
		}
		mustExec(t, w, "UPDATE t SET grp = grp + 100 WHERE id = ?", 1+(i*7919)%20000)
	}
	for i := range 10 {
		id := 1000 + (i*4513)%19000 // past the leaves in block 0
		if n, _, _, _ := blockGets(t, e, "keep.db", "SELECT count(*) FROM t WHERE id = ?", id); n != 1 {
			t.Errorf("a cold lookup of row %d after a checkpoint by a writer without a cache read %d blocks, want 1: inner pages lost", id, n)
		}
	}
}
