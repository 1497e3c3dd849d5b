package versions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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
	from   listed                          // the summary read; empty Key: none
	reader *format.SummaryReader           // its checkpoints and records, read in order; nil: none
	rec    format.SummaryRecord            // the record it is at (recOK)
	recOK  bool                            // false: past its last record
	base   format.SummaryBase              // the checkpoint it is at (baseOK)
	baseOK bool                            // false: past its last checkpoint
	ckpts  map[format.CheckpointRef]listed // the checkpoints listed (not their inner pages)
	learnt bool                            // something was read that the summary did not say
	newer  []string                        // summaries of a later format version: left for the release that wrote them
	next   *format.SummaryWriter           // the next summary, written as the records and checkpoints are read
}

// record returns what the summary says of record r if it describes r as
// listed. Records are asked for in ascending order.
func (s *summaryState) record(r listed) (format.SummaryRecord, bool) {
	for s.recOK && s.rec.N < r.commit {
		s.rec, s.recOK = s.reader.NextRecord()
	}
	if s.recOK && s.rec.N == r.commit && s.rec.Size == r.Size && s.rec.Created.Equal(r.LastModified) {
		return s.rec, true
	}
	return format.SummaryRecord{}, false
}

// checkpoint returns what the summary says of checkpoint b, if anything.
// Checkpoints are asked for in ascending order (compareRefs).
func (s *summaryState) checkpoint(b format.CheckpointRef) (format.SummaryBase, bool) {
	for s.baseOK && compareRefs(s.base.Ref, b) < 0 {
		s.base, s.baseOK = s.reader.NextBase()
	}
	return s.base, s.baseOK && s.base.Ref == b
}

// compareRefs orders checkpoints as summaries list them: by N, then by
// token.
func compareRefs(a, b format.CheckpointRef) int {
	return cmp.Or(cmp.Compare(a.N, b.N), cmp.Compare(a.Token, b.Token))
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

// readSummary reads and checks summary o of the collection's database;
// nil if it is gone.
func (c *collector) readSummary(ctx context.Context, o listed) (*format.SummaryReader, error) {
	data, err := c.v.Env.Store.Get(ctx, o.Key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s, err := format.OpenSummary(data)
	if err == nil && s.Key != c.key {
		err = fmt.Errorf("%w: it describes %s", format.ErrCorrupt, s.Key)
	}
	return s, err
}

// useSummary starts reading what summary s, listed as newest, says.
func (c *collector) useSummary(newest listed, s *format.SummaryReader) {
	c.summary.from, c.summary.reader = newest, s
	c.summary.rec, c.summary.recOK = s.NextRecord()
	c.summary.base, c.summary.baseOK = s.NextBase()
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
	case s.next.Records() < summaryMinRecords:
	case !s.learnt && s.from.Key != "":
		keep = s.from.Key
	default:
		name := format.SummaryName(c.key, c.report.Head, engine.NewToken())
		if err := c.v.Env.Store.Put(ctx, name, s.next.Bytes()); err != nil {
			c.v.Env.Cfg.Hooks.Log("s3vfs: gc %s: cannot write the summary for the next collection: %v", c.key, err)
			return nil
		}
	}
	return slices.DeleteFunc(slices.Clone(c.summaries), func(o listed) bool { return o.Key == keep || slices.Contains(s.newer, o.Key) })
}
