package engine

import (
	"context"
	"strconv"

	"github.com/s3vfs/s3vfs/internal/format"
)

// The bundles of inner pages past a checkpoint's front, read ahead after
// a cold open (openahead.go; docs/design.md, "Cold open at any size"):
// the open reads the front, and while SQLite's first transactions wait
// for their freshness checks, the rest of the object is read with a few
// ranged GETs in parallel, so that a cold lookup finds the levels below
// the front at hand. Only when the rest fits the database's budget:
// beyond it a lookup reads the bundles it needs, one round trip each.

// bundleID is the name under which bundle k of ip is cached.
func bundleID(ip *format.InnerSet, k int) string { return ip.Name + "#" + strconv.Itoa(k) }

// planBundles returns the bundles of ip a read ahead within budget
// reads, in runs (planRuns), and their bytes: every one neither held,
// cached nor on disk, when they fit budget together; none for inner
// pages without bundles.
func (db *Database) planBundles(ip *format.InnerSet, budget int64) ([][]aheadPart, int64) {
	if ip == nil || ip.Front == nil {
		return nil, 0
	}
	var parts []aheadPart
	for k, bd := range ip.Front.Bundles {
		if !db.bundleAtHand(ip, k) {
			n := bd.Len(ip.Unit)
			parts = append(parts, aheadPart{k: k, off: bd.Offset, len: n, held: n})
		}
	}
	return planRuns(parts, budget, AheadRun)
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
	return db.onDisk(id)
}

// readBundleRun reads the bundles of run r of ip with one ranged GET,
// keeps each that checks in the block cache, and returns their bytes as
// stored (their checksum included), by the name they are cached under,
// for the disk cache. A failure is logged and left to the lookups, which
// read the bundle again, each on its own.
func (db *Database) readBundleRun(ctx context.Context, ip *format.InnerSet, r []aheadPart) map[string][]byte {
	raws := map[string][]byte{}
	for i, raw := range db.fetchRun(ctx, ip.Name, "bundles", r) {
		k := r[i].k
		pages, err := ip.Front.Bundle(k, raw)
		if err != nil {
			db.Env.Cfg.Hooks.Log("s3vfs: bundle %d of inner pages %s, read ahead: %v", k, ip.Name, err)
			continue
		}
		// Copied, so that the cache does not keep the run's other bytes
		// alive when this bundle's are evicted.
		db.Cache().Add(bundleID(ip, k), append([]byte(nil), pages...))
		db.Env.Counts.InnerPrefetched.Add(1)
		raws[bundleID(ip, k)] = raw
	}
	return raws
}
