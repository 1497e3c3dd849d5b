package engine

import (
	"log"
	"os"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
)

// Hooks are the points where the package's tests change how a VFS
// behaves; only export_test.go sets them. They live in the VFS's Options,
// so that each test's VFS has its own and no test changes another's.
type Hooks struct {
	// DiskWrite writes a disk-cache entry's bytes to its temporary file
	// (to fill the disk, or stop a writer half way); nil: f.Write.
	DiskWrite func(f *os.File, data []byte) (int, error)
	// Logf logs what a VFS does without (a disk cache that fails, inner
	// pages that cannot be read); nil: log.Printf.
	Logf func(format string, args ...any)
	// AllowWALHeader lets commits publish the WAL flag in the database
	// header, as versions before the check could.
	AllowWALHeader bool
	// InnerFront is the size of the front of the inner pages the VFS
	// writes and the bytes its cold opens read of them; 0:
	// format.InnerFrontRead. Tests make it small to reach bundles with
	// small databases.
	InnerFront int64
	// NoGCSummary makes garbage collection neither read nor write
	// summaries (internal/versions/gcsummary.go), as versions before them: the measure of
	// what they save.
	NoGCSummary bool
	// SegmentShift is the shift of the segments of the version-3
	// checkpoints commits write; 0: format.DefaultSegmentShift. Tests
	// make it small to have many segments in small databases.
	SegmentShift uint
	// CheckpointFront is the bytes a cold open reads of a checkpoint; 0:
	// format.InnerFrontRead. Tests make it small to read segments on
	// demand in small databases.
	CheckpointFront int64
	// SegmentsUncached keeps no segment of a block map in the cache: each
	// is dropped as soon as no pin holds it, so that a read of an entry
	// outside its pin (format.Pin) panics at once rather than when the
	// cache happens to evict it.
	SegmentsUncached bool
}

// UncachedSegments reports whether segments are dropped at their last
// release (SegmentsUncached).
func (h *Hooks) UncachedSegments() bool { return h != nil && h.SegmentsUncached }

// CheckpointFrontRead returns the bytes a cold open reads of a
// checkpoint (readCheckpointHead).
func (h *Hooks) CheckpointFrontRead() int64 {
	if h != nil && h.CheckpointFront > 0 {
		return h.CheckpointFront
	}
	return format.InnerFrontRead
}

// InnerFrontRead returns the size of the fronts of inner pages written
// and the bytes a cold open reads of them.
func (h *Hooks) InnerFrontRead() int64 {
	if h != nil && h.InnerFront > 0 {
		return h.InnerFront
	}
	return format.InnerFrontRead
}

// DiskOptions returns the options of the VFS's disk caches: its hooks
// for them, none when h is nil.
func (h *Hooks) DiskOptions() cache.DiskOptions {
	if h == nil {
		return cache.DiskOptions{}
	}
	return cache.DiskOptions{Write: h.DiskWrite, Logf: h.Logf}
}

// Log logs a line.
func (h *Hooks) Log(format string, args ...any) {
	if h != nil && h.Logf != nil {
		h.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// GCSummaries reports whether garbage collection reads and writes
// summaries.
func (h *Hooks) GCSummaries() bool { return h == nil || !h.NoGCSummary }

// WALHeaderAllowed reports whether commits may publish the WAL flag.
func (h *Hooks) WALHeaderAllowed() bool { return h != nil && h.AllowWALHeader }
