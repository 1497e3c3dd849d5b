package versions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// Deserialize and Restore publish a version that replaces whatever is at
// the key: one commit with a full checkpoint, made by one attempt token
// however many tries it takes (a try lost to another commit is made again
// on top of it, publishretry.go). The blocks are uploaded once, under the
// commit number of the first try; each try writes its own checkpoint.

// replacement is one Deserialize, Restore or migration. It is safe for
// concurrent use by the uploads of the attempt.
type replacement struct {
	op        string      // "deserialize" or "restore", for errors
	made      format.Made // how its commit is made, as a version-2 record says (a version-1 record cannot)
	token     uint64
	blockSize int64
	size      int64        // the file size of the version
	clock     AttemptClock // garbage collection spares a steady attempt (publishretry.go)

	mu       sync.Mutex
	uploaded []string // the objects written, deleted if nothing is published; guarded by mu

	// unit is the page size of the version, set before any block is noted
	// when it has inner pages (innerUnit); 0: none.
	unit  int64
	inner map[string]map[int64][]byte // interior pages of the blocks uploaded, by object name; guarded by mu
}

// noteBlock keeps the interior pages of block idx, uploaded as object
// name with bytes data, for the checkpoint's inner pages.
func (a *replacement) noteBlock(name string, idx int64, data []byte) {
	if a.unit == 0 || idx == 0 {
		return
	}
	pages := format.InteriorPagesOf(idx, a.blockSize, a.unit, data)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inner == nil {
		a.inner = map[string]map[int64][]byte{}
	}
	a.inner[name] = pages
}

// innerOver returns the inner pages of s, the snapshot of a's commit over
// head, whose inner pages are prev: the pages noted, and prev's for the
// blocks s shares with head; nil when the version has none (a.unit is 0).
func (a *replacement) innerOver(key string, s *format.Snapshot, prev *format.InnerPages) *format.InnerPages {
	if a.unit == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return format.BuildInner(key, s, a.unit, prev, func(idx int64, id string) (map[int64][]byte, bool) {
		pages, ok := a.inner[id]
		return pages, ok
	})
}

// withReplacementInner adds to uploads the inner pages of next, the
// version a publishes over head, and keeps them with next; uploads as
// they are when the version has none. Only ctx's end is an error.
func (db *database) withReplacementInner(ctx context.Context, a *replacement, next, head *format.Snapshot, uploads []tx.Upload) ([]tx.Upload, error) {
	if a.unit == 0 {
		return uploads, nil
	}
	var prev *format.InnerPages
	if sharesInner(db.Key, next, head.Inner) {
		var err error
		if prev, err = db.InnerWhole(ctx, head.Inner); err != nil {
			return nil, err
		}
	}
	all := a.innerOver(db.Key, next, prev)
	if all == nil || all.Count() == 0 {
		return uploads, nil
	}
	up, set, err := plan.InnerUpload(db.Key, next, all, db.Env.Cfg.Hooks.InnerFrontRead())
	if err != nil {
		db.Env.Cfg.Hooks.Log("s3vfs: %v; the checkpoint has none, and reads every page from its block", err)
		return uploads, nil
	}
	next.Inner = set
	return append(uploads, up), nil
}

// sharesInner reports whether s has a block that reads as at the
// checkpoint of inner pages ip: whether any of them may serve it.
func sharesInner(key string, s *format.Snapshot, ip *format.InnerSet) bool {
	if ip == nil {
		return false
	}
	for idx := int64(1); idx < s.Blocks.Len(); idx++ {
		if s.SameAs(key, ip.Checkpoint, idx) {
			return true
		}
	}
	return false
}

// put uploads one object of the attempt.
func (a *replacement) put(ctx context.Context, v *Ops, name string, data []byte) error {
	a.mu.Lock()
	a.uploaded = append(a.uploaded, name)
	a.mu.Unlock()
	if err := v.Env.Store.Put(ctx, name, data); err != nil {
		return err
	}
	a.clock.Touch()
	return nil
}

// putAll uploads the objects of the attempt in parallel.
func (a *replacement) putAll(ctx context.Context, v *Ops, uploads []tx.Upload) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, u := range uploads {
		g.Go(func() error { return a.put(gctx, v, u.Name, u.Data) })
	}
	return g.Wait()
}

// remove deletes, best effort, an object of the attempt no try will use.
func (a *replacement) remove(ctx context.Context, v *Ops, name string) {
	v.Env.RemoveOrphans(ctx, []string{name})
	a.mu.Lock()
	defer a.mu.Unlock()
	if i := slices.Index(a.uploaded, name); i >= 0 {
		a.uploaded = slices.Delete(a.uploaded, i, i+1)
	}
}

// abandon deletes, best effort, every object of an attempt that will not
// be published, and returns err.
func (a *replacement) abandon(ctx context.Context, v *Ops, err error) error {
	a.mu.Lock()
	names := slices.Clone(a.uploaded)
	a.mu.Unlock()
	v.Env.RemoveOrphans(ctx, names)
	return err
}

// planReplacement plans the commit of version blocks over head: record
// head.n+1, with an empty delta over the checkpoint it names, and that
// checkpoint, to upload first. In format version 2 (pageLevel) the record is
// a version-2 record that lists every page of the file as changed and, as
// every version-2 record does, block 0 in its delta, and says how the
// commit was made (a.made: record version 3); the checkpoint is in
// segments of 1<<shift blocks (version 3) when shift is not 0, else a
// version-1 one, since a replacement's blocks have no overlay. A
// version-1 record has no field for a.made: the commit is then not marked
// as a restore, a Deserialize or a migration. A
// replacement owes nothing to the map it replaces, so its format is the
// writer's setting (Options.FormatVersion) whatever the head's: one set
// to version 1 can turn a version-2 database back into version 1. It
// returns the record, the checkpoint's upload and its format version.
func planReplacement(key string, head *format.Snapshot, a *replacement, blocks format.BlockMap, at plan.Attempt, pageLevel bool, shift uint) (*format.Record, tx.Upload, int) {
	n := head.N + 1
	c := format.NewCheckpoint(n, a.token, a.blockSize, a.size, blocks)
	if pageLevel && shift != 0 {
		c.BlockLevel, c.SegmentShift = false, shift
	}
	ckpt := tx.Upload{Name: format.CheckpointName(key, n, a.token), Data: c.Encode()}
	if pageLevel {
		rec := pageReplacementRecord(n, head.N, a, blocks, at, head.Lineage)
		return rec.WithSize(len(rec.Encode())), ckpt, c.Version()
	}
	rec := &format.Record{BlockLevel: true,
		N: n, Parent: head.N, Token: a.token,
		BlockSize: a.blockSize, FileSize: a.size,
		Time: at.Time, Writer: at.Writer,
		Base: format.CheckpointRef{N: n, Token: a.token},
	}
	return rec, ckpt, c.Version()
}

// pageReplacementRecord is the version-2 record of replacement a as commit n
// over parent: every page changed, nothing inline, block 0 in the delta,
// made as a.made says, with the lineage of a branch (a restore on a
// branch names objects of its source). Its page unit is the block size:
// with every page listed, a finer unit would say nothing more.
func pageReplacementRecord(n, parent uint64, a *replacement, blocks format.BlockMap, at plan.Attempt, lineage format.Lineage) *format.Record {
	rec := &format.Record{
		N: n, Parent: parent, Token: a.token,
		BlockSize: a.blockSize, FileSize: a.size,
		Time: at.Time, Writer: at.Writer,
		Base:    format.CheckpointRef{N: n, Token: a.token},
		Unit:    a.blockSize,
		Made:    a.made,
		Lineage: lineage,
	}
	if a.size > 0 {
		rec.Changed = format.PageList{}.AddRun(0, format.NPages(a.size, rec.Unit))
		rec.Delta = []format.Entry{{Idx: 0, Ref: blocks.Get(0)}}
	}
	return rec
}

// replacementSnapshot returns the snapshot a replacement's record rec
// makes over its own checkpoint, whose map is blocks.
func replacementSnapshot(rec *format.Record, blocks format.BlockMap) *format.Snapshot {
	if !rec.BlockLevel {
		return format.PageSnapshot(rec, rec.Size, blocks, nil)
	}
	return format.RecordSnapshot(rec, blocks, blocks)
}

// publishReplacement publishes a over head, and over every commit that
// lands meanwhile, until it is published, fails, or has lost races for too
// long (publishRetry). blocksOver returns the block map of the version as
// a commit over a given head may name it. An error leaves nothing of the
// attempt behind, except when the outcome of the create is unknown (the
// record may exist and name the objects): garbage collection removes them
// then if they are not used.
func (db *database) publishReplacement(ctx context.Context, a *replacement, head *format.Snapshot,
	blocksOver func(ctx context.Context, head *format.Snapshot) (format.BlockMap, error)) (uint64, error) {
	v := db.vfs
	var retry PublishRetry
	for {
		blocks, err := blocksOver(ctx, head)
		if err != nil {
			return 0, a.abandon(ctx, v, err)
		}
		if err := blocksElsewhere(blocks, a.token, head); err != nil {
			return 0, a.abandon(ctx, v, fmt.Errorf("s3vfs: %s %s: %w", a.op, db.Key, err))
		}
		rec, next, uploads, err := db.replacementCommit(ctx, a, head, blocks)
		if err != nil {
			return 0, a.abandon(ctx, v, err)
		}
		if err := a.putAll(ctx, v, uploads); err != nil {
			return 0, a.abandon(ctx, v, err)
		}
		if err := a.clock.Check(a.op, db.Key); err != nil {
			return 0, a.abandon(ctx, v, err)
		}
		start := time.Now()
		err = db.CreateRecord(ctx, rec)
		switch {
		case err == nil:
			v.Env.Counts.Commits.Add(1)
			db.Known.Publish(next, start)
			return rec.N, nil
		case !errors.Is(err, engine.ErrConflict):
			// The outcome may be unknown: leave the objects to garbage
			// collection rather than delete what a commit may use.
			return 0, err
		}
		// Lost to another commit: try again on top of it, after a pause
		// (publishretry.go). The blocks uploaded so far are kept.
		v.Env.Counts.Conflicts.Add(1)
		for _, u := range uploads {
			a.remove(ctx, v, u.Name)
		}
		if err := retry.LostRace(ctx); err != nil {
			return 0, a.abandon(ctx, v, fmt.Errorf("s3vfs: %s %s: %w", a.op, db.Key, err))
		}
		if head, err = db.Refresh(ctx, 0); err != nil {
			return 0, a.abandon(ctx, v, err)
		}
	}
}

// replacementCommit plans the commit of attempt a over head that makes
// blocks the map, and readies what it uploads: it returns the commit's
// record, the version it makes, and its checkpoint and inner pages.
func (db *database) replacementCommit(ctx context.Context, a *replacement, head *format.Snapshot, blocks format.BlockMap) (*format.Record, *format.Snapshot, []tx.Upload, error) {
	v := db.vfs
	at := plan.Attempt{Token: a.token, Time: engine.CommitTime(head.Time), Writer: v.Env.Cfg.WriterID}
	// A branch's records carry its lineage, which version 1 cannot.
	pageLevel := v.Env.Cfg.FormatVersion >= 2 || len(head.Lineage) > 0
	rec, ckpt, version := planReplacement(db.Key, head, a, blocks, at, pageLevel, v.Env.SegmentShift())
	next := replacementSnapshot(rec, blocks)
	next.CheckpointVersion = version
	uploads := []tx.Upload{ckpt}
	var err error
	if pageLevel {
		if uploads, err = db.withReplacementInner(ctx, a, next, head, uploads); err != nil {
			return nil, nil, nil, err
		}
	}
	if version >= 3 {
		if next, err = db.OverOwnCheckpoint(next, uploads, ckpt.Name); err != nil {
			return nil, nil, nil, err
		}
	}
	return rec, next, uploads, nil
}

// blocksElsewhere returns an error if a block of blocks that the attempt
// with token uploaded carries a commit number that head does not read
// under the key: the key was made a branch, whose lineage sends those
// numbers to its source, or the database was removed, which deletes the
// objects of those numbers, after the attempt named its blocks.
func blocksElsewhere(blocks format.BlockMap, token uint64, head *format.Snapshot) error {
	floor, why := head.Lineage.Point(), ""
	if floor > 0 {
		why = "the key was made a branch of " + head.Lineage[0].Key
	}
	if head.Removed {
		floor, why = head.N, "the database was removed"
	}
	for _, ref := range blocks.All() {
		if ref.Token == token && ref.Commit <= floor {
			return fmt.Errorf("%s while this ran: nothing was published; run it again", why)
		}
	}
	return nil
}
