package tx

import (
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
)

// Early is what a write transaction has uploaded that no published
// record names yet: the blocks it uploaded before its commit (the engine's spill.go),
// and what the tries of its commit that lost a race uploaded. Only the
// transaction may delete them, and only when it ends: a try that lost is
// rebased with its early blocks (docs/design.md, "Blocks uploaded early").
// The zero value is a transaction that uploaded nothing. It is pure
// bookkeeping: the engine's Txn does the uploads and deletions it plans.
//
// Garbage collection spares the objects of an attempt (one token) while
// the attempt names a commit above the head, or wrote an object within the
// grace period. Early blocks are named for the commit after the snapshot
// the transaction began on (Commit). Once another writer has taken that
// commit, only the grace period keeps them: every try that creates a
// record above Commit first renews each token's attempt with a claim (an
// empty object named as that attempt's checkpoint for the try's commit
// number), and the try is published only if no more than MaxAttemptPause
// passed between the start of the previous renewal (or upload) and the
// end of this one, for each token ([Early.Renewed]).
type Early struct {
	Commit uint64 // the commit number early blocks are named for; 0: none uploaded

	// tokens are the attempt tokens of the early blocks, oldest first. A
	// block uploaded again takes a new token: an object name is never
	// written twice (a late write of the first upload could land last).
	tokens []uint64
	used   map[int64]bool // the blocks uploaded under the newest token

	names []string // every object uploaded that no published record names

	// renewedAt holds, per token, when its newest object (an upload or a
	// claim) began to be written: garbage collection judges an attempt by
	// its newest object.
	renewedAt map[uint64]time.Time
}

// uploaded reports whether the transaction uploaded blocks early. It is
// never reset before the transaction ends, whatever is released.
func (e *Early) uploaded() bool { return e.Commit != 0 }

// TokenFor returns the token under which block idx is uploaded early, as
// commit n (the one after the transaction's snapshot), in a round of
// uploads that began at start, taking a new token when idx was uploaded
// under the newest one already, or when the newest one's last upload began
// more than MaxAttemptPause before: garbage collection may have taken its
// objects since (once another writer took commit n), and a fresh upload
// under it would hide that from [Early.Renewed].
func (e *Early) TokenFor(idx int64, n uint64, start time.Time, newToken func() uint64) uint64 {
	if e.Commit == 0 {
		e.Commit = n
	}
	if len(e.tokens) == 0 || e.used[idx] || start.Sub(e.renewedAt[e.tokens[len(e.tokens)-1]]) > MaxAttemptPause {
		e.tokens = append(e.tokens, newToken())
		e.used = map[int64]bool{}
	}
	tok := e.tokens[len(e.tokens)-1]
	e.used[idx] = true
	if e.renewedAt == nil {
		e.renewedAt = map[uint64]time.Time{}
	}
	e.renewedAt[tok] = start
	return tok
}

// Own adds names, objects the transaction uploaded that no published
// record names, to those it deletes when it ends.
func (e *Early) Own(names ...string) {
	e.names = append(e.names, names...)
}

// Claim is the renewal of one early token for a try: the empty object
// Upload, named as the checkpoint of Token's attempt for the try's commit.
type Claim struct {
	Token uint64
	Upload
}

// Claims returns the claims a try of commit n must upload before its
// record is created (nil when n is the commit the early blocks are named
// for: the attempt names it already): one per token that blocks of
// spilled (a transaction's [Writes.Spilled]), the early blocks the view still uses, carry. Tokens no block in
// use carries need none: their objects are orphans either way.
func (e *Early) Claims(key string, n uint64, spilled map[int64]format.BlockRef) []Claim {
	if !e.uploaded() || n <= e.Commit {
		return nil
	}
	inUse := map[uint64]bool{}
	for _, ref := range spilled {
		inUse[ref.Token] = true
	}
	var out []Claim
	for _, tok := range e.tokens {
		if inUse[tok] {
			out = append(out, Claim{tok, Upload{Name: format.CheckpointName(key, n, tok), Data: []byte{}}})
		}
	}
	return out
}

// Renewed checks, once claims have been uploaded (in a round that began at
// start and ended at now), that no early block they renew can have been
// collected before: for each token, its newest object began to be written
// no more than MaxAttemptPause before now. Each claim is then its token's
// newest object.
func (e *Early) Renewed(key string, claims []Claim, start, now time.Time) error {
	var pause time.Duration
	for _, c := range claims {
		pause = max(pause, now.Sub(e.renewedAt[c.Token]))
		e.renewedAt[c.Token] = start
	}
	if pause > MaxAttemptPause {
		return fmt.Errorf("s3vfs: commit of %s: the blocks this transaction uploaded early were last renewed %v ago (more than %v): "+
			"garbage collection may have removed them, so nothing was published; run the transaction again", key, pause.Round(time.Second), MaxAttemptPause)
	}
	return nil
}

// Release returns the objects to delete when the transaction ends: every
// object it owns that keep (the blocks a published record names) does not
// name. It forgets them, but not that blocks were uploaded early.
func (e *Early) Release(key string, keep map[int64]format.BlockRef) []string {
	seen := map[string]bool{}
	for idx, ref := range keep {
		seen[format.BlockName(key, idx, ref)] = true
	}
	var out []string
	for _, name := range e.names {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	e.names = nil
	return out
}

// Abandon forgets the objects the transaction owns without deleting them:
// the outcome of its commit is unknown, and a record may name them.
// Garbage collection removes those no record names.
func (e *Early) Abandon() {
	e.names = nil
}

// MaxAttemptPause is the longest pause between two uploads of a Deserialize
// or Restore, or between its last upload and its commit, after which it
// refuses to publish, and the longest the early blocks of a transaction
// may go unrenewed ([Early.TokenFor], [Early.Renewed]): garbage collection may have taken its early blocks
// for the leftovers of a dead attempt. The grace period of garbage
// collection (the root's GCOptions.Grace) must exceed it; the root
// re-exports it as s3vfs.MaxAttemptPause.
const MaxAttemptPause = 15 * time.Minute

// Upload is one object a commit writes: its name in the bucket and its
// bytes.
type Upload struct {
	Name string
	Data []byte
}
