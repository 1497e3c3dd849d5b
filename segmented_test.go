package s3vfs_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// TestCheckpointVersion3Read: a database whose checkpoint is in segments
// of four blocks (format version 3, docs/format.md "Checkpoints, version
// 3"), the fewest the format allows, reads as it did. The test rewrites
// the checkpoint Deserialize made, then reads every row from a new
// process (a VFS with empty caches), commits over it, and checks the
// database's integrity.
func TestCheckpointVersion3Read(t *testing.T) {
	e := newEnv(t, nil)
	opts := &s3vfs.Options{BlockSize: 1024}
	v := e.newVFS(opts)
	db := openDB(t, e.register(v), "seg/src.sqlite")
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "INSERT INTO t SELECT value, printf('%0200d', value) FROM generate_series(1, 200)")
	want := queryInt(t, db, "SELECT sum(length(v) + id) FROM t")
	db.Close()
	// Deserialize publishes a checkpoint of every block.
	key := "seg/db.sqlite"
	if err := v.Deserialize(context.Background(), key, bytes.NewReader(serializedFile(t, v, "seg/src.sqlite"))); err != nil {
		t.Fatal(err)
	}

	rewritten := 0
	for _, k := range e.keys(key) {
		if !strings.Contains(k, "/_checkpoints/") || strings.HasSuffix(k, ".inner") || strings.Contains(k, "/_checkpoints/gc.") {
			continue
		}
		c, err := format.DecodeCheckpoint(e.readObject(k))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if len(c.Blocks) < 8 {
			continue
		}
		// A version-1 checkpoint's entries are version-2 entries without
		// overlays (Deserialize writes one under a version-2 record).
		c.BlockLevel = false
		c.SegmentShift = format.MinSegmentShift
		e.writeObject(k, c.Encode())
		rewritten++
	}
	if rewritten == 0 {
		t.Fatal("no checkpoint of 8 blocks or more to rewrite")
	}

	db = openDB(t, e.register(e.newVFS(opts)), key)
	defer db.Close()
	if got := queryInt(t, db, "SELECT sum(length(v) + id) FROM t"); got != want {
		t.Fatalf("over version-3 checkpoints: %d, want %d", got, want)
	}
	mustExec(t, db, "UPDATE t SET v = 'x' WHERE id = 7")
	if got := queryInt(t, db, "SELECT sum(length(v) + id) FROM t"); got != want-199 {
		t.Fatalf("after a commit over version-3 checkpoints: %d, want %d", got, want-199)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"); n != 0 {
		t.Fatalf("integrity check: %d problems", n)
	}
}

// segmentShift and segmentFront are the segments of the tests of the map
// in segments: 64 blocks, and a cold open that reads 512 bytes of the
// checkpoint, its front and little more, so that a database of a few MB
// reads most of its map segment by segment.
const (
	segmentShift = 6
	segmentFront = 512
)

// segmentedDB makes key, 10,000 rows and an index in 4 KiB blocks, whose
// last commit wrote a checkpoint in segments, and returns the env, the
// options of the small front (with no read ahead after an open: reads
// read the segments they need), and the checkpoint's segments.
func segmentedDB(t *testing.T, key string) (*env, *s3vfs.Options, int) {
	t.Helper()
	opts := s3vfs.WithSegments(&s3vfs.Options{BlockSize: 4096, OpenPrefetch: -1}, segmentShift, segmentFront)
	e := newEnv(t, opts)
	db := e.open(key)
	db.SetMaxOpenConns(1)
	fillRows(t, db, 10000)
	mustExec(t, db, "CREATE INDEX t_grp ON t(grp)")
	mustExec(t, db, "UPDATE t SET grp = grp + 1") // a checkpoint
	db.Close()
	segments := 0
	for _, k := range e.keys(key) {
		if !strings.Contains(k, "/_checkpoints/") || strings.HasSuffix(k, ".inner") || strings.Contains(k, "/_checkpoints/gc.") {
			continue
		}
		b := e.readObject(k)
		f, err := format.DecodeCheckpointFront(b)
		if err != nil {
			t.Fatalf("%s: not a checkpoint in segments: %v", k, err)
		}
		segments = max(segments, len(f.Segments))
	}
	if segments < 4 {
		t.Fatalf("the newest checkpoint has %d segments, want 4 or more", segments)
	}
	return e, opts, segments
}

// A cold open reads the checkpoint's front with one ranged GET, in the
// round trips and requests an open reads a whole map in; a cold lookup
// then reads the segment of its leaf's block (one round trip more, the
// floor: the leaf is known only from the page above it), and a second
// lookup in the same process reads none.
func TestSegmentsColdLookup(t *testing.T) {
	e, small, segments := segmentedDB(t, "seg.db")
	if info, err := e.vfs.Info(context.Background(), "seg.db"); err != nil || info.FormatVersion != s3vfs.FormatVersion {
		t.Errorf("Info: format version %d (%v), want %d: its checkpoint is in segments", info.FormatVersion, err, s3vfs.FormatVersion)
	}
	ranges := recordRanges(e, func(key string) bool {
		return strings.Contains(key, "/_checkpoints/") && !strings.HasSuffix(key, ".inner")
	})
	counts, waves := coldOpenCostWith(t, e, small, "seg.db")
	e.proxy.SetHook(nil)
	wholeCounts, wholeWaves := coldOpenCostWith(t, e, nil, "seg.db")
	if !maps.Equal(counts, wholeCounts) || waves != wholeWaves || waves != 3 ||
		len(ranges()) != 1 || ranges()[0] != fmt.Sprintf("bytes=0-%d", segmentFront-1) {
		t.Errorf("cold open: %v in %d round trips, the checkpoint read as %q; want %v in %d (as with the whole map), the front's %d bytes alone",
			counts, waves, ranges(), wholeCounts, wholeWaves, segmentFront)
	}

	blocks, _, waves, st := coldLookup(t, e, small, "seg.db", "SELECT grp FROM t WHERE id = ?", 7777)
	t.Logf("cold lookup: %d block GETs, %d segments, %d round trips (%d segments in all)", blocks, st.Segments, waves, segments)
	if blocks != 1 || st.Segments != 1 || waves != 4 {
		t.Errorf("cold lookup: %d block GETs, %d segments, %d round trips; want the leaf and its segment in 4", blocks, st.Segments, waves)
	}
	blocks, _, waves, st = coldLookup(t, e, nil, "seg.db", "SELECT grp FROM t WHERE id = ?", 7777)
	if blocks != 1 || st.Segments != 0 || waves != 3 {
		t.Errorf("cold lookup, whole map: %d block GETs, %d segments, %d round trips; want the leaf alone in 3", blocks, st.Segments, waves)
	}

	v := e.newVFS(small)
	c := conn(t, openDB(t, e.register(v), "seg.db"))
	connInt(t, c, "SELECT grp FROM t WHERE id = ?", 7777)
	before := v.Stats()
	connInt(t, c, "SELECT grp FROM t WHERE id = ?", 7778)
	if st := v.Stats().Sub(before); st.Segments != 0 {
		t.Errorf("a second lookup in the same segment read %d segments, want none", st.Segments)
	}
	before = v.Stats()
	sum := connInt(t, c, "SELECT sum(length(v) + grp) FROM t")
	st = v.Stats().Sub(before)
	if st.Segments < 1 || st.Segments > int64(segments) {
		t.Errorf("a scan read %d segments, want each of the %d at most once", st.Segments, segments)
	}
	whole := conn(t, openDB(t, e.register(e.newVFS(nil)), "seg.db"))
	if want := connInt(t, whole, "SELECT sum(length(v) + grp) FROM t"); sum != want {
		t.Errorf("a scan through segments: %d, want %d as through the whole map", sum, want)
	}

	// A connection pinned to the same commit builds its own snapshot over
	// the same checkpoint: it shares the segments the process read.
	info, err := v.Info(context.Background(), "seg.db")
	if err != nil {
		t.Fatal(err)
	}
	pinned := conn(t, openDB(t, e.register(v), "seg.db", fmt.Sprintf("commit=%d", info.Commit)))
	before = v.Stats()
	if got := connInt(t, pinned, "SELECT sum(length(v) + grp) FROM t"); got != sum {
		t.Errorf("a scan pinned to commit %d: %d, want %d", info.Commit, got, sum)
	}
	if st := v.Stats().Sub(before); st.Segments != 0 {
		t.Errorf("a pinned connection read %d segments again, want none: the process holds them", st.Segments)
	}
}

// After a cold open the segments of the map past the open's read are
// read ahead too, in runs of one ranged GET each, when holding them fits
// what the inner pages leave of the budget: a cold lookup then waits for
// its checks and its leaf alone (3 round trips in sequence, where it
// read its leaf's segment in a fourth), and no segment is read twice,
// even when the lookup reaches one while the read ahead is still out. A
// later process on the same disk cache reads none from S3. Over the
// budget, the lookup reads its leaf's segment.
func TestSegmentsReadAhead(t *testing.T) {
	e, small, segments := segmentedDB(t, "ahead.db")
	const query = "SELECT grp FROM t WHERE id = ?"
	want := connInt(t, conn(t, openDB(t, e.register(e.newVFS(nil)), "ahead.db")), query, 7777)
	ahead := *small
	ahead.OpenPrefetch = 0 // the default
	readSome := func(st s3vfs.Stats) bool { return st.SegmentsPrefetched > 0 }

	r := prefetchColdLookup(t, e, &ahead, "ahead.db", nil, readSome, query, 7777)
	st := r.vfs.Stats()
	t.Logf("read ahead: checkpoint GETs %q, %d segments read ahead, lookup %d block GETs, chain %d", r.ckptRanges, st.SegmentsPrefetched, r.blocks, r.chain)
	if r.got != want || r.blocks != 1 || r.chain != 3 || len(r.ckptRanges) != 2 || st.Segments != 0 || st.SegmentsPrefetched > int64(segments) {
		t.Errorf("lookup with the map read ahead: grp %d, %d block GETs, %d round trips in sequence, checkpoint GETs %q, %d segments read, %d ahead; "+
			"want %d, the leaf alone in 3, the front and one range, none read but ahead, at most the %d once each",
			r.got, r.blocks, r.chain, r.ckptRanges, st.Segments, st.SegmentsPrefetched, want, segments)
	}

	slow := func(w http.ResponseWriter, req *http.Request, sr s3proxy.Request) bool {
		if strings.Contains(sr.Key, "/_checkpoints/") && !strings.HasPrefix(req.Header.Get("Range"), "bytes=0-") {
			time.Sleep(300 * time.Millisecond)
		}
		return false
	}
	r = prefetchColdLookup(t, e, &ahead, "ahead.db", slow, readSome, query, 7777)
	if st := r.vfs.Stats(); r.got != want || len(r.ckptRanges) != 2 || st.Segments != 0 {
		t.Errorf("lookup beside a slow read ahead: grp %d, checkpoint GETs %q, %d segments read but ahead; want %d, the front and one range, none",
			r.got, r.ckptRanges, st.Segments, want)
	}

	disk := ahead
	disk.CacheDir = t.TempDir()
	prefetchColdLookup(t, e, &disk, "ahead.db", nil, readSome, query, 7777)
	r = prefetchColdLookup(t, e, &disk, "ahead.db", nil, nil, query, 7777)
	if st := r.vfs.Stats(); r.got != want || len(r.ckptRanges) != 0 || st.SegmentsPrefetched != 0 {
		t.Errorf("second process on the disk cache: grp %d, checkpoint GETs %q, %d segments read ahead; want %d, none from S3, none ahead (on disk)",
			r.got, r.ckptRanges, st.SegmentsPrefetched, want)
	}

	tight := ahead
	tight.OpenPrefetch = 1
	r = prefetchColdLookup(t, e, &tight, "ahead.db", nil, nil, query, 7777)
	if st := r.vfs.Stats(); r.got != want || len(r.ckptRanges) != 2 || st.Segments != 1 || st.SegmentsPrefetched != 0 || r.chain != 4 {
		t.Errorf("over the budget: grp %d, checkpoint GETs %q, %d segments read, %d ahead, %d round trips in sequence; "+
			"want %d, the front and the leaf's segment, none ahead, in 4", r.got, r.ckptRanges, st.Segments, st.SegmentsPrefetched, r.chain, want)
	}
}

// Segments count against the block cache's bound and are evicted like
// blocks: a scan through a cache of eight blocks ends holding segments
// within that bound, answers as a process that reads the whole map, and
// a second scan reads the segments it needs again; through the default
// cache the second scan reads none.
func TestSegmentsEvicted(t *testing.T) {
	e, small, segments := segmentedDB(t, "evict.db")
	tiny := *small
	tiny.CacheSize = 32 << 10
	whole := conn(t, openDB(t, e.register(e.newVFS(nil)), "evict.db"))
	scan := "SELECT sum(length(v) + grp) FROM t"
	want := connInt(t, whole, scan)
	for _, tc := range []struct {
		name  string
		opts  *s3vfs.Options
		bound int64 // the bytes the segments held after a scan may take; 0: no check
	}{
		{"tiny cache", &tiny, tiny.CacheSize},
		{"default cache", small, 0},
	} {
		v := e.newVFS(tc.opts)
		c := conn(t, openDB(t, e.register(v), "evict.db"))
		var read [2]int64
		for i := range read {
			before := v.Stats()
			if got := connInt(t, c, scan); got != want {
				t.Fatalf("%s: scan %d: %d, want %d as through the whole map", tc.name, i+1, got, want)
			}
			read[i] = v.Stats().Sub(before).Segments
		}
		held, bytes := settledSegments(t, v)
		t.Logf("%s: the scans read %v of %d segments; %d held after, %d bytes", tc.name, read, segments, held, bytes)
		if read[0] < 2 {
			t.Errorf("%s: the first scan read %d segments, want several", tc.name, read[0])
		}
		if tc.bound > 0 && (bytes > tc.bound || held >= segments || read[1] == 0) {
			t.Errorf("%s: %d segments held (%d bytes, the bound %d) after scans that read %v: want them within the bound, evicted, and read again",
				tc.name, held, bytes, tc.bound, read)
		}
		if tc.bound == 0 && (read[1] != 0 || int64(held) < read[0]) {
			t.Errorf("%s: the second scan read %d segments and %d are held after a first that read %d: want every one kept",
				tc.name, read[1], held, read[0])
		}
	}

	// A writer whose commit writes a checkpoint holds the new map as a
	// reader does: in segments within the bound, not whole.
	v := e.newVFS(&tiny)
	w := conn(t, openDB(t, e.register(v), "evict.db"))
	connInt(t, w, "SELECT grp FROM t WHERE id = 1")
	old := s3vfs.MapSegmentsForTest(v, "evict.db")
	if _, err := w.ExecContext(context.Background(), "UPDATE t SET grp = grp + 1"); err != nil {
		t.Fatal(err)
	}
	held, bytes := settledSegments(t, v)
	t.Logf("writer of a checkpoint: %d segments held, %d bytes", held, bytes)
	if now := s3vfs.MapSegmentsForTest(v, "evict.db"); now == "" || now == old {
		t.Errorf("after writing a checkpoint, the writer reads its map from segments of %q (%q before): want those of its new checkpoint", now, old)
	}
	if bytes > tiny.CacheSize || held >= segments {
		t.Errorf("after writing a checkpoint: %d segments held (%d bytes), want them within the bound %d",
			held, bytes, tiny.CacheSize)
	}
	if got, want := connInt(t, w, scan), connInt(t, whole, scan); got != want {
		t.Errorf("the writer's scan after its checkpoint: %d, want %d", got, want)
	}
}

// settledSegments returns what v holds of segments once no pin is left
// on them (read-ahead may still be reading when a query ends), failing
// the test if pins stay: a pin never released keeps its segment from
// eviction.
func settledSegments(t *testing.T, v *s3vfs.VFS) (held int, bytes int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		held, bytes, pins := s3vfs.HeldSegmentsForTest(v)
		if pins == 0 {
			return held, bytes
		}
		if time.Now().After(deadline) {
			t.Errorf("%d pins on segments 10 s after the reads ended, want none: a pin not released keeps its segment from eviction", pins)
			return held, bytes
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Randomized: processes that read the map segment by segment write
// (their commits' checkpoints need every segment, read then) and read
// random rows, and after every round a new such process and one that
// reads the whole map agree on every row they read; the database passes
// integrity_check through segments.
func TestSegmentsRandomized(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	e, small, _ := segmentedDB(t, "rand.db")
	writer := openDB(t, e.register(e.newVFS(small)), "rand.db")
	writer.SetMaxOpenConns(1)
	checksum := `SELECT coalesce(sum(id * 7 + grp * 3 + length(v)), 0) FROM t WHERE id BETWEEN ? AND ?`
	for round := range 6 {
		for range 1 + rng.IntN(3) {
			lo := 1 + rng.IntN(10000)
			switch rng.IntN(3) {
			case 0:
				mustExec(t, writer, "UPDATE t SET grp = grp + 1, v = v || 'x' WHERE id BETWEEN ? AND ?", lo, lo+rng.IntN(3000))
			case 1:
				mustExec(t, writer, "DELETE FROM t WHERE id BETWEEN ? AND ?", lo, lo+rng.IntN(200))
			default:
				mustExec(t, writer, `WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i+1 FROM c WHERE i < ?)
					INSERT OR REPLACE INTO t SELECT i, i % 50, hex(randomblob(80)) FROM c`, 20000+lo, 20000+lo+rng.IntN(500))
			}
		}
		readerOpts := small
		if round%2 == 1 {
			tiny := *small
			tiny.CacheSize = 32 << 10 // segments evicted as the reads go
			readerOpts = &tiny
		}
		lazy := conn(t, openDB(t, e.register(e.newVFS(readerOpts)), "rand.db"))
		whole := conn(t, openDB(t, e.register(e.newVFS(nil)), "rand.db"))
		for range 20 {
			lo := rng.IntN(25000)
			hi := lo + rng.IntN(2000)
			if got, want := connInt(t, lazy, checksum, lo, hi), connInt(t, whole, checksum, lo, hi); got != want {
				t.Fatalf("round %d: rows %d to %d: %d through segments, %d through the whole map", round, lo, hi, got, want)
			}
		}
	}
	db := openDB(t, e.register(e.newVFS(small)), "rand.db")
	if n := queryInt(t, db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"); n != 0 {
		t.Fatalf("integrity check: %d problems", n)
	}
}
