package s3vfs

import (
	"context"
	"errors"

	"github.com/s3vfs/s3vfs/internal/format"
)

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
