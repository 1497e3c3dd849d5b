package versions

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// DefaultGrace is the root's DefaultGrace.
const DefaultGrace = time.Hour

// GCOptions is the root's GCOptions, whose doc comment says what each field holds.
type GCOptions struct {
	Retention time.Duration

	Grace time.Duration

	DryRun bool
}

// withDefaults returns o with its zero fields set to their defaults, the
// retention the VFS's; an error for a retention or grace period too short.
func (o *GCOptions) withDefaults(v *Ops) (GCOptions, error) {
	var g GCOptions
	if o != nil {
		g = *o
	}
	switch {
	case g.Retention == 0:
		g.Retention = v.Env.Cfg.Retention
	case g.Retention < time.Second:
		return g, fmt.Errorf("s3vfs: gc retention %v is too short: use at least 1s", g.Retention)
	}
	switch {
	case g.Grace == 0:
		g.Grace = DefaultGrace
	case g.Grace < time.Second:
		return g, fmt.Errorf("s3vfs: gc grace period %v is too short: use at least 1s (default %v)", g.Grace, DefaultGrace)
	}
	return g, nil
}

// ObjectCount is the root's ObjectCount, whose doc comment says what each field holds.
type ObjectCount struct {
	Blocks      int
	Records     int
	Checkpoints int
	Bytes       int64
}

// add counts an object of kind k and size bytes; summaries are not
// counted.
func (u *ObjectCount) add(k objKind, size int64) {
	switch k {
	case kindBlock:
		u.Blocks++
	case kindRecord:
		u.Records++
	case kindCheckpoint:
		u.Checkpoints++
	default:
		return
	}
	u.Bytes += size
}

// GCReport is the root's GCReport, whose doc comment says what each field holds.
type GCReport struct {
	Head     uint64
	HeadSize int64
	Oldest   uint64

	Live    ObjectCount
	Pending ObjectCount
	Garbage ObjectCount
	Deleted ObjectCount

	Retention time.Duration
	Grace     time.Duration

	Unknown int

	Branches int

	Read, Summarized int
}

// GC is the root's VFS.GC, whose doc comment is the contract.
func (v *Ops) GC(ctx context.Context, key string, opts *GCOptions) (GCReport, error) {
	if err := format.ValidateKey(key); err != nil {
		return GCReport{}, err
	}
	o, err := opts.withDefaults(v)
	if err != nil {
		return GCReport{}, err
	}
	c := &collector{v: v, key: key, opts: o, attempts: map[uint64]*attempt{}}
	c.report.Retention, c.report.Grace = o.Retention, o.Grace
	if err := c.run(ctx); err != nil {
		return c.report, fmt.Errorf("s3vfs: gc %s: %w", key, err)
	}
	return c.report, nil
}

// objKind is the kind of an object of the database the collector lists.
type objKind int

// The kinds of objects.
const (
	kindBlock      objKind = iota // a block object
	kindRecord                    // a commit record
	kindCheckpoint                // a checkpoint, its inner pages, or a claim
	kindSummary                   // a collection summary: the collector's, counted in no figure of the report
)

// listed is one object of the database found by the collector.
type listed struct {
	store.Object
	kind   objKind
	commit uint64 // the commit number in the name
	token  uint64 // blocks and checkpoints: the attempt token in the name
	idx    int64  // blocks: the block index
}

// attempt is what the collector knows of one commit attempt (one token)
// from the block objects and checkpoints it wrote.
type attempt struct {
	maxCommit uint64    // the largest commit number in its object names
	newest    time.Time // the newest LastModified among its objects
}

// blockID names a block object without its checksum.
type blockID struct {
	idx           int64
	commit, token uint64
}

// collector is one garbage collection of the database at key: what it
// listed, what it found live, and its report.
type collector struct {
	v    *Ops
	key  string
	opts GCOptions

	start     time.Time // before the records were listed: the collection's "now"
	records   []listed  // ascending by commit number
	blocks    []listed
	ckpts     []listed
	summaries []listed            // the collection summaries (gcsummary.go)
	attempts  map[uint64]*attempt // by token

	summary summaryState // what the summaries tell, and what the next one will

	liveBlocks  map[blockID]bool
	liveCkpts   map[format.CheckpointRef]bool
	liveRecords map[uint64]bool                     // records whose pages a retained version overlays (format version 2)
	tallies     map[format.CheckpointRef]*baseTally // what marking each base checkpoint's map needs (gcmark.go)
	firstIsNot  bool                                // the first retained record is no version: the second is the oldest
	window      int                                 // records read and held at a time; 0: recordWindow
	pinned      map[uint64]bool                     // versions branches were made from (branch.go): retained as long as they exist
	report      GCReport
}

// run lists the database's objects, decides what goes, and deletes it
// unless the collection is a dry run.
func (c *collector) run(ctx context.Context) error {
	if err := c.list(ctx); err != nil {
		return err
	}
	p, err := c.plan(ctx)
	if err != nil || c.opts.DryRun {
		return err
	}
	return c.do(ctx, p)
}

// list lists the records, the registrations of branches, the blocks, and
// the checkpoints with the collection summaries beside them.
func (c *collector) list(ctx context.Context) error {
	// The order matters (docs/design.md): records first, so that a block
	// or checkpoint named after a commit above the head listed here
	// belongs to an attempt that had not yet published when we looked.
	c.start = time.Now()
	if err := c.v.Env.Records.List(ctx, c.key, func(n uint64, size int64, created time.Time) error {
		c.records = append(c.records, listed{Object: store.Object{Key: format.RecordName(c.key, n), Size: size, LastModified: created}, kind: kindRecord, commit: n})
		return nil
	}); err != nil {
		return err
	}
	if err := c.listBranches(ctx); err != nil {
		return err
	}
	if err := c.listAll(ctx, c.key+"/"+format.BlocksDir+"/", kindBlock); err != nil {
		return err
	}
	if err := c.listAll(ctx, c.key+"/"+format.CheckpointsDir+"/", kindCheckpoint); err != nil {
		return err
	}
	slices.SortFunc(c.records, func(a, b listed) int { return cmp.Compare(a.commit, b.commit) })
	return nil
}

// gcPlan is what a collection deletes.
type gcPlan struct {
	records []listed // the records of versions no longer retained that no retained version overlays
	objects []listed // the checkpoints and blocks no retained version uses, past the grace period
}

// plan finds what the retained versions use, counts every object in the
// report, and returns what goes.
func (c *collector) plan(ctx context.Context) (gcPlan, error) {
	retained, garbageRecords := c.retention()
	c.loadSummary(ctx)
	c.summary.next = format.NewSummaryWriter(c.key, c.report.Head)
	if err := c.markLive(ctx, retained); err != nil {
		return gcPlan{}, err
	}
	// A record no retained version is, but whose pages one overlays,
	// stays (docs/format.md, "Garbage collection, version 2").
	retained = slices.Clone(retained)
	garbageRecords = slices.DeleteFunc(garbageRecords, func(r listed) bool {
		if c.liveRecords[r.commit] {
			retained = append(retained, r)
			return true
		}
		return false
	})
	for _, r := range retained {
		c.report.Live.add(kindRecord, r.Size)
	}
	p := gcPlan{records: garbageRecords, objects: c.sortObjects()}
	for _, o := range slices.Concat(p.records, p.objects) {
		c.report.Garbage.add(o.kind, o.Size)
	}
	return p, nil
}

// sortObjects counts the checkpoints and blocks some retained version
// uses as live, those of attempts it must wait for as pending, and
// returns the others: garbage.
func (c *collector) sortObjects() []listed {
	var garbage []listed
	for _, o := range c.ckpts {
		if c.liveCkpts[format.CheckpointRef{N: o.commit, Token: o.token}] {
			c.report.Live.add(kindCheckpoint, o.Size)
		} else if c.collectable(o) {
			garbage = append(garbage, o)
		} else {
			c.report.Pending.add(kindCheckpoint, o.Size)
		}
	}
	for _, o := range c.blocks {
		if c.liveBlocks[blockID{o.idx, o.commit, o.token}] {
			c.report.Live.add(kindBlock, o.Size)
		} else if c.collectable(o) {
			garbage = append(garbage, o)
		} else {
			c.report.Pending.add(kindBlock, o.Size)
		}
	}
	return garbage
}

// do deletes what p says goes. Records first, then checkpoints, then
// blocks: history never lists a version whose objects are going, and an
// interrupted collection leaves only objects the next one recognises as
// garbage. Between the two it leaves the summary of what it read for the
// next collection (gcsummary.go), and deletes the summaries that one
// replaces with the blocks.
func (c *collector) do(ctx context.Context, p gcPlan) error {
	err := c.deleteInBatches(p.records, func(batch []listed) error {
		ns := make([]uint64, len(batch))
		for i, o := range batch {
			ns[i] = o.commit
		}
		return c.v.Env.Records.Remove(ctx, c.key, ns)
	})
	if err != nil {
		return err
	}
	return c.deleteInBatches(slices.Concat(p.objects, c.saveSummary(ctx)), func(batch []listed) error {
		names := make([]string, len(batch))
		for i, o := range batch {
			names[i] = o.Key
		}
		return c.v.Env.Store.Remove(ctx, names)
	})
}

// deleteBatch is how many objects the collector deletes before it counts
// them in its report, so that a collection that fails part way reports
// what it did delete. It is the most one DeleteObjects request takes: each
// batch of blocks and checkpoints is one request of Store.Remove, which
// splits larger deletions the same way.
const deleteBatch = 1000

// deleteInBatches deletes items deleteBatch at a time with del, in order,
// and counts what it deleted in the report.
func (c *collector) deleteInBatches(items []listed, del func([]listed) error) error {
	for len(items) > 0 {
		batch := items[:min(len(items), deleteBatch)]
		items = items[len(batch):]
		if err := del(batch); err != nil {
			return err
		}
		for _, o := range batch {
			c.report.Deleted.add(o.kind, o.Size)
		}
	}
	return nil
}

// listAll lists one folder of the database and sorts its objects by kind.
func (c *collector) listAll(ctx context.Context, prefix string, kind objKind) error {
	return c.v.Env.Store.List(ctx, prefix, func(o store.Object) error {
		l := listed{Object: o, kind: kind}
		var ok bool
		switch kind {
		case kindBlock:
			l.idx, l.commit, l.token, ok = parseBlockName(c.key, o.Key)
		case kindCheckpoint:
			if head, token, isSummary := format.ParseSummaryName(c.key, o.Key); isSummary {
				c.summaries = append(c.summaries, listed{Object: o, kind: kindSummary, commit: head, token: token})
				return nil
			}
			l.commit, l.token, ok = parseCheckpointName(c.key, o.Key)
		}
		if !ok {
			c.report.Unknown++
			return nil
		}
		switch kind {
		case kindBlock:
			c.blocks = append(c.blocks, l)
		case kindCheckpoint:
			c.ckpts = append(c.ckpts, l)
		}
		a := c.attempts[l.token]
		if a == nil {
			a = &attempt{}
			c.attempts[l.token] = a
		}
		a.maxCommit = max(a.maxCommit, l.commit)
		if o.LastModified.After(a.newest) {
			a.newest = o.LastModified
		}
		return nil
	})
}

// retention splits the records into those of retained versions and
// garbage. Version m is retained if it is the head, if a branch was made
// from it, or if it was the head at some moment within the retention:
// record m+1 was written less than Retention before the collection
// started. A record missing from the
// listing is judged by the next one above it, written no earlier.
func (c *collector) retention() (retained, garbage []listed) {
	if len(c.records) == 0 {
		return nil, nil
	}
	cutoff := c.start.Add(-c.opts.Retention)
	head := c.records[len(c.records)-1]
	c.report.Head = head.commit
	for i, r := range c.records {
		readable := r.commit == head.commit || !c.records[i+1].LastModified.Add(engine.LastModifiedSlack).Before(cutoff)
		if !readable && !c.pinned[r.commit] {
			garbage = append(garbage, r)
			continue
		}
		retained = append(retained, r)
		if readable && c.report.Oldest == 0 {
			c.report.Oldest = r.commit
		}
	}
	return retained, garbage
}

// collectable reports whether an unreferenced block or checkpoint may go:
// its attempt named no commit above the head (an attempt that had not
// published when the records were listed may still publish), and wrote
// nothing within the grace period.
func (c *collector) collectable(o listed) bool {
	a := c.attempts[o.token]
	if a.maxCommit > c.report.Head {
		return false
	}
	return a.newest.Add(engine.LastModifiedSlack).Before(c.start.Add(-c.opts.Grace))
}

// parseBlockName splits a block object name (see format.BlockName).
func parseBlockName(key, name string) (idx int64, commit, token uint64, ok bool) {
	s, found := strings.CutPrefix(name, key+"/"+format.BlocksDir+"/")
	if !found || len(s) != 12+1+19+1+16 || s[12] != '.' || s[32] != '.' {
		return 0, 0, 0, false
	}
	i, err1 := strconv.ParseUint(s[:12], 10, 63)
	n, err2 := strconv.ParseUint(s[13:32], 10, 64)
	t, err3 := strconv.ParseUint(s[33:], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || n == 0 {
		return 0, 0, 0, false
	}
	return int64(i), n, t, true
}

// parseCheckpointName splits a checkpoint object name (see
// format.CheckpointName), or the name of a checkpoint's inner pages
// (format.InnerName), which are kept and collected with it.
func parseCheckpointName(key, name string) (n, token uint64, ok bool) {
	s, found := strings.CutPrefix(name, key+"/"+format.CheckpointsDir+"/")
	s = strings.TrimSuffix(s, format.InnerSuffix) // its inner pages go with it
	if !found || len(s) != 19+1+16 || s[19] != '.' {
		return 0, 0, false
	}
	n, err1 := strconv.ParseUint(s[:19], 10, 64)
	t, err2 := strconv.ParseUint(s[20:], 16, 64)
	if err1 != nil || err2 != nil || n == 0 {
		return 0, 0, false
	}
	return n, t, true
}

// listBranches reads the registrations of the branches made from the
// collected database: the versions they were made from stay. It runs
// after the records are listed (docs/design.md, "Branches": a branch
// registered later was made from a version this collection keeps).
func (c *collector) listBranches(ctx context.Context) error {
	c.pinned = map[uint64]bool{}
	return c.v.Env.Store.List(ctx, format.BranchPrefix(c.key), func(o store.Object) error {
		if n, _, ok := format.ParseBranchName(c.key, o.Key); ok {
			c.pinned[n] = true
			c.report.Branches++
		}
		return nil
	})
}
