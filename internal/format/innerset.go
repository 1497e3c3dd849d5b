package format

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// InnerSet is a checkpoint's inner pages as a reader holds them
// (docs/design.md, "Inner pages"): the pages that came with the open's
// read of the object (its front, and every bundle within that read; the
// whole of a version-1 object), and the other bundles, fetched when a
// lookup first reaches one of their pages and kept in the block cache,
// whose bound they share. A page is served only while its block reads as
// it did at the checkpoint.
type InnerSet struct {
	Name       string           // the object
	Checkpoint *Snapshot        // the checkpoint's own map and overlays, which name the blocks the pages are of
	Unit       int64            // the page size
	Pages      map[int64][]byte // the pages held: page → its bytes
	Front      *InnerFront      // the object's front; nil for a version-1 object, held whole

	// The reader's record of bundles that could not be read: Failed maps
	// a bundle's number to when (the reader's time.Time), and Gone says
	// the object itself is gone, so that no bundle is read any more.
	Failed sync.Map
	Gone   atomic.Bool
}

// InnerSetOf returns the inner pages of object name, whose first bytes
// are head (a whole version-1 object, or at least the front of a
// version-2 one), as pages of blocks of ckpt, the checkpoint's own
// snapshot.
func InnerSetOf(name string, head []byte, ckpt *Snapshot) (*InnerSet, *InnerFile, error) {
	if IsInner1(head) {
		f, err := DecodeInner(head)
		if err != nil {
			return nil, nil, err
		}
		ip := &InnerSet{Name: name, Checkpoint: ckpt, Unit: f.Unit, Pages: pagesOf(f.Pages, f.Unit, f.Data)}
		return ip, f, nil
	}
	front, err := DecodeInnerFront(head)
	if err != nil {
		return nil, nil, err
	}
	ip := &InnerSet{Name: name, Checkpoint: ckpt, Unit: front.Unit, Front: front, Pages: pagesOf(front.Pages, front.Unit, front.Data)}
	for k, bd := range front.Bundles {
		if end := bd.Offset + bd.Len(front.Unit); end <= int64(len(head)) {
			data, err := front.Bundle(k, head[bd.Offset:end])
			if err != nil {
				continue // read again when needed, and refused then
			}
			maps.Copy(ip.Pages, pagesOf(bd.Pages, front.Unit, data))
		}
	}
	return ip, &front.InnerFile, nil
}

// pagesOf returns the pages of l, whose bytes are data, unit bytes each.
func pagesOf(l PageList, unit int64, data []byte) map[int64][]byte {
	out := make(map[int64][]byte, l.Count())
	i := int64(0)
	for p := range l.All() {
		out[p] = data[i*unit : (i+1)*unit : (i+1)*unit]
		i++
	}
	return out
}

// Serves reports where page p of block idx of s is: held, in bundle k
// (k ≥ 0), or not served (false): not an inner page, or its block
// changed since the checkpoint.
func (ip *InnerSet) Serves(key string, s *Snapshot, idx, p int64) (data []byte, k int, ok bool) {
	if ip == nil || idx == 0 {
		return nil, -1, false
	}
	if !s.SameAs(key, ip.Checkpoint, idx) {
		return nil, -1, false
	}
	if data, ok := ip.Pages[p]; ok {
		return data, -1, true
	}
	if ip.Front == nil {
		return nil, -1, false
	}
	k, ok = ip.Front.BundleOf(p)
	if !ok || ip.Gone.Load() {
		return nil, -1, false
	}
	return nil, k, true
}

// Has reports whether the bytes at pos of block idx of s are an inner
// page it serves, held or in a bundle, without reading anything.
func (ip *InnerSet) Has(key string, s *Snapshot, idx, pos int64) bool {
	if ip == nil {
		return false
	}
	_, _, ok := ip.Serves(key, s, idx, pos/ip.Unit)
	return ok
}

// File returns the pages ip holds as an object's pages.
func (ip *InnerSet) File() *InnerFile {
	f := &InnerFile{N: ip.Checkpoint.Base.N, Token: ip.Checkpoint.Base.Token, BlockSize: ip.Checkpoint.BlockSize, FileSize: ip.Checkpoint.Size, Unit: ip.Unit}
	for _, p := range slices.Sorted(maps.Keys(ip.Pages)) {
		f.Pages = f.Pages.Add(p)
		f.Data = append(f.Data, ip.Pages[p]...)
	}
	return f
}
