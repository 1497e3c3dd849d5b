package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// The Python library sqlite-s3vfs keeps a database under key K as objects
// K/0000000000, K/0000000001, … (the block index, ten digits), each
// block_size bytes (4096 by default) but the last; the file is their
// concatenation, and its rollback journal is another such file under
// K-journal/. The objects are rewritten in place, and there is no commit
// point. s3vfs reads such a database in place, read-only, and migrates it
// to the s3vfs format (internal/versions/migrate.go); docs/migrating.md is the guide.

// ParseLegacyBlockName returns the block index of a Python-layout object
// name under prefix (the key and a slash).
func ParseLegacyBlockName(prefix, name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, prefix)
	if !ok || len(s) != 10 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// LegacyReadOnly is the error of a write to db, a database in the Python
// layout: it names the database as s3://bucket/key, and the command that
// migrates it, ready to run.
func (db *Database) LegacyReadOnly() error {
	name := "s3://" + db.Env.Store.Bucket + "/" + db.Key
	return fmt.Errorf("%w at %s is read-only: migrate it to the s3vfs format first "+
		"(s3vfs migrate %s, or VFS.Migrate; see docs/migrating.md)", ErrLegacyLayout, name, name)
}

// ErrStopListing ends a listing early.
var ErrStopListing = errors.New("stop listing")

// FindLegacy lists the Python-layout block objects of the database (one
// LIST request per 1,000 blocks) and returns its snapshot, or nil if
// there are none. It is only called for a key without commit records.
func (db *Database) FindLegacy(ctx context.Context) (*format.Snapshot, error) {
	st := &db.Env.Store
	prefix := db.Key + "/"
	last := prefix + "9999999999"
	var lay format.LegacyLayout
	err := st.List(ctx, prefix, func(o store.Object) error {
		if o.Key > last {
			return ErrStopListing // past every block name: s3vfs's own folders, other databases
		}
		idx, ok := ParseLegacyBlockName(prefix, o.Key)
		if !ok {
			return nil
		}
		if idx != int64(len(lay.Sizes)) {
			return fmt.Errorf("%w at %s: block %d is missing (the next listed is %s): the Python library never leaves a gap; was an object deleted?",
				ErrLegacyLayout, db.Key, len(lay.Sizes), o.Key)
		}
		lay.Sizes = append(lay.Sizes, o.Size)
		lay.ETags = append(lay.ETags, o.ETag)
		return nil
	})
	if err != nil && !errors.Is(err, ErrStopListing) {
		return nil, err
	}
	if len(lay.Sizes) == 0 {
		return nil, nil
	}
	bs, size := lay.Sizes[0], int64(0)
	for i, n := range lay.Sizes {
		if i < len(lay.Sizes)-1 && n != bs {
			return nil, fmt.Errorf("%w at %s: block %d is %d bytes and block 0 is %d: only the last block may be shorter; the database was not written whole",
				ErrLegacyLayout, db.Key, i, n, bs)
		}
		size += n
	}
	if bs == 0 {
		bs = int64(db.Env.Cfg.BlockSize) // one empty object: an empty file
	}
	if err := db.CheckLegacyJournal(ctx); err != nil {
		return nil, err
	}
	refs := make(map[int64]format.BlockRef, len(lay.Sizes))
	for i := range lay.Sizes {
		refs[int64(i)] = format.BlockRef{Commit: legacyCommit}
	}
	n := int64(len(lay.Sizes))
	return &format.Snapshot{BlockSize: bs, Size: size, Blocks: format.BlockMap{}.With(n, refs), Legacy: &lay}, nil
}

// legacyCommit marks the blocks of a Python-layout snapshot as present
// (BlockRef.IsHole is false); their objects are named by legacyBlockName.
const legacyCommit = 1

// CheckLegacyJournal refuses a database whose journal is hot, as SQLite
// defines it: the journal file exists, is not empty, and its first byte is
// not zero (PERSIST and TRUNCATE modes leave a zeroed or empty one).
func (db *Database) CheckLegacyJournal(ctx context.Context) error {
	st := &db.Env.Store
	prefix := db.Key + "-journal/"
	name, err := st.First(ctx, prefix, func(name string) bool {
		_, ok := ParseLegacyBlockName(prefix, name)
		return ok
	})
	if err != nil || name == "" {
		return err
	}
	first, err := st.Get(ctx, prefix+format.Pad(0, 10))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // reads as zeros: not hot
	case err != nil:
		return err
	case len(first) == 0 || first[0] == 0:
		return nil
	}
	return fmt.Errorf("%w at %s has a hot journal (%s…): a Python transaction died half-way and the database is torn until SQLite rolls it back; "+
		"open it once with the Python library (which rolls the journal back), then read or migrate it", ErrLegacyLayout, db.Key, prefix)
}

// readLegacyBlock fetches block idx of a Python-layout snapshot, only as
// it was listed: a block rewritten since (a Python writer at work) fails
// rather than mixing versions.
func (db *Database) readLegacyBlock(ctx context.Context, s *format.Snapshot, idx int64) ([]byte, error) {
	name := format.LegacyBlockName(db.Key, idx)
	data, err := db.Env.Store.GetIfMatch(ctx, name, s.Legacy.ETags[idx])
	if errors.Is(err, store.ErrExists) || err == nil && int64(len(data)) != s.Legacy.Sizes[idx] {
		return nil, vfs.SystemError(fmt.Errorf("%w at %s: block %d (object %s) changed since the database was opened: a Python writer is at work; stop it, then open the database again",
			ErrLegacyLayout, db.Key, idx, name), sqlite3.IOERR_DATA)
	}
	return data, err
}
