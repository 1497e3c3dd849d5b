package s3vfs_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// TestSpillLedger runs the ledger workload with a write buffer of one
// byte, so that every transaction uploads blocks before its COMMIT, under
// injected faults: with group commit (4 writers in each of 2 processes)
// and without (1 writer in each of 4). Every acknowledged transaction must
// be present exactly once, every failed one absent, the balances equal to
// the ledger, and the database intact. (Every transfer writes the one page
// of the accounts, so a lost race is never rebased here: the rebase of a
// transaction that uploaded blocks early is TestSpilledTransactionLosesRace's
// and TestSpillRebaseWriters'.)
func TestSpillLedger(t *testing.T) {
	total := ledgerTransactions(t) / 5 // 200 by default
	for i, tc := range []struct {
		name           string
		procs, writers int
	}{
		{"group commit", 2, 4},
		{"one writer per process", 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &s3vfsOptsSmall)
			key := "spill-ledger.db"
			createLedger(t, e.name, key)
			faults := s3test.NewFaults(uint64(2000+i), 0.05, s3test.InternalError, s3test.SlowDown, s3test.Reset, s3test.Truncate, s3test.Conflict)
			faults.Install(e.proxy)
			results := e.ledgerRun(key, tc.procs, ledgerJob{
				Writers: tc.writers, Readers: 1, Transactions: max(1, total/(tc.procs*tc.writers)), Seed: uint64(30 + i),
				BlockSize: 4096, WriteBuffer: 1, Attempt: time.Second, Request: time.Minute,
			})
			e.proxy.SetHook(nil)
			sum := checkLedger(t, e.name, key, results)
			if sum.earlyBlocks == 0 {
				t.Error("no block was uploaded early: the test does not test large transactions")
			}
			if sum.busy == 0 {
				t.Error("no commit lost a race: the test does not test one")
			}
			if n, seen := faults.Total(); n == 0 {
				t.Errorf("no fault was injected in %d requests", seen)
			}
			t.Logf("| %s | %d acknowledged | %d present | %d failed | %d unknown | %d BUSY | %d rebases | %d early blocks | %v | %s |",
				tc.name, sum.committed, sum.present, sum.failed, sum.unknown, sum.busy, sum.rebases, sum.earlyBlocks,
				sum.elapsed.Round(time.Second), fmtErrors(sum.errors))
		})
	}
}

// spillRangeJob is what a process of TestSpillRebaseWriters does: its
// writers each update, Transactions times, their own 16 rows of the
// process's own table, in transactions that upload their blocks early.
type spillRangeJob struct {
	Proc, Writers, Transactions int
}

// spillRangeResult is what such a process reports.
type spillRangeResult struct {
	Committed, Failed int
	Errors            map[string]int
	Messages          []string // the first few errors, whole
	Stats             s3vfs.Stats
}

const spillRangeRows = 16 // rows (pages) one transaction updates

func init() {
	childModes["spillrange"] = func() int {
		srv, bucket, key, arg := childServer()
		var job spillRangeJob
		if err := json.Unmarshal([]byte(arg), &job); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		v, err := s3vfs.New(srv.Client(""), bucket, &s3vfs.Options{BlockSize: 4096, WriteBuffer: 1})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		vfs.Register("s3spill", v)
		res, err := runSpillRange(ledgerDSN("s3spill", key), job)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		res.Stats = v.Stats()
		json.NewEncoder(os.Stdout).Encode(res)
		return 0
	}
}

// runSpillRange runs job's writers on the database dsn opens.
func runSpillRange(dsn string, job spillRangeJob) (*spillRangeResult, error) {
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(job.Writers)
	res := &spillRangeResult{Errors: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range job.Writers {
		wg.Go(func() {
			first := w*spillRangeRows + 1
			update := fmt.Sprintf("UPDATE t%d SET n = n + 1, v = printf('%%0900d', ?) WHERE id BETWEEN %d AND %d",
				job.Proc, first, first+spillRangeRows-1)
			for i := range job.Transactions {
				_, err := db.Exec(update, i)
				mu.Lock()
				if err == nil {
					res.Committed++
				} else {
					res.Failed++
					res.Errors[errorClass(err)]++
					if len(res.Messages) < 5 {
						res.Messages = append(res.Messages, err.Error())
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return res, nil
}

// TestSpillRebaseWriters: processes whose transactions all upload their
// blocks early (a write buffer of one byte) update rows of their own
// tables at once: their races are rebased with their early blocks. Each
// table's update counts then equal the transactions acknowledged: none
// lost, none that failed counted.
func TestSpillRebaseWriters(t *testing.T) {
	const procs, writers = 3, 2
	transactions := 40
	if testing.Short() {
		transactions = 10
	}
	e := newEnv(t, &s3vfsOptsSmall)
	key := "spill-range.db"
	setup := e.open(key, "_pragma=page_size(1024)")
	for p := range procs {
		mustExec(t, setup, fmt.Sprintf("CREATE TABLE t%d(id INTEGER PRIMARY KEY, n INTEGER, v TEXT)", p))
		mustExec(t, setup, fmt.Sprintf("INSERT INTO t%d SELECT value, 0, printf('%%0900d', 0) FROM generate_series(1, %d)", p, writers*spillRangeRows))
	}
	setup.Close()

	results := make([]spillRangeResult, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for p := range procs {
		arg, _ := json.Marshal(spillRangeJob{Proc: p, Writers: writers, Transactions: transactions})
		cmd := e.childCommand("spillrange", key, string(arg))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		wg.Go(func() {
			out, err := cmd.Output()
			if err == nil {
				err = json.Unmarshal(out, &results[p])
			}
			errs[p] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	db := e.open(key)
	integrityOK(t, db)
	var committed, failed int
	var early, rebases int64
	for p, r := range results {
		committed += r.Committed
		failed += r.Failed
		early += r.Stats.EarlyBlocks
		rebases += r.Stats.Rebases
		if got := queryInt(t, db, fmt.Sprintf("SELECT sum(n) FROM t%d", p)); got != int64(r.Committed*spillRangeRows) {
			t.Errorf("process %d: %d transactions acknowledged, its table counts %d updated rows, want %d",
				p, r.Committed, got, r.Committed*spillRangeRows)
		}
		// A failure other than SQLITE_BUSY is allowed (its transaction
		// must be absent, which the count above checks), but printed: one
		// I/O error in 240 transactions was seen once in CI and could not
		// be reproduced, so its message is kept for the next time.
		for k := range r.Errors {
			if k != sqlite3.BUSY.Error() {
				fmt.Fprintf(os.Stderr, "TestSpillRebaseWriters: process %d: a transaction failed with an error other than SQLITE_BUSY: %v %q\n", p, r.Errors, r.Messages)
			}
		}
	}
	if early == 0 || rebases == 0 {
		t.Errorf("%d blocks uploaded early, %d rebases: the test needs both", early, rebases)
	}
	t.Logf("| %d×%d writers, every transaction uploading early | %d acknowledged, all present | %d failed (BUSY), all absent | %d rebases | %d early blocks |",
		procs, writers, committed, failed, rebases, early)
}
