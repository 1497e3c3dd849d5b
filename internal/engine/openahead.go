package engine

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/format"
)

// What an open that read the head reads ahead, in the background, while
// SQLite's first transactions check the head (docs/design.md, "Cold open
// at any size"): what a cold lookup would otherwise read one round trip
// at a time once the checks are done. First the bundles of the inner
// pages past their front (innerprefetch.go), then the segments of the
// block map past the open's read (segmentsahead.go), each all or nothing
// within the database's budget (readAheadBudget), in runs of consecutive
// parts read with one ranged GET each, several at once. A read that
// needs a part of a run in flight waits for the run (waitAhead) rather
// than reading the part again.

// AheadRun is the most bytes one ranged GET of a read ahead reads: a run
// of consecutive parts.
const AheadRun = 1 << 20

// aheadPart is a part of an object that a read ahead may read (a bundle,
// a segment): its number, where it is in the object, and the bytes of
// memory holding it takes.
type aheadPart struct {
	k        int
	off, len int64
	held     int64
}

// planRuns returns parts, ordered by their place in the object, in runs
// of parts that follow one another in the object, of at most runBytes
// each (a longer part alone), and the memory holding them all takes;
// none when that exceeds budget. Pure.
func planRuns(parts []aheadPart, budget, runBytes int64) (runs [][]aheadPart, total int64) {
	var last int64 // the bytes of the last run
	for _, p := range parts {
		if total += p.held; total > budget {
			return nil, 0
		}
		if i := len(runs) - 1; i >= 0 {
			prev := runs[i][len(runs[i])-1]
			if prev.off+prev.len == p.off && last+p.len <= runBytes {
				runs[i] = append(runs[i], p)
				last += p.len
				continue
			}
		}
		runs = append(runs, []aheadPart{p})
		last = p.len
	}
	return runs, total
}

// runBytes returns the first byte of run r in its object and the number
// of bytes from there to its end.
func runBytes(r []aheadPart) (off, n int64) {
	last := r[len(r)-1]
	return r[0].off, last.off + last.len - r[0].off
}

// fetchRun reads run r of object name with one ranged GET and returns
// the bytes of each of its parts, in order; none, and the failure
// logged (what names the parts), if it fails.
func (db *Database) fetchRun(ctx context.Context, name, what string, r []aheadPart) [][]byte {
	off, n := runBytes(r)
	data, _, err := db.Env.Store.GetRange(ctx, name, off, n)
	if err == nil && int64(len(data)) != n {
		err = fmt.Errorf("%w: %d bytes, want %d", format.ErrCorrupt, len(data), n)
	}
	if err != nil {
		db.Env.Cfg.Hooks.Log("s3vfs: %s %d to %d of %s, read ahead: %v; read when needed", what, r[0].k, r[len(r)-1].k, name, err)
		return nil
	}
	parts := make([][]byte, len(r))
	for i, p := range r {
		parts[i] = data[p.off-off : p.off-off+p.len]
	}
	return parts
}

// readAheadBudget returns the most bytes of memory a read ahead of the
// database fills: the VFS's setting (Options.OpenPrefetch), and never
// more than a quarter of the database's block cache, where what it reads
// is kept (none without one).
func (db *Database) readAheadBudget() int64 {
	return min(db.Env.Cfg.OpenPrefetch, db.Cache().Limit()/4)
}

// ReadAheadAfterOpen starts reading ahead what a cold lookup of the
// known head would read on its way down: the bundles of its inner pages
// neither held, cached nor on disk, and then, with what is left of the
// budget, the segments of its block map neither held nor on disk. The
// root calls it when an open has read the head. ctx's values are kept,
// not its end.
func (db *Database) ReadAheadAfterOpen(ctx context.Context) {
	head, _ := db.Known.Get()
	budget := db.readAheadBudget()
	if head == nil || budget <= 0 {
		return
	}
	go db.readAhead(context.WithoutCancel(ctx), head, budget)
}

// readAhead plans the reads ahead of s within budget, the inner pages
// first, and does them in parallel.
func (db *Database) readAhead(ctx context.Context, s *format.Snapshot, budget int64) {
	bundles, spent := db.planBundles(s.Inner, budget)
	g, segments := db.planSegments(s, budget-spent)
	var wg sync.WaitGroup
	if len(bundles) > 0 {
		wg.Go(func() {
			db.readRunsAhead(ctx, s.Inner.Name, bundles, func(ctx context.Context, r []aheadPart) map[string][]byte {
				return db.readBundleRun(ctx, s.Inner, r)
			})
		})
	}
	if len(segments) > 0 {
		wg.Go(func() {
			db.readRunsAhead(ctx, g.Name, segments, func(ctx context.Context, r []aheadPart) map[string][]byte {
				return db.readSegmentRun(ctx, g, r)
			})
		})
	}
	wg.Wait()
}

// readRunsAhead reads the runs of object name with read, up to
// Config.Concurrency at once, unless a read ahead of name is in flight,
// and keeps on disk what each returns (the parts as stored, by the name
// they are cached under); a read that needs a part of a run meanwhile
// waits for that run, and not for the disk.
func (db *Database) readRunsAhead(ctx context.Context, name string, runs [][]aheadPart, read func(context.Context, []aheadPart) map[string][]byte) {
	ra, ok := db.startAhead(name, runs)
	if !ok {
		return
	}
	defer db.Env.ahead.CompareAndDelete(name, ra)
	var g errgroup.Group
	g.SetLimit(db.Env.Cfg.Concurrency)
	for i, r := range runs {
		g.Go(func() error {
			raws := read(ctx, r)
			close(ra.runs[i])
			db.keepOnDisk(raws)
			return nil
		})
	}
	g.Wait()
}

// readsAhead is a read ahead in flight of parts of one object: for each
// part it reads, the channel of its run, closed once the run has been
// read (or has failed). Immutable once made.
type readsAhead struct {
	done map[int]chan struct{} // by part
	runs []chan struct{}       // by run
}

// startAhead notes a read ahead of runs of object name; false, and
// nothing noted, if a read ahead of name is in flight.
func (db *Database) startAhead(name string, runs [][]aheadPart) (*readsAhead, bool) {
	ra := &readsAhead{done: map[int]chan struct{}{}, runs: make([]chan struct{}, len(runs))}
	for i, r := range runs {
		ra.runs[i] = make(chan struct{})
		for _, p := range r {
			ra.done[p.k] = ra.runs[i]
		}
	}
	if _, running := db.Env.ahead.LoadOrStore(name, ra); running {
		return nil, false
	}
	return ra, true
}

// waitAhead waits, if a read ahead is reading part k of object name,
// until its run has been read; false if ctx ended first.
func (db *Database) waitAhead(ctx context.Context, name string, k int) bool {
	v, ok := db.Env.ahead.Load(name)
	if !ok {
		return true
	}
	done, ok := v.(*readsAhead).done[k]
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

// onDisk reports whether the database's disk cache holds the object
// cached under id.
func (db *Database) onDisk(id string) bool {
	disk := db.Disk()
	return disk != nil && disk.Has(disk.Path(db.Env.Store.Bucket, id))
}

// keepOnDisk writes raws, parts read ahead by the names they are cached
// under, to the database's disk cache, if it has one.
func (db *Database) keepOnDisk(raws map[string][]byte) {
	disk := db.Disk()
	if disk == nil {
		return
	}
	for id, raw := range raws {
		disk.Put(disk.Path(db.Env.Store.Bucket, id), raw)
	}
}
