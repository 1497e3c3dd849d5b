package s3vfs

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/plan"
)

// innerPages is every inner page of a version, as a commit that writes a
// checkpoint gathers them (format.InnerFile): each page is filed under the
// name of the bytes of its block at the checkpoint (blockID), so that the
// next checkpoint takes over the pages of every block that still reads
// the same, and no other. Block 0 is never in it: the open reads it
// anyway. Readers hold an innerSet instead.
type innerPages struct {
	unit   int64
	blocks map[string]map[int64][]byte // blockID → page number → its bytes
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
func buildInner(key string, s *format.Snapshot, unit int64, prev *innerPages, pagesOf func(idx int64, id string) (map[int64][]byte, bool)) *innerPages {
	ip := &innerPages{unit: unit, blocks: map[string]map[int64][]byte{}}
	for idx := int64(1); idx < s.Blocks.Len(); idx++ {
		id, ok := s.BlockID(key, idx)
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
func innerBlocksToRead(key string, s, next *format.Snapshot, prev *innerPages, have func(idx int64, id string) bool) []int64 {
	if prev == nil {
		return nil
	}
	held := map[int64]bool{}
	for _, pages := range prev.blocks {
		for p := range pages {
			held[p*prev.unit/next.BlockSize] = true
			break
		}
	}
	var out []int64
	for idx := range held {
		if idx == 0 || idx >= next.Blocks.Len() || idx >= s.Blocks.Len() {
			continue
		}
		id, ok := next.BlockID(key, idx)
		if !ok {
			continue
		}
		if _, same := prev.blocks[id]; same || have(idx, id) {
			continue
		}
		if was, ok := s.BlockID(key, idx); ok && was == id {
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
	if len(block0) < 100 || !format.PlainHeader(block0) {
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
	logf   func(string, ...any)              // where a failure to encode them is logged
	block0 []byte                            // the new block 0: its header gives the page size
	bytes  func(idx int64, id string) []byte // the new bytes of block idx, named id; nil: not at hand
}

// withInner adds to plan p, which writes a checkpoint, the checkpoint's
// inner pages: built from prev, the inner pages of the snapshot p builds
// on, and the blocks src has at hand; uploaded after the checkpoint, in
// an object whose front fits frontRead bytes, and kept with the snapshot
// p makes as its readers hold them.
func withInner(key string, p plan.PagePlan, prev *innerPages, src innerSource, frontRead int64) plan.PagePlan {
	s := p.Next
	next := *s
	next.Inner = nil
	p.Next = &next
	unit, ok := innerUnit(s.BlockSize, src.block0)
	if !ok {
		return p
	}
	all := buildInner(key, s, unit, prev, func(idx int64, id string) (map[int64][]byte, bool) {
		data := src.bytes(idx, id)
		if data == nil {
			return nil, false
		}
		data = data[:min(int64(len(data)), format.BlockLen(idx, s.BlockSize, s.Size))]
		return interiorPagesOf(idx, s.BlockSize, unit, data), true
	})
	if all.count() == 0 {
		return p // a small database: every interior page is in block 0
	}
	up, set, err := innerUpload(key, s, all, frontRead)
	if err != nil {
		src.logf("s3vfs: %v; the checkpoint has none, and reads every page from its block", err)
		return p
	}
	next.Inner = set
	p.Uploads = append(slices.Clip(p.Uploads), up)
	return p
}

// file returns the object of ip as the inner pages of s's checkpoint.
func (ip *innerPages) file(s *format.Snapshot) *format.InnerFile {
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
	f := &format.InnerFile{N: s.Base.N, Token: s.Base.Token, BlockSize: s.BlockSize, FileSize: s.Size, Unit: ip.unit}
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
func innerOf(key string, f *format.InnerFile, c *format.Snapshot) *innerPages {
	ip := &innerPages{unit: f.Unit, blocks: map[string]map[int64][]byte{}}
	i := int64(0)
	for p := range f.Pages.All() {
		data := f.Data[i*f.Unit : (i+1)*f.Unit : (i+1)*f.Unit]
		i++
		idx := p * f.Unit / f.BlockSize
		id, ok := c.BlockID(key, idx)
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

// pendingInner is the read of a checkpoint's inner pages, started while
// the checkpoint itself is read.
type pendingInner struct {
	ref  format.CheckpointRef
	name string
	done chan struct{} // closed when head and err are set
	head []byte        // the object's first bytes (readInnerHead)
	err  error
}

// prefetchInner starts reading the inner pages of checkpoint ref of a
// map of lineage lin: the front of the object, from the disk cache if it
// holds it.
func (db *database) prefetchInner(ctx context.Context, lin format.Lineage, ref format.CheckpointRef) *pendingInner {
	pi := &pendingInner{ref: ref, name: format.InnerName(lin.KeyOf(db.key, ref.N), ref.N, ref.Token), done: make(chan struct{})}
	go func() {
		defer close(pi.done)
		pi.head, pi.err = db.readInnerHead(ctx, pi.name)
	}()
	return pi
}

// wait returns the inner pages read, as pages of the blocks of c, the
// checkpoint's own snapshot; nil if the checkpoint has none (written
// before inner pages were, or for a file whose pages straddle blocks).
// They are optional, every page being read from its block without them:
// ones that cannot be read or decoded (a store that keeps failing, an
// object changed outside s3vfs, a later format) are logged and done
// without, and fail nothing. Only ctx's end is an error.
func (pi *pendingInner) wait(ctx context.Context, key string, c *format.Snapshot, logf func(string, ...any)) (*format.InnerSet, error) {
	<-pi.done
	if errors.Is(pi.err, ErrNotFound) {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ip *format.InnerSet
	var f *format.InnerFile
	err := pi.err
	if err == nil {
		ip, f, err = format.InnerSetOf(pi.name, pi.head, c)
	}
	if err == nil {
		err = f.Matches(pi.ref, c.BlockSize, c.Blocks.Len())
	}
	if err != nil {
		logf("s3vfs: inner pages of checkpoint %d of %s: %v; reading the blocks instead", pi.ref.N, key, err)
		return nil, nil
	}
	return ip, nil
}
