package s3vfs

import (
	"fmt"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Stats counts the work a [VFS] has done since it was created: S3 requests
// by kind, bytes over the wire, block cache hits and misses, and commits.
// Request counts do not depend on machine speed, so tests and benchmarks
// assert them.
type Stats struct {
	Gets    int64 // GetObject requests
	Puts    int64 // PutObject requests
	Lists   int64 // ListObjectsV2 requests
	Deletes int64 // DeleteObject and DeleteObjects requests

	// Heads counts HeadObject requests.
	//
	// Deprecated: s3vfs sends no HeadObject requests (a GET answers the
	// same questions and brings the object), so Heads is always zero. It
	// is no longer printed.
	Heads int64

	BytesSent     int64 // object bytes uploaded
	BytesReceived int64 // object bytes downloaded

	CacheHits   int64 // block reads served from the cache
	CacheMisses int64 // block reads not in the cache: served from the disk cache or S3

	// InnerHits counts page reads served from a checkpoint's inner pages
	// (its interior b-tree pages, fetched with it at the open; see
	// docs/design.md, "Inner pages"), which need no block.
	InnerHits int64

	// InnerBundles counts the bundles of inner pages read: the parts of a
	// large checkpoint's inner pages that a cold open does not read, read
	// when a lookup first reaches one of their pages.
	InnerBundles int64

	// InnerPrefetched counts the bundles of inner pages read ahead, in
	// the background after a cold open (Options.OpenPrefetch);
	// InnerBundles counts only those read when a lookup reached them.
	InnerPrefetched int64

	// Segments counts the segments of checkpoints' block maps read after
	// the open: the parts of a large database's map that a cold open
	// does not read, read when a block of theirs is first needed, and
	// again when needed after the block cache evicted them (see
	// docs/design.md, "The block map in segments").
	Segments int64

	// SegmentsPrefetched counts the segments of block maps read ahead,
	// in the background after a cold open (Options.OpenPrefetch);
	// Segments counts only those read when a block of theirs was needed.
	SegmentsPrefetched int64

	DiskHits   int64 // cache misses served from the disk cache (Options.CacheDir)
	DiskMisses int64 // cache misses the disk cache did not hold intact, read from S3

	Commits   int64 // transactions published (a group of them published as one commit counts each; docs/design.md, "Group commit")
	Conflicts int64 // transactions whose commit failed with SQLITE_BUSY: lost to another writer, or ran after one of its process that did

	// Rebases counts the times a commit that lost the race to another
	// writer was published on top of it instead, since the other commits
	// changed no page it had read or written (format version 2; see
	// docs/design.md, "Page-level concurrency"). A rebased commit counts
	// in Commits too, a rebase that then loses again is counted again,
	// and a commit that ends in SQLITE_BUSY counts in Conflicts only. A
	// group of transactions published together is rebased, and counted,
	// as one.
	Rebases int64

	// EarlyBlocks counts the blocks uploaded before their transaction's
	// COMMIT because the transaction outgrew [Options.WriteBuffer] (a block
	// changed again after its upload is uploaded again, and counted again).
	// Such a transaction is published in a record of its own, and rebased
	// with its blocks when it loses a race (docs/design.md, "Blocks
	// uploaded early").
	EarlyBlocks int64
}

// Requests returns the total number of S3 requests.
func (s Stats) Requests() int64 { return s.Gets + s.Puts + s.Lists + s.Deletes + s.Heads }

// Sub returns the counts that happened between old and s.
func (s Stats) Sub(old Stats) Stats {
	return Stats{
		Gets: s.Gets - old.Gets, Puts: s.Puts - old.Puts, Lists: s.Lists - old.Lists,
		Deletes: s.Deletes - old.Deletes, Heads: s.Heads - old.Heads,
		BytesSent: s.BytesSent - old.BytesSent, BytesReceived: s.BytesReceived - old.BytesReceived,
		CacheHits: s.CacheHits - old.CacheHits, CacheMisses: s.CacheMisses - old.CacheMisses,
		InnerHits: s.InnerHits - old.InnerHits, InnerBundles: s.InnerBundles - old.InnerBundles,
		InnerPrefetched: s.InnerPrefetched - old.InnerPrefetched, Segments: s.Segments - old.Segments,
		SegmentsPrefetched: s.SegmentsPrefetched - old.SegmentsPrefetched,
		DiskHits:           s.DiskHits - old.DiskHits, DiskMisses: s.DiskMisses - old.DiskMisses,
		Commits: s.Commits - old.Commits, Conflicts: s.Conflicts - old.Conflicts,
		Rebases: s.Rebases - old.Rebases, EarlyBlocks: s.EarlyBlocks - old.EarlyBlocks,
	}
}

// String formats the counts on one line.
func (s Stats) String() string {
	return fmt.Sprintf("requests=%d (GET=%d PUT=%d LIST=%d DELETE=%d) sent=%dB received=%dB cache hits=%d misses=%d disk hits=%d misses=%d commits=%d conflicts=%d rebases=%d inner hits=%d bundles=%d prefetched=%d segments=%d prefetched=%d early blocks=%d",
		s.Requests(), s.Gets, s.Puts, s.Lists, s.Deletes, s.BytesSent, s.BytesReceived,
		s.CacheHits, s.CacheMisses, s.DiskHits, s.DiskMisses, s.Commits, s.Conflicts, s.Rebases, s.InnerHits, s.InnerBundles, s.InnerPrefetched, s.Segments, s.SegmentsPrefetched, s.EarlyBlocks)
}

// statsOf returns the counts of c and of the store's requests r.
func statsOf(c *engine.Counters, r *store.Counters) Stats {
	return Stats{
		Gets: r.Gets.Load(), Puts: r.Puts.Load(), Lists: r.Lists.Load(), Deletes: r.Deletes.Load(),
		BytesSent: r.Sent.Load(), BytesReceived: r.Received.Load(),
		CacheHits: c.Hits.Load(), CacheMisses: c.Misses.Load(), InnerHits: c.InnerHits.Load(), InnerBundles: c.InnerBundles.Load(),
		InnerPrefetched: c.InnerPrefetched.Load(), Segments: c.Segments.Load(), SegmentsPrefetched: c.SegmentsPrefetched.Load(),
		DiskHits: c.DiskHits.Load(), DiskMisses: c.DiskMisses.Load(),
		Commits: c.Commits.Load(), Conflicts: c.Conflicts.Load(), Rebases: c.Rebases.Load(),
		EarlyBlocks: c.EarlyBlocks.Load(),
	}
}
