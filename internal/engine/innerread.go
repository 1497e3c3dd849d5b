package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// InnerPage returns the bytes of the inner page of s that holds file
// offset pos of block idx, and the offset where the page starts; false if
// the inner pages do not serve it. A bundle that cannot be read is logged
// and its pages read from their blocks from then on; only ctx's end is an
// error.
func (db *Database) InnerPage(ctx context.Context, s *format.Snapshot, idx, pos int64) ([]byte, int64, bool, error) {
	ip := s.Inner
	if ip == nil {
		return nil, 0, false, nil
	}
	p := pos / ip.Unit
	data, k, ok := ip.Serves(db.Key, s, idx, p)
	if !ok || data != nil {
		return data, p * ip.Unit, ok, nil
	}
	if at, failed := ip.Failed.Load(k); failed && time.Since(at.(time.Time)) < innerRetry {
		return nil, 0, false, nil
	}
	pages, err := db.innerBundle(ctx, ip, k)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, false, ctx.Err()
		}
		db.innerBundleFailed(ip, k, err)
		return nil, 0, false, nil
	}
	i, _ := ip.Front.Bundles[k].Pages.Rank(p)
	return pages[i*ip.Unit : (i+1)*ip.Unit], p * ip.Unit, true, nil
}

// innerRetry is how long a bundle that could not be read is read from its
// blocks before it is tried again.
const innerRetry = time.Minute

// innerBundleFailed records that bundle k of ip could not be read, and
// logs it: once per object if the object is gone (every bundle is read
// from its blocks from then on), else once per try.
func (db *Database) innerBundleFailed(ip *format.InnerSet, k int, err error) {
	if errors.Is(err, store.ErrNotFound) {
		if !ip.Gone.Swap(true) {
			db.Env.Cfg.Hooks.Log("s3vfs: inner pages %s: %v; reading the blocks instead", ip.Name, err)
		}
		return
	}
	ip.Failed.Store(k, time.Now())
	db.Env.Cfg.Hooks.Log("s3vfs: bundle %d of inner pages %s: %v; reading its blocks for %v", k, ip.Name, err, innerRetry)
}

// innerBundle returns the pages' bytes of bundle k of ip: from the block
// cache (after the read ahead reading it, if one is), the disk cache, or
// one ranged GET shared by every concurrent caller.
func (db *Database) innerBundle(ctx context.Context, ip *format.InnerSet, k int) ([]byte, error) {
	id := bundleID(ip, k)
	if data, ok := db.Cache().Get(id); ok {
		return data, nil
	}
	if !db.waitAhead(ctx, ip.Name, k) {
		return nil, context.Cause(ctx)
	}
	if data, ok := db.Cache().Get(id); ok {
		return data, nil
	}
	return cache.Shared(ctx, &db.Env.Fetches, id, func(ctx context.Context) ([]byte, error) {
		if data, ok := db.Cache().Get(id); ok {
			return data, nil
		}
		bd := ip.Front.Bundles[k]
		fetch := func(ctx context.Context) ([]byte, error) {
			data, _, err := db.Env.Store.GetRange(ctx, ip.Name, bd.Offset, bd.Len(ip.Unit))
			return data, err
		}
		raw, err := db.readMaybeThrough(ctx, id, bd.Len(ip.Unit), func(b []byte) bool {
			_, err := ip.Front.Bundle(k, b)
			return err == nil
		}, fetch)
		if err != nil {
			return nil, err
		}
		pages, err := ip.Front.Bundle(k, raw)
		if err != nil {
			return nil, err
		}
		db.Env.Counts.InnerBundles.Add(1)
		db.Cache().Add(id, pages)
		return pages, nil
	})
}

// readMaybeThrough is fetch, through the disk cache under name when
// there is one (readThrough).
func (db *Database) readMaybeThrough(ctx context.Context, name string, length int64, verify func([]byte) bool,
	fetch func(context.Context) ([]byte, error)) ([]byte, error) {
	disk := db.Disk()
	if disk == nil {
		return fetch(ctx)
	}
	return db.readThrough(ctx, disk, name, length, verify, fetch)
}

// readInnerHead reads the first bytes of inner-pages object name:
// frontRead of them, more if the front of a version-2 object is longer,
// or the whole of a version-1 object.
func (db *Database) readInnerHead(ctx context.Context, name string) ([]byte, error) {
	fetch := func(ctx context.Context) ([]byte, error) {
		return db.readPrefix(ctx, name, db.Env.Cfg.Hooks.InnerFrontRead(), func(data []byte, size int64) int64 {
			if n, ok := format.InnerFrontLen(data); ok {
				return min(n, size)
			}
			if format.IsInner1(data) {
				return size
			}
			return 0
		})
	}
	return db.readMaybeThrough(ctx, name+"#head", -1, func(b []byte) bool {
		_, _, err := format.InnerSetOf(name, b, &format.Snapshot{})
		return err == nil
	}, fetch)
}

// InnerWhole returns every inner page of ip, filed under the blocks of
// its checkpoint, for a commit that writes the next checkpoint: the pages
// held, and when bundles are not, the whole object read again. Pages that
// cannot be read are logged and left out (a later lookup through them
// reads its blocks); only ctx's end is an error.
func (db *Database) InnerWhole(ctx context.Context, ip *format.InnerSet) (*format.InnerPages, error) {
	if ip == nil {
		return nil, nil
	}
	pin, err := db.LocateAll(ctx, ip.Checkpoint)
	defer pin.Release()
	if err != nil {
		// The pages are filed under their blocks' entries.
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		db.Env.Cfg.Hooks.Log("s3vfs: inner pages %s: %v; the next ones keep none of them", ip.Name, err)
		return nil, nil
	}
	if ip.Front == nil || int64(len(ip.Pages)) == ip.Front.Count() {
		return format.InnerOf(db.Key, ip.File(), ip.Checkpoint), nil
	}
	f, err := readImmutable(ctx, db, ip.Name, func(data []byte) (*format.InnerFile, error) {
		f, err := format.DecodeInnerAny(data)
		if err == nil && (f.N != ip.Front.N || f.Token != ip.Front.Token || f.BlockSize != ip.Front.BlockSize || f.FileSize != ip.Front.FileSize) {
			err = fmt.Errorf("%w: the inner pages changed since their front was read", format.ErrCorrupt)
		}
		return f, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		db.Env.Cfg.Hooks.Log("s3vfs: inner pages %s: %v; the next ones keep only the pages held", ip.Name, err)
		return format.InnerOf(db.Key, ip.File(), ip.Checkpoint), nil
	}
	return format.InnerOf(db.Key, f, ip.Checkpoint), nil
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
func (db *Database) prefetchInner(ctx context.Context, lin format.Lineage, ref format.CheckpointRef) *pendingInner {
	pi := &pendingInner{ref: ref, name: format.InnerName(lin.KeyOf(db.Key, ref.N), ref.N, ref.Token), done: make(chan struct{})}
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
	if errors.Is(pi.err, store.ErrNotFound) {
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
