package format

import "fmt"

// MergeBlock returns block idx, length bytes long, as entry e reads it:
// base (the object's bytes, nil for a hole) cut or padded with zeros, then
// the inline pages of recs (e's overlay records, in order) that fall in
// the block. It checks the base's length and the result's CRC32C, and names what
// disagrees in its error.
func MergeBlock(key string, e Entry, blockSize, length int64, base []byte, recs []*Record) ([]byte, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("s3vfs: block %d of %s: "+format, append([]any{e.Idx, key}, args...)...)
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
	if Checksum(out) != e.Ov.CRC {
		return nil, corrupt("the merge of its object and %d overlay records does not match the CRC32C the map gives", len(recs))
	}
	return out, nil
}
