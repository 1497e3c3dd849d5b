package s3vfs

import (
	"context"

	"github.com/s3vfs/s3vfs/internal/format"
)

// readBlockStored reads block idx of s, named name, from the disk cache of
// the database if it has one and holds the block intact, else from S3
// (readBlockUncached), and then keeps it on disk. Only blocks of format
// v1 go to disk: their commit recorded a CRC32C that every read from disk
// is checked against. (A Python-layout block has only its ETag.)
func (db *database) readBlockStored(ctx context.Context, s *snapshot, idx int64, name string) ([]byte, error) {
	disk := db.disk()
	if disk == nil || s.legacy != nil {
		return db.readBlockUncached(ctx, s, idx)
	}
	ref := s.blocks.Get(idx)
	want := format.BlockLen(idx, s.blockSize, s.size)
	path := disk.path(db.vfs.store.Bucket, name)
	if data, ok := disk.get(path, want, func(b []byte) bool { return format.Checksum(b) == ref.CRC }); ok {
		db.vfs.stats.diskHits.Add(1)
		return data, nil
	}
	db.vfs.stats.diskMisses.Add(1)
	data, err := db.readBlockUncached(ctx, s, idx)
	if err != nil {
		return nil, err
	}
	disk.put(path, data)
	return data, nil
}
