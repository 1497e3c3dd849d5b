package format

import (
	"cmp"
	"slices"
)

// InnerPages is every inner page of a version, as a commit that writes a
// checkpoint gathers them (InnerFile): each page is filed under the
// name of the bytes of its block at the checkpoint (blockID), so that the
// next checkpoint takes over the pages of every block that still reads
// the same, and no other. Block 0 is never in it: the open reads it
// anyway. Readers hold an innerSet instead.
type InnerPages struct {
	Unit   int64
	Blocks map[string]map[int64][]byte // blockID → page number → its bytes
}

// Count returns how many pages ip holds.
func (ip *InnerPages) Count() int {
	n := 0
	for _, pages := range ip.Blocks {
		n += len(pages)
	}
	return n
}

// IsInterior reports whether page, not page 1, is an interior b-tree page:
// its first byte is the page type 2 (index) or 5 (table). A free page or
// an overflow page that starts with the same byte is kept too; that costs
// bytes, never correctness, since its bytes are what the file holds.
func IsInterior(page []byte) bool {
	return len(page) > 0 && (page[0] == 2 || page[0] == 5)
}

// InteriorPagesOf returns the interior pages, by page number, of block idx
// whose bytes are data, cut in pages of unit bytes (whole pages only).
// The pages are copies.
func InteriorPagesOf(idx, blockSize, unit int64, data []byte) map[int64][]byte {
	var out map[int64][]byte
	for off := int64(0); off+unit <= int64(len(data)); off += unit {
		if page := data[off : off+unit]; IsInterior(page) {
			if out == nil {
				out = map[int64][]byte{}
			}
			out[(idx*blockSize+off)/unit] = slices.Clone(page)
		}
	}
	return out
}

// BuildInner returns the inner pages of s, the version a checkpoint is
// being written for, with pages of unit bytes: for each block but block 0,
// the pages prev (the inner pages of s's predecessor's checkpoint) has for
// the same bytes, else the interior pages pagesOf finds (false: the
// block's bytes are not at hand; its pages are then left out, and read
// from the block when needed).
func BuildInner(key string, s *Snapshot, unit int64, prev *InnerPages, pagesOf func(idx int64, id string) (map[int64][]byte, bool)) *InnerPages {
	ip := &InnerPages{Unit: unit, Blocks: map[string]map[int64][]byte{}}
	for idx := int64(1); idx < s.Blocks.Len(); idx++ {
		id, ok := s.BlockID(key, idx)
		if !ok {
			continue
		}
		if prev != nil && prev.Unit == unit {
			if pages, ok := prev.Blocks[id]; ok {
				ip.Blocks[id] = pages
				continue
			}
		}
		if pages, ok := pagesOf(idx, id); ok && len(pages) > 0 {
			ip.Blocks[id] = pages
		}
	}
	return ip
}

// InnerUnit returns the page unit of inner pages for a database whose
// block 0 is block0, and false when it has none: an encrypted header, or
// pages that straddle blocks.
func InnerUnit(blockSize int64, block0 []byte) (int64, bool) {
	if len(block0) < 100 || !PlainHeader(block0) {
		return 0, false
	}
	ps := int64(block0[16])<<8 | int64(block0[17])
	if ps == 1 {
		ps = 65536
	}
	return ps, ValidUnit(ps, blockSize)
}

// File returns the object of ip as the inner pages of s's checkpoint.
func (ip *InnerPages) File(s *Snapshot) *InnerFile {
	type page struct {
		p    int64
		data []byte
	}
	var all []page
	for _, pages := range ip.Blocks {
		for p, data := range pages {
			all = append(all, page{p, data})
		}
	}
	slices.SortFunc(all, func(a, b page) int { return cmp.Compare(a.p, b.p) })
	f := &InnerFile{N: s.Base.N, Token: s.Base.Token, BlockSize: s.BlockSize, FileSize: s.Size, Unit: ip.Unit}
	f.Data = make([]byte, 0, int64(len(all))*ip.Unit)
	for _, pg := range all {
		f.Pages = f.Pages.Add(pg.p)
		f.Data = append(f.Data, pg.data...)
	}
	return f
}

// InnerOf returns the inner pages of object f in memory, filed under the
// blocks of c, the snapshot of f's checkpoint (its own map and overlays).
// Pages of block 0 or of a hole are dropped.
func InnerOf(key string, f *InnerFile, c *Snapshot) *InnerPages {
	ip := &InnerPages{Unit: f.Unit, Blocks: map[string]map[int64][]byte{}}
	i := int64(0)
	for p := range f.Pages.All() {
		data := f.Data[i*f.Unit : (i+1)*f.Unit : (i+1)*f.Unit]
		i++
		idx := p * f.Unit / f.BlockSize
		id, ok := c.BlockID(key, idx)
		if idx == 0 || !ok {
			continue
		}
		if ip.Blocks[id] == nil {
			ip.Blocks[id] = map[int64][]byte{}
		}
		ip.Blocks[id][p] = data
	}
	return ip
}
