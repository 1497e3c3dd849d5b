package s3vfs

import (
	"fmt"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/format"
)

// A block of a version-2 snapshot may read as its base object overlaid
// with newer pages taken from records (docs/format.md, "Entries, version
// 2"). This file holds what both the planner and the read path need to
// know about overlays: the base object's length and the merge, which is
// pure and checked.

// mergeBlock returns block idx, length bytes long, as entry e reads it:
// base (the object's bytes, nil for a hole) cut or padded with zeros, then
// the inline pages of recs (e's overlay records, in order) that fall in
// the block. It checks the base's length and the result's CRC32C.
func mergeBlock(key string, e format.Entry2, blockSize, length int64, base []byte, recs []*format.Record2) ([]byte, error) {
	corrupt := func(format string, args ...any) error {
		return vfs.SystemError(fmt.Errorf("s3vfs: block %d of %s: "+format, append([]any{e.Idx, key}, args...)...), sqlite3.IOERR_DATA)
	}
	if e.Ov == nil {
		return nil, corrupt("no overlay to merge")
	}
	if int64(len(base)) != e.Ov.BaseLen {
		return nil, corrupt("its object is %d bytes, not %d", len(base), e.Ov.BaseLen)
	}
	if len(recs) != len(e.Ov.Recs) {
		return nil, corrupt("%d overlay records, not %d", len(recs), len(e.Ov.Recs))
	}
	out := make([]byte, length)
	copy(out, base)
	start := e.Idx * blockSize
	for i, rec := range recs {
		if rec.N != e.Ov.Recs[i].N || rec.Token != e.Ov.Recs[i].Token {
			return nil, corrupt("overlay record %d is not the one the map names", e.Ov.Recs[i].N)
		}
		for p, page := range rec.Carried() {
			off := p*rec.Unit - start
			if off < 0 || off >= blockSize {
				continue
			}
			if off < length {
				copy(out[off:], page)
			}
		}
	}
	if format.Checksum(out) != e.Ov.CRC {
		return nil, corrupt("the merge of its object and %d overlay records does not match the CRC32C the map gives", len(recs))
	}
	return out, nil
}
