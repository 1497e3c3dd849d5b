package s3vfs_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/testproc"
)

// The settings suite: SQLite settings and features that touch how and when
// a commit happens, each run through the conflict workload of two
// processes. No acknowledged commit may be lost, no transaction may read a
// commit that did not happen or miss one that did, and settings s3vfs
// cannot honour are refused with ErrUnsupported before anything is
// published. docs/reliability.md, "SQLite settings", lists what holds
// under each.

// Weights of the two processes' increments, so that the final counter
// tells how many commits of each landed.
const (
	weightA = 1
	weightB = 1000
)

// settingsCase is one configuration of the suite.
type settingsCase struct {
	name    string
	pragmas []string // applied by every connection of both processes
	spill   bool     // process A's transactions change more pages than its cache holds
	vacuum  bool     // process B's forced commits change the page size with VACUUM
	attach  string   // "": none; "s3": counter database attached to an s3vfs main; "local": to a local main
}

func settingsCases() []settingsCase {
	var cases []settingsCase
	for _, sync := range []string{"OFF", "NORMAL", "FULL", "EXTRA"} {
		for _, jm := range []string{"DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF"} {
			for _, spill := range []bool{false, true} {
				c := settingsCase{
					name:    fmt.Sprintf("sync=%s/journal=%s/spill=%v", sync, jm, spill),
					pragmas: []string{"synchronous(" + sync + ")", "journal_mode(" + jm + ")"},
					spill:   spill,
				}
				if spill {
					c.pragmas = append(c.pragmas, "cache_size(2)")
				}
				cases = append(cases, c)
			}
		}
	}
	return append(cases,
		settingsCase{name: "busy_timeout", pragmas: []string{"busy_timeout(2000)"}},
		settingsCase{name: "auto_vacuum=FULL/vacuum", pragmas: []string{"auto_vacuum(FULL)"}, vacuum: true},
		settingsCase{name: "auto_vacuum=INCREMENTAL/vacuum/sync=OFF", pragmas: []string{"auto_vacuum(INCREMENTAL)", "synchronous(OFF)"}, vacuum: true},
		settingsCase{name: "attach=s3", attach: "s3"},
		settingsCase{name: "attach=s3/journal=MEMORY", pragmas: []string{"journal_mode(MEMORY)"}, attach: "s3"},
		settingsCase{name: "attach=local", attach: "local"},
		settingsCase{name: "attach=local/sync=OFF", pragmas: []string{"synchronous(OFF)"}, attach: "local"},
	)
}

func TestSettingsSuite(t *testing.T) {
	for _, c := range settingsCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runSettingsCase(t, c)
		})
	}
}

// settingsProc is one process of the workload: its own VFS (cache, head,
// locks) and a database handle whose statements reach the counter table
// as "c" (through an ATTACH when the case asks for one).
type settingsProc struct {
	db      *sql.DB
	counter string // the counter table's qualified name
	filler  string // the filler table's qualified name
}

func runSettingsCase(t *testing.T, c settingsCase) {
	runSettingsCaseIn(t, c, newEnv(t, &s3vfs.Options{BlockSize: 4096}))
}

// runSettingsCaseIn is runSettingsCase on e.
func runSettingsCaseIn(t *testing.T, c settingsCase, e *env) {
	key := "settings.db"
	open := func(vfsName string) settingsProc {
		var params []string
		for _, p := range c.pragmas {
			params = append(params, "_pragma="+p)
		}
		if c.attach == "" {
			db := openDB(t, vfsName, key, params...)
			return settingsProc{db: db, counter: "c", filler: "filler"}
		}
		// The counter database is attached; every connection of the pool
		// attaches it when it opens.
		mainDSN := "file:" + filepath.Join(t.TempDir(), "main.db") + "?vfs=os"
		if c.attach == "s3" {
			mainDSN = "file:main-" + testproc.RandomHex(4) + ".db?vfs=" + vfsName
		}
		for _, p := range params {
			mainDSN += "&" + p
		}
		init := []string{fmt.Sprintf("ATTACH 'file:%s?vfs=%s' AS s", key, vfsName)}
		for _, p := range c.pragmas {
			name, value, _ := strings.Cut(strings.TrimSuffix(p, ")"), "(")
			init = append(init, fmt.Sprintf("PRAGMA s.%s=%s", name, value))
		}
		db := openWithInit(t, mainDSN, init...)
		return settingsProc{db: db, counter: "s.c", filler: "s.filler"}
	}
	a := open(e.name)
	b := open(e.register(e.newVFS(&s3vfs.Options{BlockSize: 4096})))

	mustExec(t, b.db, fmt.Sprintf("CREATE TABLE %s(id INTEGER PRIMARY KEY, n INTEGER)", b.counter))
	mustExec(t, b.db, fmt.Sprintf("INSERT INTO %s VALUES (1, 0)", b.counter))
	mustExec(t, b.db, fmt.Sprintf("CREATE TABLE %s(id INTEGER PRIMARY KEY, v BLOB)", b.filler))
	mustExec(t, b.db, fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 60)
		INSERT INTO %s SELECT i, randomblob(700) FROM n`, b.filler))

	bodyA := fmt.Sprintf("UPDATE %s SET n = n + %d WHERE id = 1", a.counter, weightA)
	if c.spill {
		bodyA += fmt.Sprintf("; UPDATE %s SET v = randomblob(700)", a.filler)
	}
	bodyB := fmt.Sprintf("UPDATE %s SET n = n + %d WHERE id = 1", b.counter, weightB)

	var ackA, ackB int64
	pageSizes := []int{8192, 4096}
	for round := range 3 {
		// A's transaction reads and writes the counter; B commits in
		// between; A's COMMIT must fail, and leave A reading B's commit.
		ctx := context.Background()
		conn, err := a.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, bodyA); err != nil {
			t.Fatalf("round %d: A's transaction: %v", round, err)
		}
		retryBusy(t, b.db, bodyB)
		ackB++
		if c.vacuum {
			if c.attach != "" {
				t.Fatal("the vacuum case runs without ATTACH")
			}
			mustExec(t, b.db, fmt.Sprintf("PRAGMA page_size=%d", pageSizes[round%2]))
			mustExec(t, b.db, "VACUUM")
		}
		_, err = conn.ExecContext(ctx, "COMMIT")
		if err == nil {
			t.Fatalf("round %d: A's COMMIT on top of a snapshot B had replaced succeeded: B's commit is lost", round)
		}
		if !errors.Is(err, sqlite3.BUSY) {
			t.Fatalf("round %d: A's COMMIT: %v, want SQLITE_BUSY", round, err)
		}
		conn.ExecContext(ctx, "ROLLBACK") // may already be rolled back
		if got, want := connInt(t, conn, "SELECT n FROM "+a.counter), ackA*weightA+ackB*weightB; got != want {
			t.Fatalf("round %d: after the failed COMMIT, A reads n=%d, want %d (its own failed write, or a stale cache)", round, got, want)
		}
		if !retryBusyTx(t, conn, bodyA) {
			t.FailNow()
		}
		ackA++
		conn.Close()
	}

	// Both processes increment at once, retrying on SQLITE_BUSY.
	var wg sync.WaitGroup
	var extraA, extraB int64
	for _, p := range []struct {
		proc  settingsProc
		body  string
		count *int64
	}{{a, bodyA, &extraA}, {b, bodyB, &extraB}} {
		conn, err := p.proc.db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			for range 6 {
				if !retryBusyTx(t, conn, p.body) {
					return
				}
				*p.count++
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ackA += extraA
	ackB += extraB

	want := ackA*weightA + ackB*weightB
	for name, p := range map[string]settingsProc{"A": a, "B": b} {
		if got := queryInt(t, p.db, "SELECT n FROM "+p.counter); got != want {
			t.Fatalf("process %s reads n=%d, want %d", name, got, want)
		}
	}
	fresh := openDB(t, e.register(e.newVFS(nil)), key)
	if got := queryInt(t, fresh, "SELECT n FROM c"); got != want {
		t.Fatalf("a new process reads n=%d, want %d: %d acknowledged commits of A and %d of B, weights %d and %d",
			got, want, ackA, ackB, weightA, weightB)
	}
	integrityOK(t, fresh)
}

// Two processes under PRAGMA synchronous=OFF each run 60 increments of one
// counter, retrying on SQLITE_BUSY: none is lost (a commit that lost the
// race used to leave SQLite trusting its own failed pages).
func TestTwoProcessSynchronousOff(t *testing.T) {
	runTwoProcessCounter(t, newEnv(t, nil), 60, "_pragma=synchronous(off)")
}

// openWithInit opens dsn with the ncruces driver, running the statements
// init on every new connection of the pool.
func openWithInit(t testing.TB, dsn string, init ...string) *sql.DB {
	t.Helper()
	db, err := driver.Open(dsn, func(c *sqlite3.Conn) error {
		for _, q := range init {
			if err := c.Exec(q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// retryBusy runs an autocommit statement until it does not fail with
// SQLITE_BUSY.
func retryBusy(t testing.TB, db *sql.DB, query string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		_, err := db.Exec(query)
		if err == nil {
			return
		}
		if !errors.Is(err, sqlite3.BUSY) || attempt > 200 {
			t.Fatalf("%s: %v (attempt %d)", query, err, attempt)
		}
	}
}

// retryBusyTx runs body in a transaction on conn until COMMIT succeeds. It
// reports other errors with t.Errorf (it runs on workload goroutines) and
// returns false.
func retryBusyTx(t testing.TB, conn *sql.Conn, body string) bool {
	t.Helper()
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		_, err := conn.ExecContext(ctx, "BEGIN")
		if err == nil {
			_, err = conn.ExecContext(ctx, body)
		}
		if err == nil {
			_, err = conn.ExecContext(ctx, "COMMIT")
		}
		if err == nil {
			return true
		}
		conn.ExecContext(ctx, "ROLLBACK")
		if !errors.Is(err, sqlite3.BUSY) || attempt > 200 {
			t.Errorf("%s: %v (attempt %d)", body, err, attempt)
			return false
		}
	}
}
