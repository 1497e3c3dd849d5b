package s3vfs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/s3vfs/s3vfs/internal/btree"
	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/tx"
)

// innerSet is a checkpoint's inner pages as a reader holds them
// (docs/design.md, "Inner pages"): the pages that came with the open's
// read of the object (its front, and every bundle within that read; the
// whole of a version-1 object), and the other bundles, fetched when a
// lookup first reaches one of their pages and kept in the block cache,
// whose bound they share. A page is served only while its block reads as
// it did at the checkpoint.
type innerSet struct {
	name  string             // the object
	ckpt  *snapshot          // the checkpoint's own map and overlays, which name the blocks the pages are of
	unit  int64              // the page size
	pages map[int64][]byte   // the pages held: page → its bytes
	front *format.InnerFront // the object's front; nil for a version-1 object, held whole

	failed sync.Map // bundles that could not be read (int → true): read from their blocks instead
}

// innerSetOf returns the inner pages of object name, whose first bytes
// are head (a whole version-1 object, or at least the front of a
// version-2 one), as pages of blocks of ckpt, the checkpoint's own
// snapshot.
func innerSetOf(name string, head []byte, ckpt *snapshot) (*innerSet, *format.InnerFile, error) {
	if format.IsInner1(head) {
		f, err := format.DecodeInner(head)
		if err != nil {
			return nil, nil, err
		}
		ip := &innerSet{name: name, ckpt: ckpt, unit: f.Unit, pages: pagesOf(f.Pages, f.Unit, f.Data)}
		return ip, f, nil
	}
	front, err := format.DecodeInnerFront(head)
	if err != nil {
		return nil, nil, err
	}
	ip := &innerSet{name: name, ckpt: ckpt, unit: front.Unit, front: front, pages: pagesOf(front.Pages, front.Unit, front.Data)}
	for k, bd := range front.Bundles {
		if end := bd.Offset + bd.Len(front.Unit); end <= int64(len(head)) {
			data, err := front.Bundle(k, head[bd.Offset:end])
			if err != nil {
				return nil, nil, err
			}
			maps.Copy(ip.pages, pagesOf(bd.Pages, front.Unit, data))
		}
	}
	return ip, &front.InnerFile, nil
}

// pagesOf returns the pages of l, whose bytes are data, unit bytes each.
func pagesOf(l format.PageList, unit int64, data []byte) map[int64][]byte {
	out := make(map[int64][]byte, l.Count())
	i := int64(0)
	for p := range l.All() {
		out[p] = data[i*unit : (i+1)*unit : (i+1)*unit]
		i++
	}
	return out
}

// serves reports where page p of block idx of s is: held, in bundle k
// (k ≥ 0), or not served (false): not an inner page, or its block
// changed since the checkpoint.
func (ip *innerSet) serves(key string, s *snapshot, idx, p int64) (data []byte, k int, ok bool) {
	if ip == nil || idx == 0 {
		return nil, -1, false
	}
	id, ok := s.blockID(key, idx)
	if !ok {
		return nil, -1, false
	}
	if was, ok := ip.ckpt.blockID(key, idx); !ok || was != id {
		return nil, -1, false
	}
	if data, ok := ip.pages[p]; ok {
		return data, -1, true
	}
	if ip.front == nil {
		return nil, -1, false
	}
	k, ok = ip.front.BundleOf(p)
	if _, failed := ip.failed.Load(k); !ok || failed {
		return nil, -1, false
	}
	return nil, k, true
}

// has reports whether the bytes at pos of block idx of s are an inner
// page it serves, held or in a bundle, without reading anything.
func (ip *innerSet) has(key string, s *snapshot, idx, pos int64) bool {
	if ip == nil {
		return false
	}
	_, _, ok := ip.serves(key, s, idx, pos/ip.unit)
	return ok
}

// innerPage returns the bytes of the inner page of s that holds file
// offset pos of block idx, and the offset where the page starts; false if
// the inner pages do not serve it. A bundle that cannot be read is logged
// and its pages read from their blocks from then on; only ctx's end is an
// error.
func (db *database) innerPage(ctx context.Context, s *snapshot, idx, pos int64) ([]byte, int64, bool, error) {
	ip := s.inner
	if ip == nil {
		return nil, 0, false, nil
	}
	p := pos / ip.unit
	data, k, ok := ip.serves(db.key, s, idx, p)
	if !ok || data != nil {
		return data, p * ip.unit, ok, nil
	}
	pages, err := db.innerBundle(ctx, ip, k)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, false, ctx.Err()
		}
		if _, was := ip.failed.Swap(k, true); !was {
			db.vfs.opts.hooks.log("s3vfs: bundle %d of inner pages %s: %v; reading the blocks instead", k, ip.name, err)
		}
		return nil, 0, false, nil
	}
	i, _ := ip.front.Bundles[k].Pages.Rank(p)
	return pages[i*ip.unit : (i+1)*ip.unit], p * ip.unit, true, nil
}

// innerBundle returns the pages' bytes of bundle k of ip: from the block
// cache, the disk cache, or one ranged GET shared by every concurrent
// caller.
func (db *database) innerBundle(ctx context.Context, ip *innerSet, k int) ([]byte, error) {
	id := ip.name + "#" + strconv.Itoa(k)
	if data, ok := db.cache().Get(id); ok {
		return data, nil
	}
	return cache.Shared(ctx, &db.vfs.fetches, id, func(ctx context.Context) ([]byte, error) {
		if data, ok := db.cache().Get(id); ok {
			return data, nil
		}
		bd := ip.front.Bundles[k]
		fetch := func(ctx context.Context) ([]byte, error) {
			data, _, err := db.vfs.store.GetRange(ctx, ip.name, bd.Offset, bd.Len(ip.unit))
			return data, err
		}
		raw, err := db.readMaybeThrough(ctx, id, bd.Len(ip.unit), func(b []byte) bool {
			_, err := ip.front.Bundle(k, b)
			return err == nil
		}, fetch)
		if err != nil {
			return nil, err
		}
		pages, err := ip.front.Bundle(k, raw)
		if err != nil {
			return nil, err
		}
		db.vfs.stats.innerBundles.Add(1)
		db.cache().Add(id, pages)
		return pages, nil
	})
}

// readMaybeThrough is fetch, through the disk cache under name when
// there is one (readThrough).
func (db *database) readMaybeThrough(ctx context.Context, name string, length int64, verify func([]byte) bool,
	fetch func(context.Context) ([]byte, error)) ([]byte, error) {
	disk := db.disk()
	if disk == nil {
		return fetch(ctx)
	}
	return db.readThrough(ctx, disk, name, length, verify, fetch)
}

// readInnerHead reads the first bytes of inner-pages object name:
// frontRead of them, more if the front of a version-2 object is longer,
// or the whole of a version-1 object.
func (db *database) readInnerHead(ctx context.Context, name string) ([]byte, error) {
	frontRead := db.vfs.opts.hooks.innerFrontRead()
	fetch := func(ctx context.Context) ([]byte, error) {
		data, size, err := db.vfs.store.GetRange(ctx, name, 0, frontRead)
		if err != nil {
			return nil, err
		}
		want := int64(len(data))
		if n, ok := format.InnerFrontLen(data); ok && n > want {
			want = min(n, size)
		} else if format.IsInner1(data) {
			want = size
		}
		if want > int64(len(data)) {
			rest, _, err := db.vfs.store.GetRange(ctx, name, int64(len(data)), want-int64(len(data)))
			if err != nil {
				return nil, err
			}
			data = append(data, rest...)
		}
		return data, nil
	}
	return db.readMaybeThrough(ctx, name+"#head", -1, func(b []byte) bool {
		_, _, err := innerSetOf(name, b, &snapshot{})
		return err == nil
	}, fetch)
}

// innerWhole returns every inner page of ip, filed under the blocks of
// its checkpoint, for a commit that writes the next checkpoint: the pages
// held, and when bundles are not, the whole object read again. Pages that
// cannot be read are logged and left out (a later lookup through them
// reads its blocks); only ctx's end is an error.
func (db *database) innerWhole(ctx context.Context, ip *innerSet) (*innerPages, error) {
	if ip == nil {
		return nil, nil
	}
	if ip.front == nil || len(ip.front.Bundles) == 0 {
		return innerOf(db.key, ip.file(), ip.ckpt), nil
	}
	f, err := readImmutable(ctx, db, ip.name, format.DecodeInnerAny)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		db.vfs.opts.hooks.log("s3vfs: inner pages %s: %v; the next ones keep only the pages held", ip.name, err)
		return innerOf(db.key, ip.file(), ip.ckpt), nil
	}
	return innerOf(db.key, f, ip.ckpt), nil
}

// file returns the pages ip holds as an object's pages.
func (ip *innerSet) file() *format.InnerFile {
	f := &format.InnerFile{N: ip.ckpt.base.N, Token: ip.ckpt.base.Token, BlockSize: ip.ckpt.blockSize, FileSize: ip.ckpt.size, Unit: ip.unit}
	for _, p := range slices.Sorted(maps.Keys(ip.pages)) {
		f.Pages = f.Pages.Add(p)
		f.Data = append(f.Data, ip.pages[p]...)
	}
	return f
}

// innerUpload returns the upload of ip, the inner pages of s, the version
// a checkpoint is written for, as an object of format version 2 whose
// front fits frontRead bytes, and the pages as s's readers hold them.
func innerUpload(key string, s *snapshot, ip *innerPages, frontRead int64) (tx.Upload, *innerSet, error) {
	f := ip.file(s)
	front, bundles := innerLayout(f, frontRead)
	data, err := format.EncodeInner2(f, front, bundles)
	if err != nil {
		return tx.Upload{}, nil, err
	}
	name := format.InnerName(key, s.base.N, s.base.Token)
	set, _, err := innerSetOf(name, data[:min(int64(len(data)), frontRead)], checkpointView(s))
	if err != nil {
		return tx.Upload{}, nil, fmt.Errorf("s3vfs: inner pages of checkpoint %d: %w", s.base.N, err)
	}
	return tx.Upload{Name: name, Data: data}, set, nil
}

// checkpointView returns the snapshot of s's checkpoint as far as block
// names go: its map and overlays.
func checkpointView(s *snapshot) *snapshot {
	return &snapshot{n: s.base.N, token: s.base.Token, base: s.base, blockSize: s.blockSize, size: s.size,
		blocks: s.baseMap, overlays: s.baseOverlays, lineage: s.lineage}
}

// innerLayout splits the pages of f between the front of its object,
// which a cold open reads, and bundles read on demand: the front takes
// the top levels of the b-trees (btree.TopDown) while the front fits
// frontRead bytes; the bundles take the other pages, in page order,
// about format.InnerBundleBytes each.
func innerLayout(f *format.InnerFile, frontRead int64) (front format.PageList, bundles []format.PageList) {
	count := f.Pages.Count()
	// Bytes of the front besides its pages, at most: the head, and every
	// page list, at 6 bytes a page and 6 a list.
	perBundle := max(1, format.InnerBundleBytes/f.Unit)
	overhead := 128 + 6*count + 6*(count/perBundle+1)
	if overhead+count*f.Unit <= frontRead {
		return f.Pages, nil
	}
	byNumber := make(map[uint32][]byte, count)
	i := int64(0)
	for p := range f.Pages.All() {
		byNumber[uint32(p+1)] = f.Data[i*f.Unit : (i+1)*f.Unit]
		i++
	}
	inFront := map[int64]bool{}
	for _, n := range btree.TopDown(byNumber, int(f.Unit)) {
		if overhead+int64(len(inFront)+1)*f.Unit > frontRead {
			break
		}
		inFront[int64(n)-1] = true
	}
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
