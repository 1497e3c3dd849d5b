package engine

import (
	"sync"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

// The retention is a promise between garbage collection and everyone else
// (docs/design.md, "Garbage collection"): a commit record is deleted only
// once its successor is older than the retention. A missing record n+1
// therefore proves that n is the newest only within half the retention of
// having seen n as the newest; past that, readers and writers list the
// records instead. knownHead is the one place that rule lives.

// KnownHead is what one process knows of the newest commit of a database:
// the head snapshot, when S3 last confirmed it as the newest, and the
// retention the database is collected with, which bounds how long after
// that confirmation a missing successor still proves it the newest. The
// zero value knows nothing.
type KnownHead struct {
	mu        sync.Mutex
	head      *format.Snapshot // the newest snapshot known to be committed; guarded by mu
	confirmed time.Time        // when head was last confirmed as the newest; zero: never, or distrusted; guarded by mu
	retention time.Duration    // the shortest retention a URI declared; zero: none; guarded by mu
}

// Get returns the head and when it was last confirmed as the newest.
func (k *KnownHead) Get() (*format.Snapshot, time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.head, k.confirmed
}

// Publish records that s was committed, and confirmed as the newest at
// confirmedAt, if it is newer than the head, or confirms the head again.
func (k *KnownHead) Publish(s *format.Snapshot, confirmedAt time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.head == nil || s.N > k.head.N {
		k.head = s
		k.confirmed = confirmedAt
	} else if s.N == k.head.N && confirmedAt.After(k.confirmed) {
		k.confirmed = confirmedAt
	}
}

// Newer returns the newer of s and the head: a commit this process
// published while s was read must not be hidden.
func (k *KnownHead) Newer(s *format.Snapshot) *format.Snapshot {
	head, _ := k.Get()
	if head != nil && head.N > s.N {
		return head
	}
	return s
}

// Distrust forgets when the head was last confirmed, so the next
// transaction asks S3 even within its staleness bound.
func (k *KnownHead) Distrust() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.confirmed = time.Time{}
}

// DeclareRetention records the retention a connection declared with the
// retention URI parameter. The shortest declared is used, so that no
// connection trusts a missing record longer than it should.
func (k *KnownHead) DeclareRetention(r time.Duration) {
	if r <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.retention == 0 || r < k.retention {
		k.retention = r
	}
}

// Retention returns the shortest retention a connection declared, else
// fallback (the VFS's).
func (k *KnownHead) Retention(fallback time.Duration) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.retention > 0 {
		return k.retention
	}
	return fallback
}

// Fresh returns the head, and whether it was confirmed within maxAge
// before now (a transaction's staleness bound).
func (k *KnownHead) Fresh(now time.Time, maxAge time.Duration) (*format.Snapshot, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.head, k.head != nil && now.Sub(k.confirmed) <= maxAge
}

// Provable returns the head, and whether a missing record head.n+1,
// looked for at now, still proves the head the newest: whether now is
// within half the retention of its last confirmation. The retention is
// the shortest a URI declared, else fallback (Options.Retention).
func (k *KnownHead) Provable(now time.Time, fallback time.Duration) (*format.Snapshot, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	retention := fallback
	if k.retention > 0 {
		retention = k.retention
	}
	return k.head, k.head != nil && now.Sub(k.confirmed) < retention/2
}
