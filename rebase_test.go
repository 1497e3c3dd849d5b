package s3vfs_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
)

// twoWriters returns two processes' connections (one VFS each, one
// connection each) to a database of rows rows (id, v), 4 KiB pages, about
// 30 rows a page, on the real server; and the two VFSs.
func twoWriters(t *testing.T, rows int, params ...string) (a, b *sql.DB, va, vb *s3vfs.VFS) {
	t.Helper()
	e := newEnv(t, nil)
	setup := e.open("cc.db")
	mustExec(t, setup, "PRAGMA page_size=4096")
	mustExec(t, setup, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
	mustExec(t, setup, "INSERT INTO t SELECT value, 0, printf('%0100d', value) FROM generate_series(1, ?)", rows)
	va, vb = e.newVFS(nil), e.newVFS(nil)
	a, b = openDB(t, e.register(va), "cc.db", params...), openDB(t, e.register(vb), "cc.db", params...)
	a.SetMaxOpenConns(1)
	b.SetMaxOpenConns(1)
	return a, b, va, vb
}

// begin starts a transaction on db that reads row read and sets row write
// to what it read plus one; it returns the transaction and what it read.
func begin(t *testing.T, db *sql.DB, read, write int) (*sql.Tx, int64) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var v int64
	if err := tx.QueryRow("SELECT v FROM t WHERE id = ?", read).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE t SET v = ? WHERE id = ?", v+1, write); err != nil {
		t.Fatal(err)
	}
	return tx, v
}

// TestRebaseDisjointWriters: two processes' transactions that read and
// write rows on different pages (of one block) both commit; the one that
// lost the race is rebased, and both updates are in the database.
func TestRebaseDisjointWriters(t *testing.T) {
	a, b, va, _ := twoWriters(t, 600)
	txA, _ := begin(t, a, 1, 1)
	txB, _ := begin(t, b, 500, 500)
	if err := txB.Commit(); err != nil {
		t.Fatal(err)
	}
	before := va.Stats()
	if err := txA.Commit(); err != nil {
		t.Fatalf("a transaction on other pages: %v, want a rebased commit", err)
	}
	if d := va.Stats().Sub(before); d.Rebases != 1 || d.Conflicts != 0 || d.Commits != 1 {
		t.Errorf("the commit: %v, want one rebase and no conflict", d)
	}
	if got := parseStats(t, queryString(t, a, "PRAGMA s3vfs_stats")); got["rebases"] != 1 || got["conflicts"] != 0 {
		t.Errorf("PRAGMA s3vfs_stats: rebases=%v conflicts=%v, want 1 and 0", got["rebases"], got["conflicts"])
	}
	for _, db := range []*sql.DB{a, b} {
		if got := queryInt(t, db, "SELECT sum(v) FROM t"); got != 2 {
			t.Errorf("sum(v) = %d after both commits, want 2", got)
		}
		integrityOK(t, db)
	}
}

// TestRebaseRequests: a commit that lost the race costs the lost create,
// one round trip that reads the record that won and finds the next one
// missing, and the create on top of it: no LIST, and no record read
// twice. The process then knows the head: its next transaction asks for
// the record after it only.
func TestRebaseRequests(t *testing.T) {
	a, b, va, _ := twoWriters(t, 600)
	mustExec(t, a, "UPDATE t SET v = 1 WHERE id = 300") // a's first commit checks the store (storecheck.go)
	txA, _ := begin(t, a, 1, 1)
	txB, _ := begin(t, b, 500, 500)
	if err := txB.Commit(); err != nil {
		t.Fatal(err)
	}
	before := va.Stats()
	if err := txA.Commit(); err != nil {
		t.Fatal(err)
	}
	d := va.Stats().Sub(before)
	if d.Rebases != 1 || d.Puts != 2 || d.Gets != s3vfs.RebaseProbeForTest || d.Requests() != 2+s3vfs.RebaseProbeForTest {
		t.Errorf("the commit: %v, want one rebase, 2 PUTs, %d GETs and nothing else", d, s3vfs.RebaseProbeForTest)
	}
	before = va.Stats()
	if got := queryInt(t, a, "SELECT sum(v) FROM t"); got != 3 {
		t.Errorf("sum(v) = %d, want 3", got)
	}
	if d := va.Stats().Sub(before); d.Requests() != 1 || d.Gets != 1 {
		t.Errorf("the next transaction: %v, want one GET (of the record after the head)", d)
	}
}

// TestRebaseSameProcess: the same holds for two connections of one
// process, the second of which wrote while the first read (a deferred
// transaction): the first one's write lock is granted on its older
// snapshot, and its commit rebased.
func TestRebaseSameProcess(t *testing.T) {
	a, _, va, _ := twoWriters(t, 600, "_txlock=deferred")
	a.SetMaxOpenConns(2)
	ctx := context.Background()
	c1, err := a.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := a.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	tx1, err := c1.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v int64
	if err := tx1.QueryRow("SELECT v FROM t WHERE id = 1").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ExecContext(ctx, "UPDATE t SET v = 1 WHERE id = 500"); err != nil {
		t.Fatal(err)
	}
	before := va.Stats()
	if _, err := tx1.Exec("UPDATE t SET v = ? WHERE id = 1", v+1); err != nil {
		t.Fatalf("a write on other pages after another connection's commit: %v", err)
	}
	if err := tx1.Commit(); err != nil {
		t.Fatal(err)
	}
	// The process holds the record of its own commit, and knows it is
	// the head: the rebase reads nothing, and the create is the only
	// request.
	if d := va.Stats().Sub(before); d.Rebases != 1 || d.Requests() != 1 || d.Puts != 1 {
		t.Errorf("the commit: %v, want one rebase and one request, its record's create", d)
	}
	c1.Close()
	c2.Close()
	if got := queryInt(t, a, "SELECT sum(v) FROM t"); got != 2 {
		t.Errorf("sum(v) = %d, want 2", got)
	}
}

// TestRebaseReadConflict: a transaction that read a row another process
// then changed fails, although it wrote elsewhere.
func TestRebaseReadConflict(t *testing.T) {
	a, b, va, _ := twoWriters(t, 600)
	txA, _ := begin(t, a, 500, 1) // reads row 500, writes row 1
	txB, _ := begin(t, b, 500, 500)
	if err := txB.Commit(); err != nil {
		t.Fatal(err)
	}
	before := va.Stats()
	if err := txA.Commit(); !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("a transaction that read a changed row: %v, want SQLITE_BUSY", err)
	}
	if d := va.Stats().Sub(before); d.Rebases != 0 || d.Conflicts != 1 {
		t.Errorf("the commit: %v, want one conflict, no rebase", d)
	}
	if got := queryInt(t, a, "SELECT v FROM t WHERE id = 1"); got != 0 {
		t.Errorf("row 1 = %d: the failed transaction's write is visible", got)
	}
}

// TestRebaseCachedRead: a page SQLite read in an earlier transaction on
// the same snapshot, and serves from its own cache without asking the VFS
// again, is in the read set all the same.
func TestRebaseCachedRead(t *testing.T) {
	a, b, _, _ := twoWriters(t, 600)
	if got := queryInt(t, a, "SELECT v FROM t WHERE id = 500"); got != 0 {
		t.Fatal(got)
	}
	txA, _ := begin(t, a, 500, 1) // row 500 from SQLite's page cache
	txB, _ := begin(t, b, 500, 500)
	if err := txB.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := txA.Commit(); !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("a transaction that read a changed row from SQLite's cache: %v, want SQLITE_BUSY", err)
	}
}

// TestRebaseWriteSkew: two transactions that each read two rows and
// update a different one of them cannot both commit (the outcome would
// match no serial order).
func TestRebaseWriteSkew(t *testing.T) {
	a, b, _, _ := twoWriters(t, 600)
	skew := func(db *sql.DB, write int) *sql.Tx {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		if err := tx.QueryRow("SELECT sum(v) FROM t WHERE id IN (1, 500)").Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if sum == 0 {
			if _, err := tx.Exec("UPDATE t SET v = 1 WHERE id = ?", write); err != nil {
				t.Fatal(err)
			}
		}
		return tx
	}
	txA, txB := skew(a, 1), skew(b, 500)
	errA, errB := txA.Commit(), txB.Commit()
	if errA != nil || !errors.Is(errB, sqlite3.BUSY) {
		t.Fatalf("write skew: first commit %v, second %v; want success, then SQLITE_BUSY", errA, errB)
	}
	if got := queryInt(t, b, "SELECT sum(v) FROM t WHERE id IN (1, 500)"); got != 1 {
		t.Errorf("sum = %d, want 1: one of the two, never both", got)
	}
}

// TestRebaseGrowth: two transactions that both make the file grow change
// its size in page 1, which every transaction reads: one fails.
func TestRebaseGrowth(t *testing.T) {
	a, b, _, _ := twoWriters(t, 600)
	grow := func(db *sql.DB, id int) *sql.Tx {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO t VALUES (?, 0, hex(randomblob(8000)))", id); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	txA, txB := grow(a, 10001), grow(b, 10002)
	errA, errB := txA.Commit(), txB.Commit()
	if errA != nil || !errors.Is(errB, sqlite3.BUSY) {
		t.Fatalf("two growing transactions: first commit %v, second %v; want success, then SQLITE_BUSY", errA, errB)
	}
	if got := queryInt(t, b, "SELECT count(*) FROM t WHERE id > 10000"); got != 1 {
		t.Errorf("%d new rows, want 1", got)
	}
	integrityOK(t, b)
}

// TestRebaseModel runs the model of interleavings (runInterleavings) with
// rows on few pages, so that both rebases and conflicts happen.
func TestRebaseModel(t *testing.T) {
	const rows = 300 // about 10 pages
	a, b, va, vb := twoWriters(t, rows)
	runInterleavings(t, a, b, rows, 150, 5)
	integrityOK(t, a)
	s, s2 := va.Stats(), vb.Stats()
	rebases, conflicts := s.Rebases+s2.Rebases, s.Conflicts+s2.Conflicts
	t.Logf("150 rounds: %d rebases, %d conflicts", rebases, conflicts)
	if rebases == 0 || conflicts == 0 {
		t.Errorf("%d rebases and %d conflicts: the test needs both", rebases, conflicts)
	}
}

// runInterleavings compares random interleavings of two processes'
// transactions on a and b (each reads a row of t(id, v) and writes
// another with what it read plus one; rows rows, v 0 at first) against a
// model of the table: every commit that succeeds, rebased or not, must
// have read what the model holds when it commits — the order of the
// commits is a serial order — and the table must end as the model.
func runInterleavings(t *testing.T, a, b *sql.DB, rows, rounds int, seed uint64) {
	t.Helper()
	model := make([]int64, rows+1)
	rng := rand.New(rand.NewPCG(seed, 6))
	type pending struct {
		tx          *sql.Tx
		read, write int
		saw         int64
	}
	start := func(db *sql.DB) pending {
		p := pending{read: 1 + rng.IntN(rows), write: 1 + rng.IntN(rows)}
		p.tx, p.saw = begin(t, db, p.read, p.write)
		return p
	}
	commit := func(p pending) {
		err := p.tx.Commit()
		switch {
		case err == nil:
			if p.saw != model[p.read] {
				t.Fatalf("a commit read row %d = %d, but %d was committed before it", p.read, p.saw, model[p.read])
			}
			model[p.write] = p.saw + 1
		case !errors.Is(err, sqlite3.BUSY):
			t.Fatal(err)
		}
	}
	for range rounds {
		pa, pb := start(a), start(b)
		if rng.IntN(2) == 0 {
			commit(pa)
			commit(pb)
		} else {
			commit(pb)
			commit(pa)
		}
	}
	for id := 1; id <= rows; id++ {
		if got := queryInt(t, a, "SELECT v FROM t WHERE id = ?", id); got != model[id] {
			t.Fatalf("row %d = %d, the model says %d", id, got, model[id])
		}
	}
}

// TestRebaseHistoryAndGC: a rebased commit is a commit like any other:
// History lists it at its final number, after the commit it was rebased
// onto; time travel reads each version; a collection that keeps only the
// head leaves both updates readable.
func TestRebaseHistoryAndGC(t *testing.T) {
	e := newEnv(t, nil)
	setup := e.open("h.db")
	mustExec(t, setup, "PRAGMA page_size=4096")
	mustExec(t, setup, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
	mustExec(t, setup, "INSERT INTO t SELECT value, 0, printf('%0100d', value) FROM generate_series(1, 600)")
	va := e.newVFS(&s3vfs.Options{WriterID: "a"})
	a, b := openDB(t, e.register(va), "h.db"), openDB(t, e.register(e.newVFS(&s3vfs.Options{WriterID: "b"})), "h.db")
	txA, _ := begin(t, a, 1, 1)
	txB, _ := begin(t, b, 500, 500)
	if err := txB.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := txA.Commit(); err != nil {
		t.Fatal(err)
	}
	if va.Stats().Rebases != 1 {
		t.Fatalf("a's commit was not rebased: %v", va.Stats())
	}
	ctx := context.Background()
	var cs []s3vfs.Commit
	for c, err := range e.vfs.History(ctx, "h.db") {
		if err != nil {
			t.Fatal(err)
		}
		if cs = append(cs, c); len(cs) == 2 {
			break
		}
	}
	if cs[0].Writer != "a" || cs[1].Writer != "b" || cs[0].N != cs[1].N+1 {
		t.Fatalf("history: %+v, want a's commit right after b's", cs)
	}
	for _, c := range []struct {
		n    uint64
		want string
	}{{cs[1].N, "0,1"}, {cs[0].N, "1,1"}} {
		old := openDB(t, e.name, "h.db", fmt.Sprintf("commit=%d", c.n))
		if got := queryString(t, old, "SELECT group_concat(v) FROM (SELECT v FROM t WHERE id IN (1, 500) ORDER BY id)"); got != c.want {
			t.Errorf("commit %d reads rows 1 and 500 as %q, want %q", c.n, got, c.want)
		}
	}
	time.Sleep(2 * time.Second)
	if _, err := e.vfs.GC(ctx, "h.db", &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second}); err != nil {
		t.Fatal(err)
	}
	fresh := openDB(t, e.register(e.newVFS(nil)), "h.db")
	if got := queryInt(t, fresh, "SELECT sum(v) FROM t"); got != 2 {
		t.Errorf("after GC a new process reads sum(v) = %d, want 2", got)
	}
	integrityOK(t, fresh)
}

// TestRebaseGapFork: a rebase over records with a gap that garbage
// collection left (records kept as overlay carriers below the retained
// run) must not take the missing record for proof that the one before it
// is the newest: the commit would re-create a collected record, forking
// the history. Its commit fails with SQLITE_BUSY instead. Collection is
// simulated by deleting the record GC would delete, under retention=4s.
func TestRebaseGapFork(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	setup := e.open("cc.db")
	mustExec(t, setup, "PRAGMA page_size=4096")
	mustExec(t, setup, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
	mustExec(t, setup, "INSERT INTO t SELECT value, 0, printf('%0100d', value) FROM generate_series(1, 600)")
	va, vb := e.newVFS(nil), e.newVFS(nil)
	// retention=4s: a missing successor proves a head only within 2 s.
	a := openDB(t, e.register(va), "cc.db", "retention=4s")
	b := openDB(t, e.register(vb), "cc.db", "retention=4s")
	a.SetMaxOpenConns(1)
	b.SetMaxOpenConns(1)

	txT, _ := begin(t, a, 1, 1) // process A: snapshot N; reads and writes row 1
	info, err := va.Info(ctx, "cc.db")
	if err != nil {
		t.Fatal(err)
	}
	n := info.Commit

	mustExec(t, b, "UPDATE t SET v = v + 1 WHERE id = 500") // N+1
	mustExec(t, b, "UPDATE t SET v = v + 1 WHERE id = 550") // N+2

	time.Sleep(2500 * time.Millisecond) // A's confirmation of N is past R/2
	// A learns N+2 with a LIST and the GET of record N+2 only: record N+1
	// is not in its record cache.
	if info, err := va.Info(ctx, "cc.db"); err != nil || info.Commit != n+2 {
		t.Fatalf("A's head: %d %v, want %d", info.Commit, err, n+2)
	}

	mustExec(t, b, "UPDATE t SET v = v + 1 WHERE id = 580") // N+3
	mustExec(t, b, "UPDATE t SET v = v + 1 WHERE id = 590") // N+4
	mustExec(t, b, "UPDATE t SET v = v + 1 WHERE id = 600") // N+5
	time.Sleep(4500 * time.Millisecond)                     // LM(N+4) < now-R

	// What GC does when N+1 and N+2 are kept as overlay carriers
	// (docs/format.md, "Garbage collection, version 2") and N+3 is not
	// retained (LM(N+4) < T-R): record N+3 goes, N+1 and N+2 stay.
	name := fmt.Sprintf("cc.db/_commits/%019d", uint64(9_999_999_999_999_999_999)-(n+3))
	e.removeObject(name)

	// rebase(N, sent=false): readOn(N) reads N+1, N+2 (cached), N+3 missing
	// -> known.publish(N+2, now) -> commit2 plans on N+2, sent=true ->
	// confirmParent(N+2) provable, no LIST -> create N+3 succeeds.
	if err := txT.Commit(); !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("COMMIT over a gap that garbage collection left: %v, want SQLITE_BUSY (a success re-created a collected record: a fork)", err)
	}
	if got := queryInt(t, b, "SELECT v FROM t WHERE id = 1"); got != 0 {
		t.Errorf("row 1 = %d, want 0", got)
	}
}
