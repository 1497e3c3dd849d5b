package s3vfs

import (
	"context"
	"io"
	"iter"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/versions"
)

// ErrNotDatabase reports input to Deserialize that is not a SQLite database.
var ErrNotDatabase = versions.ErrNotDatabase

// ErrNoDatabase reports a key with no database behind it.
var ErrNoDatabase = engine.ErrNoDatabase

// Serialize iterates over the bytes of the database at key as a regular
// SQLite file, block by block in order, from the newest commit. Blocks are
// fetched ahead in parallel (up to Options.ReadAhead at once), so memory
// stays bounded however large the database. Each yielded slice is the
// caller's to keep or modify.
func (v *VFS) Serialize(ctx context.Context, key string) iter.Seq2[[]byte, error] {
	return v.ops.Serialize(ctx, key)
}

// SerializeReader is [VFS.Serialize] as an [io.ReadCloser]. Close it to
// stop early and release its goroutines.
func (v *VFS) SerializeReader(ctx context.Context, key string) io.ReadCloser {
	return v.ops.SerializeReader(ctx, key)
}

// SerializeAt is [VFS.Serialize] for commit n instead of the newest: the
// database as it was then, byte for byte. Commit n must be within the
// retention (see [VFS.History]); otherwise the error matches [ErrNoCommit].
func (v *VFS) SerializeAt(ctx context.Context, key string, n uint64) iter.Seq2[[]byte, error] {
	return v.ops.SerializeAt(ctx, key, n)
}

// SerializeReaderAt is [VFS.SerializeAt] as an [io.ReadCloser]: the
// database as it was at commit n.
func (v *VFS) SerializeReaderAt(ctx context.Context, key string, n uint64) io.ReadCloser {
	return v.ops.SerializeReaderAt(ctx, key, n)
}

// Deserialize replaces the database at key with the SQLite file read from
// r, as one commit: readers see either the old database or the new one,
// never a mix, and no block of the old database survives in the new. The
// stream is cut into blocks (of the existing database's block size, or
// Options.BlockSize for a new one) and uploaded in parallel as it is read,
// so memory stays bounded. Input that is not a SQLite database is refused
// with an error matching [ErrNotDatabase], and nothing is published.
// [VFS.History] lists the commit as made by Deserialize ([Commit].Made;
// not under Options.FormatVersion 1, whose records cannot say so).
func (v *VFS) Deserialize(ctx context.Context, key string, r io.Reader) error {
	return v.ops.Deserialize(ctx, key, r)
}
