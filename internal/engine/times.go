package engine

import "time"

// LastModifiedSlack is how much later than its listed LastModified an
// object may have been written: some servers list times truncated to the
// second. Every age computed from a listing is shortened by it.
const LastModifiedSlack = time.Second

// CommitTime returns the time to write in a commit record whose parent was
// written at parent: now, but never before the parent, so that record times
// grow with commit numbers even across writers whose clocks differ (time
// travel with asof= searches them in order).
func CommitTime(parent time.Time) time.Time {
	now := time.Now()
	if !now.After(parent) {
		return parent.Add(time.Nanosecond)
	}
	return now
}

// ReadableVersion reports whether version n, not the newest, is still a
// readable version at now, by the rule garbage collection keeps: its
// successor was created less than the retention ago (created holds the
// creation times of the records listed). A record outside it may still be
// kept, for the pages later versions overlay (format version 2), but its
// own map may name objects already collected.
func ReadableVersion(created map[uint64]time.Time, n uint64, now time.Time, retention time.Duration) bool {
	next, ok := created[n+1]
	return ok && !next.Add(LastModifiedSlack).Before(now.Add(-retention))
}
