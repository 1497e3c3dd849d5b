package s3vfs

import (
	"log"
	"os"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
)

// testHooks are the points where the package's tests change how a VFS
// behaves; only export_test.go sets them. They live in the VFS's Options,
// so that each test's VFS has its own and no test changes another's.
type testHooks struct {
	// diskWrite writes a disk-cache entry's bytes to its temporary file
	// (to fill the disk, or stop a writer half way); nil: f.Write.
	diskWrite func(f *os.File, data []byte) (int, error)
	// logf logs what a VFS does without (a disk cache that fails, inner
	// pages that cannot be read); nil: log.Printf.
	logf func(format string, args ...any)
	// allowWALHeader lets commits publish the WAL flag in the database
	// header, as versions before the check could.
	allowWALHeader bool
	// innerFront is the size of the front of the inner pages the VFS
	// writes and the bytes its cold opens read of them; 0:
	// format.InnerFrontRead. Tests make it small to reach bundles with
	// small databases.
	innerFront int64
	// noGCSummary makes garbage collection neither read nor write
	// summaries (gcsummary.go), as versions before them: the measure of
	// what they save.
	noGCSummary bool
}

// innerFrontRead returns the size of the fronts of inner pages written
// and the bytes a cold open reads of them.
func (h *testHooks) innerFrontRead() int64 {
	if h != nil && h.innerFront > 0 {
		return h.innerFront
	}
	return format.InnerFrontRead
}

// diskOptions returns the options of the VFS's disk caches: its hooks
// for them, none when h is nil.
func (h *testHooks) diskOptions() cache.DiskOptions {
	if h == nil {
		return cache.DiskOptions{}
	}
	return cache.DiskOptions{Write: h.diskWrite, Logf: h.logf}
}

// log logs a line.
func (h *testHooks) log(format string, args ...any) {
	if h != nil && h.logf != nil {
		h.logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// gcSummaries reports whether garbage collection reads and writes
// summaries.
func (h *testHooks) gcSummaries() bool { return h == nil || !h.noGCSummary }

// walHeaderAllowed reports whether commits may publish the WAL flag.
func (h *testHooks) walHeaderAllowed() bool { return h != nil && h.allowWALHeader }
