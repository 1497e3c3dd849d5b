package s3vfs

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Info describes the newest commit of a database, as [VFS.Info] reads it.
type Info struct {
	Key           string    // the database's key (its SQLite filename)
	Commit        uint64    // the newest commit number; 0 for the Python layout, which keeps no commits
	Time          time.Time // when that commit was made; zero for the Python layout
	Writer        string    // the writer that made it (Options.WriterID); empty for the Python layout
	BlockSize     int64     // bytes per block object
	PageSize      int64     // the SQLite page size
	FileSize      int64     // bytes of the database file
	Blocks        int64     // block objects the commit references
	FormatVersion int       // the storage format version of the newest commit, 1 or 2 (see docs/format.md); 0 for the Python layout
	Layout        string    // "s3vfs", or "python" for a database of the Python library sqlite-s3vfs (read-only until migrated)

	// BranchOf and BranchPoint say, for a branch ([VFS.Branch]), the
	// database it was made from and the commit of it; empty and 0 for a
	// database that is not a branch.
	BranchOf    string
	BranchPoint uint64
}

// Info returns the description of the newest commit of the database at
// key, or an error matching [ErrNoDatabase] if there is none. It costs a
// few requests (the head check, the commit record and, unless cached, the
// first block); it never LISTs the whole prefix.
func (v *VFS) Info(ctx context.Context, key string) (Info, error) {
	if err := format.ValidateKey(key); err != nil {
		return Info{}, err
	}
	db := v.acquire(key)
	defer v.release(db)
	s, err := db.Refresh(ctx, 0)
	if err != nil {
		return Info{}, err
	}
	if s.Empty() {
		return Info{}, fmt.Errorf("%w: s3://%s/%s", ErrNoDatabase, v.env.Store.Bucket, key)
	}
	info := Info{Key: key, BlockSize: s.BlockSize, FileSize: s.Size, Blocks: s.Blocks.Len(), Layout: "python"}
	if s.Legacy == nil {
		rec, err := db.ReadRecord(ctx, s.N)
		if err != nil {
			return Info{}, err
		}
		info.Commit, info.Time, info.Writer = s.N, s.Time, rec.Writer
		info.FormatVersion, info.Layout = max(s.Version, 1), "s3vfs"
		if len(s.Lineage) > 0 {
			info.BranchOf, info.BranchPoint = s.Lineage[0].Key, s.Lineage[0].Commit
		}
	}
	if s.Size >= 100 {
		b0, err := db.ReadBlock(ctx, s, 0)
		if err != nil {
			return Info{}, err
		}
		if ps := int64(binary.BigEndian.Uint16(b0[16:18])); ps == 1 {
			info.PageSize = 65536
		} else {
			info.PageSize = ps
		}
	}
	return info, nil
}

// Usage is what a database occupies in the bucket, every version kept for
// the retention window included.
type Usage struct {
	Objects int64 // objects under the database's prefix
	Bytes   int64 // their total size
}

// Usage LISTs every object under the database's prefix (KEY/) and totals
// them. Its cost grows with the number of objects (one LIST request per
// 1,000), so it belongs in tools, not on a hot path.
func (v *VFS) Usage(ctx context.Context, key string) (Usage, error) {
	if err := format.ValidateKey(key); err != nil {
		return Usage{}, err
	}
	var u Usage
	err := v.env.Store.List(ctx, key+"/", func(o store.Object) error {
		u.Objects++
		u.Bytes += o.Size
		return nil
	})
	return u, err
}
