package s3vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/bench"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// incrementalDB is a database whose commits update one row each, for the
// measurements of how a collection's requests grow with the history.
type incrementalDB struct {
	e   *env
	key string
	db  *sql.DB
	rng *rand.Rand
}

// newIncrementalDB creates the database at key in e: a table of 4,000 rows
// of about 300 bytes (about 1.4 MB) in 4 KiB blocks, in one commit.
func newIncrementalDB(e *env, key string) *incrementalDB {
	// staleness: this process is the only writer, so every transaction
	// can trust the head its own last commit published.
	db := e.open(key, "staleness=60000")
	db.SetMaxOpenConns(1)
	mustExec(e.t, db, `BEGIN;
		CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad BLOB);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 4000)
		INSERT INTO t SELECT i, 0, randomblob(300) FROM c;
		COMMIT;`)
	return &incrementalDB{e: e, key: key, db: db, rng: rand.New(rand.NewPCG(5, 6))}
}

// commit makes n commits, each updating a random row.
func (d *incrementalDB) commit(n int) {
	for range n {
		mustExec(d.e.t, d.db, "UPDATE t SET v = v + 1 WHERE id = ?", 1+d.rng.IntN(4000))
	}
}

// collect runs a collection of the database with the default retention
// (every version is kept) and returns its report and the requests it
// made, by kind.
func (d *incrementalDB) collect() (s3vfs.GCReport, map[s3proxy.Kind]int) {
	d.e.t.Helper()
	before := d.e.proxy.Counts()
	rep, err := d.e.vfs.GC(context.Background(), d.key, nil)
	if err != nil {
		d.e.t.Fatal(err)
	}
	after := d.e.proxy.Counts()
	for k, n := range before {
		after[k] -= n
	}
	return rep, after
}

// summaries returns the names of the collection summaries of key.
func (e *env) summaries(key string) []string {
	e.t.Helper()
	var out []string
	for _, k := range e.keys(key) {
		if strings.HasPrefix(k, key+"/_checkpoints/gc.") {
			out = append(out, k)
		}
	}
	return out
}

// sameAccounting fails t unless two reports of the same database say the
// same of it.
func sameAccounting(t *testing.T, what string, a, b s3vfs.GCReport) {
	t.Helper()
	if a.Head != b.Head || a.HeadSize != b.HeadSize || a.Oldest != b.Oldest || a.Live != b.Live || a.Pending != b.Pending || a.Garbage != b.Garbage {
		t.Errorf("%s:\n%v\nwant\n%v", what, a, b)
	}
}

// TestGCIncremental: a collection reads every retained record and base
// checkpoint once; later collections read only what was committed since
// (the summary the previous one left says the rest), and find the same.
// Without the summary, a collection reads everything again and finds the
// same.
func TestGCIncremental(t *testing.T) {
	const n, k = 1000, 50
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	d := newIncrementalDB(e, "gc/incremental.db")
	d.commit(n - 1)
	rep1, first := d.collect()
	rep2, second := d.collect()
	d.commit(k)
	rep3, third := d.collect()
	t.Logf("first collection (%d commits):  %v; read %d, summarized %d; live %v", rep1.Head, first, rep1.Read, rep1.Summarized, rep1.Live)
	t.Logf("second collection (no commit):  %v; read %d, summarized %d", second, rep2.Read, rep2.Summarized)
	t.Logf("third collection (%d commits more): %v; read %d, summarized %d; live %v", k, third, rep3.Read, rep3.Summarized, rep3.Live)

	bases := rep1.Live.Checkpoints / 2 // each with its inner pages
	if rep1.Read != n+bases || rep1.Summarized != 0 || first[s3proxy.GET] != rep1.Read || first[s3proxy.PUT] != 1 {
		t.Errorf("first collection: read %d, summarized %d, %v; want %d records and %d checkpoints read, one summary written",
			rep1.Read, rep1.Summarized, first, n, bases)
	}
	if rep2.Read != 0 || second[s3proxy.GET] != 1 || second[s3proxy.PUT] != 0 || second[s3proxy.DELETE] != 0 {
		t.Errorf("second collection, nothing new: read %d, %v; want the summary's GET alone", rep2.Read, second)
	}
	sameAccounting(t, "second collection", rep2, rep1)
	// The k commits may have written a checkpoint or two.
	if rep3.Read < k || rep3.Read > k+2 || rep3.Read+rep3.Summarized != k+n+rep3.Live.Checkpoints/2 ||
		third[s3proxy.GET] != 1+rep3.Read || third[s3proxy.PUT] != 1 || third[s3proxy.DELETE] != 1 {
		t.Errorf("third collection, %d commits more: read %d, summarized %d, %v; want about %d read, the old summary replaced",
			k, rep3.Read, rep3.Summarized, third, k)
	}
	if got := e.summaries(d.key); len(got) != 1 {
		t.Errorf("summaries left: %v, want one", got)
	} else {
		t.Logf("the summary: %d bytes for %d records and %d checkpoints", len(e.readObject(got[0])), rep3.Live.Records, rep3.Live.Checkpoints/2)
	}

	// Without a summary (the layout before summaries), the same.
	for _, name := range e.summaries(d.key) {
		e.removeObject(name)
	}
	dry, err := e.vfs.GC(context.Background(), d.key, &s3vfs.GCOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Summarized != 0 || dry.Read != rep3.Read+rep3.Summarized {
		t.Errorf("without a summary: read %d, summarized %d; want %d read", dry.Read, dry.Summarized, rep3.Read+rep3.Summarized)
	}
	sameAccounting(t, "without a summary", dry, rep3)
	if got := e.summaries(d.key); len(got) != 0 {
		t.Errorf("a dry run wrote summaries: %v", got)
	}
}

// TestGCSummaryUnreadable: a summary that does not decode is logged and
// ignored (the collection reads the records, finds the same, and replaces
// it); so is one whose records changed since, as Remove changes them:
// those are read again. With records in the bucket and with a DynamoDB
// coordinator, which keeps an overwritten record's creation time.
func TestGCSummaryUnreadable(t *testing.T) {
	t.Run("bucket", func(t *testing.T) { runGCSummaryUnreadable(t, newEnv) })
	t.Run("coordinated", func(t *testing.T) { runGCSummaryUnreadable(t, newCoordinatedEnv) })
}

// runGCSummaryUnreadable is TestGCSummaryUnreadable on an env made by
// newEnv.
func runGCSummaryUnreadable(t *testing.T, newEnv func(testing.TB, *s3vfs.Options) *env) {
	ctx := context.Background()
	var logged []string
	var mu sync.Mutex
	opts := s3vfs.WithLog(&s3vfs.Options{BlockSize: 4096}, func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(f, a...))
	})
	e := newEnv(t, opts)
	d := newIncrementalDB(e, "gc/unreadable.db")
	d.commit(40)
	rep1, _ := d.collect()
	names := e.summaries(d.key)
	if len(names) != 1 {
		t.Fatalf("summaries after a collection of %d records: %v", rep1.Live.Records, names)
	}
	good := e.readObject(names[0])
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0x10
	e.writeObject(names[0], bad)
	rep2, _ := d.collect()
	if rep2.Read != rep1.Read || rep2.Summarized != 0 || len(logged) != 1 || !strings.Contains(logged[0], "checksum") {
		t.Errorf("with a corrupt summary: read %d (want %d), summarized %d; logged %q", rep2.Read, rep1.Read, rep2.Summarized, logged)
	}
	sameAccounting(t, "with a corrupt summary", rep2, rep1)
	if got := e.summaries(d.key); len(got) != 1 || got[0] == names[0] {
		t.Errorf("summaries after the corrupt one: %v, want a new one alone", got)
	}

	// The removal overwrites every record below its own; a summary
	// written before (put back, as a collection racing the removal could
	// leave it) describes records as they no longer are.
	time.Sleep(1100 * time.Millisecond) // so that times listed to the second differ
	summary := e.summaries(d.key)[0]
	good = e.readObject(summary)
	if err := e.vfs.Remove(ctx, d.key); err != nil {
		t.Fatal(err)
	}
	if got := e.summaries(d.key); len(got) != 0 {
		t.Errorf("summaries after Remove: %v", got)
	}
	e.writeObject(summary, good)
	rep3, _ := d.collect()
	if rep3.Summarized != 0 || rep3.Read != rep1.Live.Records+1 || rep3.Live.Blocks != 0 || rep3.HeadSize != 0 {
		t.Errorf("after Remove, with a summary from before: read %d, summarized %d, live %v", rep3.Read, rep3.Summarized, rep3.Live)
	}
}

// TestGCSummaryPastRetention: once the versions a summary describes are
// past the retention, a collection that retains too few for a summary of
// its own deletes it.
func TestGCSummaryPastRetention(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	d := newIncrementalDB(e, "gc/past.db")
	d.commit(40)
	d.collect()
	if got := e.summaries(d.key); len(got) != 1 {
		t.Fatalf("summaries: %v", got)
	}
	time.Sleep(2500 * time.Millisecond)
	rep, err := e.vfs.GC(context.Background(), d.key, &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Oldest != rep.Head || rep.Summarized == 0 || rep.Read != 0 {
		t.Errorf("past the retention: oldest %d of %d, read %d, summarized %d", rep.Oldest, rep.Head, rep.Read, rep.Summarized)
	}
	if got := e.summaries(d.key); len(got) != 0 {
		t.Errorf("summaries left: %v", got)
	}
	integrityOK(t, openDB(t, e.register(e.newVFS(nil)), d.key))
}

// TestGCSummaryTwoCollectors: two processes collect the database again
// and again while a third writes it; each starts from whatever summary it
// finds, the other's included. The database stays whole, and in the end
// one summary is left, whose collection finds what one without finds.
func TestGCSummaryTwoCollectors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	d := newIncrementalDB(e, "gc/two.db")
	// A summary is written only for 16 retained records or more: the
	// retention keeps that many on a slow machine too.
	opts := &s3vfs.GCOptions{Retention: 5 * time.Second, Grace: time.Second}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var runs, summarized atomic.Int64
	for range 2 {
		v := e.newVFS(nil)
		wg.Go(func() { collectUntil(t, v, d.key, opts, stop, &runs, &summarized) })
	}
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	// Go on, up to three times as long, until some collection has
	// started from a summary.
	for round := 0; round < rounds || summarized.Load() == 0 && round < 3*rounds; round++ {
		d.commit(10)
		integrityOK(t, openDB(t, e.register(e.newVFS(nil)), d.key))
	}
	close(stop)
	wg.Wait()
	t.Logf("%d collections took %d records and checkpoints from summaries", runs.Load(), summarized.Load())
	if summarized.Load() == 0 {
		t.Error("no collection used a summary: the test tests nothing")
	}
	rep, err := e.vfs.GC(ctx, d.key, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.summaries(d.key); len(got) > 1 {
		t.Errorf("summaries left: %v", got)
	}
	for _, name := range e.summaries(d.key) {
		e.removeObject(name)
	}
	dry, err := e.vfs.GC(ctx, d.key, &s3vfs.GCOptions{DryRun: true, Retention: opts.Retention, Grace: opts.Grace})
	if err != nil {
		t.Fatal(err)
	}
	// The same versions retained (the time between the two may move
	// the oldest), the same objects live.
	if dry.Head == rep.Head && dry.Oldest == rep.Oldest && dry.Live != rep.Live {
		t.Errorf("without a summary the collection finds %v live, with it %v", dry.Live, rep.Live)
	}
}

// collectUntil collects the database at key with v again and again until
// stop is closed, counting the collections and what they took from
// summaries.
func collectUntil(t *testing.T, v *s3vfs.VFS, key string, opts *s3vfs.GCOptions, stop chan struct{}, runs, summarized *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		rep, err := v.GC(context.Background(), key, opts)
		// One that finds a retained record gone (the other, starting
		// later, deleted it) stops: docs/design.md.
		if err != nil && !strings.Contains(err.Error(), "vanished while collecting") {
			t.Errorf("collection: %v", err)
			return
		}
		runs.Add(1)
		summarized.Add(int64(rep.Summarized))
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkGCIncremental measures the requests of a collection that
// follows another after 50 more commits, on databases of 1,000 and 3,000
// commits, every version retained (the default retention), with
// collection summaries and without (as before them): with them, GETs grow
// with the commits since the last collection, not with the history.
func BenchmarkGCIncremental(b *testing.B) {
	for _, n := range []int{1000, 3000} {
		for _, summaries := range []bool{true, false} {
			b.Run(fmt.Sprintf("commits=%d/summaries=%v", n, summaries), func(b *testing.B) {
				opts := &s3vfs.Options{BlockSize: 4096}
				if !summaries {
					opts = s3vfs.WithoutGCSummaries(opts)
				}
				benchGCIncremental(b, newEnv(b, opts), n, 50)
			})
		}
	}
}

// benchGCIncremental makes n commits in e, collects, then, b.N times,
// makes k commits and collects, and reports the requests and reads of
// the later collections per collection, and the most the process's heap
// grew above what it was before one of them (the test's own proxy
// included): its objects, and what a garbage collection found live.
func benchGCIncremental(b *testing.B, e *env, n, k int) {
	d := newIncrementalDB(e, "gc/bench.db")
	d.commit(n - 1)
	rep, first := d.collect()
	sum := map[s3proxy.Kind]int{}
	reads, ops := 0, 0
	var peakHeap, peakLive uint64 // above the heap before the collection
	for b.Loop() {
		b.StopTimer()
		d.commit(k)
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		stop := bench.SampleHeap()
		b.StartTimer()
		rep, got := d.collect()
		heap, live := stop()
		peakHeap = max(peakHeap, heap-min(heap, before.HeapAlloc))
		peakLive = max(peakLive, live-min(live, before.HeapAlloc))
		for kind, c := range got {
			sum[kind] += c
		}
		reads += rep.Read
		ops++
	}
	for _, kind := range []s3proxy.Kind{s3proxy.GET, s3proxy.PUT, s3proxy.LIST, s3proxy.DELETE} {
		b.ReportMetric(float64(sum[kind])/float64(ops), string(kind)+"/op")
	}
	b.ReportMetric(float64(reads)/float64(ops), "reads/op")
	b.ReportMetric(float64(peakHeap)/1e6, "heap-added-MB")
	b.ReportMetric(float64(peakLive)/1e6, "live-added-MB")
	b.ReportMetric(float64(first[s3proxy.GET]), "first-GETs")
	b.ReportMetric(float64(rep.Read), "first-reads")
}

// A summary of a later format version (as a newer release would leave),
// named newer than the one this release wrote, is passed over and kept:
// the collection uses the older one it can read, and leaves the newer
// release's for it.
func TestGCSummaryNewerVersionKept(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	d := newIncrementalDB(e, "gc/newer.db")
	d.commit(40)
	d.collect()
	names := e.summaries(d.key)
	if len(names) != 1 {
		t.Fatalf("summaries after the first collection: %v, want one", names)
	}
	// Named for a later head than any, so that it sorts newest.
	newer := d.key + "/_checkpoints/gc." + strings.Repeat("9", 19) + ".00000000000000aa"
	e.writeObject(newer, []byte("s3vfsG2\nwritten by a later release"))
	d.commit(5)
	rep, _ := d.collect()
	if rep.Summarized == 0 || rep.Read > 7 {
		t.Errorf("with a later summary beside it: read %d, summarized %d; want the older summary used", rep.Read, rep.Summarized)
	}
	if got := e.summaries(d.key); !slices.Contains(got, newer) || len(got) != 2 {
		t.Errorf("summaries after: %v, want the later release's kept beside this one's new summary", got)
	}
}
