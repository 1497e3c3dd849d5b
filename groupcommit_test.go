package s3vfs_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// busyWait makes SQLite wait for the write lock of a connection of the
// same process, as applications do.
const busyWait = "_pragma=busy_timeout(10000)"

// rowsDB makes, at key, a table t(id, v) of rows rows with v 0 (4 KiB
// pages, about 30 rows a page) and returns the VFS and connections of one
// process on it, up to conns at once.
func rowsDB(t *testing.T, e *env, key string, rows, conns int) (*sql.DB, *s3vfs.VFS) {
	t.Helper()
	setup := e.open(key)
	mustExec(t, setup, "PRAGMA page_size=4096")
	mustExec(t, setup, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
	mustExec(t, setup, "INSERT INTO t SELECT value, 0, printf('%0100d', value) FROM generate_series(1, ?)", rows)
	setup.Close()
	v := e.newVFS(nil)
	db := openDB(t, e.register(v), key, busyWait)
	db.SetMaxOpenConns(conns)
	return db, v
}

// holdCreates makes e's proxy hold every record create until release is
// called (those after it pass at once, or with refuse are refused: 403);
// creates reports how many arrived.
func holdCreates(e *env, refuse bool) (creates func() int, release func()) {
	var n atomic.Int32
	gate := make(chan struct{})
	var once sync.Once
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if isCreate(req) {
			n.Add(1)
			<-gate
			if refuse {
				s3test.WriteError(w, http.StatusForbidden, "AccessDenied", "refused by the test")
				return true
			}
		}
		return false
	})
	return func() int { return int(n.Load()) }, func() { once.Do(func() { close(gate) }) }
}

// waitUntil polls cond until it holds, failing the test after 20 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestGroupCommitBatches: while one connection's commit is being
// published, three more connections of the process run their write
// transactions over it (one of them on the same row) and queue; the three
// are then published together, as one record. Every update is there, in
// the order the connections ran.
func TestGroupCommitBatches(t *testing.T) {
	e := newEnv(t, nil)
	a, va := rowsDB(t, e, "group.db", 600, 4)
	creates, release := holdCreates(e, false)
	defer release()
	before := va.Stats()

	errs := make(chan error, 4)
	update := func(id int) { _, err := a.Exec("UPDATE t SET v = v + 1 WHERE id = ?", id); errs <- err }
	go update(1)
	waitUntil(t, "the first commit's record create arrives", func() bool { return creates() == 1 })
	for _, id := range []int{1, 300, 590} {
		go update(id)
	}
	waitUntil(t, "three commits are queued", func() bool { return s3vfs.QueuedForTest(va, "group.db") == 3 })
	if creates() != 1 {
		t.Fatalf("%d record creates while the first is held, want 1: the others must wait their turn", creates())
	}
	release()
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := creates(); n != 2 {
		t.Errorf("%d records created for 4 transactions, want 2 (the first, then the other three as one)", n)
	}
	if d := va.Stats().Sub(before); d.Commits != 4 || d.Conflicts != 0 {
		t.Errorf("stats: %v, want 4 commits and no conflict", d)
	}

	b := openDB(t, e.register(e.newVFS(nil)), "group.db")
	for id, want := range map[int]int64{1: 2, 300: 1, 590: 1, 2: 0} {
		if got := queryInt(t, b, "SELECT v FROM t WHERE id = ?", id); got != want {
			t.Errorf("another process reads row %d = %d, want %d", id, got, want)
		}
	}
	integrityOK(t, b)
}

// TestGroupCommitRunsAfterQueued: a transaction that runs while another
// of its process is queued sees that one's writes, and its COMMIT returns
// only once they are published: successfully if they were, with
// SQLITE_BUSY if they failed (another process changed a row the queued
// transaction had read, or the store refused its record), even when it
// wrote nothing itself. Its connection then reads the database again, not
// the failed writes it had seen, although (when refused) the database did
// not change.
func TestGroupCommitRunsAfterQueued(t *testing.T) {
	for _, how := range []string{"published", "conflict", "refused", "rolled back"} {
		t.Run(how, func(t *testing.T) { testRunsAfterQueued(t, how) })
	}
}

func testRunsAfterQueued(t *testing.T, how string) {
	fail, rollback := how != "published", how == "rolled back"
	ctx := context.Background()
	e := newEnv(t, nil)
	a, va := rowsDB(t, e, "after.db", 600, 3)
	other := openDB(t, e.register(e.newVFS(nil)), "after.db")
	c1, c2 := conn(t, a), conn(t, a)

	// Both begin on the same snapshot; another process then commits.
	var v int64
	mustExecConn(t, c1, "BEGIN")
	if err := c1.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 500").Scan(&v); err != nil {
		t.Fatal(err)
	}
	mustExecConn(t, c2, "BEGIN")
	if err := c2.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 300").Scan(&v); err != nil {
		t.Fatal(err)
	}
	switch how {
	case "conflict", "rolled back":
		mustExec(t, other, "UPDATE t SET v = 7 WHERE id = 500") // c1 read it: c1 must fail
	case "published":
		mustExec(t, other, "UPDATE t SET v = 7 WHERE id = 400") // another page: c1 is rebased
	}
	creates, release := holdCreates(e, how == "refused")
	defer release()
	first := make(chan error, 1)
	go func() {
		_, err := c1.ExecContext(ctx, "UPDATE t SET v = 1 WHERE id = 1")
		if err == nil {
			_, err = c1.ExecContext(ctx, "COMMIT")
		}
		first <- err
	}()
	waitUntil(t, "the first commit's record create arrives", func() bool { return creates() == 1 })

	// A write that matches no row: c2 holds the write lock and writes nothing.
	mustExecConn(t, c2, "UPDATE t SET v = 0 WHERE id = -1")
	if err := c2.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != 1 {
		t.Fatalf("a transaction after a queued one reads row 1 = %d (%v), want the queued write, 1", v, err)
	}
	before := va.Stats()
	second := make(chan error, 1)
	if rollback {
		// Nothing to settle: a ROLLBACK neither waits for the transaction
		// ahead nor counts its failure.
		go func() { _, err := c2.ExecContext(ctx, "ROLLBACK"); second <- err }()
		select {
		case err := <-second:
			if err != nil {
				t.Fatalf("ROLLBACK: %v", err)
			}
			second <- nil
		case <-time.After(10 * time.Second):
			t.Fatal("ROLLBACK waited for the transaction it ran after")
		}
	} else {
		go func() { _, err := c2.ExecContext(ctx, "COMMIT"); second <- err }()
		select {
		case err := <-second:
			t.Fatalf("COMMIT returned (%v) before the transaction it ran after was published", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	release()
	err1, err2 := <-first, <-second
	e.proxy.SetHook(nil)
	switch {
	case rollback:
		if !errors.Is(err1, sqlite3.BUSY) {
			t.Fatalf("the queued transaction's commit: %v, want SQLITE_BUSY", err1)
		}
		if d := va.Stats().Sub(before); d.Conflicts != 1 {
			t.Errorf("conflicts counted: %d, want 1 (the queued transaction's; the rolled back one had nothing to commit)", d.Conflicts)
		}
	case !fail:
		if err1 != nil || err2 != nil {
			t.Fatalf("commits: %v and %v, want both to succeed", err1, err2)
		}
	default:
		if how == "conflict" && !errors.Is(err1, sqlite3.BUSY) || how == "refused" && !errors.Is(err1, sqlite3.IOERR) {
			t.Fatalf("the queued transaction's commit: %v, want SQLITE_BUSY (conflict) or SQLITE_IOERR (refused)", err1)
		}
		if !errors.Is(err2, sqlite3.BUSY) {
			t.Fatalf("the COMMIT of a transaction that read the failed writes: %v, want SQLITE_BUSY", err2)
		}
	}
	want := map[bool]int64{false: 1, true: 0}[fail]
	if err := c2.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != want {
		t.Fatalf("the second connection's next read of row 1: %d (%v), want %d", v, err, want)
	}
	if _, err := c2.ExecContext(ctx, "UPDATE t SET v = v + 1 WHERE id = 300"); err != nil {
		t.Fatalf("a write after the chain ended: %v", err)
	}
	for id, v := range map[int]int64{1: want, 300: 1} {
		if got := queryInt(t, other, "SELECT v FROM t WHERE id = ?", id); got != v {
			t.Errorf("another process reads row %d = %d, want %d", id, got, v)
		}
	}
	integrityOK(t, other)
}

func mustExecConn(t *testing.T, c *sql.Conn, query string, args ...any) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestGroupCommitTransfers: two processes of four connections each move
// amounts between random accounts, each transaction writing balances it
// computed from what it read. With group commit in each process and
// rebases between them, every committed transfer must be applied exactly
// once, on the balances committed before it: each account ends at what
// the committed transfers say.
func TestGroupCommitTransfers(t *testing.T) {
	const accounts, conns, transfers = 200, 4, 12
	e := newEnv(t, nil)
	a, va := rowsDB(t, e, "transfers.db", accounts, conns)
	vb := e.newVFS(nil)
	b := openDB(t, e.register(vb), "transfers.db", busyWait)
	b.SetMaxOpenConns(conns)
	e.proxy.SetLatency(2 * time.Millisecond)
	defer e.proxy.SetLatency(0)

	busy := runTransfers(t, []*sql.DB{a, b}, accounts, conns, transfers, b)
	integrityOK(t, a)
	sa, sb := va.Stats(), vb.Stats()
	t.Logf("%d transfers, %d BUSY retried; %v; %v", 2*conns*transfers, busy, sa, sb)
}

// runTransfers runs conns goroutines on each of dbs (processes), each
// committing each transfers between random accounts of table t (accounts
// rows, v 0 at first) and retrying on SQLITE_BUSY; then it checks, on
// check, that every account holds what the committed transfers say. It
// returns the number of SQLITE_BUSY retried.
func runTransfers(t *testing.T, dbs []*sql.DB, accounts, conns, each int, check *sql.DB) int64 {
	t.Helper()
	want := make([]atomic.Int64, accounts+1)
	var busy atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(dbs)*conns)
	for p, db := range dbs {
		for w := range conns {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(p), uint64(w)))
				for done := 0; done < each; {
					from, to, amount := 1+rng.IntN(accounts), 1+rng.IntN(accounts-1), 1+int64(rng.IntN(5))
					if to >= from {
						to++ // another account
					}
					switch err := transferOnce(db, from, to, amount); {
					case err == nil:
						want[from].Add(-amount)
						want[to].Add(amount)
						done++
					case errors.Is(err, sqlite3.BUSY):
						busy.Add(1)
						time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
					default:
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id := 1; id <= accounts; id++ {
		if got := queryInt(t, check, "SELECT v FROM t WHERE id = ?", id); got != want[id].Load() {
			t.Fatalf("account %d = %d, the committed transfers say %d", id, got, want[id].Load())
		}
	}
	integrityOK(t, check)
	return busy.Load()
}

// transferOnce moves amount from account from to account to in one
// transaction, writing the balances it computed from what it read.
func transferOnce(db *sql.DB, from, to int, amount int64) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var f, g int64
	if err := tx.QueryRow("SELECT v FROM t WHERE id = ?", from).Scan(&f); err != nil {
		return err
	}
	if err := tx.QueryRow("SELECT v FROM t WHERE id = ?", to).Scan(&g); err != nil {
		return err
	}
	if _, err := tx.Exec("UPDATE t SET v = ? WHERE id = ?", f-amount, from); err != nil {
		return err
	}
	if _, err := tx.Exec("UPDATE t SET v = ? WHERE id = ?", g+amount, to); err != nil {
		return err
	}
	return tx.Commit()
}

// TestGroupCommitSpillBehindQueued: a transaction that uploads blocks early
// while another of its process is queued ahead of it names them after a
// commit number the queued one takes; garbage collection would take them
// for a dead attempt's once the grace period passed. Its commit renews
// them before its record is created (tx.Early), commits, and survives
// a collection with a grace period shorter than the wait.
func TestGroupCommitSpillBehindQueued(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	setup := e.open("spill.db")
	mustExec(t, setup, "PRAGMA page_size=4096")
	mustExec(t, setup, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
	mustExec(t, setup, "INSERT INTO t SELECT value, 0, printf('%0100d', value) FROM generate_series(1, 600)")
	setup.Close()
	v := e.newVFS(&s3vfs.Options{WriteBuffer: 256 << 10})
	a := openDB(t, e.register(v), "spill.db", busyWait)
	a.SetMaxOpenConns(3)
	c1, c2 := conn(t, a), conn(t, a)
	mustExecConn(t, c2, "PRAGMA cache_size=10")
	const insert = "INSERT INTO t SELECT value, 0, printf('%02000d', value) FROM generate_series(1000, 3000)"

	creates, release := holdCreates(e, false)
	defer release()
	first := make(chan error, 1)
	go func() { _, err := c1.ExecContext(ctx, "UPDATE t SET v = 1 WHERE id = 1"); first <- err }()
	waitUntil(t, "the first commit's record create arrives", func() bool { return creates() == 1 })
	mustExecConn(t, c2, "BEGIN IMMEDIATE")
	before := v.Stats()
	mustExecConn(t, c2, insert)
	if d := v.Stats().Sub(before); d.Puts == 0 {
		t.Fatalf("the large insert uploaded nothing early (%v): the test needs it to", d)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	e.proxy.SetHook(nil)
	e.proxy.Reset()
	if _, err := c2.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatalf("COMMIT of a transaction that uploaded blocks early behind a queued one: %v", err)
	}
	claims := 0
	for _, k := range e.proxy.Written() {
		if strings.Contains(k, "spill.db/_checkpoints/") {
			claims++
		}
	}
	if claims == 0 {
		t.Errorf("its early blocks were not renewed before its record: no claim among %v", e.proxy.Written())
	}

	time.Sleep(2500 * time.Millisecond)
	if _, err := e.newVFS(nil).GC(ctx, "spill.db", &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second}); err != nil {
		t.Fatal(err)
	}
	b := openDB(t, e.register(e.newVFS(nil)), "spill.db")
	if got := queryInt(t, b, "SELECT count(*) FROM t WHERE length(pad) = 2000"); got != 2001 {
		t.Errorf("another process reads %d of the 2001 rows inserted, want all", got)
	}
	if got := queryInt(t, b, "SELECT v FROM t WHERE id = 1"); got != 1 {
		t.Errorf("row 1 = %d, want the queued update, 1", got)
	}
	integrityOK(t, b)
}

// TestGroupCommitTrimAfterVacuum: the trim SQLite makes after a VACUUM is
// published (the VACUUM's transaction is published alone, by the
// connection that still holds the lock), so the stored file is as long
// as the database, whether the VACUUM uploaded blocks early or not.
func TestGroupCommitTrimAfterVacuum(t *testing.T) {
	for _, wb := range []int64{0, 16 << 10} {
		t.Run(fmt.Sprintf("WriteBuffer=%d", wb), func(t *testing.T) {
			e := newEnv(t, nil)
			v := e.newVFS(&s3vfs.Options{BlockSize: 4096, WriteBuffer: wb})
			db := openDB(t, e.register(v), "vac.db")
			db.SetMaxOpenConns(1)
			mustExec(t, db, "PRAGMA page_size=4096")
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, pad TEXT)")
			mustExec(t, db, "INSERT INTO t SELECT value, printf('%0500d', value) FROM generate_series(1, 2000)")
			mustExec(t, db, "DELETE FROM t WHERE id > 100")
			mustExec(t, db, "VACUUM")
			pages := queryInt(t, db, "PRAGMA page_count")
			info, err := e.newVFS(nil).Info(context.Background(), "vac.db")
			if err != nil {
				t.Fatal(err)
			}
			if info.FileSize != pages*4096 {
				t.Errorf("stored file size after VACUUM: %d bytes, want page_count × page size = %d", info.FileSize, pages*4096)
			}
		})
	}
}

// TestGroupCommitAbsorbs: a batch that lost the race to another process
// takes in, when it is rebased, the transaction of its process queued
// behind it meanwhile: both are published as one record, not one each.
// Unless the other process changed a page the queued transaction read:
// then it is not taken in, and fails.
func TestGroupCommitAbsorbs(t *testing.T) {
	for _, otherRow := range []int{300, 591} {
		t.Run(fmt.Sprintf("other=%d", otherRow), func(t *testing.T) { testAbsorbs(t, otherRow) })
	}
}

func testAbsorbs(t *testing.T, otherRow int) {
	conflict := otherRow == 591 // on row 590's page
	e := newEnv(t, nil)
	a, va := rowsDB(t, e, "absorb.db", 600, 3)
	other := openDB(t, e.register(e.newVFS(nil)), "absorb.db")
	mustExec(t, other, "UPDATE t SET v = 0 WHERE id = 2") // its first commit checks the store, before the hook
	var creates atomic.Int32
	gate := make(chan struct{})
	var release sync.Once
	defer release.Do(func() { close(gate) })
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if isCreate(req) && creates.Add(1) == 1 {
			<-gate // the first create, a's: the other process's passes
		}
		return false
	})
	defer e.proxy.SetHook(nil)
	before := va.Stats()

	c2 := conn(t, a)
	errs := make(chan error, 2)
	go func() { _, err := a.Exec("UPDATE t SET v = v + 1 WHERE id = 1"); errs <- err }()
	waitUntil(t, "the first commit's record create arrives", func() bool { return creates.Load() == 1 })
	// The second runs over the first, before the other process commits
	// (a writer whose snapshot holds that commit waits for the first).
	mustExecConn(t, c2, "BEGIN")
	mustExecConn(t, c2, "UPDATE t SET v = v + 1 WHERE id = 590")
	// Not row 1's page: a's batch loses, and is rebased.
	mustExec(t, other, "UPDATE t SET v = v + 1 WHERE id = ?", otherRow)
	second := make(chan error, 1)
	go func() { _, err := c2.ExecContext(context.Background(), "COMMIT"); second <- err }()
	waitUntil(t, "the second transaction is queued", func() bool { return s3vfs.QueuedForTest(va, "absorb.db") == 1 })
	release.Do(func() { close(gate) })
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	err := <-second
	if conflict {
		if !errors.Is(err, sqlite3.BUSY) {
			t.Fatalf("the queued transaction, on a page another process changed: %v, want SQLITE_BUSY", err)
		}
		c2.ExecContext(context.Background(), "ROLLBACK")
	} else {
		if err != nil {
			t.Fatal(err)
		}
		// a's lost create, the other process's, and one for a's two
		// transactions.
		if n := creates.Load(); n != 3 {
			t.Errorf("%d record creates, want 3: the queued transaction published with the rebased batch", n)
		}
		if d := va.Stats().Sub(before); d.Commits != 2 || d.Rebases != 1 || d.Conflicts != 0 {
			t.Errorf("stats: %v, want 2 commits, one rebase and no conflict", d)
		}
	}
	want590 := map[bool]int64{false: 1, true: 0}[conflict]
	for id, want := range map[int]int64{1: 1, otherRow: 1, 590: want590} {
		if got := queryInt(t, other, "SELECT v FROM t WHERE id = ?", id); got != want {
			t.Errorf("another process reads row %d = %d, want %d", id, got, want)
		}
	}
	integrityOK(t, other)
}
