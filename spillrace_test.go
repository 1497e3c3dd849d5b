package s3vfs_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// A transaction larger than its write buffer uploads blocks before its
// record (spill.go). When the create of that record loses to another
// process's commit of an unrelated page, the transaction is rebased with
// the blocks it uploaded, or fails with SQLITE_BUSY and publishes
// nothing: it is never acknowledged without its writes.

// spillRace is one row of the table: the large transaction's size and
// settings, and what its COMMIT must return.
type spillRace struct {
	name    string
	rows    int
	opts    s3vfs.Options
	spills  bool // the insert uploads blocks before COMMIT
	rebased bool // COMMIT returns OK, rebased; else SQLITE_BUSY and nothing published
}

var spillRaces = []spillRace{
	{name: "100 rows, 4 KiB blocks, 16 KiB buffer", rows: 100, opts: s3vfs.Options{BlockSize: 4096, WriteBuffer: 16 << 10}, spills: true, rebased: true},
	// Block 0, with the other table's page, is uploaded early: the
	// rebase brings it back to take that page.
	{name: "3000 rows, default blocks, 1 MiB buffer", rows: 3000, opts: s3vfs.Options{WriteBuffer: 1 << 20}, spills: true, rebased: true},
	// 140 MB: about 3 s, 15 s under the race detector, so -short runs it too.
	{name: "140000 rows, defaults", rows: 140_000, spills: true, rebased: true},
	{name: "format 1, 16 KiB buffer", rows: 100, opts: s3vfs.Options{BlockSize: 4096, WriteBuffer: 16 << 10, FormatVersion: 1}, spills: true},
	{name: "no spill", rows: 100, opts: s3vfs.Options{BlockSize: 4096}, rebased: true},
}

func TestSpilledTransactionLosesRace(t *testing.T) {
	for _, tc := range spillRaces {
		t.Run(tc.name, func(t *testing.T) { testSpillRace(t, tc) })
	}
}

func testSpillRace(t *testing.T, tc spillRace) {
	opts := tc.opts
	e := newEnv(t, &opts)
	setup := e.open("race.db")
	mustExec(t, setup, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, setup, "CREATE TABLE other(id INTEGER PRIMARY KEY, n INTEGER)")
	mustExec(t, setup, "INSERT INTO t VALUES (0, 'first')")
	mustExec(t, setup, "INSERT INTO other VALUES (1, 0)")
	setup.Close()

	lv := e.newVFS(&opts)
	large := openDB(t, e.register(lv), "race.db")
	large.SetMaxOpenConns(1)
	small := openDB(t, e.register(e.newVFS(&opts)), "race.db")
	small.SetMaxOpenConns(1)
	if got := queryInt(t, small, "SELECT n FROM other"); got != 0 { // opened before the race
		t.Fatalf("other.n = %d", got)
	}

	tx, err := large.Begin()
	if err != nil {
		t.Fatal(err)
	}
	before := lv.Stats()
	if _, err := tx.Exec("INSERT INTO t(v) SELECT printf('%.1000c', 'x') FROM generate_series(1, ?)", tc.rows); err != nil {
		t.Fatal(err)
	}

	// The other process commits just before the large transaction's
	// record create reaches the server.
	var raced atomic.Bool
	var smallErr error
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if isCreate(req) && raced.CompareAndSwap(false, true) {
			_, smallErr = small.Exec("UPDATE other SET n = n + 1 WHERE id = 1")
		}
		return false
	})
	commitErr := tx.Commit()
	e.proxy.SetHook(nil)
	d := lv.Stats().Sub(before)
	if spilled := d.EarlyBlocks > 0; spilled != tc.spills {
		t.Fatalf("blocks uploaded early: %d, want some: %v", d.EarlyBlocks, tc.spills)
	}
	if commitErr == nil && d.Rebases == 0 {
		t.Errorf("COMMIT returned OK without a rebase: %v", d)
	}
	if !raced.Load() || smallErr != nil {
		t.Fatalf("the other commit: raced %v, %v", raced.Load(), smallErr)
	}

	fresh := openDB(t, e.register(e.newVFS(&opts)), "race.db")
	integrityOK(t, fresh)
	rows := queryInt(t, fresh, "SELECT count(*) FROM t")
	if n := queryInt(t, fresh, "SELECT n FROM other"); n != 1 {
		t.Errorf("the other commit: other.n = %d, want 1", n)
	}
	switch {
	case tc.rebased && commitErr != nil:
		t.Fatalf("COMMIT: %v, want it rebased", commitErr)
	case !tc.rebased && !errors.Is(commitErr, sqlite3.BUSY):
		t.Fatalf("COMMIT: %v, want SQLITE_BUSY", commitErr)
	case commitErr == nil && rows != int64(tc.rows)+1:
		t.Fatalf("COMMIT returned OK; a fresh process reads %d rows of %d", rows, tc.rows+1)
	case commitErr != nil && rows != 1:
		t.Fatalf("COMMIT failed (%v); a fresh process reads %d rows, want 1", commitErr, rows)
	}
	if commitErr == nil {
		// History shows the rebased record changing blocks.
		var newest s3vfs.Commit
		for c, err := range lv.History(context.Background(), "race.db") {
			if err != nil {
				t.Fatal(err)
			}
			if c.N > newest.N {
				newest = c
			}
		}
		if newest.BlocksChanged == 0 {
			t.Errorf("History: the rebased commit %d changes no block", newest.N)
		}
		// Every row as written.
		if bad := queryInt(t, fresh, "SELECT count(*) FROM t WHERE id > 0 AND v != printf('%.1000c', 'x')"); bad != 0 {
			t.Fatalf("%d rows differ", bad)
		}
	}
	checkNoOrphans(t, e, "race.db", fresh)
}

// checkNoOrphans checks that the transactions on key left no object of
// an attempt behind (garbage collection would count it pending: an
// unused object younger than the grace period), and that the database
// reads whole.
func checkNoOrphans(t *testing.T, e *env, key string, db *sql.DB) {
	t.Helper()
	report, err := e.newVFS(nil).GC(context.Background(), key, &s3vfs.GCOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := report.Pending.Objects(); n != 0 {
		t.Errorf("%d objects of attempts left behind: %+v", n, report.Pending)
	}
	integrityOK(t, db)
}
