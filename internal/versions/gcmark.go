package versions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Marking reads the retained records in order and then the maps of
// their base checkpoints in order, and holds a window of each at a time,
// never the whole history (docs/performance.md, "Garbage collection at
// scale"). A block of a base is used by a record built on it when it
// lies within the record's file and the record's delta does not replace
// it; so marking a base needs, of the records built on it, only how many
// have each length and how many replace each block: the base's tally,
// counted as the records are read.

// recordWindow is how many retained records a collection reads and
// holds at a time (twice Concurrency when that is more, so that its GETs
// stay busy): few enough that what it holds does not grow with the
// history (a record as marking reads it is some kilobytes: its delta
// names every block changed since its base).
const recordWindow = 256

// baseWindow is the most base checkpoint maps a collection reads and
// holds at a time (Concurrency, if less): a map is 48 bytes a block
// decoded, megabytes for a large database in small blocks.
const baseWindow = 8

// baseTally is what marking a base checkpoint's map needs of the
// retained versions built on it.
type baseTally struct {
	lineage  format.Lineage  // of the first record built on it: where the base lives
	lengths  map[int64]int   // records by their number of blocks
	replaced map[int64]int32 // per block index: records whose delta replaces the block
}

// markLive marks every block object, checkpoint and overlay record the
// versions of the retained records use: first from the records, read in
// order (markRecords), then from the maps of their base checkpoints
// (markBases). The records, and the checkpoints in the database's own
// folder, go into the next summary as they are read.
func (c *collector) markLive(ctx context.Context, retained []listed) error {
	c.resetMarks()
	if err := c.markRecords(ctx, retained); err != nil {
		return err
	}
	return c.markBases(ctx)
}

// resetMarks forgets everything marked.
func (c *collector) resetMarks() {
	c.liveBlocks = map[blockID]bool{}
	c.liveCkpts = map[format.CheckpointRef]bool{}
	c.liveRecords = map[uint64]bool{}
	c.tallies = map[format.CheckpointRef]*baseTally{}
	c.report.HeadSize = 0
}

// markRecords reads the retained records in order, a window at a time,
// and marks what each uses by itself, counts it in its base's tally, and
// adds it to the next summary.
func (c *collector) markRecords(ctx context.Context, retained []listed) error {
	db := c.v.newDatabase(c.key)
	window := cmp.Or(c.window, max(recordWindow, 2*c.v.Env.Cfg.Concurrency))
	for start := 0; start < len(retained); start += window {
		recs, err := c.learnRecords(ctx, db, retained[start:min(len(retained), start+window)])
		if err != nil {
			return err
		}
		for i := range recs {
			c.summary.next.AddRecord(recs[i])
			c.markRecord(start+i, &recs[i])
		}
	}
	return nil
}

// learnRecords returns what the records of batch say about the objects
// their versions use: from the summary when it describes the record as
// listed, else read (a GET each, in parallel).
func (c *collector) learnRecords(ctx context.Context, db *database, batch []listed) ([]format.SummaryRecord, error) {
	recs := make([]format.SummaryRecord, len(batch))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, c.v.Env.Cfg.Concurrency))
	for i, r := range batch {
		if s, ok := c.summary.record(r); ok {
			recs[i] = s
			c.report.Summarized++
			continue
		}
		c.report.Read++
		c.summary.learnt = true
		g.Go(func() error {
			rec, err := db.ReadRecord(gctx, r.commit)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("record %d vanished while collecting (is another collection running?): %w", r.commit, err)
			}
			if err != nil {
				return err
			}
			recs[i] = format.SummarizeRecord(rec, r.Size, r.LastModified)
			return nil
		})
	}
	return recs, g.Wait()
}

// markRecord marks what rec, the i-th retained record, uses by itself
// (the entries of its delta), and counts it in its base's tally; and
// notes in the report the oldest version and the size of the head.
func (c *collector) markRecord(i int, rec *format.SummaryRecord) {
	// The record that reserved a branch's key is no version.
	switch {
	case i == 0:
		c.firstIsNot = rec.By == format.Reserved && c.report.Oldest == rec.N
	case i == 1 && c.firstIsNot:
		c.report.Oldest = rec.N
	}
	if rec.By == format.Removed {
		// The versions up to a database's removal are no versions: their
		// records stay a while (remove.go), their objects are gone.
		c.resetMarks()
		return
	}
	c.report.HeadSize = rec.FileSize
	for _, e := range rec.Delta {
		c.markEntry(e)
	}
	if rec.Base == (format.CheckpointRef{}) {
		return
	}
	c.liveCkpts[rec.Base] = true
	t := c.tallies[rec.Base]
	if t == nil {
		t = &baseTally{lineage: rec.Lineage, lengths: map[int64]int{}, replaced: map[int64]int32{}}
		c.tallies[rec.Base] = t
	}
	t.lengths[format.NBlocks(rec.FileSize, rec.BlockSize)]++
	for _, e := range rec.Delta {
		t.replaced[e.Idx]++
	}
}

// markBases reads the maps of the tallied base checkpoints in order,
// baseWindow at a time, marks what the records built on each use of it,
// and adds those of the database's own folder to the next summary.
func (c *collector) markBases(ctx context.Context) error {
	db := c.v.newDatabase(c.key)
	refs := slices.SortedFunc(maps.Keys(c.tallies), compareRefs)
	window := min(max(1, c.v.Env.Cfg.Concurrency), baseWindow)
	for start := 0; start < len(refs); start += window {
		chunk := refs[start:min(len(refs), start+window)]
		blocks, err := c.learnBases(ctx, db, chunk)
		if err != nil {
			return err
		}
		for i, b := range chunk {
			c.markBase(blocks[i], c.tallies[b])
			if o, own := c.ownCheckpoint(b); own {
				c.summary.next.AddBase(format.SummaryBase{Ref: b, Size: o.Size, Created: o.LastModified, Blocks: blocks[i]})
			}
		}
	}
	return nil
}

// ownCheckpoint returns the listing of base checkpoint b when it lies in
// the collected database's own folder; false for one of a branch's
// ancestors, which the collection does not list.
func (c *collector) ownCheckpoint(b format.CheckpointRef) (listed, bool) {
	o, ok := c.summary.ckpts[b]
	return o, ok && c.tallies[b].lineage.KeyOf(c.key, b.N) == c.key
}

// learnBases returns the maps of the base checkpoints refs: from the
// summary when it describes the checkpoint as listed, else read (a GET
// each, in parallel). Those of a branch's ancestors are read every time.
func (c *collector) learnBases(ctx context.Context, db *database, refs []format.CheckpointRef) ([][]format.SummaryEntry, error) {
	blocks := make([][]format.SummaryEntry, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, c.v.Env.Cfg.Concurrency))
	for i, b := range refs {
		o, own := c.ownCheckpoint(b)
		if s, ok := c.summary.checkpoint(b); own && ok && s.Size == o.Size && s.Created.Equal(o.LastModified) {
			blocks[i] = s.Blocks
			c.report.Summarized++
			continue
		}
		c.report.Read++
		c.summary.learnt = c.summary.learnt || own
		lin := c.tallies[b].lineage
		g.Go(func() error {
			_, es, err := db.ReadBaseEntries(gctx, lin, b)
			blocks[i] = format.SummaryEntries(es)
			return err
		})
	}
	return blocks, g.Wait()
}

// markBase marks the entries of a base checkpoint's map, blocks, that
// one of the records its tally t counts uses.
func (c *collector) markBase(blocks []format.SummaryEntry, t *baseTally) {
	n := int64(len(blocks))
	long := make([]int, n+1) // long[i]: records with exactly i blocks, then suffix sums
	for blocks, k := range t.lengths {
		long[min(blocks, n)] += k
	}
	for i := n - 1; i >= 0; i-- {
		long[i] += long[i+1]
	}
	for _, e := range blocks {
		// long[idx+1]: records with more than idx blocks.
		if long[e.Idx+1] > int(t.replaced[e.Idx]) {
			c.markEntry(e)
		}
	}
}

// markEntry marks live what an entry a retained version uses reads: its
// object and its overlay records.
func (c *collector) markEntry(e format.SummaryEntry) {
	if e.Commit != 0 {
		c.liveBlocks[blockID{e.Idx, e.Commit, e.Token}] = true
	}
	for _, n := range e.Overlay {
		c.liveRecords[n] = true
	}
}
