package versions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// A collection summary (docs/design.md, "Garbage collection"; its format
// in docs/format.md, "Collection summaries") is what a collection learnt
// from the records and checkpoints it read, left in the bucket for the
// next one: a collection reads only the retained records and base
// checkpoints the newest summary does not describe, so that its GETs grow
// with what changed since the last collection, not with the history kept.
// A summary says, of each record and checkpoint, its size and creation
// time as listed: one the listing does not show so is read again. It is
// an accelerator only: one that cannot be read is ignored.

// summaryMinRecords is the fewest retained records a summary is written
// for: below, the PUT of a summary (priced as ten GETs) and its GET cost
// about what the reads it spares do.
const summaryMinRecords = 16

// summaryState is what a collection knows from the summary it started
// from, and what it puts in the one it leaves.
type summaryState struct {
	from    listed                                       // the summary read; empty Key: none
	records map[uint64]*format.SummaryRecord             // what it says of records, by number
	bases   map[format.CheckpointRef]*format.SummaryBase // what it says of checkpoints
	ckpts   map[format.CheckpointRef]listed              // the checkpoints listed (not their inner pages)
	learnt  bool                                         // something was read that the summary did not say
	newer   []string                                     // summaries of a later format version: left for the release that wrote them
	next    format.Summary                               // the records and checkpoints of the next summary
}

// learn returns what each retained record says about the objects its
// version uses: from the summary when it describes the record as listed,
// else read (a GET each, in parallel).
func (c *collector) learn(ctx context.Context, retained []listed) ([]format.SummaryRecord, error) {
	c.loadSummary(ctx)
	recs := make([]format.SummaryRecord, len(retained))
	db := c.v.newDatabase(c.key)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.v.Env.Cfg.Concurrency)
	for i, r := range retained {
		if s := c.summary.records[r.commit]; s != nil && s.Size == r.Size && s.Created.Equal(r.LastModified) {
			recs[i] = *s
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
	if err := g.Wait(); err != nil {
		return nil, err
	}
	c.summary.next.Records = recs
	return recs, nil
}

// loadSummary reads the newest summary listed that it can use and keeps
// what it says. One that cannot be read, decoded, or describes another
// database is logged and passed over for the next newest; one of a later
// format version is passed over and kept (its release uses it); one
// deleted meanwhile (another collection replaced it) is passed over.
func (c *collector) loadSummary(ctx context.Context) {
	c.summary.ckpts = map[format.CheckpointRef]listed{}
	for _, o := range c.ckpts {
		if !strings.HasSuffix(o.Key, format.InnerSuffix) {
			c.summary.ckpts[format.CheckpointRef{N: o.commit, Token: o.token}] = o
		}
	}
	if len(c.summaries) == 0 || !c.v.Env.Cfg.Hooks.GCSummaries() {
		return
	}
	byAge := slices.Clone(c.summaries)
	slices.SortFunc(byAge, func(a, b listed) int { // newest first
		return cmp.Or(cmp.Compare(b.commit, a.commit), b.LastModified.Compare(a.LastModified), strings.Compare(b.Key, a.Key))
	})
	for _, o := range byAge {
		s, err := c.readSummary(ctx, o)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, format.ErrUnknownVersion):
			c.summary.newer = append(c.summary.newer, o.Key) // a newer release's: left for it
			continue
		case err != nil:
			c.v.Env.Cfg.Hooks.Log("s3vfs: gc %s: summary %s: %v; trying an older one, else reading the records", c.key, o.Key, err)
			continue
		case s == nil:
			continue // deleted meanwhile
		}
		c.useSummary(o, s)
		return
	}
}

// readSummary reads and decodes summary o of the collection's database;
// nil if it is gone.
func (c *collector) readSummary(ctx context.Context, o listed) (*format.Summary, error) {
	data, err := c.v.Env.Store.Get(ctx, o.Key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s, err := format.DecodeSummary(data)
	if err == nil && s.Key != c.key {
		err = fmt.Errorf("%w: it describes %s", format.ErrCorrupt, s.Key)
	}
	return s, err
}

// useSummary keeps what summary s, listed as newest, says.
func (c *collector) useSummary(newest listed, s *format.Summary) {
	c.summary.from = newest
	c.summary.records = make(map[uint64]*format.SummaryRecord, len(s.Records))
	for i := range s.Records {
		c.summary.records[s.Records[i].N] = &s.Records[i]
	}
	c.summary.bases = make(map[format.CheckpointRef]*format.SummaryBase, len(s.Bases))
	for i := range s.Bases {
		c.summary.bases[s.Bases[i].Ref] = &s.Bases[i]
	}
}

// readBases returns the maps of the base checkpoints bases of the records
// byBase groups: from the summary when it describes the checkpoint as
// listed, else read (a GET each, in parallel). Those in the database's
// own folder go in the next summary; those of a branch's ancestors, which
// this collection does not list, are read every time.
func (c *collector) readBases(ctx context.Context, bases []format.CheckpointRef, byBase map[format.CheckpointRef][]*format.SummaryRecord) ([][]format.SummaryEntry, error) {
	db := c.v.newDatabase(c.key)
	maps := make([][]format.SummaryEntry, len(bases))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.v.Env.Cfg.Concurrency)
	for i, b := range bases {
		lin := byBase[b][0].Lineage
		o, own := c.summary.ckpts[b]
		own = own && lin.KeyOf(c.key, b.N) == c.key
		if s := c.summary.bases[b]; own && s != nil && s.Size == o.Size && s.Created.Equal(o.LastModified) {
			maps[i] = s.Blocks
			c.report.Summarized++
			continue
		}
		c.report.Read++
		c.summary.learnt = c.summary.learnt || own
		g.Go(func() error {
			_, es, err := db.ReadBaseEntries(gctx, lin, b)
			maps[i] = format.SummaryEntries(es)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, b := range bases {
		if o, ok := c.summary.ckpts[b]; ok && byBase[b][0].Lineage.KeyOf(c.key, b.N) == c.key {
			c.summary.next.Bases = append(c.summary.next.Bases, format.SummaryBase{Ref: b, Size: o.Size, Created: o.LastModified, Blocks: maps[i]})
		}
	}
	return maps, nil
}

// saveSummary writes the summary of what the collection knows, unless
// the one it started from says it all already or it would spare the next
// collection too little, and returns the summaries listed that are no
// longer needed: every one but the one kept. A summary that cannot be
// written is logged, and the old ones stay.
func (c *collector) saveSummary(ctx context.Context) []listed {
	s := &c.summary
	keep := ""
	switch {
	case !c.v.Env.Cfg.Hooks.GCSummaries():
		return nil
	case len(s.next.Records) < summaryMinRecords:
	case !s.learnt && s.from.Key != "":
		keep = s.from.Key
	default:
		s.next.Key, s.next.Head = c.key, c.report.Head
		slices.SortFunc(s.next.Bases, func(a, b format.SummaryBase) int {
			return cmp.Or(cmp.Compare(a.Ref.N, b.Ref.N), cmp.Compare(a.Ref.Token, b.Ref.Token))
		})
		name := format.SummaryName(c.key, c.report.Head, engine.NewToken())
		if err := c.v.Env.Store.Put(ctx, name, s.next.Encode()); err != nil {
			c.v.Env.Cfg.Hooks.Log("s3vfs: gc %s: cannot write the summary for the next collection: %v", c.key, err)
			return nil
		}
	}
	return slices.DeleteFunc(slices.Clone(c.summaries), func(o listed) bool { return o.Key == keep || slices.Contains(s.newer, o.Key) })
}
