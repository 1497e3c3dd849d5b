package s3vfs

import (
	"context"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// txn is a transaction on a database (docs/design.md, "The
// transaction"): the value (tx.Tx: the snapshot, the writes, the read set,
// the rules, the state and the outcome) and what committing it needs from
// the process. A connection (file) holds one, which reads while Idle and
// writes from Running on; group commit publishes a batch of queued
// transactions as one txn of their merged values (groupcommit.go). The
// commit path (commit.go, commitpages.go, rebase.go, spill.go) takes a txn,
// never a file.
type txn struct {
	db *database
	tx.Tx

	// cause is the last I/O error this transaction handed to SQLite. The
	// connection reports the system error of the last VFS call, and SQLite
	// unlocks after a failure, which would clear it; Unlock keeps it (see
	// keepCause) so the application's error carries the S3 cause.
	cause error

	chain chainMember // this writer's place among its process's writers (groupcommit.go)

	// absorb, set on the txn that publishes a batch of queued
	// transactions, takes the transactions queued behind the batch into
	// it each time it is rebased (groupcommit.go, absorbQueued).
	absorb func(ctx context.Context, head *format.Snapshot) error

	// header remembers whether the block 0 object ref holds a plain SQLite
	// header (see encrypted).
	header struct {
		known, encrypted bool
		ref              format.BlockRef
	}
}
