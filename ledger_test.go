package s3vfs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

// The ledger workload: accounts whose total is conserved, and a row per
// transaction attempt with a unique id, so that afterwards the rows in the
// database can be compared with what each COMMIT returned.
const (
	ledgerAccounts = 8
	ledgerOpening  = 1000
	ledgerTotal    = ledgerAccounts * ledgerOpening
)

// ledgerJob is what a process of the workload is asked to do.
type ledgerJob struct {
	Proc         int    // process number, part of every row id
	Writers      int    // goroutines running transfers
	Readers      int    // goroutines checking the total
	Transactions int    // transfers to commit per writer
	Seed         uint64 // for the amounts and accounts
	BlockSize    int
	WriteBuffer  int64         // Options.WriteBuffer
	Attempt      time.Duration // Options.AttemptTimeout
	Request      time.Duration // Options.RequestTimeout
}

// ledgerResult is what a process of the workload reports.
type ledgerResult struct {
	Committed []string       // ids whose COMMIT returned OK
	Failed    []string       // ids whose transaction returned an error (outcome known)
	Unknown   []string       // ids whose COMMIT failed with an unknown outcome
	Errors    map[string]int // attempts that failed, by error class
	Busy      int            // attempts that failed with SQLITE_BUSY
	Reads     int            // snapshots the readers checked
	BadReads  []string       // snapshots whose total was wrong
	Elapsed   time.Duration
	Stats     s3vfs.Stats // the process's VFS counters at the end
}

func init() {
	childModes["ledger"] = func() int {
		srv, bucket, key, arg := childServer()
		var job ledgerJob
		if err := json.Unmarshal([]byte(arg), &job); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		client, opts := childCoordinated(srv.Client(""), job.options())
		v, err := s3vfs.New(client, bucket, opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		name := "s3ledger"
		vfs.Register(name, v)
		res, err := runLedger(name, key, job)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		res.Stats = v.Stats()
		json.NewEncoder(os.Stdout).Encode(res)
		return 0
	}
}

func (j ledgerJob) options() *s3vfs.Options {
	return &s3vfs.Options{BlockSize: j.BlockSize, WriteBuffer: j.WriteBuffer, AttemptTimeout: j.Attempt, RequestTimeout: j.Request}
}

// ledgerDSN opens key with immediate transactions: a writer takes its
// write lock (and the newest snapshot) at BEGIN.
func ledgerDSN(vfsName, key string) string {
	return "file:" + key + "?vfs=" + vfsName + "&_txlock=immediate&_pragma=busy_timeout(10000)"
}

// createLedger creates the ledger database at key.
func createLedger(t testing.TB, vfsName, key string) {
	t.Helper()
	db := openDB(t, vfsName, key, "_pragma=page_size(1024)")
	mustExec(t, db, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
	mustExec(t, db, "CREATE TABLE ledger(id TEXT PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER)")
	for i := range ledgerAccounts {
		mustExec(t, db, "INSERT INTO accounts VALUES (?, ?)", i, ledgerOpening)
	}
	db.Close()
}

// runLedger runs job's writers and readers on the database at key.
func runLedger(vfsName, key string, job ledgerJob) (*ledgerResult, error) {
	db, err := sql.Open("sqlite3", ledgerDSN(vfsName, key))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(job.Writers + job.Readers)
	db.SetMaxIdleConns(job.Writers + job.Readers)

	res := &ledgerResult{Errors: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := make(chan struct{})
	start := time.Now()
	var fatal error
	for w := range job.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(job.Seed, uint64(job.Proc*1000+w)))
			attempt := 0
			for i := 0; i < job.Transactions; {
				attempt++
				if attempt > job.Transactions*50 {
					mu.Lock()
					fatal = fmt.Errorf("writer %d.%d: %d attempts for %d transactions: giving up", job.Proc, w, attempt, i)
					mu.Unlock()
					return
				}
				id := fmt.Sprintf("p%d-w%d-a%d", job.Proc, w, attempt)
				src, dst := rng.IntN(ledgerAccounts), rng.IntN(ledgerAccounts)
				amount := rng.IntN(50) + 1
				inCommit, err := transfer(db, id, src, dst, amount)
				mu.Lock()
				switch {
				case err == nil:
					res.Committed = append(res.Committed, id)
					i++
				case inCommit && strings.Contains(err.Error(), "outcome unknown"):
					res.Unknown = append(res.Unknown, id)
				default:
					res.Failed = append(res.Failed, id)
				}
				if err != nil {
					res.Errors[errorClass(err)]++
					if errors.Is(err, sqlite3.BUSY) {
						res.Busy++
					}
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
				}
			}
		}()
	}
	var rwg sync.WaitGroup
	for range job.Readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var total, rows int64
				err := db.QueryRow("SELECT (SELECT sum(balance) FROM accounts), (SELECT count(*) FROM ledger)").Scan(&total, &rows)
				mu.Lock()
				if err != nil {
					res.Errors["read: "+errorClass(err)]++
				} else {
					res.Reads++
					if total != ledgerTotal {
						res.BadReads = append(res.BadReads, fmt.Sprintf("total %d with %d rows", total, rows))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(done)
	rwg.Wait()
	res.Elapsed = time.Since(start)
	return res, fatal
}

// transfer moves amount from src to dst and records it as row id, in one
// transaction. inCommit reports whether the error came from COMMIT.
func transfer(db *sql.DB, id string, src, dst, amount int) (inCommit bool, err error) {
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if _, err := tx.Exec("UPDATE accounts SET balance = balance - ? WHERE id = ?", amount, src); err != nil {
		return false, err
	}
	if _, err := tx.Exec("UPDATE accounts SET balance = balance + ? WHERE id = ?", amount, dst); err != nil {
		return false, err
	}
	if _, err := tx.Exec("INSERT INTO ledger VALUES (?, ?, ?, ?)", id, src, dst, amount); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// errorClass names the SQLite error code of err, for the tallies.
func errorClass(err error) string {
	for _, c := range []sqlite3.ErrorCode{sqlite3.BUSY, sqlite3.IOERR, sqlite3.LOCKED, sqlite3.CORRUPT} {
		if errors.Is(err, c) {
			return c.Error()
		}
	}
	msg := err.Error()
	return msg[:min(len(msg), 60)]
}

// ledgerRun runs procs child processes of job against key in e's bucket
// and returns their results.
func (e *env) ledgerRun(key string, procs int, job ledgerJob) []*ledgerResult {
	e.t.Helper()
	results, err := e.startLedger(key, procs, job)()
	if err != nil {
		e.t.Fatal(err)
	}
	return results
}

// startLedger starts procs child processes of job against key in e's
// bucket and returns a function that waits for their results. It may be
// called from any goroutine.
func (e *env) startLedger(key string, procs int, job ledgerJob) func() ([]*ledgerResult, error) {
	results := make([]*ledgerResult, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for p := range procs {
		j := job
		j.Proc = p
		arg, _ := json.Marshal(j)
		cmd := e.childCommand("ledger", key, string(arg))
		// A child must not outlive a test binary that dies or times out.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.Output()
			if err != nil {
				errs[p] = fmt.Errorf("process %d: %w", p, err)
				return
			}
			results[p] = new(ledgerResult)
			errs[p] = json.Unmarshal(out, results[p])
		}()
	}
	return func() ([]*ledgerResult, error) {
		wg.Wait()
		return results, errors.Join(errs...)
	}
}

// ledgerSummary totals the results of the processes of one run.
type ledgerSummary struct {
	committed, failed, unknown, busy, reads int
	errors                                  map[string]int
	elapsed                                 time.Duration
	present                                 int   // ledger rows in the database afterwards
	earlyBlocks, rebases                    int64 // the processes' VFS counters, added up
}

// checkLedger verifies the database at key against the results of every
// process: each committed id present, no failed id present, balances equal
// to what the rows say, the total conserved, integrity_check ok.
func checkLedger(t testing.TB, vfsName, key string, results []*ledgerResult) ledgerSummary {
	t.Helper()
	sum := ledgerSummary{errors: map[string]int{}}
	want := map[string]bool{}
	for _, r := range results {
		for _, id := range r.Committed {
			want[id] = true
		}
		for _, id := range r.Failed {
			want[id] = false
		}
		sum.committed += len(r.Committed)
		sum.failed += len(r.Failed)
		sum.unknown += len(r.Unknown)
		sum.busy += r.Busy
		sum.reads += r.Reads
		sum.elapsed = max(sum.elapsed, r.Elapsed)
		sum.earlyBlocks += r.Stats.EarlyBlocks
		sum.rebases += r.Stats.Rebases
		for k, v := range r.Errors {
			sum.errors[k] += v
		}
		for _, bad := range r.BadReads {
			t.Errorf("a reader saw a wrong snapshot: %s", bad)
		}
	}

	db := openDB(t, vfsName, key)
	integrityOK(t, db)
	rows, err := db.Query("SELECT id, src, dst, amount FROM ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	balance := make([]int64, ledgerAccounts)
	for i := range balance {
		balance[i] = ledgerOpening
	}
	present := map[string]bool{}
	for rows.Next() {
		var id string
		var src, dst, amount int64
		if err := rows.Scan(&id, &src, &dst, &amount); err != nil {
			t.Fatal(err)
		}
		present[id] = true
		balance[src] -= amount
		balance[dst] += amount
		if ok, known := want[id]; known && !ok {
			t.Errorf("transaction %s returned an error from COMMIT but is in the database", id)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for id, ok := range want {
		if ok && !present[id] {
			lost++
			t.Errorf("transaction %s returned OK from COMMIT but is not in the database", id)
		}
	}
	var total int64
	for i := range ledgerAccounts {
		got := queryInt(t, db, "SELECT balance FROM accounts WHERE id = ?", i)
		total += got
		if got != balance[i] {
			t.Errorf("account %d holds %d; its ledger rows say %d", i, got, balance[i])
		}
	}
	if total != ledgerTotal {
		t.Errorf("total %d, want %d", total, ledgerTotal)
	}
	if n := len(present); n < sum.committed || n > sum.committed+sum.unknown {
		t.Errorf("%d rows for %d committed and %d unknown transactions", n, sum.committed, sum.unknown)
	}
	if lost != 0 {
		t.Errorf("%d committed transactions lost", lost)
	}
	sum.present = len(present)
	return sum
}
