package s3vfs_test

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"net/http"
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
	for _, how := range []string{"published", "conflict", "refused"} {
		t.Run(how, func(t *testing.T) { testRunsAfterQueued(t, how) })
	}
}

func testRunsAfterQueued(t *testing.T, how string) {
	fail := how != "published"
	ctx := context.Background()
	e := newEnv(t, nil)
	a, _ := rowsDB(t, e, "after.db", 600, 3)
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
	case "conflict":
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
	second := make(chan error, 1)
	go func() { _, err := c2.ExecContext(ctx, "COMMIT"); second <- err }()
	select {
	case err := <-second:
		t.Fatalf("COMMIT returned (%v) before the transaction it ran after was published", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	err1, err2 := <-first, <-second
	e.proxy.SetHook(nil)
	if !fail {
		if err1 != nil || err2 != nil {
			t.Fatalf("commits: %v and %v, want both to succeed", err1, err2)
		}
	} else {
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
