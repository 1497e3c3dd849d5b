// Package btree says which b-tree of a SQLite database file, which table
// or index, owns given pages, by walking the trees' interior pages. It
// serves to explain a refused merge ("3 pages conflict: table orders (2),
// index orders_by_date (1)") without the dbstat virtual table, which the
// SQLite build in use lacks.
//
// Contract: the package is pure. It imports nothing of this module, does
// no I/O of its own (pages come from a read function the caller gives),
// keeps no state between calls and never changes the bytes it is given.
//
// Cost: Owners reads page 1 (for the file header), the interior pages of
// the trees it walks, and one page per level to learn whether the level's
// pages are leaves: SQLite keeps every leaf of a b-tree at the same depth
// (PRAGMA integrity_check reports "Child page depth differs" otherwise),
// so one page tells for its whole level. It reads no other leaf: a leaf is
// attributed from its parent's child pointer, and leaves are most of a
// database. It reads each page at most once and stops as soon as every
// requested page is attributed.
//
// Corrupt input (a page of an unexpected type, a cell out of its page, a
// child pointer that is 0 or past the end of the file, a page reached twice
// as a cycle or a shared child makes it) gives an error, never a panic or
// an endless walk.
package btree

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Tree is a b-tree of the schema: the name of its table or index and its
// root page number (1-based), as sqlite_schema has them. The schema table
// itself is the tree of root 1.
type Tree struct {
	Name string
	Root uint32
}

// Page types, the first byte of a b-tree page's header.
const (
	interiorIndex = 0x02
	interiorTable = 0x05
	leafIndex     = 0x0a
	leafTable     = 0x0d
)

const (
	fileHeaderSize     = 100 // the file header, at the start of page 1
	interiorHeaderSize = 12  // the header of an interior b-tree page
	minUsableSize      = 480 // SQLite's least usable page size
)

const magic = "SQLite format 3\x00"

// Owners returns, for each page number in pages (1-based) that belongs to
// one of trees, the name of its tree, reading pages with read: read(n)
// returns page n's bytes, pageSize long (page 1 with the 100-byte file
// header). Each page number is read at most once, and only page numbers
// from 1 to the page count of the file header.
//
// Pages it cannot attribute (overflow pages, freelist pages, the pages of
// trees not given, numbers past the end of the file) are absent from the
// result. Trees sharing a root (a tree given twice, under one name or two)
// give their pages to the first of them in trees.
//
// The walk takes trees in order, each level by level, and stops when every
// requested page is attributed: corruption in a part of the file it does
// not reach by then goes unnoticed. It needs the page count of the file
// header, which SQLite keeps since version 3.7.0; a header whose count is
// not valid is an error.
func Owners(trees []Tree, pages []uint32, pageSize int, read func(n uint32) ([]byte, error)) (map[uint32]string, error) {
	owners := map[uint32]string{}
	if len(trees) == 0 || len(pages) == 0 {
		return owners, nil
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return nil, fmt.Errorf("btree: page size %d is not a power of two from 512 to 65536", pageSize)
	}
	w := &walker{pageSize: pageSize, read: read, owners: owners}
	if err := w.readHeader(); err != nil {
		return nil, err
	}
	w.want = make(map[uint32]bool, len(pages))
	for _, p := range pages {
		if p >= 1 && p <= w.count {
			w.want[p] = true
		}
	}
	w.left = len(w.want)
	w.seen = map[uint32]bool{}
	w.roots = map[uint32]bool{}
	for _, t := range trees {
		if w.left == 0 {
			break
		}
		if err := w.walk(t); err != nil {
			return nil, err
		}
	}
	return owners, nil
}

// walker is the state of one call of Owners.
type walker struct {
	pageSize int
	read     func(n uint32) ([]byte, error)
	page1    []byte // page 1, read first for its header
	usable   int    // the page size less the reserved bytes at the end of each page
	count    uint32 // the pages in the file

	want   map[uint32]bool   // pages asked for, 1 to count
	left   int               // pages asked for and not attributed yet
	owners map[uint32]string // the result
	seen   map[uint32]bool   // pages reached: roots walked and child pointers followed
	roots  map[uint32]bool   // roots walked
}

// readHeader reads page 1 and takes the file header's page size, reserved
// bytes and page count.
func (w *walker) readHeader() error {
	b, err := w.readPage(1)
	if err != nil {
		return err
	}
	if string(b[:len(magic)]) != magic {
		return errors.New("btree: page 1 does not start with the SQLite file header")
	}
	size := int(binary.BigEndian.Uint16(b[16:]))
	if size == 1 {
		size = 65536
	}
	if size != w.pageSize {
		return fmt.Errorf("btree: the file header says page size %d, not %d", size, w.pageSize)
	}
	w.usable = w.pageSize - int(b[20])
	if w.usable < minUsableSize {
		return fmt.Errorf("btree: the file header reserves %d bytes of each page: too many", b[20])
	}
	changes, validFor := binary.BigEndian.Uint32(b[24:]), binary.BigEndian.Uint32(b[92:])
	w.count = binary.BigEndian.Uint32(b[28:])
	if w.count == 0 || changes != validFor {
		return errors.New("btree: the page count of the file header is not valid")
	}
	w.page1 = b
	return nil
}

// readPage returns page n's bytes; page 1 is read once.
func (w *walker) readPage(n uint32) ([]byte, error) {
	if n == 1 && w.page1 != nil {
		return w.page1, nil
	}
	b, err := w.read(n)
	if err != nil {
		return nil, fmt.Errorf("btree: reading page %d: %w", n, err)
	}
	if len(b) != w.pageSize {
		return nil, fmt.Errorf("btree: page %d is %d bytes, not %d", n, len(b), w.pageSize)
	}
	return b, nil
}

// reach records that page n belongs to tree name, reached from parent (0
// for a root).
func (w *walker) reach(n, parent uint32, name string) error {
	if n == 0 || n > w.count {
		if parent == 0 {
			return fmt.Errorf("btree: root page %d of %s is not in the file's %d pages", n, name, w.count)
		}
		return fmt.Errorf("btree: page %d of %s points to page %d, not in the file's %d pages", parent, name, n, w.count)
	}
	if w.seen[n] {
		if parent == 0 {
			return fmt.Errorf("btree: root page %d of %s is a page of another tree", n, name)
		}
		return fmt.Errorf("btree: page %d of %s points to page %d, reached before", parent, name, n)
	}
	w.seen[n] = true
	if w.want[n] {
		w.owners[n] = name
		w.left--
	}
	return nil
}

// walk attributes the pages of tree t, level by level, until every
// requested page is attributed.
func (w *walker) walk(t Tree) error {
	if w.roots[t.Root] {
		return nil // shares its root with an earlier tree, which has its pages
	}
	if err := w.reach(t.Root, 0, t.Name); err != nil {
		return err
	}
	w.roots[t.Root] = true
	if w.left == 0 {
		return nil
	}
	first, err := w.readPage(t.Root)
	if err != nil {
		return err
	}
	typ := first[headerOffset(t.Root)]
	switch typ {
	case leafTable, leafIndex:
		return nil // a root that is a leaf owns just itself
	case interiorTable, interiorIndex:
	default:
		return fmt.Errorf("btree: root page %d of %s is not a b-tree page (type %#02x)", t.Root, t.Name, typ)
	}
	return w.walkBelow(t, first, typ)
}

// walkBelow attributes the pages below the interior root of tree t, whose
// bytes are first and type interior, level by level, until every
// requested page is attributed or the level reached is of leaves.
func (w *walker) walkBelow(t Tree, first []byte, interior byte) error {
	leaf := byte(leafTable)
	if interior == interiorIndex {
		leaf = leafIndex
	}
	// Every page of level is of the tree, reached, and interior; first is
	// the bytes of level[0].
	level := []uint32{t.Root}
	var next []uint32
	for {
		var done bool
		var err error
		next, done, err = w.walkLevel(t.Name, level, first, interior, next[:0])
		if err != nil || done {
			return err
		}
		// The children of level are the next level; its first page tells
		// whether they are leaves.
		level, next = next, level
		if first, err = w.readPage(level[0]); err != nil {
			return err
		}
		switch first[headerOffset(level[0])] {
		case leaf:
			return nil
		case interior:
		default:
			return fmt.Errorf("btree: page %d of %s is of type %#02x, a child of pages of type %#02x", level[0], t.Name, first[headerOffset(level[0])], interior)
		}
	}
}

// walkLevel reaches the children of the pages of level, interior pages of
// tree name whose first is the bytes of level[0], in order, and appends
// them to next, which it returns; done reports that every requested page
// is now attributed, and the walk may stop (nil is then returned for next).
func (w *walker) walkLevel(name string, level []uint32, first []byte, interior byte, next []uint32) (_ []uint32, done bool, err error) {
	for i, n := range level {
		b := first
		if i > 0 {
			if b, err = w.readPage(n); err != nil {
				return nil, false, err
			}
		}
		h := headerOffset(n)
		if b[h] != interior {
			return nil, false, fmt.Errorf("btree: page %d of %s is of type %#02x among pages of type %#02x", n, name, b[h], interior)
		}
		children, err := w.children(b, h, n, name)
		if err != nil {
			return nil, false, err
		}
		for _, c := range children {
			if err := w.reach(c, n, name); err != nil {
				return nil, false, err
			}
			if w.left == 0 {
				return nil, true, nil
			}
		}
		next = append(next, children...)
	}
	return next, false, nil
}

// children returns the child page numbers of interior page n, whose bytes
// are b and header is at offset h: the left child of each cell, then the
// right-most pointer.
func (w *walker) children(b []byte, h int, n uint32, name string) ([]uint32, error) {
	cells := int(binary.BigEndian.Uint16(b[h+3:]))
	start := h + interiorHeaderSize
	end := start + 2*cells // the end of the cell pointer array
	if end > w.usable {
		return nil, fmt.Errorf("btree: page %d of %s says %d cells: more than fit", n, name, cells)
	}
	out := make([]uint32, 0, cells+1)
	for i := range cells {
		off := int(binary.BigEndian.Uint16(b[start+2*i:]))
		if off < end || off+4 > w.usable {
			return nil, fmt.Errorf("btree: cell %d of page %d of %s is at offset %d, out of the cell area", i, n, name, off)
		}
		out = append(out, binary.BigEndian.Uint32(b[off:]))
	}
	return append(out, binary.BigEndian.Uint32(b[h+8:])), nil
}

// headerOffset returns the offset of the b-tree page header of page n:
// after the file header on page 1.
func headerOffset(n uint32) int {
	if n == 1 {
		return fileHeaderSize
	}
	return 0
}
