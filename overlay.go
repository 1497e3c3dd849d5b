package s3vfs

import (
	"fmt"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
)

// A block of a version-2 snapshot may read as its base object overlaid
// with newer pages taken from records (docs/format.md, "Entries, version
// 2"). This file holds what both the planner and the read path need to
// know about overlays: the base object's length and the merge, which is
// pure and checked.

// baseLength returns the length of the object behind block idx of s: the
// overlay's base length, else the block's own length (a hole: 0).
func (s *snapshot) baseLength(idx int64) int64 {
	if ov := s.overlays[idx]; ov != nil {
		return ov.baseLen
	}
	if s.blocks.get(idx).isHole() {
		return 0
	}
	return blockLen(idx, s.blockSize, s.size)
}

// entry returns the version-2 entry of block idx of s.
func (s *snapshot) entry(idx int64) entry2 {
	return entry2{idx: idx, ref: s.blocks.get(idx), ov: s.overlays[idx]}
}

// overlayBytes returns how many bytes of records a cold read of block idx
// of s downloads besides the block object.
func (s *snapshot) overlayBytes(idx int64) int64 {
	var total int64
	if ov := s.overlays[idx]; ov != nil {
		for _, r := range ov.recs {
			total += r.size
		}
	}
	return total
}

// mergeBlock returns block idx, length bytes long, as entry e reads it:
// base (the object's bytes, nil for a hole) cut or padded with zeros, then
// the inline pages of recs (e's overlay records, in order) that fall in
// the block. It checks the base's length and the result's CRC32C.
func mergeBlock(key string, e entry2, blockSize, length int64, base []byte, recs []*record2) ([]byte, error) {
	corrupt := func(format string, args ...any) error {
		return vfs.SystemError(fmt.Errorf("s3vfs: block %d of %s: "+format, append([]any{e.idx, key}, args...)...), sqlite3.IOERR_DATA)
	}
	if e.ov == nil {
		return nil, corrupt("no overlay to merge")
	}
	if int64(len(base)) != e.ov.baseLen {
		return nil, corrupt("its object is %d bytes, not %d", len(base), e.ov.baseLen)
	}
	if len(recs) != len(e.ov.recs) {
		return nil, corrupt("%d overlay records, not %d", len(recs), len(e.ov.recs))
	}
	out := make([]byte, length)
	copy(out, base)
	start := e.idx * blockSize
	for i, rec := range recs {
		if rec.n != e.ov.recs[i].n || rec.token != e.ov.recs[i].token {
			return nil, corrupt("overlay record %d is not the one the map names", e.ov.recs[i].n)
		}
		for p, page := range rec.carried() {
			off := p*rec.unit - start
			if off < 0 || off >= blockSize {
				continue
			}
			if off < length {
				copy(out[off:], page)
			}
		}
	}
	if checksum(out) != e.ov.crc {
		return nil, corrupt("the merge of its object and %d overlay records does not match the CRC32C the map gives", len(recs))
	}
	return out, nil
}
