package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"weak"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
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
			pin := db.holdSegment(g, k, es)
			pin.Release() // kept by the cache, as any segment read
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
// checkpoint ref (readCheckpointHead): whole for version 1 or 2 (read
// whole), else the front of version 3 and every segment head holds whole
// (all of them when head is the whole object: held as segments, in the
// block cache's bound, rather than whole beside it). Pure.
func decodeCheckpointHead(head []byte, ref format.CheckpointRef) (checkpointHead, error) {
	if _, err := format.FrontLen(head); err != nil {
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

// HeldSegments returns what e holds of checkpoints' block maps.
func (e *Env) HeldSegments() format.SegmentUsage {
	e.mu.Lock()
	all := make([]*format.Segments, 0, len(e.segments))
	for _, w := range e.segments {
		if g := w.Value(); g != nil {
			all = append(all, g)
		}
	}
	e.mu.Unlock()
	var u format.SegmentUsage
	for _, g := range all {
		u = u.Add(g.Usage())
	}
	return u
}

// forgetSegments drops the name of segments no snapshot uses any more.
func (e *Env) forgetSegments(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.segments[name].Value() == nil {
		delete(e.segments, name)
	}
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

// Locate pins the segments that hold the entries of blocks idxs of s,
// reading in parallel those not held: each with one ranged GET shared by
// every concurrent caller, through the disk cache when there is one.
// Until the pin is released, the pure code may read those entries; the
// caller releases it when it is done with
// them, also on an error.
func (db *Database) Locate(ctx context.Context, s *format.Snapshot, idxs ...int64) (format.Pin, error) {
	var pin format.Pin
	var read []int
	g := s.Blocks.Segments()
	for _, idx := range idxs {
		k, ok := s.Blocks.SegmentOf(idx)
		if !ok || slices.Contains(read, k) || pin.Pins(g, k) {
			continue
		}
		if held, ok := g.Pin(k); ok {
			db.Cache().Touch(segmentID(g, k))
			pin.Join(held)
			continue
		}
		read = append(read, k)
	}
	switch len(read) {
	case 0:
		return pin, nil
	case 1:
		held, err := db.readSegment(ctx, g, read[0])
		pin.Join(held)
		return pin, err
	}
	var mu sync.Mutex
	var eg errgroup.Group
	eg.SetLimit(db.Env.Cfg.Concurrency)
	for _, k := range read {
		eg.Go(func() error {
			held, err := db.readSegment(ctx, g, k)
			mu.Lock()
			pin.Join(held)
			mu.Unlock()
			return err
		})
	}
	return pin, eg.Wait()
}

// LocateAll pins every segment of the map of s and of its base, reading
// those not held with one ranged GET of the bytes from the first to the
// last: for the code that reads every entry (a checkpoint's writer, the
// operations on whole versions). The caller releases the pin when it is
// done with the entries, also on an error.
func (db *Database) LocateAll(ctx context.Context, s *format.Snapshot) (format.Pin, error) {
	var pin format.Pin
	for _, m := range []format.BlockMap{s.Blocks, s.BaseMap} {
		g := m.Segments()
		var read []int
		for _, k := range m.SegmentsRead() {
			// (The maps of s and its base share segments: pinned twice
			// then, and released twice.)
			if held, ok := g.Pin(k); ok {
				pin.Join(held)
				continue
			}
			read = append(read, k)
		}
		if len(read) == 0 {
			continue
		}
		first, last := g.Front.Segments[read[0]], g.Front.Segments[read[len(read)-1]]
		data, _, err := db.Env.Store.GetRange(ctx, g.Name, first.Off, last.Off+last.Len-first.Off)
		if err != nil {
			return pin, fmt.Errorf("s3vfs: segments of checkpoint %s: %w", g.Name, err)
		}
		for _, k := range read {
			loc := g.Front.Segments[k]
			at := loc.Off - first.Off
			if at+loc.Len > int64(len(data)) {
				return pin, fmt.Errorf("s3vfs: checkpoint %s: %w: segment %d past the object's end", g.Name, format.ErrCorrupt, k)
			}
			es, err := g.Front.DecodeSegment(k, data[at:at+loc.Len])
			if err != nil {
				return pin, fmt.Errorf("s3vfs: segment %d of checkpoint %s: %w", k, g.Name, err)
			}
			pin.Join(db.holdSegment(g, k, es))
		}
		db.Env.Counts.Segments.Add(int64(len(read)))
	}
	return pin, nil
}

// readSegment reads segment k of g, with one ranged GET shared by every
// concurrent caller, through the disk cache, and pins it; a segment a
// read ahead is reading it waits for instead (openahead.go).
func (db *Database) readSegment(ctx context.Context, g *format.Segments, k int) (format.Pin, error) {
	if !db.waitAhead(ctx, g.Name, k) {
		return format.Pin{}, context.Cause(ctx)
	}
	if pin, ok := g.Pin(k); ok {
		return pin, nil // read ahead
	}
	id := segmentID(g, k)
	es, err := cache.Shared(ctx, &db.Env.Fetches, id, func(ctx context.Context) ([]format.Entry, error) {
		if g.Held(k) {
			return nil, nil // read by a fetch that ended after the caller looked
		}
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
		es, err := g.Front.DecodeSegment(k, raw)
		if err == nil {
			// Held before the fetch ends, so that no caller that comes
			// after it reads the segment again.
			pin := db.holdSegment(g, k, es)
			pin.Release()
		}
		return es, err
	})
	if err != nil {
		return format.Pin{}, fmt.Errorf("s3vfs: segment %d of checkpoint %s: %w", k, g.Name, err)
	}
	if pin, ok := g.Pin(k); ok {
		return pin, nil
	}
	if es == nil {
		return db.readSegment(ctx, g, k) // evicted since the fetch found it held
	}
	return db.holdSegment(g, k, es), nil // evicted since the fetch held it
}

// holdSegment holds es as segment k of g, unless it is held, and pins
// it; a segment it holds anew it lists in the database's block cache,
// which evicts it like a block (with no cache, it stays held as long as
// the checkpoint's snapshots use it).
func (db *Database) holdSegment(g *format.Segments, k int, es []format.Entry) format.Pin {
	return db.holdSegmentAs(g, k, es, false)
}

// holdSegmentAs is holdSegment, listing the segment in the cache as its
// least recently used entry when cold (cache.LRU.AddColdValue).
func (db *Database) holdSegmentAs(g *format.Segments, k int, es []format.Entry, cold bool) format.Pin {
	pin, h := g.Hold(k, es)
	if h == nil {
		return pin
	}
	c := db.Cache()
	switch {
	case db.Env.Cfg.Hooks.UncachedSegments():
		g.Evict(k, h) // dropped at its last release: finds a read outside its pin
	case c.Limit() <= 0:
	case !list(c, cold)(segmentID(g, k), cachedSegment{g, k, h}):
		g.Evict(k, h) // larger than the whole cache
	}
	return pin
}

// OverOwnCheckpoint returns next, the snapshot of a commit that writes
// its own checkpoint in version 3, the upload named name, reading its
// map from the checkpoint's segments (held from the bytes uploaded, and
// listed in the cache as its least recently used entries, in what room
// it has) rather than whole: the writer's map then lives within the
// cache's bound, as a reader's does.
func (db *Database) OverOwnCheckpoint(next *format.Snapshot, uploads []tx.Upload, name string) (*format.Snapshot, error) {
	i := slices.IndexFunc(uploads, func(u tx.Upload) bool { return u.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("s3vfs: internal error: checkpoint %s planned but not uploaded", name)
	}
	c := uploads[i]
	f, err := format.DecodeCheckpointFront(c.Data)
	if err != nil {
		return nil, fmt.Errorf("s3vfs: checkpoint %s as planned: %w", c.Name, err)
	}
	g := db.Env.segmentsOf(c.Name, f)
	for k, loc := range f.Segments {
		es, err := f.DecodeSegment(k, c.Data[loc.Off:loc.Off+loc.Len])
		if err != nil {
			return nil, fmt.Errorf("s3vfs: segment %d of checkpoint %s as planned: %w", k, c.Name, err)
		}
		// Cold: no hot block makes room for a segment that may well not
		// be read before the next checkpoint replaces it.
		pin := db.holdSegmentAs(g, k, es, true)
		pin.Release()
	}
	return next.OverOwnCheckpoint(format.LazyMap(g)), nil
}

// list returns how c takes a value in: as the most recently used entry,
// or when cold, the least.
func list(c *cache.LRU, cold bool) func(string, cache.Value) bool {
	if cold {
		return c.AddColdValue
	}
	return c.AddValue
}

// segmentID names segment k of g in the caches.
func segmentID(g *format.Segments, k int) string { return g.Name + "#segment" + strconv.Itoa(k) }

// cachedSegment is a held segment as the block cache keeps it.
type cachedSegment struct {
	g *format.Segments
	k int
	h *format.HeldSegment
}

// Size returns the memory the segment takes.
func (c cachedSegment) Size() int64 { return c.h.Size() }

// Evicted drops the segment once no pin holds it.
func (c cachedSegment) Evicted() { c.g.Evict(c.k, c.h) }
