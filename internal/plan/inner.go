package plan

import (
	"fmt"
	"slices"
	"sort"

	"github.com/s3vfs/s3vfs/internal/btree"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// InnerBlocksToRead returns the blocks whose interior pages a checkpoint
// of next would lose: blocks that held inner pages at prev's checkpoint,
// whose bytes changed since (prev's pages no longer serve them), that
// have does not hold, and that read the same in s, the snapshot the commit
// builds on, from which they can be read.
func InnerBlocksToRead(key string, s, next *format.Snapshot, prev *format.InnerPages, have func(idx int64, id string) bool) []int64 {
	if prev == nil {
		return nil
	}
	held := map[int64]bool{}
	for _, pages := range prev.Blocks {
		for p := range pages {
			held[p*prev.Unit/next.BlockSize] = true
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
		if _, same := prev.Blocks[id]; same || have(idx, id) {
			continue
		}
		if was, ok := s.BlockID(key, idx); ok && was == id {
			out = append(out, idx)
		}
	}
	slices.Sort(out)
	return out
}

// InnerSource is where a commit that writes a checkpoint finds the bytes
// of its inner pages besides the previous checkpoint's.
type InnerSource struct {
	Logf   func(string, ...any)              // where a failure to encode them is logged
	Block0 []byte                            // the new block 0: its header gives the page size
	Bytes  func(idx int64, id string) []byte // the new bytes of block idx, named id; nil: not at hand
}

// WithInner adds to plan p, which writes a checkpoint, the checkpoint's
// inner pages: built from prev, the inner pages of the snapshot p builds
// on, and the blocks src has at hand; uploaded after the checkpoint, in
// an object whose front fits frontRead bytes, and kept with the snapshot
// p makes as its readers hold them.
func WithInner(key string, p PagePlan, prev *format.InnerPages, src InnerSource, frontRead int64) PagePlan {
	s := p.Next
	next := *s
	next.Inner = nil
	p.Next = &next
	unit, ok := format.InnerUnit(s.BlockSize, src.Block0)
	if !ok {
		return p
	}
	all := format.BuildInner(key, s, unit, prev, func(idx int64, id string) (map[int64][]byte, bool) {
		data := src.Bytes(idx, id)
		if data == nil {
			return nil, false
		}
		data = data[:min(int64(len(data)), format.BlockLen(idx, s.BlockSize, s.Size))]
		return format.InteriorPagesOf(idx, s.BlockSize, unit, data), true
	})
	if all.Count() == 0 {
		return p // a small database: every interior page is in block 0
	}
	up, set, err := InnerUpload(key, s, all, frontRead)
	if err != nil {
		src.Logf("s3vfs: %v; the checkpoint has none, and reads every page from its block", err)
		return p
	}
	next.Inner = set
	p.Uploads = append(slices.Clip(p.Uploads), up)
	return p
}

// InnerUpload returns the upload of ip, the inner pages of s, the version
// a checkpoint is written for, as an object of format version 2 whose
// front fits frontRead bytes, and the pages as s's readers hold them.
func InnerUpload(key string, s *format.Snapshot, ip *format.InnerPages, frontRead int64) (tx.Upload, *format.InnerSet, error) {
	f := ip.File(s)
	front, bundles := InnerLayout(f, frontRead)
	data, err := format.EncodeInnerBundled(f, front, bundles)
	if err != nil {
		return tx.Upload{}, nil, err
	}
	name := format.InnerName(key, s.Base.N, s.Base.Token)
	// What a reader holds: the first frontRead bytes, or the whole front
	// when it is longer; copied, so that the upload's bytes are not kept.
	n, _ := format.InnerFrontLen(data)
	head := slices.Clone(data[:max(n, min(int64(len(data)), frontRead))])
	set, _, err := format.InnerSetOf(name, head, format.CheckpointView(s))
	if err != nil {
		return tx.Upload{}, nil, fmt.Errorf("s3vfs: inner pages of checkpoint %d: %w", s.Base.N, err)
	}
	return tx.Upload{Name: name, Data: data}, set, nil
}

// InnerLayout splits the pages of f between the front of its object,
// which a cold open reads, and bundles read on demand: the front takes
// the top levels of the b-trees (btree.TopDown), as many as keep it
// within frontRead bytes, page lists included; the bundles take the other
// pages, in page order, about format.InnerBundleBytes each. When even the
// page lists exceed frontRead, the front holds them alone, and readers
// read it in two parts.
func InnerLayout(f *format.InnerFile, frontRead int64) (front format.PageList, bundles []format.PageList) {
	if f.FrontLen(f.Pages, nil) <= frontRead {
		return f.Pages, nil
	}
	byNumber := make(map[uint32][]byte, f.Pages.Count())
	i := int64(0)
	for p := range f.Pages.All() {
		byNumber[uint32(p+1)] = f.Data[i*f.Unit : (i+1)*f.Unit]
		i++
	}
	order := btree.TopDown(byNumber, int(f.Unit))
	// The most top pages that fit: the front grows with each page taken
	// (its bytes, more than the page lists it shortens), so the fit is
	// found by bisection.
	fits := func(k int) bool {
		front, bundles := splitInner(f, order[:k])
		return f.FrontLen(front, bundles) <= frontRead
	}
	k := sort.Search(len(order)+1, func(k int) bool { return !fits(k) }) - 1
	return splitInner(f, order[:max(k, 0)])
}

// splitInner returns the layout of f whose front holds the pages of top
// (SQLite's page numbers, from 1) and whose bundles hold the others.
func splitInner(f *format.InnerFile, top []uint32) (front format.PageList, bundles []format.PageList) {
	inFront := make(map[int64]bool, len(top))
	for _, n := range top {
		inFront[int64(n)-1] = true
	}
	perBundle := max(1, format.InnerBundleBytes/f.Unit)
	var bundle format.PageList
	for p := range f.Pages.All() {
		switch {
		case inFront[p]:
			front = front.Add(p)
			continue
		case bundle.Count() == perBundle:
			bundles = append(bundles, bundle)
			bundle = nil
		}
		bundle = bundle.Add(p)
	}
	if len(bundle) > 0 {
		bundles = append(bundles, bundle)
	}
	return front, bundles
}
