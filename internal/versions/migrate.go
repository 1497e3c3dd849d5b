package versions

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// MigrateOptions is the root's MigrateOptions, whose doc comment says what each field holds.
type MigrateOptions struct {
	To string

	BlockSize int

	DeleteLegacy bool

	Progress func(done, total int64)
}

// MigrateReport is the root's MigrateReport, whose doc comment says what each field holds.
type MigrateReport struct {
	Key             string
	Commit          uint64
	Bytes           int64
	AlreadyMigrated bool
	Native          bool
	LegacyDeleted   int
}

// Migrate is the root's VFS.Migrate, whose doc comment is the contract.
func (v *Ops) Migrate(ctx context.Context, key string, o *MigrateOptions) (MigrateReport, error) {
	var opts MigrateOptions
	if o != nil {
		opts = *o
	}
	dest := opts.To
	if dest == "" {
		dest = key
	}
	for _, k := range []string{key, dest} {
		if err := format.ValidateKey(k); err != nil {
			return MigrateReport{}, err
		}
	}
	bs := int64(opts.BlockSize)
	if bs == 0 {
		bs = int64(v.Env.Cfg.BlockSize)
	}
	if bs < format.MinBlockSize || bs > format.MaxBlockSize {
		return MigrateReport{}, fmt.Errorf("s3vfs: migrate: block size %d is out of range: use %d to %d bytes", bs, format.MinBlockSize, format.MaxBlockSize)
	}
	src := v.newDatabase(key)
	old, err := src.FindLegacy(ctx)
	if err != nil {
		return MigrateReport{}, err
	}
	if old == nil {
		return v.migrateNative(ctx, key, dest)
	}
	report := MigrateReport{Key: dest, Bytes: old.Size}

	n, err := v.migratedCommit(ctx, src, old, dest)
	if err != nil {
		return report, err
	}
	if n != 0 {
		report.Commit, report.AlreadyMigrated = n, true
	} else {
		r := newSerialReader(src.blocksOf(ctx, old))
		defer r.Close()
		counted := &progressReader{r: bufio.NewReaderSize(r, 1<<20), total: old.Size, progress: opts.Progress}
		if report.Commit, err = v.deserialize(ctx, dest, counted, deserializeOptions{blockSize: bs, overLegacy: true, by: format.ByMigrate}); err != nil {
			return report, fmt.Errorf("s3vfs: migrate %s to %s: %w", key, dest, err)
		}
		if err := v.verifyMigration(ctx, src, old, dest, report.Commit); err != nil {
			return report, err
		}
	}
	if opts.DeleteLegacy {
		if report.LegacyDeleted, err = src.deleteLegacy(ctx); err != nil {
			return report, err
		}
	}
	return report, nil
}

// migrateNative is Migrate of a key with no Python-layout database. If key
// holds an s3vfs database there is nothing to migrate: in place, that is
// what a finished migration leaves (its old objects deleted), and the
// report says so; to another key, it is an error that says what to do.
// Otherwise the error matches engine.ErrNoDatabase.
func (v *Ops) migrateNative(ctx context.Context, key, dest string) (MigrateReport, error) {
	n, err := v.Env.Records.Newest(ctx, key)
	switch {
	case err != nil:
		return MigrateReport{}, err
	case n == 0:
		return MigrateReport{}, fmt.Errorf("%w: no database in the Python sqlite-s3vfs layout at s3://%s/%s (no objects %s)",
			engine.ErrNoDatabase, v.Env.Store.Bucket, key, format.LegacyBlockName(key, 0))
	case dest != key:
		return MigrateReport{}, fmt.Errorf("s3vfs: s3://%s/%s is already an s3vfs database (commit %d), not one in the Python sqlite-s3vfs layout: "+
			"there is nothing to migrate; to copy it to s3://%s/%s, export it to a file and import that", v.Env.Store.Bucket, key, n, v.Env.Store.Bucket, dest)
	}
	return MigrateReport{Key: key, Commit: n, AlreadyMigrated: true, Native: true}, nil
}

// migratedCommit returns the newest commit of dest if it already holds the
// database of old (an earlier Migrate), 0 if dest has no s3vfs database,
// and an error naming both if dest holds a different one.
func (v *Ops) migratedCommit(ctx context.Context, src *database, old *format.Snapshot, dest string) (uint64, error) {
	newest, err := v.Env.Records.Newest(ctx, dest)
	if err != nil || newest == 0 {
		return 0, err // no s3vfs database (without listing the Python layout again)
	}
	db := v.acquire(dest)
	defer v.release(db)
	head, err := db.ReadHead(ctx, nil, nil)
	if err != nil {
		return 0, err
	}
	same, err := v.sameBytes(ctx, src, old, db, head)
	if err != nil {
		return 0, err
	}
	if !same {
		return 0, fmt.Errorf("%w at s3://%s/%s, and s3://%s/%s holds a different s3vfs database (commit %d): "+
			"migrate to another key (--to), or remove one of the two", engine.ErrLegacyLayout, v.Env.Store.Bucket, src.Key, v.Env.Store.Bucket, dest, head.N)
	}
	return head.N, nil
}

// verifyMigration checks commit n of dest against the Python-layout
// database old: the same bytes, and integrity_check passes.
func (v *Ops) verifyMigration(ctx context.Context, src *database, old *format.Snapshot, dest string, n uint64) error {
	db := v.acquire(dest)
	defer v.release(db)
	s, err := db.SnapshotAt(ctx, n)
	if err != nil {
		return err
	}
	same, err := v.sameBytes(ctx, src, old, db, s)
	if err != nil {
		return err
	}
	if !same {
		return fmt.Errorf("s3vfs: migrate %s to %s: commit %d does not serialize to the bytes of the Python-layout database; nothing was deleted", src.Key, dest, n)
	}
	return v.integrityCheck(dest, n)
}

// sameBytes compares two snapshots as SQLite files, the header fields
// s3vfs serves aside (bytes 24-27 and 92-95).
func (v *Ops) sameBytes(ctx context.Context, adb *database, a *format.Snapshot, bdb *database, b *format.Snapshot) (bool, error) {
	if a.Size != b.Size {
		return false, nil
	}
	sa := newSerialReader(adb.blocksOf(ctx, a))
	defer sa.Close()
	ra := bufio.NewReaderSize(sa, 1<<20)
	rb := newSerialReader(bdb.blocksOf(ctx, b))
	defer rb.Close()
	buf := make([]byte, 1<<20)
	other := make([]byte, 1<<20)
	for off := int64(0); ; {
		m, err := io.ReadFull(rb, buf)
		if m > 0 {
			if _, err := io.ReadFull(ra, other[:m]); err != nil {
				return false, err
			}
			for i := range m {
				if p := off + int64(i); buf[i] != other[i] && !(p >= 24 && p < 28 || p >= 92 && p < 96) {
					return false, nil
				}
			}
			off += int64(m)
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return true, nil
		case err != nil:
			return false, err
		}
	}
}

// integrityCheck runs PRAGMA integrity_check on commit n of key.
func (v *Ops) integrityCheck(key string, n uint64) error {
	name := "s3vfs-check-" + format.TokenString(engine.NewToken())
	vfs.Register(name, v.SQLite)
	defer vfs.Unregister(name)
	uri := fmt.Sprintf("file:%s?vfs=%s&commit=%d", (&url.URL{Path: key}).EscapedPath(), name, n)
	conn, err := sqlite3.OpenFlags(uri, sqlite3.OPEN_READONLY|sqlite3.OPEN_URI)
	if err != nil {
		return fmt.Errorf("s3vfs: checking commit %d of %s: %w", n, key, err)
	}
	defer conn.Close()
	stmt, _, err := conn.Prepare("PRAGMA integrity_check")
	if err != nil {
		return err
	}
	defer stmt.Close()
	var result string
	for stmt.Step() {
		result += stmt.ColumnText(0)
	}
	if err := stmt.Err(); err != nil {
		return fmt.Errorf("s3vfs: checking commit %d of %s: %w", n, key, err)
	}
	if result != "ok" {
		return fmt.Errorf("s3vfs: commit %d of %s fails integrity_check: %s", n, key, result)
	}
	return nil
}

// deleteLegacy deletes the Python-layout objects of the database and of
// its journal, and returns how many it deleted.
func (db *database) deleteLegacy(ctx context.Context) (int, error) {
	st := &db.Env.Store
	var names []string
	for _, prefix := range []string{db.Key + "/", db.Key + "-journal/"} {
		last := prefix + "9999999999"
		err := st.List(ctx, prefix, func(o store.Object) error {
			if o.Key > last {
				return engine.ErrStopListing
			}
			if _, ok := engine.ParseLegacyBlockName(prefix, o.Key); ok {
				names = append(names, o.Key)
			}
			return nil
		})
		if err != nil && !errors.Is(err, engine.ErrStopListing) {
			return 0, err
		}
	}
	return len(names), st.Remove(ctx, names)
}

// progressReader counts the bytes read through it for a progress callback.
type progressReader struct {
	r        io.Reader
	done     int64
	total    int64
	progress func(done, total int64)
}

// Read implements [io.Reader].
func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.progress != nil && n > 0 {
		p.progress(p.done, p.total)
	}
	return n, err
}
