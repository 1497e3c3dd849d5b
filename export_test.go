package s3vfs

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// WithWALHeaderAllowed returns a copy of opts (nil: the defaults) whose
// VFS lets commits publish the WAL flag in the database header, as
// versions before the check could, so that tests can make such a
// database.
func WithWALHeaderAllowed(opts *Options) *Options {
	return withHooks(opts, func(h *engine.Hooks) { h.AllowWALHeader = true })
}

// WithDiskWrite returns a copy of opts (nil: the defaults) whose VFS's
// disk cache writes an entry's bytes to its temporary file with write (to
// fill the disk, or to stop a writer half way).
func WithDiskWrite(opts *Options, write func(f *os.File, data []byte) (int, error)) *Options {
	return withHooks(opts, func(h *engine.Hooks) { h.DiskWrite = write })
}

// WithLog returns a copy of opts (nil: the defaults) whose VFS logs what
// it does without (a failing disk cache, inner pages it cannot read) with
// logf.
func WithLog(opts *Options, logf func(format string, args ...any)) *Options {
	return withHooks(opts, func(h *engine.Hooks) { h.Logf = logf })
}

// WithoutGCSummaries returns a copy of opts (nil: the defaults) whose
// VFS collects garbage without reading or writing collection summaries,
// as versions before them did.
func WithoutGCSummaries(opts *Options) *Options {
	return withHooks(opts, func(h *engine.Hooks) { h.NoGCSummary = true })
}

// WithSegments returns a copy of opts (nil: the defaults) whose VFS
// writes checkpoints in segments of 1<<shift blocks and reads front
// bytes of a checkpoint at a cold open, so that small databases read
// their block map segment by segment.
func WithSegments(opts *Options, shift uint, front int64) *Options {
	return withHooks(opts, func(h *engine.Hooks) { h.SegmentShift, h.CheckpointFront = shift, front })
}

// WithUncachedSegments returns a copy of opts (nil: the defaults) whose
// VFS drops each segment of a block map as soon as no read pins it, so
// that a read of an entry outside its pin panics at once.
func WithUncachedSegments(opts *Options) *Options {
	return withHooks(opts, func(h *engine.Hooks) { h.SegmentsUncached = true })
}

// withHooks returns a copy of opts with its hooks changed by set.
func withHooks(opts *Options, set func(*engine.Hooks)) *Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	h := engine.Hooks{}
	if o.hooks != nil {
		h = *o.hooks
	}
	set(&h)
	o.hooks = &h
	return &o
}

// MemoryBucket is a bucket in memory. Every VFS made from one shares its
// objects, as processes share a real bucket.
type MemoryBucket struct{ objs *store.Mem }

// NewMemoryBucket returns an empty bucket in memory.
func NewMemoryBucket() *MemoryBucket { return &MemoryBucket{objs: store.NewMem()} }

// NewVFS returns a VFS on b, as [New] does on a real bucket.
func (b *MemoryBucket) NewVFS(opts *Options) (*VFS, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return newVFS(b.objs, "memory", o), nil
}

// DiskCacheLayout is the subdirectory of a CacheDir that holds the entries.
const DiskCacheLayout = cache.Layout

// HeldSegmentsForTest returns what v holds of block maps' segments: how
// many, their bytes, and the pins on them.
func HeldSegmentsForTest(v *VFS) (held int, bytes int64, pins int) {
	u := v.env.HeldSegments()
	return u.Held, u.Bytes, u.Pins
}

// CommitLogForTest returns where v keeps commit records: the log of its
// bucket, or its coordinator's.
func CommitLogForTest(v *VFS) commitlog.Log { return v.env.Records }

// RecordFormatForTest returns the format version of record n of the
// database at key: 1 or 2.
func RecordFormatForTest(ctx context.Context, v *VFS, key string, n uint64) (int, error) {
	data, err := v.env.Records.Get(ctx, key, n)
	if err != nil {
		return 0, err
	}
	rec, err := format.DecodeRecord(data)
	if err != nil {
		return 0, err
	}
	if !rec.BlockLevel {
		return 2, nil
	}
	return 1, nil
}

// MapSegmentsForTest returns the checkpoint whose segments the newest
// snapshot v knows of key reads its block map from: "" when the snapshot
// holds its map whole (or v knows none).
func MapSegmentsForTest(v *VFS, key string) string {
	db := v.env.Acquire(key)
	defer v.env.Release(db)
	s, _ := db.Known.Get()
	if s == nil || s.Blocks.Segments() == nil {
		return ""
	}
	return s.Blocks.Segments().Name
}

// QueuedForTest returns how many committed transactions of the database at
// key wait in v for the batch being published before theirs.
func QueuedForTest(v *VFS, key string) int {
	db := v.env.Acquire(key) // a database not in use has none
	defer v.env.Release(db)
	return db.Queued()
}

// RebaseProbeForTest is how many records a rebase asks for at once.
const RebaseProbeForTest = engine.RebaseProbe

// AheadRunForTest is the most bytes one ranged GET of the read ahead
// after an open reads.
const AheadRunForTest = engine.AheadRun

// WithInnerFront returns a copy of opts (nil: the defaults) whose VFS
// writes inner pages with a front of at most n bytes and reads n bytes of
// them at a cold open, so that small databases have bundles.
func WithInnerFront(opts *Options, n int64) *Options {
	return withHooks(opts, func(h *engine.Hooks) { h.InnerFront = n })
}

// CheckInnerPagesForTest reads every page of the newest version of the
// database at key twice, through its inner pages (reading their bundles)
// and from its blocks alone, as a process without inner pages would. It
// returns how many pages the inner pages served, and an error naming the
// first page that reads differently.
func CheckInnerPagesForTest(ctx context.Context, v *VFS, key string) (int, error) {
	db := v.env.Acquire(key)
	defer v.env.Release(db)
	s, err := db.Refresh(ctx, 0)
	if err != nil || s.Inner == nil {
		return 0, err
	}
	bare := *s
	bare.Inner = nil
	served := 0
	for off := int64(0); off < s.Size; off += s.Inner.Unit {
		page, _, ok, err := db.InnerPage(ctx, s, off/s.BlockSize, off)
		if err != nil {
			return served, err
		}
		if !ok {
			continue
		}
		served++
		want := make([]byte, s.Inner.Unit)
		if _, err := db.ReadAt(ctx, &bare, want, off); err != nil {
			return served, err
		}
		if !bytes.Equal(page, want) {
			return served, fmt.Errorf("page %d of commit %d: the inner pages serve other bytes than its block", off/s.Inner.Unit, s.N)
		}
	}
	return served, nil
}

// CheckStreamCopiesForTest reads every block of the newest version of the
// database at key as a stream does, scribbles over what it got, and then
// reads the block as a transaction does. It returns how many of the
// blocks have an overlay, and an error naming the first block whose
// scribbles a transaction then reads: a stream's block shared with the
// cache.
func CheckStreamCopiesForTest(ctx context.Context, v *VFS, key string) (overlaid int, err error) {
	db := v.env.Acquire(key)
	defer v.env.Release(db)
	s, err := db.Refresh(ctx, 0)
	if err != nil {
		return 0, err
	}
	pin, err := db.LocateAll(ctx, s)
	defer pin.Release()
	if err != nil {
		return 0, err
	}
	for idx := range format.NBlocks(s.Size, s.BlockSize) {
		if s.Overlay(idx) != nil {
			overlaid++
		}
		streamed, err := db.ReadBlockForStream(ctx, s, idx)
		if err != nil {
			return overlaid, err
		}
		want := bytes.Clone(streamed)
		for i := range streamed {
			streamed[i] ^= 0xff
		}
		got, err := db.ReadBlock(ctx, s, idx)
		if err != nil {
			return overlaid, err
		}
		if !bytes.Equal(got, want) {
			return overlaid, fmt.Errorf("block %d of commit %d: a transaction reads what a stream wrote over its block", idx, s.N)
		}
	}
	return overlaid, nil
}
