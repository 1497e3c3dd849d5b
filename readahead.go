package s3vfs

import (
	"context"
	"sync"

	"github.com/s3vfs/s3vfs/internal/format"
)

// readAhead detects sequential reads of one file and fetches the blocks
// that follow before SQLite asks for them. The window starts at one block
// and doubles with every further block read in order, up to
// Options.ReadAhead; a read elsewhere closes it. Fetched blocks go to the
// block cache, where the reader finds them (a block still on its way is
// joined, not fetched twice). Fetches run in goroutines that end when
// their request does; stopReadAhead cancels them and waits, and a request
// no other reader is waiting for is cancelled with them (see cache.Shared).
type readAhead struct {
	last   int64            // last block read; -1 before the first
	window int64            // blocks kept requested ahead of last; 0 when reads are random
	ahead  int64            // blocks below this index have been requested
	snap   *format.Snapshot // the snapshot the state is about

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// noteRead records a read of the blocks first..last of s and starts fetching
// the blocks the window now covers. SQLite reads page 1 whenever a
// transaction starts; a read of block 0 leaves the state as it was.
func (f *file) noteRead(s *format.Snapshot, first, last int64) {
	db := f.db
	limit := int64(db.Env.Cfg.ReadAhead)
	if limit == 0 || db.Cache().Limit() <= 0 {
		return // nowhere to keep what would be fetched
	}
	ra := &f.ra
	if ra.ctx == nil {
		ra.ctx, ra.cancel = context.WithCancel(context.Background())
		ra.last = -1
	}
	if ra.snap != s {
		ra.snap, ra.last, ra.window, ra.ahead = s, -1, 0, 0
	}
	switch {
	case first == 0 && last == 0:
		return
	case first == ra.last:
		// Another page of the same block: the window stays.
	case first == ra.last+1:
		ra.window = min(2*ra.window, limit)
		if ra.window == 0 {
			ra.window = 1
		}
	default:
		ra.window, ra.ahead = 0, 0
	}
	ra.last = last
	if ra.window == 0 {
		return
	}
	end := min(last+1+ra.window, s.Blocks.Len())
	for idx := max(ra.ahead, last+1); idx < end; idx++ {
		if db.Cached(s, idx) {
			continue
		}
		ra.wg.Add(1)
		go func() {
			defer ra.wg.Done()
			db.ReadBlock(ra.ctx, s, idx) // an error shows again when SQLite reads the block
		}()
	}
	ra.ahead = max(ra.ahead, end)
}

// stopReadAhead cancels the fetches in flight and waits for them.
func (f *file) stopReadAhead() {
	if f.ra.cancel != nil {
		f.ra.cancel()
		f.ra.wg.Wait()
	}
}
