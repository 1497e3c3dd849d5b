package versions

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"

	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
)

// ErrNotDatabase is the root's ErrNotDatabase.
var ErrNotDatabase = errors.New("s3vfs: not a SQLite database")

// Serialize is the root's VFS.Serialize, whose doc comment is the contract.
func (v *Ops) Serialize(ctx context.Context, key string) iter.Seq2[[]byte, error] {
	return v.serialize(ctx, key, func(ctx context.Context, db *database) (*format.Snapshot, error) {
		s, err := db.Refresh(ctx, 0)
		if err == nil && s.Empty() {
			err = fmt.Errorf("%w: s3://%s/%s", engine.ErrNoDatabase, v.Env.Store.Bucket, key)
		}
		return s, err
	})
}

// serialize is Serialize of the version that version returns.
func (v *Ops) serialize(ctx context.Context, key string, version func(context.Context, *database) (*format.Snapshot, error)) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		if err := format.ValidateKey(key); err != nil {
			yield(nil, err)
			return
		}
		db := v.acquire(key)
		defer v.release(db)
		s, err := version(ctx, db)
		if err != nil {
			yield(nil, err)
			return
		}
		for data, err := range db.blocksOf(ctx, s) {
			if !yield(data, db.CollectedWhileRead(s, err)) || err != nil {
				return
			}
		}
	}
}

// blocksOf yields the blocks of s in order, as SQLite would read them,
// keeping up to Config.ReadAhead fetches in flight ahead of the reader.
// Every goroutine it starts has ended when it returns.
func (db *database) blocksOf(ctx context.Context, s *format.Snapshot) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		fetch := func(ctx context.Context, i int) ([]byte, error) {
			return db.ReadBlockForStream(ctx, s, int64(i))
		}
		first := true
		for data, err := range Ordered(ctx, db.vfs.Env.Cfg.ReadAhead, int(s.Blocks.Len()), fetch) {
			if err != nil {
				yield(nil, err)
				return
			}
			if first {
				stored := data
				data = bytes.Clone(stored)
				engine.OverlayHeader(data, 0, s.N, stored)
				first = false
			}
			if !yield(data, nil) {
				return
			}
		}
	}
}

// SerializeReader is the root's VFS.SerializeReader, whose doc comment is the contract.
func (v *Ops) SerializeReader(ctx context.Context, key string) io.ReadCloser {
	return newSerialReader(v.Serialize(ctx, key))
}

// SerializeReaderAt is the root's VFS.SerializeReaderAt, whose doc comment is the contract.
func (v *Ops) SerializeReaderAt(ctx context.Context, key string, n uint64) io.ReadCloser {
	return newSerialReader(v.SerializeAt(ctx, key, n))
}

func newSerialReader(seq iter.Seq2[[]byte, error]) io.ReadCloser {
	next, stop := iter.Pull2(seq)
	return &serialReader{next: next, stop: stop}
}

type serialReader struct {
	next func() ([]byte, error, bool)
	stop func()
	buf  []byte
	err  error
}

// Read implements [io.Reader].
func (r *serialReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		data, err, ok := r.next()
		switch {
		case !ok:
			r.err = io.EOF
		case err != nil:
			r.err = err
		default:
			r.buf = data
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Close implements [io.Closer].
func (r *serialReader) Close() error {
	r.stop()
	if r.err == nil {
		r.err = errors.New("s3vfs: read after Close")
	}
	return nil
}

// Deserialize is the root's VFS.Deserialize, whose doc comment is the contract.
func (v *Ops) Deserialize(ctx context.Context, key string, r io.Reader) error {
	_, err := v.deserialize(ctx, key, r, deserializeOptions{})
	return err
}

// deserializeOptions are the settings of deserialize beyond Deserialize's.
type deserializeOptions struct {
	blockSize  int64         // of the new blocks; 0: the database's, or Options.BlockSize for a new one
	overLegacy bool          // replace a Python-layout database at the key (migrate.go), rather than refuse
	by         format.MadeBy // how the commit is made, as its record says; zero: format.ByDeserialize
}

// acquireToReplace checks key, makes sure the store keeps the promises
// the commit protocol relies on (its self-test, run once), and acquires
// the database at key, to publish a whole version over it (Deserialize,
// Restore). release lets the database go and waits for the self-test's
// objects to be removed.
func (v *Ops) acquireToReplace(ctx context.Context, key string) (db *database, release func(), err error) {
	if err := format.ValidateKey(key); err != nil {
		return nil, nil, err
	}
	if err := v.Env.RequireSafeStore(ctx, key, v.Env.Disk, false); err != nil {
		return nil, nil, err
	}
	db = v.acquire(key)
	return db, func() {
		v.release(db)
		v.Env.StoreCheckSettled(ctx)
	}, nil
}

// deserialize is Deserialize; it returns the number of the published commit.
func (v *Ops) deserialize(ctx context.Context, key string, r io.Reader, o deserializeOptions) (uint64, error) {
	db, release, err := v.acquireToReplace(ctx, key)
	if err != nil {
		return 0, err
	}
	defer release()
	head, err := db.Refresh(ctx, 0)
	if err != nil {
		return 0, err
	}
	bs, err := o.blockSizeOver(head, key, int64(v.Env.Cfg.BlockSize))
	if err != nil {
		return 0, err
	}
	a := &replacement{op: "deserialize", made: format.Made{By: cmp.Or(o.by, format.ByDeserialize)}, token: engine.NewToken(), blockSize: bs}
	blocks, err := db.uploadStream(ctx, a, r, head.N+1)
	if err != nil {
		return 0, a.abandon(ctx, v, err)
	}
	// Publish as one commit with a full checkpoint, retrying on top of any
	// commit that lands meanwhile: the new contents replace whatever is there.
	return db.publishReplacement(ctx, a, head, func(context.Context, *format.Snapshot) (format.BlockMap, error) {
		return blocks, nil
	})
}

// blockSizeOver returns the block size of a database deserialized over
// head: the one asked for, else head's, else (over a Python-layout
// database, which Deserialize refuses to hide unless asked to replace it)
// fallback.
func (o deserializeOptions) blockSizeOver(head *format.Snapshot, key string, fallback int64) (int64, error) {
	switch {
	case head.Legacy != nil && !o.overLegacy:
		return 0, fmt.Errorf("%w at %s: Deserialize would hide it behind a new database; migrate it (VFS.Migrate, s3vfs migrate) or choose another key",
			engine.ErrLegacyLayout, key)
	case o.blockSize != 0:
		return o.blockSize, nil
	case head.Legacy != nil:
		return fallback, nil
	}
	return head.BlockSize, nil
}

// uploadStream cuts the SQLite file read from r into blocks of a, uploads
// them in parallel as they are read, as blocks of commit n, and returns
// their map; it sets a.size. It returns once every upload it started has
// ended.
func (db *database) uploadStream(ctx context.Context, a *replacement, r io.Reader, n uint64) (format.BlockMap, error) {
	v, bs := db.vfs, a.blockSize
	blocks := map[int64]format.BlockRef{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.Env.Cfg.Concurrency)
	var size, pageSize int64
	for idx := int64(0); ; idx++ {
		buf := make([]byte, bs)
		m, err := io.ReadFull(r, buf)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			g.Wait()
			return format.BlockMap{}, fmt.Errorf("s3vfs: deserialize %s: reading input: %w", db.Key, err)
		}
		data := buf[:m]
		if idx == 0 {
			if pageSize, err = checkHeader(data); err != nil {
				g.Wait()
				return format.BlockMap{}, err
			}
			if u, ok := format.InnerUnit(bs, data); ok {
				a.unit = u
			}
		}
		size += int64(m)
		ref := format.BlockRef{Commit: n, Token: a.token, CRC: format.Checksum(data)}
		blocks[idx] = ref
		if gctx.Err() != nil {
			break
		}
		a.noteBlock(format.BlockName(db.Key, idx, ref), idx, data)
		g.Go(func() error { return a.put(gctx, v, format.BlockName(db.Key, idx, ref), data) })
		if m < len(buf) {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return format.BlockMap{}, fmt.Errorf("s3vfs: deserialize %s: %w", db.Key, err)
	}
	if size == 0 {
		return format.BlockMap{}, fmt.Errorf("%w: the input is empty", ErrNotDatabase)
	}
	if size%pageSize != 0 {
		return format.BlockMap{}, fmt.Errorf("%w: its size, %d bytes, is not a multiple of its page size, %d (truncated input?)", ErrNotDatabase, size, pageSize)
	}
	a.size = size
	return format.BlockMap{}.With(format.NBlocks(size, bs), blocks), nil
}

// checkHeader checks the first block of a database file and returns its
// page size. It also accepts WAL-mode files (their pages are the same).
func checkHeader(b []byte) (int64, error) {
	const magic = "SQLite format 3\x00"
	if len(b) < 100 || string(b[:16]) != magic {
		return 0, fmt.Errorf("%w: the input does not start with the SQLite header %q", ErrNotDatabase, magic[:15])
	}
	ps := int64(binary.BigEndian.Uint16(b[16:18]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return 0, fmt.Errorf("%w: its header has an invalid page size %d", ErrNotDatabase, ps)
	}
	if b[18] > 2 || b[19] > 2 || b[18] == 0 || b[19] == 0 {
		return 0, fmt.Errorf("%w: its header has unknown file format versions %d/%d", ErrNotDatabase, b[18], b[19])
	}
	if b[21] != 64 || b[22] != 32 || b[23] != 32 {
		return 0, fmt.Errorf("%w: its header has invalid payload fractions", ErrNotDatabase)
	}
	if b[18] == 2 || b[19] == 2 {
		// A WAL-mode file: open it in rollback mode, as SQLite would after
		// a checkpoint (this VFS has no WAL).
		b[18], b[19] = 1, 1
	}
	return ps, nil
}
