package btree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
)

// testSchema makes, at page size 1024, two tables with an index each that
// are three levels deep, interleaved in the file, a small table whose root
// is a leaf, a WITHOUT ROWID table, rows with overflow pages, and free
// pages (those of a table dropped).
const testSchema = `
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, date TEXT, note TEXT);
CREATE INDEX orders_by_date ON orders(date);
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE tags(tag TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
CREATE TABLE small(x);
CREATE TABLE blobs(id INTEGER PRIMARY KEY, data BLOB);
CREATE TABLE junk(x);
INSERT INTO small VALUES (1);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
INSERT INTO orders SELECT i, i % 700, date('2020-01-01', '+' || (i * 7 % 3000) || ' days') || ' #' || i, printf('%.*c', 30 + i % 70, 'x') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700)
INSERT INTO customers SELECT i, 'customer ' || (i * 7919 % 7000) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 800)
INSERT INTO tags SELECT 'tag ' || (i * 31 % 997), i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4)
INSERT INTO blobs SELECT i, randomblob(6000) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
INSERT INTO junk SELECT randomblob(300) FROM n;
DROP TABLE junk;
`

// testDB is a SQLite file built for a test, with what a full walk of its
// trees found.
type testDB struct {
	file     []byte
	pageSize int
	n        uint32            // pages
	trees    []Tree            // sqlite_schema first, then its rows with a root
	root     map[string]uint32 // tree name → root
	owner    map[uint32]string // every page of a tree → its tree's name
	interior map[uint32]bool   // the interior pages of the trees
	depth    map[string]int    // tree name → levels
	free     map[uint32]bool   // freelist pages, trunks and leaves
	overflow map[uint32]bool   // the other pages: overflow pages here
}

// build makes a database of the given page size with schema, reads its
// file and walks every tree fully, leaves too.
func build(t testing.TB, pageSize int, schema string) *testDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	conn, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(fmt.Sprintf("PRAGMA page_size = %d;", pageSize) + schema); err != nil {
		t.Fatal(err)
	}
	db := &testDB{pageSize: pageSize, root: map[string]uint32{}}
	db.trees = append(db.trees, Tree{"sqlite_schema", 1})
	stmt, _, err := conn.Prepare(`SELECT name, rootpage FROM sqlite_schema WHERE rootpage > 0`)
	if err != nil {
		t.Fatal(err)
	}
	for stmt.Step() {
		db.trees = append(db.trees, Tree{stmt.ColumnText(0), uint32(stmt.ColumnInt64(1))})
	}
	if err := stmt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if db.file, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if len(db.file)%pageSize != 0 {
		t.Fatalf("file of %d bytes, not whole pages of %d", len(db.file), pageSize)
	}
	db.n = uint32(len(db.file) / pageSize)
	if h := binary.BigEndian.Uint32(db.file[28:]); h != db.n {
		t.Fatalf("header says %d pages, the file has %d", h, db.n)
	}
	db.walkAll(t)
	return db
}

func (db *testDB) page(n uint32) []byte {
	return db.file[int(n-1)*db.pageSize : int(n)*db.pageSize : int(n)*db.pageSize]
}

// walkAll finds the pages of every tree, the freelist, and the rest.
func (db *testDB) walkAll(t testing.TB) {
	t.Helper()
	db.owner = map[uint32]string{}
	db.interior = map[uint32]bool{}
	db.depth = map[string]int{}
	for _, tr := range db.trees {
		if _, dup := db.owner[tr.Root]; dup {
			t.Fatalf("root %d of %s is a page of %s", tr.Root, tr.Name, db.owner[tr.Root])
		}
		db.root[tr.Name] = tr.Root
		db.depth[tr.Name] = db.walkTree(t, tr.Root, tr.Name)
	}
	db.free = map[uint32]bool{}
	for trunk := binary.BigEndian.Uint32(db.file[32:]); trunk != 0; {
		db.free[trunk] = true
		p := db.page(trunk)
		for i := range binary.BigEndian.Uint32(p[4:]) {
			db.free[binary.BigEndian.Uint32(p[8+4*i:])] = true
		}
		trunk = binary.BigEndian.Uint32(p)
	}
	if want := binary.BigEndian.Uint32(db.file[36:]); uint32(len(db.free)) != want {
		t.Fatalf("freelist of %d pages, the header says %d", len(db.free), want)
	}
	db.overflow = map[uint32]bool{}
	for n := uint32(1); n <= db.n; n++ {
		_, owned := db.owner[n]
		if owned && db.free[n] {
			t.Fatalf("page %d is both free and of %s", n, db.owner[n])
		}
		if !owned && !db.free[n] {
			db.overflow[n] = true
		}
	}
}

// walkTree records the pages of the tree of root n and returns its depth.
func (db *testDB) walkTree(t testing.TB, n uint32, name string) int {
	t.Helper()
	if other, ok := db.owner[n]; ok {
		t.Fatalf("page %d of %s already of %s", n, name, other)
	}
	db.owner[n] = name
	p := db.page(n)
	h := headerOffset(n)
	switch p[h] {
	case leafTable, leafIndex:
		return 1
	case interiorTable, interiorIndex:
	default:
		t.Fatalf("page %d of %s has type %#x", n, name, p[h])
	}
	db.interior[n] = true
	cells := int(binary.BigEndian.Uint16(p[h+3:]))
	var children []uint32
	for i := range cells {
		off := binary.BigEndian.Uint16(p[h+12+2*i:])
		children = append(children, binary.BigEndian.Uint32(p[off:]))
	}
	children = append(children, binary.BigEndian.Uint32(p[h+8:]))
	depth := 0
	for i, c := range children {
		d := db.walkTree(t, c, name)
		if i > 0 && d != depth {
			t.Fatalf("children of page %d of %s at depths %d and %d", n, name, depth, d)
		}
		depth = d
	}
	return depth + 1
}

// pagesOf returns the pages of tree name, in order.
func (db *testDB) pagesOf(name string) []uint32 {
	var out []uint32
	for n, o := range db.owner {
		if o == name {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// leavesOf returns the leaf pages of tree name, in order.
func (db *testDB) leavesOf(name string) []uint32 {
	var out []uint32
	for _, n := range db.pagesOf(name) {
		if !db.interior[n] {
			out = append(out, n)
		}
	}
	return out
}

func allPages(n uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i + 1)
	}
	return out
}

// reader reads the pages of file, with overlay's pages in place of the
// file's; it counts its reads and fails the test on a read of page 0 or a
// page read twice. A page past the end of the file is an error.
type reader struct {
	t        testing.TB
	file     []byte
	pageSize int
	overlay  map[uint32][]byte
	reads    map[uint32]int
}

func newReader(t testing.TB, db *testDB) *reader {
	return &reader{t: t, file: db.file, pageSize: db.pageSize, reads: map[uint32]int{}}
}

func (r *reader) read(n uint32) ([]byte, error) {
	r.t.Helper()
	r.reads[n]++
	if n == 0 {
		r.t.Fatal("read of page 0")
	}
	if r.reads[n] > 1 {
		r.t.Fatalf("page %d read twice", n)
	}
	if p, ok := r.overlay[n]; ok {
		return p, nil
	}
	if int64(n)*int64(r.pageSize) > int64(len(r.file)) {
		return nil, fmt.Errorf("page %d past the end of the file", n)
	}
	return r.file[int(n-1)*r.pageSize : int(n)*r.pageSize : int(n)*r.pageSize], nil
}

var shared struct {
	db *testDB
}

// testData returns the database of testSchema, built once.
func testData(t *testing.T) *testDB {
	t.Helper()
	if shared.db == nil {
		shared.db = build(t, 1024, testSchema)
	}
	return shared.db
}

// The database is what the tests need: deep trees, a root leaf, free and
// overflow pages.
func TestTestData(t *testing.T) {
	db := testData(t)
	for _, name := range []string{"orders", "orders_by_date"} {
		if db.depth[name] < 3 {
			t.Errorf("%s is %d levels deep; want 3 or more", name, db.depth[name])
		}
	}
	if db.depth["small"] != 1 {
		t.Errorf("small is %d levels deep; want a root leaf", db.depth["small"])
	}
	if len(db.free) == 0 || len(db.overflow) == 0 {
		t.Errorf("%d free pages and %d overflow pages; want some of each", len(db.free), len(db.overflow))
	}
	t.Logf("%d pages: %d of trees (%d interior), %d free, %d overflow; depths %v",
		db.n, len(db.owner), len(db.interior), len(db.free), len(db.overflow), db.depth)
}

// Asked for every page, Owners attributes exactly the pages of the trees,
// reading page 1, the interior pages and one leaf per tree at most.
func TestOwnersAllPages(t *testing.T) {
	db := testData(t)
	r := newReader(t, db)
	got, err := Owners(db.trees, allPages(db.n), db.pageSize, r.read)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, db.owner) {
		for n := uint32(1); n <= db.n; n++ {
			if got[n] != db.owner[n] {
				t.Errorf("page %d: got %q, want %q", n, got[n], db.owner[n])
			}
		}
		t.Fatal("Owners differs from a full walk")
	}
	leaves := 0
	for n := range r.reads {
		switch {
		case db.free[n] || db.overflow[n]:
			t.Errorf("read page %d, not of a tree", n)
		case !db.interior[n] && n != 1:
			leaves++
		}
	}
	if leaves > len(db.trees) {
		t.Errorf("read %d leaves for %d trees", leaves, len(db.trees))
	}
	if len(r.reads) > 1+len(db.interior)+len(db.trees) || len(r.reads)*10 > int(db.n) {
		t.Errorf("read %d pages of %d (%d interior)", len(r.reads), db.n, len(db.interior))
	}
	t.Logf("read %d pages of %d (%d interior, %d leaves)", len(r.reads), db.n, len(db.interior), leaves)
}

// Given some trees and some pages, Owners attributes the pages of those
// trees only: a page of another tree, a free page, an overflow page, a
// page past the end or page 0 is absent.
func TestOwnersSomePages(t *testing.T) {
	db := testData(t)
	ordersLeaves, indexLeaves := db.leavesOf("orders"), db.leavesOf("orders_by_date")
	customers := db.pagesOf("customers")
	var free, overflow uint32
	for n := range db.free {
		free = max(free, n)
	}
	for n := range db.overflow {
		overflow = max(overflow, n)
	}
	ordersRoot := db.root["orders"]
	pages := []uint32{
		ordersRoot, ordersLeaves[0], ordersLeaves[len(ordersLeaves)/2], ordersLeaves[len(ordersLeaves)-1],
		indexLeaves[len(indexLeaves)/3],
		customers[len(customers)-1], free, overflow, db.n + 5, 0,
	}
	trees := []Tree{{"orders", ordersRoot}, {"orders_by_date", db.root["orders_by_date"]}}
	got, err := Owners(trees, pages, db.pageSize, newReader(t, db).read)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{
		ordersRoot:                        "orders",
		ordersLeaves[0]:                   "orders",
		ordersLeaves[len(ordersLeaves)/2]: "orders",
		ordersLeaves[len(ordersLeaves)-1]: "orders",
		indexLeaves[len(indexLeaves)/3]:   "orders_by_date",
	}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	// Every page of every tree, asked for one tree at a time among all
	// trees: only that tree's pages come back, under its name.
	for _, tr := range db.trees {
		got, err := Owners(db.trees, db.pagesOf(tr.Name), db.pageSize, newReader(t, db).read)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range db.pagesOf(tr.Name) {
			if got[n] != tr.Name {
				t.Errorf("page %d of %s: got %q", n, tr.Name, got[n])
			}
		}
		if len(got) != len(db.pagesOf(tr.Name)) {
			t.Errorf("%s: %d pages attributed, want %d", tr.Name, len(got), len(db.pagesOf(tr.Name)))
		}
	}
}

// Owners stops when every page asked for is attributed.
func TestOwnersStopsEarly(t *testing.T) {
	db := testData(t)
	trees := []Tree{{"orders", db.root["orders"]}, {"orders_by_date", db.root["orders_by_date"]}}

	// A root is attributed before it is read.
	r := newReader(t, db)
	got, err := Owners(trees, []uint32{db.root["orders"]}, db.pageSize, r.read)
	if err != nil || got[db.root["orders"]] != "orders" || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if len(r.reads) != 1 { // page 1, for the header
		t.Errorf("read %v; want page 1 only", slices.Sorted(maps.Keys(r.reads)))
	}

	// A child of the root: the root is read too, nothing else.
	root := db.root["orders"]
	rootPage := db.page(root)
	child := binary.BigEndian.Uint32(rootPage[binary.BigEndian.Uint16(rootPage[12:]):])
	r = newReader(t, db)
	got, err = Owners(trees, []uint32{child}, db.pageSize, r.read)
	if err != nil || got[child] != "orders" || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if len(r.reads) != 2 || r.reads[root] != 1 {
		t.Errorf("read %v; want page 1 and root %d", slices.Sorted(maps.Keys(r.reads)), root)
	}

	// Pages of the first tree only: the second is not read.
	r = newReader(t, db)
	if _, err := Owners(trees, db.leavesOf("orders"), db.pageSize, r.read); err != nil {
		t.Fatal(err)
	}
	for n := range r.reads {
		if db.owner[n] == "orders_by_date" {
			t.Errorf("read page %d of orders_by_date", n)
		}
	}

	// Nothing asked for: nothing read.
	r = newReader(t, db)
	if got, err := Owners(trees, nil, db.pageSize, r.read); err != nil || len(got) != 0 || len(r.reads) != 0 {
		t.Errorf("got %v, %v after %d reads", got, err, len(r.reads))
	}
}

// A root that is a leaf owns just itself; a tree given twice, or two names
// for one root, give the pages to the first.
func TestOwnersRootLeafAndSharedRoot(t *testing.T) {
	db := testData(t)
	small := db.root["small"]
	r := newReader(t, db)
	got, err := Owners([]Tree{{"small", small}}, allPages(db.n), db.pageSize, r.read)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint32]string{small: "small"}; !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if len(r.reads) != 2 {
		t.Errorf("read %v; want page 1 and root %d", slices.Sorted(maps.Keys(r.reads)), small)
	}

	customers := db.root["customers"]
	trees := []Tree{{"customers", customers}, {"customers again", customers}, {"customers", customers}}
	got, err = Owners(trees, allPages(db.n), db.pageSize, newReader(t, db).read)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range db.pagesOf("customers") {
		if got[n] != "customers" {
			t.Errorf("page %d: got %q, want customers", n, got[n])
		}
	}
	if len(got) != len(db.pagesOf("customers")) {
		t.Errorf("%d pages attributed, want %d", len(got), len(db.pagesOf("customers")))
	}
}

// Corrupt pages, bad headers and bad arguments give errors.
func TestOwnersErrors(t *testing.T) {
	db := testData(t)
	root := db.root["orders"]
	index := db.root["orders_by_date"]
	// orders is three levels deep: first and bottom are the first and the
	// last child of the root, interior pages whose children are leaves.
	if db.depth["orders"] != 3 {
		t.Fatalf("orders is %d levels deep, want 3", db.depth["orders"])
	}
	rootChildren := childrenOf(db, root)
	first, bottom := rootChildren[0], rootChildren[len(rootChildren)-1]
	firstCell := func(p []byte) int { return int(binary.BigEndian.Uint16(p[12:])) }
	setRight := func(v uint32) func(p []byte) { return func(p []byte) { binary.BigEndian.PutUint32(p[8:], v) } }

	cases := []struct {
		name   string
		page   uint32 // the page changed
		change func(p []byte)
		want   string // in the error
	}{
		{"right-most pointer to itself", root, setRight(root), "reached before"},
		{"cell child to itself", root, func(p []byte) { binary.BigEndian.PutUint32(p[firstCell(p):], root) }, "reached before"},
		{"child to its parent", bottom, setRight(root), "reached before"},
		{"two pointers to one leaf", bottom, func(p []byte) { binary.BigEndian.PutUint32(p[8:], binary.BigEndian.Uint32(p[firstCell(p):])) }, "reached before"},
		{"child to another tree's root", bottom, setRight(index), "another tree"},
		{"child 0", root, setRight(0), "not in the file"},
		{"child past the end", root, setRight(db.n + 1), "not in the file"},
		{"child far past the end", bottom, setRight(0xffffffff), "not in the file"},
		{"cell count too big", root, func(p []byte) { binary.BigEndian.PutUint16(p[3:], 0xffff) }, "more than fit"},
		{"cell in the header", root, func(p []byte) { binary.BigEndian.PutUint16(p[12:], 4) }, "out of the cell area"},
		{"cell at the end", root, func(p []byte) { binary.BigEndian.PutUint16(p[12:], uint16(len(p)-2)) }, "out of the cell area"},
		{"root not a b-tree page", root, func(p []byte) { p[0] = 0 }, "not a b-tree page"},
		{"index page in a table", bottom, func(p []byte) { p[0] = interiorIndex }, "among pages of type"},
		{"leaf among interior pages", bottom, func(p []byte) { p[0] = leafTable }, "among pages of type"},
		{"first child of another kind", first, func(p []byte) { p[0] = interiorIndex }, "child of pages of type"},
		{"root of another kind than its children", root, func(p []byte) { p[0] = interiorIndex }, "child of pages of type"},
		{"page 1 not a database", 1, func(p []byte) { p[0] = 'X' }, "file header"},
		{"page size not the header's", 1, func(p []byte) { binary.BigEndian.PutUint16(p[16:], 2048) }, "page size 2048"},
		{"page count not valid", 1, func(p []byte) { p[95]++ }, "not valid"},
		{"page count 0", 1, func(p []byte) { binary.BigEndian.PutUint32(p[28:], 0) }, "not valid"},
		{"cells in the reserved bytes", 1, func(p []byte) { p[20] = 255 }, "out of the cell area"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := slices.Clone(db.page(c.page))
			c.change(p)
			r := newReader(t, db)
			r.overlay = map[uint32][]byte{c.page: p}
			trees := []Tree{{"orders", root}, {"orders_by_date", index}}
			got, err := Owners(trees, allPages(db.n), db.pageSize, r.read)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %d pages, error %v; want an error with %q", len(got), err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "btree: ") {
				t.Errorf("error %q", err)
			}
		})
	}

	// A header that counts more pages than the file has: a child past the
	// end is read, and the read's error is returned.
	t.Run("page count past the file", func(t *testing.T) {
		p1, p := slices.Clone(db.page(1)), slices.Clone(db.page(root))
		binary.BigEndian.PutUint32(p1[28:], 1<<31)
		r := newReader(t, db)
		r.overlay = map[uint32][]byte{1: p1, root: p}
		// The first child of the root is read to learn its level.
		binary.BigEndian.PutUint32(p[binary.BigEndian.Uint16(p[12:]):], db.n+1)
		_, err := Owners([]Tree{{"orders", root}}, append(allPages(db.n), 1<<30), db.pageSize, r.read)
		if err == nil || !strings.Contains(err.Error(), "past the end") {
			t.Fatalf("error %v; want one of a read past the end", err)
		}
	})

	// Pages of 512 bytes with 100 reserved leave less than SQLite's least
	// usable size.
	t.Run("too many reserved bytes", func(t *testing.T) {
		small := build(t, 512, `CREATE TABLE t(x);`)
		p1 := slices.Clone(small.page(1))
		p1[20] = 100
		r := newReader(t, small)
		r.overlay = map[uint32][]byte{1: p1}
		_, err := Owners(small.trees, allPages(small.n), 512, r.read)
		if err == nil || !strings.Contains(err.Error(), "reserves 100 bytes") {
			t.Fatalf("error %v; want one of reserved bytes", err)
		}
	})

	errRead := errors.New("no such page")
	for _, c := range []struct {
		name     string
		trees    []Tree
		pageSize int
		read     func(uint32) ([]byte, error)
		want     string
	}{
		{"read error", []Tree{{"orders", root}}, db.pageSize, func(n uint32) ([]byte, error) {
			if n == root {
				return nil, errRead
			}
			return db.page(n), nil
		}, "no such page"},
		{"short page", []Tree{{"orders", root}}, db.pageSize, func(n uint32) ([]byte, error) { return db.page(n)[:100], nil }, "100 bytes"},
		{"long page", []Tree{{"orders", root}}, db.pageSize, func(n uint32) ([]byte, error) { return append(slices.Clone(db.page(n)), 0), nil }, "1025 bytes"},
		{"page size not a power of two", []Tree{{"orders", root}}, 1000, nil, "page size 1000"},
		{"page size too small", []Tree{{"orders", root}}, 256, nil, "page size 256"},
		{"page size too big", []Tree{{"orders", root}}, 1 << 17, nil, "page size 131072"},
		{"page size not the file's", []Tree{{"orders", root}}, 4096, func(n uint32) ([]byte, error) {
			return append(slices.Clone(db.page(n)), make([]byte, 3072)...), nil
		}, "says page size 1024"},
		{"root 0", []Tree{{"orders", 0}}, db.pageSize, newReader(t, db).read, "root page 0 of orders"},
		{"root past the end", []Tree{{"orders", db.n + 1}}, db.pageSize, newReader(t, db).read, "not in the file"},
		{"root a page of an earlier tree", []Tree{{"orders", root}, {"leaf", db.leavesOf("orders")[0]}}, db.pageSize, newReader(t, db).read, "another tree"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Owners(c.trees, allPages(db.n), c.pageSize, c.read)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %d pages, error %v; want an error with %q", len(got), err, c.want)
			}
			if c.name == "read error" && !errors.Is(err, errRead) {
				t.Errorf("error %v does not wrap the read's", err)
			}
		})
	}
}

// childrenOf returns the children of interior page n.
func childrenOf(db *testDB, n uint32) []uint32 {
	p := db.page(n)
	h := headerOffset(n)
	var out []uint32
	for i := range int(binary.BigEndian.Uint16(p[h+3:])) {
		out = append(out, binary.BigEndian.Uint32(p[binary.BigEndian.Uint16(p[h+12+2*i:]):]))
	}
	return append(out, binary.BigEndian.Uint32(p[h+8:]))
}

// Random damage to the pages Owners reads (bytes changed, child pointers
// pointed anywhere, pages of random bytes) gives an error or a result:
// never a panic, a read of a page twice or of page 0, a page not asked
// for, or a page past the end.
func TestOwnersGarbage(t *testing.T) {
	db := testData(t)
	rng := rand.New(rand.NewPCG(7, 11))
	interior := slices.Sorted(maps.Keys(db.interior))
	var errs, oks int
	for range 3000 {
		r := newReader(t, db)
		r.overlay = map[uint32][]byte{}
		for range 1 + rng.IntN(4) {
			n := interior[rng.IntN(len(interior))]
			if rng.IntN(8) == 0 {
				n = 1
			}
			p, ok := r.overlay[n]
			if !ok {
				p = slices.Clone(db.page(n))
				r.overlay[n] = p
			}
			h := headerOffset(n)
			switch rng.IntN(5) {
			case 0: // a few random bytes in the header and cell pointers
				for range 1 + rng.IntN(4) {
					p[h+rng.IntN(40)] = byte(rng.Uint32())
				}
			case 1: // a few random bytes anywhere
				for range 1 + rng.IntN(8) {
					p[rng.IntN(len(p))] = byte(rng.Uint32())
				}
			case 2, 3: // a child pointer pointed anywhere: a cycle, another tree, out of the file
				children := []int{h + 8}
				if db.interior[n] {
					for i := range min(int(binary.BigEndian.Uint16(p[h+3:])), (len(p)-h-12)/2) {
						off := int(binary.BigEndian.Uint16(p[h+12+2*i:]))
						if off+4 <= len(p) {
							children = append(children, off)
						}
					}
				}
				to := []uint32{0, n, 1, interior[rng.IntN(len(interior))], uint32(rng.IntN(int(db.n) + 3)), rng.Uint32()}
				binary.BigEndian.PutUint32(p[children[rng.IntN(len(children))]:], to[rng.IntN(len(to))])
			case 4: // a page of random bytes, of an interior type or not
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				if n == 1 {
					copy(p, db.page(1)[:100])
				}
				if rng.IntN(2) == 0 {
					p[h] = []byte{interiorIndex, interiorTable, leafIndex, leafTable}[rng.IntN(4)]
				}
			}
		}
		pages := allPages(db.n + 2)
		if rng.IntN(2) == 0 {
			pages = pages[:0]
			for range 1 + rng.IntN(20) {
				pages = append(pages, uint32(rng.IntN(int(db.n)+3)))
			}
		}
		got, err := Owners(db.trees, pages, db.pageSize, r.read)
		if err != nil {
			errs++
			continue
		}
		oks++
		for n := range got {
			if n == 0 || n > db.n || !slices.Contains(pages, n) {
				t.Fatalf("page %d attributed, not asked for or not in the file", n)
			}
		}
		if len(r.reads) > int(db.n) {
			t.Fatalf("%d reads for %d pages", len(r.reads), db.n)
		}
	}
	t.Logf("%d errors, %d results", errs, oks)
}

// FuzzOwners feeds whole files to Owners: any file gives an error or a
// result, reading each page once at most.
//
//	go test -run '^$' -fuzz FuzzOwners ./internal/btree
func FuzzOwners(f *testing.F) {
	db := build(f, 512, `
CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT);
CREATE INDEX t_s ON t(s);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO t SELECT i, printf('%.*c', i % 50, 'y') || i FROM n;`)
	f.Add(db.file)
	cycle := slices.Clone(db.file)
	binary.BigEndian.PutUint32(cycle[int(db.root["t"]-1)*512+8:], db.root["t"])
	f.Add(cycle)
	f.Add(db.file[:1024])
	f.Fuzz(func(t *testing.T, file []byte) {
		if len(file) < 100 {
			return
		}
		pageSize := int(binary.BigEndian.Uint16(file[16:]))
		if pageSize == 1 {
			pageSize = 65536
		}
		reads := map[uint32]bool{}
		read := func(n uint32) ([]byte, error) {
			if n == 0 || reads[n] {
				t.Fatalf("page %d read again, or page 0", n)
			}
			reads[n] = true
			if int64(n)*int64(pageSize) > int64(len(file)) {
				return nil, errors.New("past the end")
			}
			return file[int(n-1)*pageSize : int(n)*pageSize], nil
		}
		var trees []Tree
		for i := range uint32(6) {
			trees = append(trees, Tree{fmt.Sprint("tree ", i), i + 1})
		}
		pages := allPages(min(uint32(len(file)/max(pageSize, 1)), 1<<16) + 1)
		got, err := Owners(trees, pages, pageSize, read)
		if err == nil {
			for n := range got {
				if !slices.Contains(pages, n) {
					t.Fatalf("page %d not asked for", n)
				}
			}
		}
	})
}

// The package is pure: its code imports nothing of this module.
func TestPure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if strings.HasPrefix(strings.Trim(imp.Path.Value, `"`), "github.com/s3vfs/s3vfs") {
				t.Errorf("%s imports %s", name, imp.Path.Value)
			}
		}
	}
}
