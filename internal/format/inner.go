package format

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

// InnerFile is the decoded object: the pages, each Unit bytes, of the
// version of checkpoint (N, Token).
type InnerFile struct {
	N, Token            uint64   // the checkpoint's commit and attempt token
	BlockSize, FileSize int64    // its block size, and the database's size at commit N
	Unit                int64    // the length of every page
	Pages               PageList // the pages kept
	Data                []byte   // the pages' bytes in page order, Unit bytes each
}

// InnerName is the object name of the inner pages of checkpoint (n,
// token).
func InnerName(key string, n, token uint64) string {
	return CheckpointName(key, n, token) + InnerSuffix
}

// InnerSuffix ends the name of a checkpoint's inner pages.
const InnerSuffix = ".inner"

// Encode returns the object's bytes.
func (f *InnerFile) Encode() []byte {
	b := appendCheckpointHead([]byte(innerMagic), f.N, f.Token, f.BlockSize, f.FileSize)
	b = binary.AppendUvarint(b, uint64(f.Unit))
	b = appendPageList(b, f.Pages)
	b = append(b, f.Data...)
	return binary.LittleEndian.AppendUint32(b, Checksum(b))
}

// DecodeInner decodes the inner pages object b.
func DecodeInner(b []byte) (*InnerFile, error) {
	d := open(b, innerMagic)
	f := &InnerFile{}
	f.N, f.Token, f.BlockSize, f.FileSize = d.checkpointHead()
	f.Unit = int64(d.uvarint("page unit"))
	if d.err == nil && !ValidUnit(f.Unit, f.BlockSize) {
		d.fail("page unit")
	}
	if d.err == nil {
		f.Pages = d.pageList(f.FileSize/f.Unit, "page list")
	}
	if d.err == nil && (uint64(len(d.b))/uint64(f.Unit) < uint64(f.Pages.Count()) ||
		int64(len(d.b)) != f.Pages.Count()*f.Unit) {
		d.fail("page bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	f.Data = d.b
	return f, nil
}

// Matches reports, as an error, whether f belongs to checkpoint ref, whose
// map has blocks blocks of bs bytes.
func (f *InnerFile) Matches(ref CheckpointRef, bs, blocks int64) error {
	if f.N != ref.N || f.Token != ref.Token || f.BlockSize != bs || NBlocks(f.FileSize, bs) != blocks {
		return fmt.Errorf("%w: the inner pages name another checkpoint", ErrCorrupt)
	}
	return nil
}
