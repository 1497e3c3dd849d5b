package s3vfs

import (
	"encoding/binary"
	"fmt"
)

// The inner pages of a checkpoint (docs/format.md, "Inner pages") are one
// object beside it, K/_checkpoints/{N:19}.{token:16 hex}.inner: the
// interior b-tree pages of the database at commit N, so that a cold
// reader has the upper levels of every b-tree with the checkpoint and
// reads one block per lookup, the leaf's.

const innerMagic = "s3vfsI1\n"

// innerFile is the decoded object: the pages, each unit bytes, of the
// version of checkpoint (n, token).
type innerFile struct {
	n, token            uint64
	blockSize, fileSize int64
	unit                int64
	pages               pageList
	data                []byte // the pages' bytes in page order, unit bytes each
}

// innerName is the object name of the inner pages of checkpoint (n, token).
func innerName(key string, n, token uint64) string {
	return checkpointName(key, n, token) + innerSuffix
}

// innerSuffix ends the name of a checkpoint's inner pages.
const innerSuffix = ".inner"

// encode returns the object's bytes.
func (f *innerFile) encode() []byte {
	b := []byte(innerMagic)
	b = binary.AppendUvarint(b, f.n)
	b = binary.AppendUvarint(b, f.token)
	b = binary.AppendUvarint(b, uint64(f.blockSize))
	b = binary.AppendUvarint(b, uint64(f.fileSize))
	b = binary.AppendUvarint(b, uint64(f.unit))
	b = appendPageList(b, f.pages)
	b = append(b, f.data...)
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

// decodeInner decodes the inner pages object b.
func decodeInner(b []byte) (*innerFile, error) {
	d := open(b, innerMagic)
	f := &innerFile{}
	f.n, f.token, f.blockSize, f.fileSize = d.checkpointHead()
	f.unit = int64(d.uvarint("page unit"))
	if d.err == nil && !validUnit(f.unit, f.blockSize) {
		d.fail("page unit")
	}
	if d.err == nil {
		f.pages = d.pageList(f.fileSize/f.unit, "page list")
	}
	if d.err == nil && (uint64(len(d.b))/uint64(f.unit) < uint64(f.pages.count()) ||
		int64(len(d.b)) != f.pages.count()*f.unit) {
		d.fail("page bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	f.data = d.b
	return f, nil
}

// matches reports, as an error, whether f belongs to checkpoint ref, whose
// map has blocks blocks of bs bytes.
func (f *innerFile) matches(ref ckptRef, bs, blocks int64) error {
	if f.n != ref.n || f.token != ref.token || f.blockSize != bs || nblocks(f.fileSize, bs) != blocks {
		return fmt.Errorf("%w: the inner pages name another checkpoint", errCorrupt)
	}
	return nil
}
