package versions

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
)

// The three-way comparison of a merge (merge.go): the pages the branch
// and the head each changed since the branch point, those of them that
// conflict, and the merged bytes of a block.

// diff returns the pages of s, a version of db, that differ from the
// base: pages whose bytes differ (page 1 without the bytes readers
// serve), pages past either file's end, and pages of a block whose entry
// is the same in both read as equal without a request.
func (m *pageMerge) diff(ctx context.Context, db *database, s *format.Snapshot) (format.PageList, error) {
	b := m.base
	if m.unit == 0 {
		block0, err := m.into.ReadBlock(ctx, b, 0)
		if err != nil {
			return nil, err
		}
		if m.unit, err = mergeUnit(b.BlockSize, block0); err != nil {
			return nil, err
		}
	}
	if s.BlockSize != b.BlockSize {
		return nil, fmt.Errorf("the block size changed from %d to %d", b.BlockSize, s.BlockSize)
	}
	nb := max(format.NBlocks(b.Size, b.BlockSize), format.NBlocks(s.Size, s.BlockSize))
	var mu sync.Mutex
	var out []int64 // guarded by mu; in the order the blocks finish
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(db.Env.Cfg.Concurrency)
	for idx := range nb {
		if sameEntry(b, s, idx) {
			continue
		}
		g.Go(func() error {
			was, err := blockIfAny(gctx, m.into, b, idx)
			if err != nil {
				return err
			}
			now, err := blockIfAny(gctx, db, s, idx)
			if err != nil {
				return err
			}
			pages := differingPages(idx, b.BlockSize, m.unit, was, now)
			mu.Lock()
			defer mu.Unlock()
			out = append(out, pages...)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return format.PageListOf(out), nil
}

// blockIfAny returns block idx of s, a version of db; nil past its end.
func blockIfAny(ctx context.Context, db *database, s *format.Snapshot, idx int64) ([]byte, error) {
	if idx >= format.NBlocks(s.Size, s.BlockSize) {
		return nil, nil
	}
	return db.ReadBlock(ctx, s, idx)
}

// sameEntry reports whether block idx reads the same in a and b because
// both name the same objects: the same base object and overlay records,
// to the same length.
func sameEntry(a, b *format.Snapshot, idx int64) bool {
	if format.BlockLen(idx, a.BlockSize, a.Size) != format.BlockLen(idx, b.BlockSize, b.Size) {
		return false
	}
	ea, eb := a.Entry(idx), b.Entry(idx)
	if ea.Ref != eb.Ref || (ea.Ov == nil) != (eb.Ov == nil) {
		return false
	}
	if ea.Ov == nil {
		return true
	}
	return ea.Ov.CRC == eb.Ov.CRC && ea.Ov.BaseLen == eb.Ov.BaseLen &&
		slices.EqualFunc(ea.Ov.Recs, eb.Ov.Recs, func(x, y format.OverlayRef) bool { return x.N == y.N && x.Token == y.Token })
}

// differingPages returns the pages of unit u of block idx (in blocks of
// blockSize) whose bytes differ between was and now, each the block's
// bytes in one version (a page past a version's end differs from any
// page within the other's). Page 0's bytes 24–27 and 92–95, which
// readers serve (docs/format.md, "Blocks"), are not compared.
func differingPages(idx, blockSize, u int64, was, now []byte) []int64 {
	var out []int64
	first := idx * blockSize / u
	for p := first; p < first+blockSize/u; p++ {
		off := (p - first) * u
		a, b := pageOf(was, off, u), pageOf(now, off, u)
		if a == nil && b == nil {
			break
		}
		if !sameVersionOf(p, a, b) {
			out = append(out, p)
		}
	}
	return out
}

// pageOf returns the bytes of the page at off in block, nil past its end.
func pageOf(block []byte, off, u int64) []byte {
	if off >= int64(len(block)) {
		return nil
	}
	return block[off:min(off+u, int64(len(block)))]
}

// sameVersionOf reports whether page p reads the same as a and as b
// (nil: past the file's end), the served header fields aside.
func sameVersionOf(p int64, a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return len(a) == len(b) && plan.SamePage(p == 0, a, b)
}

// conflicts returns the pages both ours (head's changes since the base)
// and the branch's changes hold, whose bytes differ between head and the
// branch.
func (m *pageMerge) conflicts(ctx context.Context, head *format.Snapshot, ours format.PageList) ([]int64, error) {
	var both []int64
	for p := range m.changed.All() {
		if ours.Contains(p) {
			both = append(both, p)
		}
	}
	var out []int64
	for _, p := range both {
		idx := p * m.unit / head.BlockSize
		mine, err := blockIfAny(ctx, m.into, head, idx)
		if err != nil {
			return nil, err
		}
		theirs, err := blockIfAny(ctx, m.branch, m.theirs, idx)
		if err != nil {
			return nil, err
		}
		off := (p - idx*head.BlockSize/m.unit) * m.unit
		if !sameVersionOf(p, pageOf(mine, off, m.unit), pageOf(theirs, off, m.unit)) {
			out = append(out, p)
		}
	}
	return out, nil
}

// mergedBlock returns block idx of the merged file, length bytes long.
func (m *pageMerge) mergedBlock(ctx context.Context, head *format.Snapshot, idx, length int64) ([]byte, error) {
	bs := head.BlockSize
	out := make([]byte, length)
	mine, err := blockIfAny(ctx, m.into, head, idx)
	if err != nil {
		return nil, err
	}
	copy(out, mine)
	var theirs []byte
	first := idx * bs / m.unit
	for p := first; p < first+bs/m.unit; p++ {
		if !m.changed.Contains(p) {
			continue
		}
		if theirs == nil {
			var err error
			if theirs, err = blockIfAny(ctx, m.branch, m.theirs, idx); err != nil {
				return nil, err
			}
		}
		off := (p - first) * m.unit
		if off < length {
			copy(out[off:min(off+m.unit, length)], pageOf(theirs, off, m.unit))
		}
	}
	return out, nil
}

// conflictError is the error of a merge over head refused for the pages
// conflicts (0-based pages of the merge's unit), naming the tables and
// indexes they belong to where the schema tells.
func (m *pageMerge) conflictError(ctx context.Context, head *format.Snapshot, conflicts []int64) error {
	what := ""
	if m.unit <= 65536 { // a SQLite page size: the unit is the page (mergeUnit)
		pages := make([]uint32, len(conflicts))
		for i, p := range conflicts {
			pages[i] = uint32(p + 1)
		}
		if owners := m.into.pageOwners(ctx, head, pages, int(m.unit)); owners != "" {
			what = ": " + owners
		}
	}
	pages := "pages"
	if len(conflicts) == 1 {
		pages = "page"
	}
	return fmt.Errorf("%w: %d %s changed both on the branch and in %s since the branch was made (commit %d)%s; nothing was published",
		ErrMergeConflict, len(conflicts), pages, m.into.Key, m.base.N, what)
}

// mergeUnit returns the unit a merge compares and takes pages in, for a
// database in blocks of blockSize whose block 0 is block0: the SQLite page
// size, or for an encrypted database (whose header gives no page size)
// the block, which then must hold whole pages of any size. A unit that
// would cut SQLite pages could mix two versions of one page: refused.
func mergeUnit(blockSize int64, block0 []byte) (int64, error) {
	if len(block0) >= 100 && format.PlainHeader(block0) {
		if u := plan.PageUnit(blockSize, block0); u != blockSize || innerPageSize(block0) == blockSize {
			return u, nil
		}
		return 0, fmt.Errorf("the page size (%d) does not divide the block size (%d), so blocks do not hold whole pages: "+
			"a merge takes whole pages; copy the branch's changes with SQL instead", innerPageSize(block0), blockSize)
	}
	if blockSize < 65536 || blockSize&(blockSize-1) != 0 {
		return 0, fmt.Errorf("the database is encrypted and its block size (%d) is not a multiple of every page size: "+
			"a merge takes whole pages; copy the branch's changes with SQL instead", blockSize)
	}
	return blockSize, nil
}

// innerPageSize returns the page size a plain header gives.
func innerPageSize(block0 []byte) int64 {
	ps := int64(block0[16])<<8 | int64(block0[17])
	if ps == 1 {
		return 65536
	}
	return ps
}
