package versions

import (
	"context"
	"iter"

	"github.com/s3vfs/s3vfs/internal/format"
)

// SerializeAt is the root's VFS.SerializeAt, whose doc comment is the contract.
func (v *Ops) SerializeAt(ctx context.Context, key string, n uint64) iter.Seq2[[]byte, error] {
	return v.serialize(ctx, key, func(ctx context.Context, db *database) (*format.Snapshot, error) {
		return db.SnapshotAt(ctx, n)
	})
}
