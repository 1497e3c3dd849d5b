package versions

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Commit is the root's Commit, whose doc comment says what each field holds.
type Commit struct {
	N             uint64
	Time          time.Time
	Writer        string
	Size          int64
	BlocksChanged int
	Checkpoint    bool

	Made   string
	From   uint64
	Source string
}

// setMade fills the fields of c that say how it was made, from m.
func (c *Commit) setMade(m format.Made) {
	if m.By == format.ByTransaction {
		return
	}
	c.Made, c.From, c.Source = m.By.String(), m.Commit, m.Key
}

// History is the root's VFS.History, whose doc comment is the contract.
func (v *Ops) History(ctx context.Context, key string) iter.Seq2[Commit, error] {
	return func(yield func(Commit, error) bool) {
		if err := format.ValidateKey(key); err != nil {
			yield(Commit{}, err)
			return
		}
		db := v.newDatabase(key)
		start := time.Now()
		created := map[uint64]time.Time{}
		err := v.Env.Records.List(ctx, key, func(n uint64, _ int64, at time.Time) error {
			created[n] = at
			return nil
		})
		if err != nil {
			yield(Commit{}, err)
			return
		}
		ns := slices.Sorted(maps.Keys(created))
		slices.Reverse(ns)
		for d, err := range Ordered(ctx, v.Env.Cfg.Concurrency, len(ns), func(ctx context.Context, i int) (described, error) {
			return db.describe(ctx, ns[i])
		}) {
			c := d.Commit
			if errors.Is(err, store.ErrNotFound) {
				continue // collected since the listing: no longer kept
			}
			if err == nil && d.removed {
				return // the versions before are of a database removed
			}
			if err == nil && d.noDatabase {
				continue // no version: a key reserved for a branch
			}
			if err == nil && d.pageLevel && c.N != ns[0] && !engine.ReadableVersion(created, c.N, start, v.Env.Cfg.Retention) {
				continue // kept for the pages a later version overlays, not as a version
			}
			if !yield(c, err) || err != nil {
				return
			}
		}
	}
}

// described is a Commit and the format version of its record.
type described struct {
	Commit
	pageLevel  bool
	noDatabase bool // a record that reserves the key for a branch, or marks it removed: no version
	removed    bool // a record that marks the database removed: the versions before it are gone
}

// describe reads record n (and its checkpoint, if the commit wrote one).
func (db *database) describe(ctx context.Context, n uint64) (described, error) {
	rec, err := db.ReadRecord(ctx, n)
	if err != nil {
		return described{}, err
	}
	c, err := describeRecord(ctx, db, rec)
	m := rec.Made
	return described{c, rec.PageLevel(), m.NoDatabase(), m.By == format.Removed}, err
}

// describeRecord is describe of record rec, read already.
func describeRecord(ctx context.Context, db *database, rec *format.Record) (Commit, error) {
	n := rec.N
	c := Commit{N: n, Time: rec.Time, Writer: rec.Writer, Size: rec.FileSize}
	c.setMade(rec.Made)
	entries := rec.Delta
	if rec.Base == (format.CheckpointRef{N: n, Token: rec.Token}) {
		// It wrote a checkpoint: the blocks it set are there (in version
		// 2 its delta lists only block 0 and the blocks it carries pages of).
		c.Checkpoint = true
		_, ck, err := db.ReadBaseEntries(ctx, rec.Lineage, rec.Base)
		if err != nil {
			return Commit{}, fmt.Errorf("s3vfs: history of %s: %w", db.Key, err)
		}
		entries = append(ck, entries...)
	}
	// The blocks a commit wrote carry its number (blocks a large
	// transaction uploaded early have tokens of their own) or its token
	// (Deserialize and Restore keep the number of their first try); a
	// block whose overlay ends with the record has pages it carried.
	changed := map[int64]bool{}
	for _, e := range entries {
		wrote := !e.Ref.IsHole() && (e.Ref.Commit == n || e.Ref.Token == rec.Token)
		carried := e.Ov != nil && len(e.Ov.Recs) > 0 && e.Ov.Recs[len(e.Ov.Recs)-1].N == n
		if wrote || carried {
			changed[e.Idx] = true
		}
	}
	if pages, unit, ok := rec.ChangedPages(); ok && rec.BlockSize > 0 {
		// Version 2 lists the pages it changed: blocks uploaded early by a
		// transaction rebased onto a later head carry neither its number
		// nor its token.
		for _, run := range pages {
			first, last := run.First*unit/rec.BlockSize, ((run.First+run.N)*unit-1)/rec.BlockSize
			for idx := first; idx <= last && idx*rec.BlockSize < rec.FileSize; idx++ {
				changed[idx] = true
			}
		}
	}
	c.BlocksChanged = len(changed)
	return c, nil
}
