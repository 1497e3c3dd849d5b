package versions

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs/internal/btree"
	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/format"
)

// pageOwners names the tables and indexes that own pages (1-based page
// numbers of size pageSize) of version s of db, with how many of the
// pages each owns, most first, as "table orders (2), index orders_by_date
// (1)"; pages no tree owns (overflow, free) are counted apart. It is
// best effort, for an error message: it returns "" if the schema cannot
// be read (an encrypted database, a store that fails).
func (db *database) pageOwners(ctx context.Context, s *format.Snapshot, pages []uint32, pageSize int) string {
	trees, _, err := db.vfs.schemaTrees(db.Key, s.N)
	if err != nil {
		return ""
	}
	owners, err := btree.Owners(trees, pages, pageSize, db.pageReader(ctx, s, pageSize))
	if err != nil {
		return ""
	}
	count := map[string]int{}
	for _, name := range owners {
		count[name]++
	}
	names := slices.SortedFunc(maps.Keys(count), func(a, b string) int {
		return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b))
	})
	var parts []string
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s (%d)", name, count[name]))
	}
	if other := len(pages) - len(owners); other > 0 {
		parts = append(parts, fmt.Sprintf("other pages (%d)", other))
	}
	return strings.Join(parts, ", ")
}

// schemaTrees returns the b-trees of commit n of the database at key, as
// "table NAME" or "index NAME", from its sqlite_schema, read through a
// connection of its own, and for each index the table it indexes.
func (v *Ops) schemaTrees(key string, n uint64) ([]btree.Tree, map[string]string, error) {
	name := "s3vfs-schema-" + format.TokenString(engine.NewToken())
	vfs.Register(name, v.SQLite)
	defer vfs.Unregister(name)
	uri := fmt.Sprintf("file:%s?vfs=%s&commit=%d", (&url.URL{Path: key}).EscapedPath(), name, n)
	conn, err := sqlite3.OpenFlags(uri, sqlite3.OPEN_READONLY|sqlite3.OPEN_URI)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	stmt, _, err := conn.Prepare("SELECT type, name, tbl_name, rootpage FROM sqlite_schema WHERE rootpage > 0")
	if err != nil {
		return nil, nil, err
	}
	defer stmt.Close()
	trees := []btree.Tree{{Name: "table sqlite_schema", Root: 1}}
	tables := map[string]string{}
	for stmt.Step() {
		t := btree.Tree{Name: stmt.ColumnText(0) + " " + stmt.ColumnText(1), Root: uint32(stmt.ColumnInt64(3))}
		trees = append(trees, t)
		tables[t.Name] = "table " + stmt.ColumnText(2)
	}
	return trees, tables, stmt.Err()
}

// schemaConflict returns an error matching ErrMergeConflict when one side
// of the merge made an index (or rebuilt one) that the other side's
// changed rows would be missing from: an index is made from the table's
// rows as they were on its side, and a merge of pages does not make it
// again. It looks only when a side changed the schema (the schema cookie
// of page 1) and the other side changed pages besides page 1.
func (m *pageMerge) schemaConflict(ctx context.Context, head *format.Snapshot, ours format.PageList) error {
	cookie := func(db *database, s *format.Snapshot) (string, error) {
		b0, err := db.ReadBlock(ctx, s, 0)
		if err != nil || len(b0) < 44 {
			return "", err
		}
		return string(b0[40:44]), nil
	}
	base, err := cookie(m.into, m.base)
	if err != nil {
		return err
	}
	mine, err := cookie(m.into, head)
	if err != nil {
		return err
	}
	theirs, err := cookie(m.branch, m.theirs)
	if err != nil {
		return err
	}
	beyondPage1 := func(l format.PageList) bool { return l.Count() > 0 && (l.Count() > 1 || !l.Contains(0)) }
	sides := []struct {
		changedSchema bool
		made, other   *database
		madeAt, at    *format.Snapshot
		otherChanged  format.PageList
	}{
		{mine != base, m.into, m.branch, head, m.theirs, m.changed},
		{theirs != base, m.branch, m.into, m.theirs, head, ours},
	}
	for _, s := range sides {
		if !s.changedSchema || !beyondPage1(s.otherChanged) {
			continue
		}
		made, tables, err := s.made.vfs.schemaTrees(s.made.Key, s.madeAt.N)
		if err != nil {
			return fmt.Errorf("%w: the schema of %s changed since the branch was made while %s changed pages, and it cannot be read to tell whether an index was made (%v); nothing was published",
				ErrMergeConflict, s.made.Key, s.other.Key, err)
		}
		other, _, err := s.other.vfs.schemaTrees(s.other.Key, s.at.N)
		if err != nil {
			return fmt.Errorf("%w: the schema of %s cannot be read (%v); nothing was published", ErrMergeConflict, s.other.Key, err)
		}
		touched, err := m.tablesChanged(ctx, s.other, s.at, other, s.otherChanged)
		if err != nil {
			return fmt.Errorf("%w: the tables whose rows %s changed cannot be told (%v); nothing was published", ErrMergeConflict, s.other.Key, err)
		}
		var missing []string
		for _, idx := range newIndexes(made, other) {
			if touched[tables[idx]] {
				missing = append(missing, idx)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s made %s since the branch was made, which the rows %s changed would be missing from; nothing was published: "+
				"merge before making it, or make it again after the merge", ErrMergeConflict, s.made.Key, strings.Join(missing, ", "), s.other.Key)
		}
	}
	return nil
}

// tablesChanged returns the trees (of trees, the schema of version s of
// db) that own pages of changed, pages beyond page 1 that version
// changed since the branch point.
func (m *pageMerge) tablesChanged(ctx context.Context, db *database, s *format.Snapshot, trees []btree.Tree, changed format.PageList) (map[string]bool, error) {
	var pages []uint32
	for p := range changed.All() {
		if p > 0 {
			pages = append(pages, uint32(p+1))
		}
	}
	owners, err := btree.Owners(trees, pages, int(m.unit), db.pageReader(ctx, s, int(m.unit)))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, name := range owners {
		out[name] = true
	}
	return out, nil
}

// pageReader returns a function that reads page n (1-based, of pageSize
// bytes) of version s of db, as SQLite reads it.
func (db *database) pageReader(ctx context.Context, s *format.Snapshot, pageSize int) func(n uint32) ([]byte, error) {
	return func(n uint32) ([]byte, error) {
		b := make([]byte, pageSize)
		if _, err := db.ReadAt(ctx, s, b, int64(n-1)*int64(pageSize)); err != nil {
			return nil, err
		}
		return b, nil
	}
}

// freedConflict returns an error matching ErrMergeConflict when a page one
// side freed since the branch point (it is on that side's freelist and
// not on the base's) is one the other side wrote: a page merge would put
// the other side's bytes on a page the freelist hands out again. A page
// SQLite frees is not written, so the page lists miss it. Encrypted
// databases (whose freelist cannot be read) change page 1 at every
// commit, and so conflict before.
func (m *pageMerge) freedConflict(ctx context.Context, head *format.Snapshot, ours format.PageList) error {
	if m.unit > 65536 || ours.Count() == 0 || m.changed.Count() == 0 {
		return nil
	}
	ps := int(m.unit)
	free := func(db *database, s *format.Snapshot) (map[uint32]bool, error) {
		read := db.pageReader(ctx, s, ps)
		page1, err := read(1)
		if err != nil {
			return nil, err
		}
		return btree.Freelist(page1, ps, read)
	}
	base, err := free(m.into, m.base)
	if err != nil {
		return fmt.Errorf("%w: the freelist of the branch point cannot be read (%v); nothing was published", ErrMergeConflict, err)
	}
	var clash []int64
	for _, side := range []struct {
		db         *database
		s          *format.Snapshot
		otherWrote format.PageList
	}{{m.into, head, m.changed}, {m.branch, m.theirs, ours}} {
		f, err := free(side.db, side.s)
		if err != nil {
			return fmt.Errorf("%w: the freelist of %s cannot be read (%v); nothing was published", ErrMergeConflict, side.db.Key, err)
		}
		for pg := range f {
			if !base[pg] && side.otherWrote.Contains(int64(pg)-1) {
				clash = append(clash, int64(pg)-1)
			}
		}
	}
	if len(clash) > 0 {
		return fmt.Errorf("%w: %d freed page(s): pages one side freed since the branch was made (a DELETE, a REINDEX) were written by the other; nothing was published",
			ErrMergeConflict, len(clash))
	}
	return nil
}

// newIndexes returns the indexes of trees that others lacks, or has with
// another root page (made again).
func newIndexes(trees, others []btree.Tree) []string {
	had := map[string]uint32{}
	for _, t := range others {
		had[t.Name] = t.Root
	}
	var out []string
	for _, t := range trees {
		if root, ok := had[t.Name]; strings.HasPrefix(t.Name, "index ") && (!ok || root != t.Root) {
			out = append(out, t.Name)
		}
	}
	return out
}
