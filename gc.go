package s3vfs

import (
	"context"
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/versions"
)

// DefaultGrace is the default of [GCOptions.Grace]: an hour.
const DefaultGrace = versions.DefaultGrace

// GCOptions are the settings of one garbage collection. A nil *GCOptions,
// and every zero field, means the default.
type GCOptions struct {
	// Retention is how long a superseded version stays readable: a version
	// that was the newest at any moment within the last Retention keeps
	// its commit record, its checkpoint and every block it reads. The
	// newest version is always kept. It must be at least the retention
	// every reader and writer of the database uses (Options.Retention or
	// the retention URI parameter), because they rely on it to detect new
	// commits. Default: the VFS's Options.Retention.
	Retention time.Duration

	// Grace is how long the objects of a commit attempt that no retained
	// version uses are kept after the attempt's newest object was written:
	// an attempt still in flight must not lose its blocks. It must exceed
	// the longest pause of a commit attempt between two of its uploads:
	// Deserialize, Restore, and a transaction rebased with the blocks it
	// uploaded early (past Options.WriteBuffer) refuse to publish after a
	// pause of [MaxAttemptPause], so a Grace shorter than that, plus a
	// margin for clock skew, can collect blocks they then publish. Shorter
	// values are for tests and for buckets no such attempt writes to.
	// Default [DefaultGrace].
	Grace time.Duration

	// DryRun computes the report and deletes nothing: the live and
	// garbage figures are the accounting of the database.
	DryRun bool
}

// ObjectCount counts objects of a database by kind, and their bytes.
type ObjectCount struct {
	Blocks      int
	Records     int
	Checkpoints int // checkpoints, and the inner pages of checkpoints (docs/format.md)
	Bytes       int64
}

// Objects returns the number of objects counted.
func (u ObjectCount) Objects() int { return u.Blocks + u.Records + u.Checkpoints }

// String formats the counts on one line.
func (u ObjectCount) String() string {
	return fmt.Sprintf("%d objects (%d blocks, %d records, %d checkpoints), %d bytes",
		u.Objects(), u.Blocks, u.Records, u.Checkpoints, u.Bytes)
}

// GCReport is the outcome of a garbage collection: what the database keeps
// in the bucket, and what it no longer needs.
type GCReport struct {
	Head     uint64 // the newest commit when the collection started
	HeadSize int64  // the size of the database file at Head, in bytes
	Oldest   uint64 // the oldest commit still readable (time travel)

	Live    ObjectCount // objects some retained version needs
	Pending ObjectCount // unused objects of commit attempts kept for now (younger than the grace period, or not yet decided)
	Garbage ObjectCount // objects no retained version needs: deleted, unless DryRun
	Deleted ObjectCount // objects this collection deleted

	// Retention and Grace are the retention and the grace period the
	// collection used: [GCOptions.Retention] and [GCOptions.Grace], or
	// their defaults.
	Retention time.Duration
	Grace     time.Duration

	Unknown int // objects under the database's folders with names s3vfs does not write; left alone

	// Branches is the number of branches made from the database
	// ([VFS.Branch]) that exist: each keeps the version it was made
	// from, and what that version needs, counted as live.
	Branches int

	// Read is the number of commit records and checkpoints the
	// collection read to find what the retained versions use (a GET
	// each, unless the VFS's disk cache held a checkpoint); Summarized
	// the number it took from the summary a previous collection left
	// instead, without a request (docs/design.md, "Garbage collection").
	Read, Summarized int
}

// String formats the report in a few lines.
func (r GCReport) String() string {
	return fmt.Sprintf("head %d (%d bytes), oldest retained %d\nlive:    %v\npending: %v\ngarbage: %v\ndeleted: %v",
		r.Head, r.HeadSize, r.Oldest, r.Live, r.Pending, r.Garbage, r.Deleted)
}

// GC deletes the objects of the database at key that no version within
// the retention needs: superseded block objects, old commit records and
// checkpoints, and the leftovers of failed commit attempts once they are
// older than the grace period. Deletions go in DeleteObjects batches. It
// is safe to run while other processes read and write the database (see
// docs/design.md, "Garbage collection"): a reader whose snapshot was
// current within the retention never meets a missing object, and a commit
// racing the collection never loses a block. With opts.DryRun it only
// reports; the report is the accounting of the database. A collection
// leaves a summary of the records and checkpoints it read, from which the
// next reads only those written since (docs/design.md, "Garbage
// collection").
func (v *VFS) GC(ctx context.Context, key string, opts *GCOptions) (GCReport, error) {
	r, err := v.ops.GC(ctx, key, (*versions.GCOptions)(opts))
	return gcReportOf(r), err
}

// gcReportOf is r as the root reports it.
func gcReportOf(r versions.GCReport) GCReport {
	return GCReport{Head: r.Head, HeadSize: r.HeadSize, Oldest: r.Oldest,
		Live: ObjectCount(r.Live), Pending: ObjectCount(r.Pending), Garbage: ObjectCount(r.Garbage), Deleted: ObjectCount(r.Deleted),
		Retention: r.Retention, Grace: r.Grace, Unknown: r.Unknown, Branches: r.Branches, Read: r.Read, Summarized: r.Summarized}
}
