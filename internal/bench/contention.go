package bench

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
)

// The contention benchmark: processes × goroutines writers on one
// database, each transaction updating one random row of a table of
// ContentionRows rows (4 KiB pages) and retried on SQLITE_BUSY, until
// they have committed a number of transactions between them. A process is
// a VFS of its own (its own cache, lock table and head), as another
// machine would have.

// ContentionRows is the size of the contention benchmark's table.
const ContentionRows = 100_000

// ContentionResult is what one run of the contention benchmark measured.
// Commits may exceed the number asked for by the transactions in flight
// when it was reached.
type ContentionResult struct {
	Commits int           // transactions committed
	Busy    int           // commit attempts that failed with SQLITE_BUSY and were retried
	Rebases int64         // commits published on a newer head (Stats.Rebases)
	Elapsed time.Duration // from the first transaction to the last commit
}

// BusyShare returns the conflicts the application saw per commit.
func (r ContentionResult) BusyShare() float64 { return float64(r.Busy) / float64(r.Commits) }

// CommitsPerSecond returns the commit rate.
func (r ContentionResult) CommitsPerSecond() float64 {
	return float64(r.Commits) / r.Elapsed.Seconds()
}

// Contention runs the contention benchmark on target t (not a local one):
// procs VFSs with writers goroutines each commit commits transactions
// between them. It checks that every commit is in the table (the sum of
// the counters) and that PRAGMA integrity_check is ok.
func (e *Env) Contention(ctx context.Context, t Target, procs, writers, commits int) (ContentionResult, error) {
	if t.Local {
		return ContentionResult{}, errors.New("bench: the contention benchmark runs on S3 targets only")
	}
	key := fmt.Sprintf("contention-%d.db", e.seq.Add(1))
	if err := e.createCounters(t, key); err != nil {
		return ContentionResult{}, err
	}
	vfss, dbs, closeAll, err := e.openProcesses(t, key, procs, writers)
	defer closeAll()
	if err != nil {
		return ContentionResult{}, err
	}
	r, err := contend(ctx, dbs, writers, commits)
	if err != nil {
		return r, err
	}
	for _, v := range vfss {
		r.Rebases += v.Stats().Rebases
	}
	return r, checkCounters(ctx, dbs[0], r.Commits)
}

// openProcesses opens the database at key on procs VFSs of target t, as
// procs processes would, each with a pool of writers connections.
// closeAll unregisters the VFSs and closes the databases, also after an
// error.
func (e *Env) openProcesses(t Target, key string, procs, writers int) (_ []*s3vfs.VFS, _ []*sql.DB, closeAll func(), _ error) {
	var vfss []*s3vfs.VFS
	var dbs []*sql.DB
	var unregister []func()
	closeAll = func() {
		for _, done := range slices.Backward(unregister) {
			done()
		}
		for _, db := range dbs {
			db.Close()
		}
	}
	for range procs {
		v, name, done, err := e.newVFS(t.Opts)
		if err != nil {
			return nil, nil, closeAll, err
		}
		unregister = append(unregister, done)
		// A writer waits for the others of its process (one writes at a
		// time in a process, as in SQLite); SQLITE_BUSY then means a
		// commit lost to another process.
		db, err := sql.Open("sqlite3", "file:"+key+"?vfs="+name+"&_pragma=busy_timeout(10000)")
		if err != nil {
			return nil, nil, closeAll, err
		}
		db.SetMaxOpenConns(writers)
		vfss, dbs = append(vfss, v), append(dbs, db)
	}
	return vfss, dbs, closeAll, nil
}

// contend runs writers goroutines on each of dbs, each updating random
// rows, until commits transactions have committed between them.
func contend(ctx context.Context, dbs []*sql.DB, writers, commits int) (ContentionResult, error) {
	var committed, busy atomic.Int64
	g := sync.WaitGroup{}
	errs := make(chan error, len(dbs)*writers)
	start := time.Now()
	for p := range dbs {
		for w := range writers {
			g.Add(1)
			go func() {
				defer g.Done()
				rng := rand.New(rand.NewPCG(uint64(p), uint64(w)))
				for committed.Load() < int64(commits) {
					_, err := dbs[p].ExecContext(ctx, "UPDATE c SET n = n + 1 WHERE id = ?", 1+rng.IntN(ContentionRows))
					switch {
					case err == nil:
						committed.Add(1)
					case errors.Is(err, sqlite3.BUSY):
						busy.Add(1)
					default:
						errs <- err
						return
					}
				}
			}()
		}
	}
	g.Wait()
	r := ContentionResult{Commits: int(committed.Load()), Busy: int(busy.Load()), Elapsed: time.Since(start)}
	close(errs)
	if err := <-errs; err != nil {
		return r, fmt.Errorf("bench: contention: %w", err)
	}
	return r, nil
}

// checkCounters checks that the counters of the table in db sum to
// commits and that PRAGMA integrity_check is ok.
func checkCounters(ctx context.Context, db *sql.DB, commits int) error {
	var sum int64
	var check string
	if err := db.QueryRowContext(ctx, "SELECT sum(n) FROM c").Scan(&sum); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil {
		return err
	}
	if sum != int64(commits) || check != "ok" {
		return fmt.Errorf("bench: contention: %d commits but the counters sum to %d; integrity_check: %s", commits, sum, check)
	}
	return nil
}

// createCounters makes the contention table at key: ContentionRows rows
// c(id, n, pad) with n = 0, 4 KiB pages.
func (e *Env) createCounters(t Target, key string) error {
	_, name, done, err := e.newVFS(t.Opts)
	if err != nil {
		return err
	}
	defer done()
	db, err := sql.Open("sqlite3", "file:"+key+"?vfs="+name)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		"PRAGMA page_size=4096",
		"CREATE TABLE c(id INTEGER PRIMARY KEY, n INTEGER, pad TEXT)",
		fmt.Sprintf("INSERT INTO c SELECT value, 0, printf('%%060d', value) FROM generate_series(1, %d)", ContentionRows),
	} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("bench: contention table: %w", err)
		}
	}
	return nil
}

// ContentionTargets returns the targets the contention benchmark compares:
// this library with its defaults, and writing format version 1 (whose
// commits are never rebased).
func ContentionTargets() []Target {
	var ts []Target
	for _, t := range append(Targets(), ComparisonTargets()...) {
		if t.Name == "s3vfs" || t.Name == "s3vfs-v1" {
			ts = append(ts, t)
		}
	}
	return ts
}

// ContentionConfig is what RunContention measures.
type ContentionConfig struct {
	Latencies []time.Duration // added by the proxy to every request
	Targets   []Target        // S3 targets; local ones are skipped
	Procs     int             // processes (VFSs); default 4
	Writers   int             // goroutines per process; default 4
	Commits   int             // commits per run; default 400
	Logf      func(format string, args ...any)
}

// RunContention starts an S3 server and runs the contention benchmark on
// every S3 target at every latency, writing a Markdown table to w.
func RunContention(ctx context.Context, w io.Writer, cfg ContentionConfig) error {
	cfg.Procs, cfg.Writers, cfg.Commits = cmp.Or(cfg.Procs, 4), cmp.Or(cfg.Writers, 4), cmp.Or(cfg.Commits, 400)
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	e, stop, err := startEnv(ctx, "", Small, cfg.Logf)
	if err != nil {
		return err
	}
	defer stop()
	defer e.Proxy.SetLatency(0)
	fmt.Fprintf(w, "contention: %d processes × %d writers, %d commits, %d rows; %s/%s, %d CPUs, %s\n\n",
		cfg.Procs, cfg.Writers, cfg.Commits, ContentionRows, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintln(w, "| target | latency | commits | SQLITE_BUSY | BUSY per commit | rebases per commit | commits/s |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, t := range cfg.Targets {
		if t.Local {
			continue
		}
		for _, lat := range cfg.Latencies {
			cfg.Logf("contention / %s / %v", t.Name, lat)
			e.Proxy.SetLatency(lat)
			r, err := e.Contention(ctx, t, cfg.Procs, cfg.Writers, cfg.Commits)
			if err != nil {
				return fmt.Errorf("bench: contention on %s at %v: %w", t.Name, lat, err)
			}
			fmt.Fprintf(w, "| %s | %v | %d | %d | %.1f %% | %.2f | %.1f |\n", t.Name, lat, r.Commits, r.Busy,
				100*r.BusyShare(), float64(r.Rebases)/float64(r.Commits), r.CommitsPerSecond())
		}
	}
	return nil
}
