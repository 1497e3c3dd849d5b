package versions

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Info is the root's Info, whose doc comment says what each field holds.
type Info struct {
	Key           string
	Commit        uint64
	Time          time.Time
	Writer        string
	BlockSize     int64
	PageSize      int64
	FileSize      int64
	Blocks        int64
	FormatVersion int
	Layout        string

	BranchOf    string
	BranchPoint uint64
}

// Info is the root's VFS.Info, whose doc comment is the contract.
func (v *Ops) Info(ctx context.Context, key string) (Info, error) {
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
		return Info{}, fmt.Errorf("%w: s3://%s/%s", engine.ErrNoDatabase, v.Env.Store.Bucket, key)
	}
	info := Info{Key: key, BlockSize: s.BlockSize, FileSize: s.Size, Blocks: s.Blocks.Len(), Layout: "python"}
	if s.Legacy == nil {
		rec, err := db.ReadRecord(ctx, s.N)
		if err != nil {
			return Info{}, err
		}
		info.Commit, info.Time, info.Writer = s.N, s.Time, rec.Writer
		info.FormatVersion, info.Layout = max(s.Version, 1, s.CheckpointVersion), "s3vfs"
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

// Usage is the root's Usage, whose doc comment says what each field holds.
type Usage struct {
	Objects int64
	Bytes   int64
}

// Usage is the root's VFS.Usage, whose doc comment is the contract.
func (v *Ops) Usage(ctx context.Context, key string) (Usage, error) {
	if err := format.ValidateKey(key); err != nil {
		return Usage{}, err
	}
	var u Usage
	err := v.Env.Store.List(ctx, key+"/", func(o store.Object) error {
		u.Objects++
		u.Bytes += o.Size
		return nil
	})
	return u, err
}
