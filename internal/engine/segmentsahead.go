package engine

import (
	"context"

	"github.com/s3vfs/s3vfs/internal/format"
)

// The segments of a block map past the open's read of its checkpoint,
// read ahead after a cold open (openahead.go; docs/design.md, "The block
// map in segments"), so that a cold lookup finds its leaf's segment held.

// planSegments returns the segments of s's map a read ahead within
// budget reads, in runs (planRuns), and their checkpoint's segments:
// every one the map reads that is neither held nor on disk, when holding
// them all fits budget (about 24 bytes a block, which the block cache
// counts). None when segments are dropped at their last release
// (Hooks.SegmentsUncached): nothing would be kept.
func (db *Database) planSegments(s *format.Snapshot, budget int64) (*format.Segments, [][]aheadPart) {
	g := s.Blocks.Segments()
	if g == nil || db.Env.Cfg.Hooks.UncachedSegments() {
		return nil, nil
	}
	var parts []aheadPart
	for _, k := range s.Blocks.Unheld() {
		if db.onDisk(segmentID(g, k)) {
			continue
		}
		loc := g.Front.Segments[k]
		parts = append(parts, aheadPart{k: k, off: loc.Off, len: loc.Len, held: g.Front.HeldSize(k)})
	}
	runs, _ := planRuns(parts, budget, AheadRun)
	return g, runs
}

// readSegmentRun reads the segments of run r of g with one ranged GET,
// holds each that checks (released at once: the block cache keeps it,
// and evicts it like a block), and returns their bytes by the name they
// are cached under, for the disk cache. A failure is logged and left to
// the reads, which read the segments they need.
func (db *Database) readSegmentRun(ctx context.Context, g *format.Segments, r []aheadPart) map[string][]byte {
	raws := map[string][]byte{}
	for i, raw := range db.fetchRun(ctx, g.Name, "segments", r) {
		k := r[i].k
		es, err := g.Front.DecodeSegment(k, raw)
		if err != nil {
			db.Env.Cfg.Hooks.Log("s3vfs: segment %d of checkpoint %s, read ahead: %v", k, g.Name, err)
			continue
		}
		pin := db.holdSegment(g, k, es)
		pin.Release()
		db.Env.Counts.SegmentsPrefetched.Add(1)
		raws[segmentID(g, k)] = raw
	}
	return raws
}
