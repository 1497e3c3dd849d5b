package engine

import (
	"context"

	"github.com/s3vfs/s3vfs/internal/format"
)

// SQLite reads the header in block 0 right after a database is opened, and
// a head's block map is only known once its base checkpoint is read. So
// that the open does not wait for the checkpoint and then for block 0, the
// block is fetched while the checkpoint is, under the name the record
// gives it: its delta entry, or else the name it has when the checkpoint's
// own commit wrote it, which is where block 0 is after a Deserialize (that
// won on its first try) and after any commit that changed page 1 and wrote
// a checkpoint. The
// fetched bytes are kept only once the map is known and names the same
// object, and their length and CRC32C match it. A wrong guess costs one
// GET that finds nothing, in parallel with the checkpoint's.

// firstBlockName returns the object block 0 of record rec most likely
// lives in, and whether there is one worth fetching: not for an empty
// file, nor for a record without a base checkpoint (its delta names every
// block, and nothing else is read before block 0). Where the delta does
// not name block 0, the guess is the checkpoint's own commit only when
// rec wrote that checkpoint (a Deserialize, a Restore, a commit that
// checkpointed): in a head further on, block 0 untouched since the
// checkpoint was most likely written long before it, and a guess would
// cost a GET at every open that finds nothing.
func firstBlockName(key string, rec *format.Record) (string, bool) {
	if rec.FileSize == 0 || rec.Base == (format.CheckpointRef{}) {
		return "", false
	}
	for _, e := range rec.BaseDelta() { // overlays are read with the block
		if e.Idx == 0 {
			if e.Ref.IsHole() {
				return "", false
			}
			return format.BlockName(rec.Lineage.KeyOf(key, e.Ref.Commit), 0, e.Ref), true
		}
	}
	if rec.Base.N != rec.N {
		return "", false
	}
	return format.BlockName(rec.Lineage.KeyOf(key, rec.Base.N), 0, format.BlockRef{Commit: rec.Base.N, Token: rec.Base.Token}), true
}

// firstBlock is block 0 of a head being built, fetched in the background.
type firstBlock struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{} // closed when data and err are set
	data   []byte
	err    error
}

// prefetchFirstBlock starts fetching the object firstBlockName names for
// rec, unless it is cached already, in a goroutine that lives until its
// request ends; keep or drop must be called. It returns nil when there is
// nothing to fetch.
func (db *Database) prefetchFirstBlock(ctx context.Context, rec *format.Record) *firstBlock {
	name, ok := firstBlockName(db.Key, rec)
	if !ok {
		return nil
	}
	if _, cached := db.Cache().Get(name); cached || db.Cache().Limit() <= 0 {
		return nil
	}
	if disk := db.Disk(); disk != nil && disk.Has(disk.Path(db.Env.Store.Bucket, name)) {
		return nil // SQLite's read of block 0 finds it on disk
	}
	ctx, cancel := context.WithCancel(ctx)
	fb := &firstBlock{name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(fb.done)
		fb.data, fb.err = db.Env.Store.Get(ctx, name)
	}()
	return fb
}

// keep waits for the fetch and puts the bytes in the caches (memory, and
// disk if the database has one) if s, the snapshot built meanwhile, has
// them as its block 0 (nil: none was built). A fetch of another object (a wrong guess) is waited
// for too, not cancelled: it is a GET that finds nothing, sent with the
// checkpoint's and answered as fast, and cancelling a request in flight
// closes its connection, which the next request would then open anew.
func (fb *firstBlock) keep(db *Database, s *format.Snapshot) {
	if fb == nil {
		return
	}
	<-fb.done
	fb.cancel()
	if s == nil {
		return // no snapshot was built
	}
	pin, ok := s.PinHeld(0)
	defer pin.Release()
	if !ok {
		return // its segment could not be read
	}
	ref := s.Blocks.Get(0)
	if ref.IsHole() || format.BlockName(s.KeyOf(db.Key, ref.Commit), 0, ref) != fb.name {
		return
	}
	if fb.err != nil {
		return // shows again when SQLite reads the block
	}
	if int64(len(fb.data)) != format.BlockLen(0, s.BlockSize, s.Size) || format.Checksum(fb.data) != ref.CRC {
		return // read again, and reported, when SQLite reads the block
	}
	db.Cache().Add(fb.name, fb.data)
	if disk := db.Disk(); disk != nil {
		disk.Put(disk.Path(db.Env.Store.Bucket, fb.name), fb.data)
	}
}

// drop cancels the fetch and waits for it to end.
func (fb *firstBlock) drop() {
	if fb == nil {
		return
	}
	fb.cancel()
	<-fb.done
}
