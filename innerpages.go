package s3vfs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// innerPages is a checkpoint's inner pages in memory (format.InnerFile),
// kept with every snapshot built on that checkpoint. A page is filed
// under the name of the bytes of its block at the checkpoint (blockID), so
// it is served only while the block reads the same: a later commit that
// changes the block gives it another name, and its pages are read from the
// block again. Block 0 is never in it: the open reads it anyway.
type innerPages struct {
	unit   int64
	blocks map[string]map[int64][]byte // blockID → page number → its bytes
}

// pageAt returns the bytes of the inner page that holds file offset pos of
// block idx of s, and the offset where that page starts.
func (ip *innerPages) pageAt(key string, s *snapshot, idx, pos int64) ([]byte, int64, bool) {
	if ip == nil || idx == 0 {
		return nil, 0, false
	}
	id, ok := s.blockID(key, idx)
	if !ok {
		return nil, 0, false
	}
	p := pos / ip.unit
	data, ok := ip.blocks[id][p]
	return data, p * ip.unit, ok
}

// count returns how many pages ip holds.
func (ip *innerPages) count() int {
	n := 0
	for _, pages := range ip.blocks {
		n += len(pages)
	}
	return n
}

// isInterior reports whether page, not page 1, is an interior b-tree page:
// its first byte is the page type 2 (index) or 5 (table). A free page or
// an overflow page that starts with the same byte is kept too; that costs
// bytes, never correctness, since its bytes are what the file holds.
func isInterior(page []byte) bool {
	return len(page) > 0 && (page[0] == 2 || page[0] == 5)
}

// interiorPagesOf returns the interior pages, by page number, of block idx
// whose bytes are data, cut in pages of unit bytes (whole pages only).
// The pages are copies.
func interiorPagesOf(idx, blockSize, unit int64, data []byte) map[int64][]byte {
	var out map[int64][]byte
	for off := int64(0); off+unit <= int64(len(data)); off += unit {
		if page := data[off : off+unit]; isInterior(page) {
			if out == nil {
				out = map[int64][]byte{}
			}
			out[(idx*blockSize+off)/unit] = slices.Clone(page)
		}
	}
	return out
}

// buildInner returns the inner pages of s, the version a checkpoint is
// being written for, with pages of unit bytes: for each block but block 0,
// the pages prev (the inner pages of s's predecessor's checkpoint) has for
// the same bytes, else the interior pages pagesOf finds (false: the
// block's bytes are not at hand; its pages are then left out, and read
// from the block when needed).
func buildInner(key string, s *snapshot, unit int64, prev *innerPages, pagesOf func(idx int64, id string) (map[int64][]byte, bool)) *innerPages {
	ip := &innerPages{unit: unit, blocks: map[string]map[int64][]byte{}}
	for idx := int64(1); idx < s.blocks.Len(); idx++ {
		id, ok := s.blockID(key, idx)
		if !ok {
			continue
		}
		if prev != nil && prev.unit == unit {
			if pages, ok := prev.blocks[id]; ok {
				ip.blocks[id] = pages
				continue
			}
		}
		if pages, ok := pagesOf(idx, id); ok && len(pages) > 0 {
			ip.blocks[id] = pages
		}
	}
	return ip
}

// innerBlocksToRead returns the blocks whose interior pages a checkpoint
// of next would lose: blocks that held inner pages at prev's checkpoint,
// whose bytes changed since (prev's pages no longer serve them), that
// have does not hold, and that read the same in s, the snapshot the commit
// builds on, from which they can be read.
func innerBlocksToRead(key string, s, next *snapshot, prev *innerPages, have func(idx int64, id string) bool) []int64 {
	if prev == nil {
		return nil
	}
	held := map[int64]bool{}
	for _, pages := range prev.blocks {
		for p := range pages {
			held[p*prev.unit/next.blockSize] = true
			break
		}
	}
	var out []int64
	for idx := range held {
		if idx == 0 || idx >= next.blocks.Len() || idx >= s.blocks.Len() {
			continue
		}
		id, ok := next.blockID(key, idx)
		if !ok {
			continue
		}
		if _, same := prev.blocks[id]; same || have(idx, id) {
			continue
		}
		if was, ok := s.blockID(key, idx); ok && was == id {
			out = append(out, idx)
		}
	}
	slices.Sort(out)
	return out
}

// innerUnit returns the page unit of inner pages for a database whose
// block 0 is block0, and false when it has none: an encrypted header, or
// pages that straddle blocks.
func innerUnit(blockSize int64, block0 []byte) (int64, bool) {
	if len(block0) < 100 || !plainHeader(block0) {
		return 0, false
	}
	ps := int64(block0[16])<<8 | int64(block0[17])
	if ps == 1 {
		ps = 65536
	}
	return ps, format.ValidUnit(ps, blockSize)
}

// innerSource is where a commit that writes a checkpoint finds the bytes
// of its inner pages besides the previous checkpoint's.
type innerSource struct {
	block0 []byte                            // the new block 0: its header gives the page size
	bytes  func(idx int64, id string) []byte // the new bytes of block idx, named id; nil: not at hand
}

// withInner adds to plan p, which writes a checkpoint, the checkpoint's
// inner pages: built from prev, the inner pages of the snapshot p builds
// on, and the blocks src has at hand; uploaded after the checkpoint, and
// kept with the snapshot p makes.
func withInner(key string, p commitPlan2, prev *innerPages, src innerSource) commitPlan2 {
	s := p.next
	next := *s
	next.inner = nil
	p.next = &next
	unit, ok := innerUnit(s.blockSize, src.block0)
	if !ok {
		return p
	}
	next.inner = buildInner(key, s, unit, prev, func(idx int64, id string) (map[int64][]byte, bool) {
		data := src.bytes(idx, id)
		if data == nil {
			return nil, false
		}
		data = data[:min(int64(len(data)), format.BlockLen(idx, s.blockSize, s.size))]
		return interiorPagesOf(idx, s.blockSize, unit, data), true
	})
	if next.inner.count() == 0 {
		return p // a small database: every interior page is in block 0
	}
	p.uploads = append(slices.Clip(p.uploads), tx.Upload{Name: format.InnerName(key, s.base.N, s.base.Token), Data: next.inner.file(s).Encode()})
	return p
}

// file returns the object of ip as the inner pages of s's checkpoint.
func (ip *innerPages) file(s *snapshot) *format.InnerFile {
	type page struct {
		p    int64
		data []byte
	}
	var all []page
	for _, pages := range ip.blocks {
		for p, data := range pages {
			all = append(all, page{p, data})
		}
	}
	slices.SortFunc(all, func(a, b page) int { return cmp.Compare(a.p, b.p) })
	f := &format.InnerFile{N: s.base.N, Token: s.base.Token, BlockSize: s.blockSize, FileSize: s.size, Unit: ip.unit}
	f.Data = make([]byte, 0, int64(len(all))*ip.unit)
	for _, pg := range all {
		f.Pages = f.Pages.Add(pg.p)
		f.Data = append(f.Data, pg.data...)
	}
	return f
}

// innerOf returns the inner pages of object f in memory, filed under the
// blocks of c, the snapshot of f's checkpoint (its own map and overlays).
// Pages of block 0 or of a hole are dropped.
func innerOf(key string, f *format.InnerFile, c *snapshot) *innerPages {
	ip := &innerPages{unit: f.Unit, blocks: map[string]map[int64][]byte{}}
	i := int64(0)
	for p := range f.Pages.All() {
		data := f.Data[i*f.Unit : (i+1)*f.Unit : (i+1)*f.Unit]
		i++
		idx := p * f.Unit / f.BlockSize
		id, ok := c.blockID(key, idx)
		if idx == 0 || !ok {
			continue
		}
		if ip.blocks[id] == nil {
			ip.blocks[id] = map[int64][]byte{}
		}
		ip.blocks[id][p] = data
	}
	return ip
}

// pendingInner is the fetch of a checkpoint's inner pages, started while
// the checkpoint itself is read.
type pendingInner struct {
	ref  format.CheckpointRef
	done chan struct{} // closed when f and err are set
	f    *format.InnerFile
	err  error
}

// prefetchInner starts fetching the inner pages of checkpoint ref of a
// map of lineage lin, from the disk cache if it holds them
// (readImmutable).
func (db *database) prefetchInner(ctx context.Context, lin format.Lineage, ref format.CheckpointRef) *pendingInner {
	pi := &pendingInner{ref: ref, done: make(chan struct{})}
	go func() {
		defer close(pi.done)
		pi.f, pi.err = readImmutable(ctx, db, format.InnerName(lin.KeyOf(db.key, ref.N), ref.N, ref.Token), func(data []byte) (*format.InnerFile, error) {
			f, err := format.DecodeInner(data)
			if err == nil && (f.N != ref.N || f.Token != ref.Token) {
				err = fmt.Errorf("%w: the inner pages name another checkpoint", format.ErrCorrupt)
			}
			return f, err
		})
	}()
	return pi
}

// wait returns the inner pages fetched, filed under the blocks of c, the
// checkpoint's own snapshot; nil if the checkpoint has none (written
// before inner pages were, or for a file whose pages straddle blocks).
// They are optional, every page being read from its block without them:
// one that cannot be read or decoded (a store that keeps failing, an
// object changed outside s3vfs, a later format) is logged and done
// without, and fails nothing. Only ctx's end is an error.
func (pi *pendingInner) wait(ctx context.Context, key string, c *snapshot, logf func(string, ...any)) (*innerPages, error) {
	<-pi.done
	if errors.Is(pi.err, ErrNotFound) {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	err := pi.err
	if err == nil {
		err = pi.f.Matches(pi.ref, c.blockSize, c.blocks.Len())
	}
	if err != nil {
		logf("s3vfs: inner pages of checkpoint %d of %s: %v; reading the blocks instead", pi.ref.N, key, err)
		return nil, nil
	}
	return innerOf(key, pi.f, c), nil
}
