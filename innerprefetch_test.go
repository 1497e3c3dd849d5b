package s3vfs_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// prefetchLookup is what a cold lookup through the proxy saw.
type prefetchLookup struct {
	got         int64    // the answer
	blocks      int      // GETs of blocks after the open
	innerRanges []string // the Range of every GET of inner pages, the open's included
	ckptRanges  []string // the Range of every GET of a checkpoint, the open's included
	chain       int      // round trips waited for in sequence after the open (s3proxy.Proxy.Chain)
	lookup      s3vfs.Stats
	vfs         *s3vfs.VFS
}

// prefetchColdLookup opens key cold on a new VFS of options opts (a new
// process), runs query after the open, and waits until the VFS's stats
// are ready (readAhead); hook, if not nil, runs for every request the
// proxy sees (after the counting).
func prefetchColdLookup(t *testing.T, e *env, opts *s3vfs.Options, key string, hook s3proxy.Hook, ready func(s3vfs.Stats) bool, query string, args ...any) *prefetchLookup {
	t.Helper()
	r := &prefetchLookup{vfs: e.newVFS(opts)}
	var mu sync.Mutex
	opened := false
	e.proxy.SetHook(func(w http.ResponseWriter, req *http.Request, sr s3proxy.Request) bool {
		mu.Lock()
		switch {
		case sr.Kind == s3proxy.GET && strings.HasSuffix(sr.Key, ".inner"):
			r.innerRanges = append(r.innerRanges, req.Header.Get("Range"))
		case sr.Kind == s3proxy.GET && strings.Contains(sr.Key, "/_checkpoints/"):
			r.ckptRanges = append(r.ckptRanges, req.Header.Get("Range"))
		case sr.Kind == s3proxy.GET && strings.Contains(sr.Key, "/_blocks/") && opened:
			r.blocks++
		}
		mu.Unlock()
		return hook != nil && hook(w, req, sr)
	})
	defer e.proxy.SetHook(nil)
	e.proxy.SetLatency(waveLatency)
	defer e.proxy.SetLatency(0)
	c := conn(t, openDB(t, e.register(r.vfs), key))
	mu.Lock()
	opened = true
	mu.Unlock()
	before := r.vfs.Stats()
	e.proxy.Reset()
	r.got = connInt(t, c, query, args...)
	r.chain = e.proxy.Chain()
	r.lookup = r.vfs.Stats().Sub(before)
	waitStats(t, r.vfs, ready)
	mu.Lock()
	defer mu.Unlock()
	r.innerRanges, r.ckptRanges = slices.Clone(r.innerRanges), slices.Clone(r.ckptRanges)
	return r
}

// readAhead returns whether a VFS has read n bundles ahead.
func readAhead(n int64) func(s3vfs.Stats) bool {
	return func(st s3vfs.Stats) bool { return st.InnerPrefetched >= n }
}

// waitStats waits until ready (nil: at once) accepts the stats of v, and
// fails the test if it has not within 10 s.
func waitStats(t *testing.T, v *s3vfs.VFS, ready func(s3vfs.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ready != nil && !ready(v.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("not read ahead within 10 s: %v", v.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// After a cold open the bundles past the front are read in the
// background, one ranged GET per run of bundles, while SQLite's first
// transactions check the head: a cold lookup then waits for the checks
// and the leaf alone, 3 round trips in sequence as with every inner page
// in the front, and reads no bundle itself; one that reaches a bundle
// still in flight waits for it rather than reading it again. A later
// process sharing the disk cache reads no inner page from S3. Beyond the
// budget, or with no block cache, nothing is read ahead, and a lookup
// reads the bundles it needs (without a cache, block 0 again as well).
func TestInnerBundlesPrefetch(t *testing.T) {
	e, small, db := deepWithSmallFront(t, "pre.db")
	want := int64(queryInt(t, db, "SELECT grp FROM t WHERE id = 15000"))
	obj := e.readObject(innerObject(t, e, "pre.db"))
	front, err := format.DecodeInnerFront(obj)
	if err != nil {
		t.Fatal(err)
	}
	var ahead, aheadBytes int64 // the bundles past the open's read of smallFront bytes
	for _, bd := range front.Bundles {
		if bd.Offset+bd.Len(front.Unit) > smallFront {
			ahead++
			aheadBytes += bd.Len(front.Unit)
		}
	}
	if ahead < 2 || aheadBytes > s3vfs.AheadRunForTest {
		t.Fatalf("%d bundles in %d bytes past the open's read: the test wants two or more, in one run", ahead, aheadBytes)
	}
	with := func(o s3vfs.Options) *s3vfs.Options { return &o }
	prefetch := with(*small)
	prefetch.OpenPrefetch = 0 // the default

	const query = "SELECT grp FROM t WHERE id = ?"
	r := prefetchColdLookup(t, e, prefetch, "pre.db", nil, readAhead(ahead), query, 15000)
	t.Logf("prefetch: inner GETs %q, lookup %d block GETs, chain %d, %v", r.innerRanges, r.blocks, r.chain, r.lookup)
	if r.got != want || r.blocks != 1 || r.chain != 3 || r.lookup.InnerBundles != 0 || len(r.innerRanges) != 2 {
		t.Errorf("lookup with a prefetch: grp %d, %d block GETs, %d round trips in sequence, %d bundles read, inner GETs %q; "+
			"want %d, the leaf alone in 3, no bundle read by the lookup, and the inner pages in two GETs (the front and one run)",
			r.got, r.blocks, r.chain, r.lookup.InnerBundles, r.innerRanges, want)
	}

	// A prefetch held back: the lookup waits for it, and reads no bundle.
	slow := func(w http.ResponseWriter, req *http.Request, sr s3proxy.Request) bool {
		if strings.HasSuffix(sr.Key, ".inner") && !strings.HasPrefix(req.Header.Get("Range"), "bytes=0-") {
			time.Sleep(300 * time.Millisecond)
		}
		return false
	}
	r = prefetchColdLookup(t, e, prefetch, "pre.db", slow, readAhead(ahead), query, 15000)
	if r.got != want || r.lookup.InnerBundles != 0 || len(r.innerRanges) != 2 {
		t.Errorf("lookup beside a slow prefetch: grp %d, %d bundles read, inner GETs %q; want %d, none read, the front and one run",
			r.got, r.lookup.InnerBundles, r.innerRanges, want)
	}

	// A disk cache: the first process keeps the bundles there, the next
	// reads every inner page from the disk.
	dir := t.TempDir()
	disk := with(*prefetch)
	disk.CacheDir = dir
	prefetchColdLookup(t, e, disk, "pre.db", nil, readAhead(ahead), query, 15000)
	r = prefetchColdLookup(t, e, disk, "pre.db", nil, nil, query, 15000)
	if st := r.vfs.Stats(); r.got != want || len(r.innerRanges) != 0 || st.InnerPrefetched != 0 || st.DiskHits == 0 {
		t.Errorf("second process on the disk cache: grp %d, inner GETs %q, %d bundles read ahead, %d disk hits; "+
			"want %d, no inner GET, nothing read ahead (it is on disk), bundles from the disk", r.got, r.innerRanges, st.InnerPrefetched, st.DiskHits, want)
	}

	// Beyond the budget, or with no block cache, the lookup reads the
	// bundles it needs; nothing is read ahead.
	tight := with(*prefetch)
	tight.OpenPrefetch = aheadBytes - 1
	uncached := with(*prefetch)
	uncached.CacheSize = -1
	for name, o := range map[string]*s3vfs.Options{"over the budget": tight, "no block cache": uncached} {
		r = prefetchColdLookup(t, e, o, "pre.db", nil, nil, query, 15000)
		t.Logf("%s: inner GETs %q, lookup %d block GETs, chain %d, %v", name, r.innerRanges, r.blocks, r.chain, r.lookup)
		if st := r.vfs.Stats(); r.got != want || st.InnerPrefetched != 0 || r.lookup.InnerBundles == 0 ||
			int64(len(r.innerRanges)) != 1+r.lookup.InnerBundles || r.chain != 2+r.blocks+int(r.lookup.InnerBundles) {
			t.Errorf("%s: grp %d, %d bundles read ahead, %d read by the lookup, inner GETs %q, %d round trips in sequence after %d block GETs; "+
				"want %d, none ahead, the front and the lookup's, 2 round trips plus one a block and one a bundle",
				name, r.got, st.InnerPrefetched, r.lookup.InnerBundles, r.innerRanges, r.chain, r.blocks, want)
		}
	}

	// A run that fails is logged, and the lookup reads its bundles.
	var log logLines
	failing := s3vfs.WithLog(prefetch, log.logf)
	denyRuns := func(w http.ResponseWriter, req *http.Request, sr s3proxy.Request) bool {
		var first, last int64
		if _, err := fmt.Sscanf(req.Header.Get("Range"), "bytes=%d-%d", &first, &last); err != nil || !strings.HasSuffix(sr.Key, ".inner") || last-first < int64(front.Bundles[0].Len(front.Unit)) {
			return false
		}
		w.WriteHeader(http.StatusForbidden) // not retried
		return true
	}
	r = prefetchColdLookup(t, e, failing, "pre.db", denyRuns, nil, query, 15000)
	logged := log.all()
	if st := r.vfs.Stats(); r.got != want || st.InnerPrefetched != 0 || r.lookup.InnerBundles == 0 ||
		!slices.ContainsFunc(logged, func(l string) bool { return strings.Contains(l, "bundles") && strings.Contains(l, "read ahead") }) {
		t.Errorf("a run that fails: grp %d, %d bundles read ahead, %d read by the lookup, logged %q; "+
			"want %d, none ahead, the lookup's own, and the failure logged", r.got, st.InnerPrefetched, r.lookup.InnerBundles, logged, want)
	}
}
