package engine

import (
	"context"
	"fmt"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/format"
)

// The bundles of inner pages past a checkpoint's front, fetched in the
// background after a cold open (docs/design.md, "Cold open at any
// size"): the open reads the front, and while SQLite's first
// transactions wait for their freshness checks, the rest of the object
// is read with a few ranged GETs in parallel, so that a cold lookup finds
// the levels below the front at hand. Only when the rest fits the
// database's prefetch budget: beyond it a lookup reads the bundles it
// needs, one round trip each.

// InnerPrefetchRun is the most bytes one ranged GET of a prefetch reads:
// a run of consecutive bundles.
const InnerPrefetchRun = 1 << 20

// bundleRun is the bundles first to end-1 of an inner-pages object,
// consecutive in the object and read with one ranged GET.
type bundleRun struct{ first, end int }

// planBundlePrefetch returns the runs of bundles of f a prefetch reads:
// each bundle that have says is not at hand, in runs of consecutive
// bundles of at most runBytes each (a bundle longer than that alone);
// none when together they exceed budget. Pure.
func planBundlePrefetch(f *format.InnerFront, have func(k int) bool, budget, runBytes int64) []bundleRun {
	var runs []bundleRun
	var total, last int64 // the bytes of every run, and of the last
	for k, bd := range f.Bundles {
		if have(k) {
			continue
		}
		n := bd.Len(f.Unit)
		if total += n; total > budget {
			return nil
		}
		if i := len(runs) - 1; i >= 0 && runs[i].end == k && last+n <= runBytes {
			runs[i].end++
			last += n
			continue
		}
		runs = append(runs, bundleRun{first: k, end: k + 1})
		last = n
	}
	return runs
}

// bundlePrefetch is a prefetch in flight of the bundles of one
// inner-pages object: for each bundle it reads, a channel closed once
// its run has been read (or failed). Immutable once made.
type bundlePrefetch struct {
	done map[int]chan struct{}
}

// newBundlePrefetch returns the prefetch of runs, and the channel of
// each run.
func newBundlePrefetch(runs []bundleRun) (*bundlePrefetch, []chan struct{}) {
	pf := &bundlePrefetch{done: map[int]chan struct{}{}}
	chans := make([]chan struct{}, len(runs))
	for i, r := range runs {
		chans[i] = make(chan struct{})
		for k := r.first; k < r.end; k++ {
			pf.done[k] = chans[i]
		}
	}
	return pf, chans
}

// bundleID is the name under which bundle k of ip is cached.
func bundleID(ip *format.InnerSet, k int) string { return ip.Name + "#" + strconv.Itoa(k) }

// prefetchBudget returns the most bytes of bundles a prefetch of the
// database reads: the VFS's setting, and never more than a quarter of
// the database's block cache, where the bundles are kept (none without
// one).
func (db *Database) prefetchBudget() int64 {
	return min(db.Env.Cfg.InnerPrefetch, db.Cache().Limit()/4)
}

// PrefetchInner starts reading, in the background, the bundles of the
// inner pages of the known head that are neither held nor cached, when
// they fit the database's budget (prefetchBudget): one ranged GET per
// run of consecutive bundles, up to Config.Concurrency at once, each
// bundle checked and kept in the block cache (and the disk cache) as a
// lookup's read keeps it. A lookup that needs one of them meanwhile
// waits for its run (waitPrefetch) rather than reading it again. The
// root calls it when an open has read the head, so that the bundles are
// read while SQLite's first transactions check it. ctx's values are
// kept, not its end.
func (db *Database) PrefetchInner(ctx context.Context) {
	head, _ := db.Known.Get()
	budget := db.prefetchBudget()
	if head == nil || head.Inner == nil || head.Inner.Front == nil || len(head.Inner.Front.Bundles) == 0 || budget <= 0 {
		return
	}
	go db.prefetchBundles(context.WithoutCancel(ctx), head.Inner, budget)
}

// prefetchBundles plans the prefetch of the bundles of ip within budget
// and does it, unless one of them is running.
func (db *Database) prefetchBundles(ctx context.Context, ip *format.InnerSet, budget int64) {
	runs := planBundlePrefetch(ip.Front, func(k int) bool { return db.bundleAtHand(ip, k) }, budget, InnerPrefetchRun)
	if len(runs) == 0 {
		return
	}
	pf, chans := newBundlePrefetch(runs)
	if _, running := db.Env.prefetches.LoadOrStore(ip.Name, pf); running {
		return
	}
	defer db.Env.prefetches.CompareAndDelete(ip.Name, pf)
	var g errgroup.Group
	g.SetLimit(db.Env.Cfg.Concurrency)
	for i, r := range runs {
		g.Go(func() error {
			raws := db.prefetchRun(ctx, ip, r)
			close(chans[i]) // the lookups waiting need not wait for the disk
			db.keepBundlesOnDisk(ip, raws)
			return nil
		})
	}
	g.Wait()
}

// bundleAtHand reports whether bundle k of ip needs no request: its
// pages came with the front, or it is in the block cache or on disk.
func (db *Database) bundleAtHand(ip *format.InnerSet, k int) bool {
	if _, held := ip.Pages[ip.Front.Bundles[k].Pages[0].First]; held {
		return true
	}
	id := bundleID(ip, k)
	if _, ok := db.Cache().Get(id); ok {
		return true
	}
	disk := db.Disk()
	return disk != nil && disk.Has(disk.Path(db.Env.Store.Bucket, id))
}

// prefetchRun reads the bundles of run r of ip with one ranged GET,
// keeps each that checks in the block cache, and returns their bytes as
// stored (their checksum included), by bundle. A failure is logged and
// left to the lookups, which read the bundle again, each on its own.
func (db *Database) prefetchRun(ctx context.Context, ip *format.InnerSet, r bundleRun) map[int][]byte {
	bundles := ip.Front.Bundles
	start := bundles[r.first].Offset
	end := bundles[r.end-1].Offset + bundles[r.end-1].Len(ip.Unit)
	data, _, err := db.Env.Store.GetRange(ctx, ip.Name, start, end-start)
	if err == nil && int64(len(data)) != end-start {
		err = fmt.Errorf("%w: %d bytes, want %d", format.ErrCorrupt, len(data), end-start)
	}
	if err != nil {
		db.Env.Cfg.Hooks.Log("s3vfs: bundles %d to %d of inner pages %s: %v; read when needed", r.first, r.end-1, ip.Name, err)
		return nil
	}
	raws := map[int][]byte{}
	for k := r.first; k < r.end; k++ {
		raw := data[bundles[k].Offset-start : bundles[k].Offset-start+bundles[k].Len(ip.Unit)]
		pages, err := ip.Front.Bundle(k, raw)
		if err != nil {
			db.Env.Cfg.Hooks.Log("s3vfs: bundle %d of inner pages %s: %v; read when needed", k, ip.Name, err)
			continue
		}
		// Copied, so that the cache does not keep the run's other bytes
		// alive when this bundle's are evicted.
		db.Cache().Add(bundleID(ip, k), append([]byte(nil), pages...))
		db.Env.Counts.InnerPrefetched.Add(1)
		raws[k] = raw
	}
	return raws
}

// keepBundlesOnDisk writes the bundles of ip read ahead, raws by
// number, to the database's disk cache, if it has one.
func (db *Database) keepBundlesOnDisk(ip *format.InnerSet, raws map[int][]byte) {
	disk := db.Disk()
	if disk == nil {
		return
	}
	for k, raw := range raws {
		disk.Put(disk.Path(db.Env.Store.Bucket, bundleID(ip, k)), raw)
	}
}

// waitPrefetch waits, if a prefetch is reading bundle k of ip, until its
// run has been read; false if ctx ended first.
func (db *Database) waitPrefetch(ctx context.Context, ip *format.InnerSet, k int) bool {
	v, ok := db.Env.prefetches.Load(ip.Name)
	if !ok {
		return true
	}
	done, ok := v.(*bundlePrefetch).done[k]
	if !ok {
		return true
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
