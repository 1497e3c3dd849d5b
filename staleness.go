package s3vfs

import "time"

// distrust forgets when the head was last confirmed, so the next
// transaction asks S3 even within its staleness bound. A commit that lost
// the race calls it: the head it built on is known to be old, and a retry
// from the same head would lose again.
func (db *database) distrust() {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.verified = time.Time{}
}
