package s3vfs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/s3vfs/s3vfs/internal/tx"
)

// confirmParent makes sure, before record parent+1 is created, that parent
// is still the newest commit, or that it was seen as the newest recently
// enough that record parent+1 cannot have been created and collected
// since. Otherwise the conditional create could succeed on a name that
// garbage collection freed, and fork the history. It usually costs
// nothing: the snapshot was confirmed when the transaction began. A
// transaction older than half the retention pays one LIST.
func (db *database) confirmParent(ctx context.Context, parent uint64) error {
	head, provable := db.known.provable(time.Now(), db.vfs.opts.Retention)
	if head != nil && head.N > parent {
		return errConflict
	}
	if provable && head.N == parent {
		return nil
	}
	start := time.Now()
	s, err := db.readHead(ctx, head, nil)
	if err != nil {
		return err
	}
	db.known.publish(s, start)
	if s.N != parent {
		return errConflict
	}
	return nil
}

// commitTime returns the time to write in a commit record whose parent was
// written at parent: now, but never before the parent, so that record times
// grow with commit numbers even across writers whose clocks differ (time
// travel with asof= searches them in order).
func commitTime(parent time.Time) time.Time {
	now := time.Now()
	if !now.After(parent) {
		return parent.Add(time.Nanosecond)
	}
	return now
}

// MaxAttemptPause is the longest pause between two uploads of a Deserialize
// or Restore, or between its last upload and its commit, after which it
// refuses to publish: garbage collection may have taken its early blocks
// for the leftovers of a dead attempt: 15 minutes. [GCOptions.Grace] must
// exceed it.
const MaxAttemptPause = tx.MaxAttemptPause

// attemptClock watches the pauses of one commit attempt that may outlive a
// garbage collection's view of it (Deserialize, Restore). It is safe for
// concurrent use by the attempt's uploads.
type attemptClock struct {
	mu       sync.Mutex
	last     time.Time     // the latest upload; guarded by mu
	maxPause time.Duration // guarded by mu
}

// touch notes that an object of the attempt was written.
func (a *attemptClock) touch() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if !a.last.IsZero() {
		a.maxPause = max(a.maxPause, now.Sub(a.last))
	}
	a.last = now
}

// check returns an error if the attempt paused too long to publish safely.
func (a *attemptClock) check(op, key string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	pause := a.maxPause
	if !a.last.IsZero() {
		pause = max(pause, time.Since(a.last))
	}
	if pause > MaxAttemptPause {
		return fmt.Errorf("s3vfs: %s %s: paused %v between uploads (more than %v): garbage collection may have removed its blocks, so nothing was published; run it again",
			op, key, pause.Round(time.Second), MaxAttemptPause)
	}
	return nil
}

// readableVersion reports whether version n, not the newest, is still a
// readable version at now, by the rule garbage collection keeps: its
// successor was created less than the retention ago (created holds the
// creation times of the records listed). A record outside it may still be
// kept, for the pages later versions overlay (format version 2), but its
// own map may name objects already collected.
func readableVersion(created map[uint64]time.Time, n uint64, now time.Time, retention time.Duration) bool {
	next, ok := created[n+1]
	return ok && !next.Add(lastModifiedSlack).Before(now.Add(-retention))
}
