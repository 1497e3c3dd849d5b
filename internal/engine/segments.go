package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"weak"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
)

// The block map of a version-3 checkpoint, read segment by segment
// (docs/design.md, "The block map in segments"): the open reads the
// object's front, with the segments that fit in the bytes it reads
// anyway; a block whose segment is not held is located first.

// checkpointMap is the map of a checkpoint as a snapshot takes it.
type checkpointMap struct {
	blockSize int64
	blocks    format.BlockMap
	overlays  map[int64]*format.Overlay // for a map held whole; a lazy map keeps its segments' own
	version   int                       // the checkpoint's format version
}

// ErrMapNotWhole is a plan's answer that a checkpoint is due but the map
// is not whole, after every segment was read (plan.PagePlan.NeedsWholeMap):
// a bug, reported as such rather than publishing the record without its
// checkpoint.
var ErrMapNotWhole = errors.New("s3vfs: internal error: a checkpoint is due over a block map not whole after every segment was read")

// readBaseMap reads the map of checkpoint ref of a map of lineage lin.
func (db *Database) readBaseMap(ctx context.Context, lin format.Lineage, ref format.CheckpointRef) (checkpointMap, error) {
	name := format.CheckpointName(lin.KeyOf(db.Key, ref.N), ref.N, ref.Token)
	h, err := db.readCheckpointHead(ctx, name, ref)
	if err != nil {
		return checkpointMap{}, fmt.Errorf("s3vfs: checkpoint %d of %s: %w", ref.N, db.Key, err)
	}
	if h.whole != nil {
		m := checkpointMap{blockSize: h.whole.BlockSize, version: h.whole.Version()}
		m.blocks, m.overlays = format.BaseOf(h.whole.Blocks)
		return m, nil
	}
	g := db.Env.segmentsOf(name, h.front)
	for k, es := range h.segments {
		if !g.Held(k) {
			g.Hold(k, es)
		}
	}
	return checkpointMap{blockSize: h.front.BlockSize, blocks: format.LazyMap(g), version: 3}, nil
}

// checkpointHead is the first bytes of a checkpoint object, decoded and
// checked: the whole checkpoint when they are the whole object, else its
// front and the segments they hold.
type checkpointHead struct {
	whole    *format.Checkpoint
	front    *format.CheckpointFront
	segments map[int][]format.Entry
}

// decodeCheckpointHead decodes and checks head, the first bytes of
// checkpoint ref (readCheckpointHead): whole when head is the whole
// object (of any version), else the front of version 3 and every segment
// head holds whole. Pure.
func decodeCheckpointHead(head []byte, ref format.CheckpointRef) (checkpointHead, error) {
	if _, err := format.FrontLen(head); err != nil || headIsWhole(head) {
		c, err := format.DecodeCheckpoint(head)
		if err == nil && (c.N != ref.N || c.Token != ref.Token) {
			err = fmt.Errorf("%w: it names another commit", format.ErrCorrupt)
		}
		return checkpointHead{whole: c}, err
	}
	f, err := format.DecodeCheckpointFront(head)
	if err == nil && (f.N != ref.N || f.Token != ref.Token) {
		err = fmt.Errorf("%w: it names another commit", format.ErrCorrupt)
	}
	if err != nil {
		return checkpointHead{}, err
	}
	h := checkpointHead{front: f, segments: map[int][]format.Entry{}}
	for k, loc := range f.Segments {
		if loc.Off+loc.Len > int64(len(head)) {
			break
		}
		if h.segments[k], err = f.DecodeSegment(k, head[loc.Off:loc.Off+loc.Len]); err != nil {
			return checkpointHead{}, err
		}
	}
	return h, nil
}

// segmentsOf returns the segments of checkpoint object name, whose front
// is f: those of e's snapshots that use it, if any, so that every map
// over one checkpoint shares what was read of it; else new ones.
func (e *Env) segmentsOf(name string, f *format.CheckpointFront) *format.Segments {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g := e.segments[name].Value(); g != nil {
		return g
	}
	g := format.NewSegments(name, f)
	if e.segments == nil {
		e.segments = map[string]weak.Pointer[format.Segments]{}
	}
	e.segments[name] = weak.Make(g)
	runtime.AddCleanup(g, e.forgetSegments, name)
	return g
}

// forgetSegments drops the name of segments no snapshot uses any more.
func (e *Env) forgetSegments(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.segments[name].Value() == nil {
		delete(e.segments, name)
	}
}

// headIsWhole reports whether head, the first bytes of a version-3
// checkpoint, is the whole object: its front and every segment.
func headIsWhole(head []byte) bool {
	f, err := format.DecodeCheckpointFront(head)
	if err != nil {
		return true // decoded whole, to report what is wrong
	}
	end := f.Len
	if len(f.Segments) > 0 {
		last := f.Segments[len(f.Segments)-1]
		end = last.Off + last.Len
	}
	return int64(len(head)) >= end
}

// readCheckpointHead reads the first bytes of checkpoint ref, object
// name, with one ranged GET: CheckpointFrontRead of them, the whole
// object when it is shorter or of version 1 or 2 (read whole, as before
// version 3; a second GET reads the rest of a longer one), and more if
// the front of a version-3 object is longer (a second GET). Through the
// disk cache when there is one, whose entry is decoded and checked as
// the bytes from S3 are.
func (db *Database) readCheckpointHead(ctx context.Context, name string, ref format.CheckpointRef) (checkpointHead, error) {
	fetch := func(ctx context.Context) ([]byte, error) {
		return db.readPrefix(ctx, name, db.Env.Cfg.Hooks.CheckpointFrontRead(), func(data []byte, size int64) int64 {
			if n, err := format.FrontLen(data); err == nil {
				return min(n, size)
			}
			return size
		})
	}
	if db.Disk() == nil {
		head, err := fetch(ctx)
		if err != nil {
			return checkpointHead{}, err
		}
		return decodeCheckpointHead(head, ref)
	}
	// The last bytes checked, from the disk or from S3, decoded once.
	var h checkpointHead
	var decodeErr error
	_, err := db.readThrough(ctx, db.Disk(), name+"#head", -1, func(b []byte) bool {
		h, decodeErr = decodeCheckpointHead(b, ref)
		return decodeErr == nil
	}, fetch)
	if err != nil {
		return checkpointHead{}, err
	}
	return h, decodeErr
}

// Locate reads the segments that hold the entries of blocks idxs of s
// and are not held yet, in parallel: each with one ranged GET shared by
// every concurrent caller, through the disk cache when there is one.
// After it, the pure code may read those entries (format.BlockMap.Held).
func (db *Database) Locate(ctx context.Context, s *format.Snapshot, idxs ...int64) error {
	var ks []int
	for _, idx := range idxs {
		if k, ok := s.Blocks.SegmentOf(idx); ok && !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	g := s.Blocks.Segments()
	switch len(ks) {
	case 0:
		return nil
	case 1:
		return db.readSegment(ctx, g, ks[0])
	}
	var eg errgroup.Group
	eg.SetLimit(db.Env.Cfg.Concurrency)
	for _, k := range ks {
		eg.Go(func() error { return db.readSegment(ctx, g, k) })
	}
	return eg.Wait()
}

// LocateAll reads every segment of the map of s and of its base that is
// not held yet, with one ranged GET of the bytes from the first to the
// last: for the code that reads every entry (a checkpoint's writer, the
// operations on whole versions).
func (db *Database) LocateAll(ctx context.Context, s *format.Snapshot) error {
	for _, m := range []format.BlockMap{s.Blocks, s.BaseMap} {
		ks := m.Unheld()
		if len(ks) == 0 {
			continue
		}
		g := m.Segments()
		first, last := g.Front.Segments[ks[0]], g.Front.Segments[ks[len(ks)-1]]
		data, _, err := db.Env.Store.GetRange(ctx, g.Name, first.Off, last.Off+last.Len-first.Off)
		if err != nil {
			return fmt.Errorf("s3vfs: segments of checkpoint %s: %w", g.Name, err)
		}
		for _, k := range ks {
			loc := g.Front.Segments[k]
			at := loc.Off - first.Off
			if at+loc.Len > int64(len(data)) {
				return fmt.Errorf("s3vfs: checkpoint %s: %w: segment %d past the object's end", g.Name, format.ErrCorrupt, k)
			}
			if err := holdSegment(g, k, data[at:at+loc.Len]); err != nil {
				return err
			}
		}
		db.Env.Counts.Segments.Add(int64(len(ks)))
	}
	return nil
}

// readSegment reads segment k of g, unless it is held, with one ranged
// GET shared by every concurrent caller, through the disk cache.
func (db *Database) readSegment(ctx context.Context, g *format.Segments, k int) error {
	id := g.Name + "#segment" + strconv.Itoa(k)
	es, err := cache.Shared(ctx, &db.Env.Fetches, id, func(ctx context.Context) ([]format.Entry, error) {
		loc := g.Front.Segments[k]
		fetch := func(ctx context.Context) ([]byte, error) {
			data, _, err := db.Env.Store.GetRange(ctx, g.Name, loc.Off, loc.Len)
			return data, err
		}
		raw, err := db.readMaybeThrough(ctx, id, loc.Len, func(b []byte) bool {
			_, err := g.Front.DecodeSegment(k, b)
			return err == nil
		}, fetch)
		if err != nil {
			return nil, err
		}
		db.Env.Counts.Segments.Add(1)
		return g.Front.DecodeSegment(k, raw)
	})
	if err != nil {
		return fmt.Errorf("s3vfs: segment %d of checkpoint %s: %w", k, g.Name, err)
	}
	// Held by whoever shares the fetch: each caller holds it in its own
	// segments (one per checkpoint in a process, Env.segmentsOf, but a
	// reader of another process's fetch needs no such promise).
	if !g.Held(k) {
		g.Hold(k, es)
	}
	return nil
}

// holdSegment decodes raw as segment k of g and holds it.
func holdSegment(g *format.Segments, k int, raw []byte) error {
	es, err := g.Front.DecodeSegment(k, raw)
	if err != nil {
		return fmt.Errorf("s3vfs: segment %d of checkpoint %s: %w", k, g.Name, err)
	}
	g.Hold(k, es)
	return nil
}
