package engine

import (
	"context"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
)

// The reads of a database through its disk cache (cache.Disk.ReadThrough),
// which count a hit or a miss in Stats.DiskHits or Stats.DiskMisses.

// readBlockStored reads block idx of s, named name, from the disk cache of
// the database if it has one and holds the block intact, else from S3
// (fetchBlock), and then keeps it on disk; its map entry must be held.
// Only blocks of format v1 go to disk: their commit recorded a CRC32C that
// every read from disk is checked against. (A Python-layout block has
// only its ETag.)
func (db *Database) readBlockStored(ctx context.Context, s *format.Snapshot, idx int64, name string) ([]byte, error) {
	disk := db.Disk()
	fetch := func(ctx context.Context) ([]byte, error) { return db.fetchBlock(ctx, s, idx, name) }
	if disk == nil || s.Legacy != nil {
		return fetch(ctx)
	}
	crc := s.Blocks.Get(idx).CRC
	return db.readThrough(ctx, disk, name, format.BlockLen(idx, s.BlockSize, s.Size),
		func(b []byte) bool { return format.Checksum(b) == crc }, fetch)
}

// readStored returns the immutable object cached under id: from the disk
// cache of the database if it has one and the entry is length bytes and
// passes verify, else from fetch, then kept on disk. A length of 0
// (unknown) skips the disk cache.
func (db *Database) readStored(ctx context.Context, id string, length int64, verify func([]byte) bool,
	fetch func(context.Context) ([]byte, error)) ([]byte, error) {
	disk := db.Disk()
	if disk == nil || length <= 0 {
		return fetch(ctx)
	}
	return db.readThrough(ctx, disk, id, length, verify, fetch)
}

// readPrefix reads the first bytes of object name with one ranged GET
// of n bytes, then, when want (given them and the object's size) asks for
// more, the rest of those with a second.
func (db *Database) readPrefix(ctx context.Context, name string, n int64, want func(first []byte, size int64) int64) ([]byte, error) {
	data, size, err := db.Env.Store.GetRange(ctx, name, 0, n)
	if err != nil {
		return nil, err
	}
	if w := want(data, size); w > int64(len(data)) {
		rest, _, err := db.Env.Store.GetRange(ctx, name, int64(len(data)), w-int64(len(data)))
		if err != nil {
			return nil, err
		}
		data = append(data, rest...)
	}
	return data, nil
}

// readImmutable returns object name, which is never rewritten and checks
// itself, as decode decodes and checks it (its own checksum and identity):
// a checkpoint, or its inner pages, of a length only the object knows.
// It comes from the disk cache when the database has one and it holds the
// object, decoded intact; else from S3, and then goes to the disk if it
// decodes.
func readImmutable[T any](ctx context.Context, db *Database, name string, decode func([]byte) (T, error)) (T, error) {
	var zero T
	fetch := func(ctx context.Context) ([]byte, error) { return db.Env.Store.Get(ctx, name) }
	disk := db.Disk()
	if disk == nil {
		data, err := fetch(ctx)
		if err != nil {
			return zero, err
		}
		return decode(data)
	}
	// The last bytes checked, from the disk or from S3, decoded once.
	var v T
	var decodeErr error
	_, err := db.readThrough(ctx, disk, name, -1, func(data []byte) bool {
		v, decodeErr = decode(data)
		return decodeErr == nil
	}, fetch)
	if err != nil {
		return zero, err
	}
	return v, decodeErr
}

// readThrough reads object name of the database's bucket through disk
// (cache.Disk.ReadThrough), and counts the hit or the miss.
func (db *Database) readThrough(ctx context.Context, disk *cache.Disk, name string, length int64, verify func([]byte) bool,
	fetch func(context.Context) ([]byte, error)) ([]byte, error) {
	data, hit, err := disk.ReadThrough(ctx, disk.Path(db.Env.Store.Bucket, name), length, verify, fetch)
	if hit {
		db.Env.Counts.DiskHits.Add(1)
	} else {
		db.Env.Counts.DiskMisses.Add(1)
	}
	return data, err
}
