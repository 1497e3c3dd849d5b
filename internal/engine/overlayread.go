package engine

import (
	"context"
	"fmt"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
	"golang.org/x/sync/errgroup"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
)

// Reading a block that has an overlay (docs/format.md, "Reading an
// overlaid block"): its base object and its overlay records are fetched
// in parallel, each from the cache or once however many readers miss it,
// then merged (overlay.go). Records are cached like blocks, under their
// name and token; the merged block under a name of its own.

// maxOverlayFanOut bounds the parallel requests of one overlaid block's
// read.
const maxOverlayFanOut = 128

// readOverlaid returns block idx of s, which has an overlay: from the
// cache, or merged from its base object and records, fetched in parallel.
func (db *Database) readOverlaid(ctx context.Context, s *format.Snapshot, idx int64) ([]byte, error) {
	e := s.Entry(idx)
	id := format.OverlaidID(db.Key, s.Lineage, e)
	return db.readCached(ctx, id, func(ctx context.Context) ([]byte, error) {
		// Every request at once: the planner folds past 32 records, so
		// one step of at most 33 requests (a bound above Concurrency,
		// which would make it two or three). The cap is for overlays
		// written by other means; readers apply whatever a record says.
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(min(max(db.Env.Cfg.Concurrency, len(e.Ov.Recs)+1), maxOverlayFanOut))
		var base []byte
		if !e.Ref.IsHole() {
			g.Go(func() (err error) {
				base, err = db.readObject(gctx, format.BlockName(s.KeyOf(db.Key, e.Ref.Commit), idx, e.Ref), e.Ov.BaseLen, e.Ref.CRC, s.N)
				return err
			})
		}
		recs := make([]*format.Record, len(e.Ov.Recs))
		for i, r := range e.Ov.Recs {
			g.Go(func() (err error) {
				recs[i], err = db.overlayRecord(gctx, s.Lineage, r)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return mergeBlock(db.Key, e, s.BlockSize, format.BlockLen(idx, s.BlockSize, s.Size), base, recs)
	})
}

// readObject returns the block object name, which must be length bytes
// with CRC32C crc (commit n says so): from the cache, or fetched once.
func (db *Database) readObject(ctx context.Context, name string, length int64, crc uint32, n uint64) ([]byte, error) {
	if data, ok := db.Cache().Get(name); ok {
		return data, nil
	}
	return cache.Shared(ctx, &db.Env.Fetches, name, func(ctx context.Context) ([]byte, error) {
		if data, ok := db.Cache().Get(name); ok {
			return data, nil
		}
		data, err := db.readStored(ctx, name, length, func(b []byte) bool { return format.Checksum(b) == crc }, func(ctx context.Context) ([]byte, error) {
			return db.Env.Store.Get(ctx, name)
		})
		if err != nil {
			return nil, err
		}
		if int64(len(data)) != length || format.Checksum(data) != crc {
			return nil, vfs.SystemError(fmt.Errorf("s3vfs: object %s of %s is corrupt: "+
				"its length or CRC32C does not match commit %d; the object was changed outside s3vfs",
				name, db.Key, n), sqlite3.IOERR_DATA)
		}
		db.Cache().Add(name, data)
		return data, nil
	})
}

// overlayRecord returns the record r names in a map of lineage lin,
// decoded: from the cache, or fetched once, and checked to be that very
// record.
func (db *Database) overlayRecord(ctx context.Context, lin format.Lineage, r format.OverlayRef) (*format.Record, error) {
	key := lin.KeyOf(db.Key, r.N)
	id := format.OverlayRecordID(key, r.N, r.Token)
	data, ok := db.Cache().Get(id)
	if !ok {
		var err error
		data, err = cache.Shared(ctx, &db.Env.Fetches, id, func(ctx context.Context) ([]byte, error) {
			if data, ok := db.Cache().Get(id); ok {
				return data, nil
			}
			data, err := db.readStored(ctx, id, r.Size, func(b []byte) bool {
				rec, err := format.DecodePageRecord(b)
				return err == nil && rec.N == r.N && rec.Token == r.Token
			}, func(ctx context.Context) ([]byte, error) {
				return db.Env.Records.Get(ctx, key, r.N)
			})
			if err != nil {
				return nil, err
			}
			db.Cache().Add(id, data)
			return data, nil
		})
		if err != nil {
			return nil, err
		}
	}
	rec, err := format.DecodePageRecord(data)
	if err == nil && (rec.N != r.N || rec.Token != r.Token || r.Size != 0 && int64(len(data)) != r.Size) {
		err = fmt.Errorf("%w: it is not the record the map names (token or length)", format.ErrCorrupt)
	}
	if err != nil {
		return nil, vfs.SystemError(fmt.Errorf("s3vfs: overlay record %d of %s: %w", r.N, db.Key, err), sqlite3.IOERR_DATA)
	}
	return rec, nil
}

// mergeBlock is format.MergeBlock, its error an I/O error of SQLite's
// (IOERR_DATA): the bytes read do not make the block the map names.
func mergeBlock(key string, e format.Entry, blockSize, length int64, base []byte, recs []*format.Record) ([]byte, error) {
	out, err := format.MergeBlock(key, e, blockSize, length, base, recs)
	if err != nil {
		return nil, vfs.SystemError(err, sqlite3.IOERR_DATA)
	}
	return out, nil
}
