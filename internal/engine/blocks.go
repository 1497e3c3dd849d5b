package engine

import (
	"bytes"
	"context"
	"fmt"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
)

// ReadBlock returns the bytes of block idx of snapshot s: from the cache,
// or fetched once however many callers miss at the same time, and always
// checked against the length and CRC32C its commit recorded. The caller
// must not modify the result.
func (db *Database) ReadBlock(ctx context.Context, s *format.Snapshot, idx int64) ([]byte, error) {
	return db.readLocated(ctx, s, idx, func(ctx context.Context, name string) ([]byte, error) {
		return db.readCached(ctx, name, func(ctx context.Context) ([]byte, error) {
			// A shared fetch may outlive this call, and its pin.
			return db.readLocated(ctx, s, idx, func(ctx context.Context, name string) ([]byte, error) {
				return db.readBlockStored(ctx, s, idx, name)
			})
		})
	})
}

// ReadBlockForStream is ReadBlock for whole-database streams: a block
// object fetched is not kept in the cache (where it would only evict what
// transactions need; an overlaid block is merged through the cache as
// ReadBlock merges it), and the result is the caller's own: a block the
// cache holds is copied, since streams hand their blocks on to code that
// may modify them (the copy costs far less than the request it saves).
func (db *Database) ReadBlockForStream(ctx context.Context, s *format.Snapshot, idx int64) ([]byte, error) {
	fetched := false
	data, err := db.readLocated(ctx, s, idx, func(ctx context.Context, name string) ([]byte, error) {
		if data, ok := db.Cache().Get(name); ok {
			db.Env.Counts.Hits.Add(1)
			return data, nil
		}
		fetched = true
		return db.fetchBlock(ctx, s, idx, name)
	})
	if err != nil || fetched {
		return data, err
	}
	return bytes.Clone(data), nil
}

// readLocated returns block idx of s with its map entry held: from its
// overlay record, as zeros for a hole, else as stored returns the object
// named name.
func (db *Database) readLocated(ctx context.Context, s *format.Snapshot, idx int64,
	stored func(ctx context.Context, name string) ([]byte, error)) ([]byte, error) {
	pin, err := db.Locate(ctx, s, idx)
	defer pin.Release()
	if err != nil {
		return nil, err
	}
	if s.Overlay(idx) != nil {
		return db.readOverlaid(ctx, s, idx)
	}
	name, ok := s.BlockID(db.Key, idx)
	if !ok {
		return make([]byte, format.BlockLen(idx, s.BlockSize, s.Size)), nil
	}
	return stored(ctx, name)
}

// readCached returns the bytes the cache holds under name, counted as a
// hit; else, counted as a miss, those fetch returns, fetched once however
// many callers miss at the same time, and kept in the cache.
func (db *Database) readCached(ctx context.Context, name string, fetch func(context.Context) ([]byte, error)) ([]byte, error) {
	if data, ok := db.Cache().Get(name); ok {
		db.Env.Counts.Hits.Add(1)
		return data, nil
	}
	db.Env.Counts.Misses.Add(1)
	return cache.Shared(ctx, &db.Env.Fetches, name, func(ctx context.Context) ([]byte, error) {
		if data, ok := db.Cache().Get(name); ok {
			return data, nil
		}
		data, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		db.Cache().Add(name, data)
		return data, nil
	})
}

// fetchBlock fetches stored block idx of s, named name, from S3 and
// verifies it; its map entry must be held.
func (db *Database) fetchBlock(ctx context.Context, s *format.Snapshot, idx int64, name string) ([]byte, error) {
	if s.Legacy != nil {
		return db.readLegacyBlock(ctx, s, idx)
	}
	data, err := db.Env.Store.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != format.BlockLen(idx, s.BlockSize, s.Size) || format.Checksum(data) != s.Blocks.Get(idx).CRC {
		return nil, vfs.SystemError(fmt.Errorf("s3vfs: block %d of %s (object %s) is corrupt: "+
			"its length or CRC32C does not match commit %d; the object was changed outside s3vfs",
			idx, db.Key, name, s.N), sqlite3.IOERR_DATA)
	}
	return data, nil
}

// ReadAt copies the bytes of snapshot s at off into b, as SQLite sees them:
// the change counter in the header is the commit number (see
// OverlayHeader). It returns the number of bytes within the file.
func (db *Database) ReadAt(ctx context.Context, s *format.Snapshot, b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) && off+int64(n) < s.Size {
		pos := off + int64(n)
		idx := pos / s.BlockSize
		page, start, ok, err := db.InnerPage(ctx, s, idx, pos)
		if err != nil {
			return n, err
		}
		if ok {
			db.Env.Counts.InnerHits.Add(1)
			n += copy(b[n:], page[pos-start:])
			continue
		}
		data, err := db.ReadBlock(ctx, s, idx)
		if err != nil {
			return n, err
		}
		m := copy(b[n:], data[pos-idx*s.BlockSize:])
		if idx == 0 {
			OverlayHeader(b[n:n+m], pos, s.N, data)
		}
		n += m
	}
	return n, nil
}

// OverlayHeader rewrites, in the bytes b read at off, the header fields
// that s3vfs serves rather than stores (docs/format.md, "Blocks"):
//
//   - the file change counter (bytes 24-27) is ServedCounter(n), and so is
//     the version-valid-for number (92-95) if the stored header had the
//     two equal (so the in-header database size keeps the validity SQLite
//     gave it). Every commit thus changes the counter as SQLite reads it,
//     which is how other connections learn that their page cache is
//     stale, without a commit having to rewrite block 0 (docs/design.md);
//   - the file format versions (bytes 18-19) read 1 (rollback journal)
//     where the stored header says 2 (WAL): s3vfs has no WAL, and a
//     database that carries the flag must still open.
//
// block0 is the stored block 0.
func OverlayHeader(b []byte, off int64, n uint64, block0 []byte) {
	if off >= 96 || len(block0) < 100 || !format.PlainHeader(block0) {
		return
	}
	put := func(at int64, v ...byte) {
		for i := range int64(len(v)) {
			if p := at + i - off; p >= 0 && p < int64(len(b)) {
				b[p] = v[i]
			}
		}
	}
	if WALFlagged(block0) {
		put(18, 1, 1)
	}
	if n == 0 {
		return
	}
	counter := ServedCounter(n)
	validFor := counter
	if string(block0[24:28]) != string(block0[92:96]) {
		validFor = ^counter
	}
	be := func(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
	put(24, be(counter)...)
	put(92, be(validFor)...)
}

// WALFlagged reports whether the stored block 0 carries the WAL flag in its
// file format versions (bytes 18-19).
func WALFlagged(block0 []byte) bool {
	return len(block0) >= 100 && format.PlainHeader(block0) && (block0[18] == 2 || block0[19] == 2)
}

// ClearWALFlag sets the file format versions of a block 0 that carries the
// WAL flag to 1 (rollback journal), as OverlayHeader serves them.
func ClearWALFlag(block0 []byte) {
	if WALFlagged(block0) {
		block0[18], block0[19] = 1, 1
	}
}

// ServedCounter is the file change counter SQLite reads for commit n:
// always even. A connection whose own commit failed after SQLite had
// bumped the counter in its cached page 1 (to the old value plus one, odd)
// can therefore never mistake another writer's commit for its own and
// trust its stale page cache (docs/design.md).
func ServedCounter(n uint64) uint32 { return uint32(n) << 1 }

// CheckBlockLen returns an error unless data, block idx of s as read, holds
// at least want bytes: a caller about to slice it to a length its map
// gives must not panic on bytes that disagree with that map.
func (db *Database) CheckBlockLen(s *format.Snapshot, idx int64, data []byte, want int64) error {
	if int64(len(data)) >= want {
		return nil
	}
	return vfs.SystemError(fmt.Errorf("s3vfs: block %d of %s read as %d bytes where commit %d needs %d: "+
		"the block map and the objects disagree; check the database with PRAGMA integrity_check from a fresh process, and report it",
		idx, db.Key, len(data), s.N, want), sqlite3.IOERR_DATA)
}

// Cached reports whether reading block idx of s needs no request: its
// entry is held, and it is a hole or the block cache holds its bytes.
func (db *Database) Cached(s *format.Snapshot, idx int64) bool {
	pin, ok := s.PinHeld(idx)
	defer pin.Release()
	if !ok {
		return false
	}
	name, ok := s.BlockID(db.Key, idx)
	if !ok {
		return true
	}
	_, ok = db.Cache().Get(name)
	return ok
}
