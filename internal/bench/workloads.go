package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// Result is what one run of a workload measured.
type Result struct {
	Elapsed  time.Duration
	Requests map[s3proxy.Kind]int // S3 requests by kind, as the proxy saw them
	Waves    int                  // waves of requests after the database was open (s3proxy.Proxy.Waves)
	Chain    int                  // the longest chain of requests after the database was open (s3proxy.Proxy.Chain)
	Bytes    int64                // object bytes sent and received
	Data     int64                // database bytes streamed, for MB/s (0: not a throughput workload)
	PeakHeap uint64               // peak bytes of heap objects during the run, garbage not yet collected included
	PeakLive uint64               // peak bytes of heap objects found live by a garbage collection during the run
}

// Add adds the figures of o to r: times, round trips, requests and bytes
// summed, peaks kept.
func (r *Result) Add(o Result) {
	r.Elapsed += o.Elapsed
	r.Waves += o.Waves
	r.Chain += o.Chain
	r.Bytes += o.Bytes
	r.Data += o.Data
	r.PeakHeap = max(r.PeakHeap, o.PeakHeap)
	r.PeakLive = max(r.PeakLive, o.PeakLive)
	if r.Requests == nil {
		r.Requests = map[s3proxy.Kind]int{}
	}
	for k, c := range o.Requests {
		r.Requests[k] += c
	}
}

// Workload is one measured operation.
type Workload struct {
	Name string
	// Whole says the workload reads the whole database: with one request
	// per block and no read-ahead its time is blocks × latency.
	Whole bool
	// Chained says the workload's requests follow one another (a lookup,
	// a cold open): its round trips are the longest chain of requests
	// (Result.Chain), which what its open reads in the background does
	// not lengthen, rather than the waves, which merge with it.
	Chained bool
	Run     func(ctx context.Context, p *Prepared) (Result, error)
}

// Workloads returns the workloads in the order of docs/performance.md.
func Workloads() []Workload {
	return []Workload{
		{Name: "cold open", Chained: true, Run: coldOpen},
		{Name: "cold point lookup", Chained: true, Run: coldPoint},
		{Name: "cold point lookup, warm disk cache", Chained: true, Run: warmDiskPoint},
		{Name: "warm point lookup", Chained: true, Run: warmPoint("")},
		{Name: "warm point lookup, staleness=1000", Chained: true, Run: warmPoint("staleness=1000")},
		{Name: "cold range, 1000 rows", Chained: true, Run: coldRange},
		{Name: "cold full scan", Whole: true, Run: coldScan},
		{Name: "cold full scan, warm disk cache", Whole: true, Run: warmDiskScan},
		{Name: "bulk insert", Run: bulkInsert},
		{Name: "single-row updates", Run: updates},
		{Name: "first write, new process", Run: firstWrite},
		{Name: "serialize", Whole: true, Run: serialize},
		{Name: "deserialize", Run: deserialize},
	}
}

// RoundTrips returns the round trips a workload waited for in sequence
// after the open: for a chained one (Workload.Chained), the longest
// chain of requests; for the others, whose parallel reads or uploads
// overlap one another, the waves.
func (r Result) RoundTrips(chained bool) int {
	if chained {
		return r.Chain
	}
	return r.Waves
}

// measure runs fn, with the proxy's counters reset, recording the time,
// the requests and the peak heap. fn calls opened once the database is
// open; round trips are counted from there. The requests and bytes
// include what fn started in the background (the prefetch after a cold
// open), waited for once the time, the round trips and the heap are
// taken.
func (p *Prepared) measure(v *s3vfs.VFS, fn func(opened func()) error) (Result, error) {
	e := p.env
	var before s3vfs.Stats
	if v != nil {
		before = v.Stats()
	}
	stop := SampleHeap()
	e.Proxy.Reset()
	waves0, chain0 := 0, 0
	start := time.Now()
	err := fn(func() { waves0, chain0 = e.Proxy.Waves(), e.Proxy.Chain() })
	r := Result{Elapsed: time.Since(start)}
	if !p.Local {
		r.Waves, r.Chain = e.Proxy.Waves()-waves0, e.Proxy.Chain()-chain0
	}
	r.PeakHeap, r.PeakLive = stop()
	if v != nil {
		settle(e.Proxy, v)
	}
	r.Requests = map[s3proxy.Kind]int{}
	if !p.Local {
		for k, n := range e.Proxy.Counts() {
			r.Requests[k] = n
		}
	}
	if v != nil {
		st := v.Stats().Sub(before)
		r.Bytes = st.BytesSent + st.BytesReceived
	}
	return r, err
}

// settle waits, at most 30 s, until the requests v started in the
// background have ended: until the proxy has nothing in flight and v's
// counts stay the same for 10 ms.
func settle(proxy *s3proxy.Proxy, v *s3vfs.VFS) {
	deadline := time.Now().Add(30 * time.Second)
	last := v.Stats()
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		now := v.Stats()
		if proxy.InFlight() == 0 && now == last {
			return
		}
		last = now
	}
}

// SampleHeap collects garbage, then samples the heap every millisecond
// until the returned function is called, which returns the peaks of the
// bytes of heap objects (live or garbage not yet collected) and of the
// bytes the last garbage collection found live.
func SampleHeap() func() (heap, live uint64) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	var peak, peakLive uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			peakLive = max(peakLive, s[1].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		return peak, peakLive
	}
}

// open opens the target's database on a fresh VFS (a cold cache), or the
// local file, with extra URI parameters.
func (p *Prepared) open(ctx context.Context, key, params string) (*s3vfs.VFS, *sql.DB, func(), error) {
	return p.openWith(ctx, p.Opts, key, params)
}

// openWith is open with a VFS of options opts.
func (p *Prepared) openWith(ctx context.Context, opts s3vfs.Options, key, params string) (*s3vfs.VFS, *sql.DB, func(), error) {
	dsn := "file:" + key
	var v *s3vfs.VFS
	done := func() {}
	if p.Local {
		dsn += "?_pragma=synchronous(normal)"
	} else {
		var name string
		var err error
		v, name, done, err = p.env.newVFS(opts)
		if err != nil {
			return nil, nil, nil, err
		}
		dsn += "?vfs=" + name
		if params != "" {
			dsn += "&" + params
		}
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	db.SetMaxOpenConns(1)
	return v, db, func() { db.Close(); done() }, nil
}

// cold runs query on a freshly opened database with an empty cache.
func (p *Prepared) cold(ctx context.Context, query func(*sql.Conn) error) (Result, error) {
	return p.coldWith(ctx, p.Opts, query)
}

// coldWith is cold on a VFS of options opts.
func (p *Prepared) coldWith(ctx context.Context, opts s3vfs.Options, query func(*sql.Conn) error) (Result, error) {
	v, db, done, err := p.openWith(ctx, opts, p.key, "")
	if err != nil {
		return Result{}, err
	}
	defer done()
	return p.measure(v, func(opened func()) error {
		c, err := db.Conn(ctx) // opens the database file
		if err != nil {
			return err
		}
		defer c.Close()
		opened()
		return query(c)
	})
}

// warmDisk runs query as cold does, but on a VFS whose disk cache
// (Options.CacheDir) holds what warm read: another VFS, as an earlier
// process would, ran warm first in the same directory, unmeasured. The
// local file is always on disk: it runs query cold.
func (p *Prepared) warmDisk(ctx context.Context, warm, query func(*sql.Conn) error) (Result, error) {
	if p.Local {
		return p.cold(ctx, query)
	}
	dir, err := os.MkdirTemp(p.env.Dir, "diskcache-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	opts := p.Opts
	opts.CacheDir = dir
	if _, err := p.coldWith(ctx, opts, warm); err != nil {
		return Result{}, err
	}
	return p.coldWith(ctx, opts, query)
}

// coldOpen opens a connection on a fresh VFS: the round trips before a
// cold workload's first statement.
func coldOpen(ctx context.Context, p *Prepared) (Result, error) {
	return p.measureDB(ctx, func(db *sql.DB) error {
		c, err := db.Conn(ctx) // opens the database file
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// measureDB opens the target's database as open does, unmeasured, and
// measures run on it; waves are counted from the start of run.
func (p *Prepared) measureDB(ctx context.Context, run func(db *sql.DB) error) (Result, error) {
	v, db, done, err := p.open(ctx, p.key, "")
	if err != nil {
		return Result{}, err
	}
	defer done()
	return p.measure(v, func(opened func()) error {
		opened()
		return run(db)
	})
}

func coldPoint(ctx context.Context, p *Prepared) (Result, error) {
	return p.cold(ctx, pointQuery(ctx, 1+rand.IntN(p.env.Size.Rows)))
}

// warmDiskPoint is coldPoint in a new process after another one looked up
// the same row with the same disk cache.
func warmDiskPoint(ctx context.Context, p *Prepared) (Result, error) {
	q := pointQuery(ctx, 1+rand.IntN(p.env.Size.Rows))
	return p.warmDisk(ctx, q, q)
}

// pointQuery looks up row id and checks it.
func pointQuery(ctx context.Context, id int) func(*sql.Conn) error {
	return func(c *sql.Conn) error {
		var grp int
		if err := c.QueryRowContext(ctx, "SELECT grp FROM t WHERE id = ?", id).Scan(&grp); err != nil {
			return err
		}
		// The updates workload, run earlier on the same database at
		// another latency, adds 100 to the grp of some rows.
		if grp%100 != id%100 {
			return fmt.Errorf("bench: row %d has grp %d, want %d plus a multiple of 100", id, grp, id%100)
		}
		return nil
	}
}

// warmConn is the open connection of a warm workload.
type warmConn struct {
	v     *s3vfs.VFS
	conns map[string]*sql.Conn
	dbs   []func()
}

func (w *warmConn) close() {
	for _, c := range w.conns {
		c.Close()
	}
	for _, done := range w.dbs {
		done()
	}
}

func warmPoint(params string) func(ctx context.Context, p *Prepared) (Result, error) {
	return func(ctx context.Context, p *Prepared) (Result, error) {
		id := p.env.Size.Rows / 2
		query := func(c *sql.Conn) error {
			var grp int
			return c.QueryRowContext(ctx, "SELECT grp FROM t WHERE id = ?", id).Scan(&grp)
		}
		if p.warm == nil {
			p.warm = &warmConn{conns: map[string]*sql.Conn{}}
		}
		c := p.warm.conns[params]
		if c == nil {
			v, db, done, err := p.open(ctx, p.key, params)
			if err != nil {
				return Result{}, err
			}
			p.warm.dbs = append(p.warm.dbs, done)
			p.warm.v = v
			if c, err = db.Conn(ctx); err != nil {
				return Result{}, err
			}
			p.warm.conns[params] = c
		}
		if err := query(c); err != nil { // warm the cache and the head
			return Result{}, err
		}
		return p.measure(p.warm.v, func(opened func()) error {
			opened()
			return query(c)
		})
	}
}

func coldRange(ctx context.Context, p *Prepared) (Result, error) {
	lo := rand.IntN(max(p.env.Size.Rows-1000, 1)) * 10
	return p.cold(ctx, func(c *sql.Conn) error {
		rows, err := c.QueryContext(ctx, "SELECT id, v FROM t WHERE ts >= ? ORDER BY ts LIMIT 1000", lo)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id int
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				return err
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n != min(1000, p.env.Size.Rows) {
			return fmt.Errorf("bench: range query returned %d rows, want 1000", n)
		}
		return nil
	})
}

func coldScan(ctx context.Context, p *Prepared) (Result, error) {
	r, err := p.cold(ctx, scanQuery(ctx))
	r.Data = p.size
	return r, err
}

// warmDiskScan is coldScan in a new process after another one scanned the
// database with the same disk cache.
func warmDiskScan(ctx context.Context, p *Prepared) (Result, error) {
	r, err := p.warmDisk(ctx, scanQuery(ctx), scanQuery(ctx))
	r.Data = p.size
	return r, err
}

// scanQuery reads the whole table t.
func scanQuery(ctx context.Context) func(*sql.Conn) error {
	return func(c *sql.Conn) error {
		var n int
		return c.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE v LIKE '%ABCDEF%'").Scan(&n)
	}
}

// bulkInsert inserts BulkRows rows in one transaction into a new database.
func bulkInsert(ctx context.Context, p *Prepared) (Result, error) {
	key := p.newKey()
	v, db, done, err := p.open(ctx, key, "")
	if err != nil {
		return Result{}, err
	}
	defer done()
	for _, s := range []string{
		fmt.Sprintf("PRAGMA page_size=%d", p.PageSize),
		"CREATE TABLE t(id INTEGER PRIMARY KEY, ts INTEGER, grp INTEGER, v TEXT)",
		"CREATE INDEX t_ts ON t(ts)",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return Result{}, fmt.Errorf("bench: %s: %w", s, err)
		}
	}
	return p.measure(v, func(opened func()) error {
		opened()
		_, err := db.ExecContext(ctx, insertRows, 1, p.env.Size.BulkRows)
		return err
	})
}

// updates runs Updates transactions that each update one row.
func updates(ctx context.Context, p *Prepared) (Result, error) {
	n := p.env.Size.Updates
	start := 1 + rand.IntN(max(p.env.Size.Rows-n, 1))
	return p.measureDB(ctx, func(db *sql.DB) error {
		for i := range n {
			if _, err := db.ExecContext(ctx, "UPDATE t SET grp = grp + 100 WHERE id = ?", start+i); err != nil {
				return err
			}
		}
		return nil
	})
}

// firstWrite is the first commit of a new process (a fresh VFS) that has
// just read the row it updates: one single-row update, with the store's
// self-test that precedes a VFS's first write.
func firstWrite(ctx context.Context, p *Prepared) (Result, error) {
	id := 1 + rand.IntN(p.env.Size.Rows)
	v, db, done, err := p.open(ctx, p.key, "")
	if err != nil {
		return Result{}, err
	}
	defer done()
	c, err := db.Conn(ctx)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	if err := pointQuery(ctx, id)(c); err != nil {
		return Result{}, err
	}
	return p.measure(v, func(opened func()) error {
		opened()
		_, err := c.ExecContext(ctx, "UPDATE t SET grp = grp + 100 WHERE id = ?", id)
		return err
	})
}

func serialize(ctx context.Context, p *Prepared) (Result, error) {
	if p.Local {
		r, err := p.measure(nil, func(opened func()) error {
			return withFile(p.key, func(f *os.File) error {
				_, err := io.Copy(io.Discard, f)
				return err
			})
		})
		r.Data = p.size
		return r, err
	}
	var n int64
	r, err := p.measureNewVFS(func(v *s3vfs.VFS) error {
		rc := v.SerializeReader(ctx, p.key)
		defer rc.Close()
		var err error
		n, err = io.Copy(io.Discard, rc)
		return err
	})
	r.Data = n
	return r, err
}

func deserialize(ctx context.Context, p *Prepared) (Result, error) {
	src, err := p.env.source(p.PageSize)
	if err != nil {
		return Result{}, err
	}
	key := p.newKey()
	if p.Local {
		r, err := p.measure(nil, func(opened func()) error { return copyFile(key, src) })
		os.Remove(key)
		r.Data = p.size
		return r, err
	}
	r, err := p.measureNewVFS(func(v *s3vfs.VFS) error {
		return withFile(src, func(f *os.File) error { return v.Deserialize(ctx, key, f) })
	})
	r.Data = p.size
	return r, err
}

// measureNewVFS measures fn on a fresh VFS of the target's options, whose
// cache is empty; waves are counted from the start of fn.
func (p *Prepared) measureNewVFS(fn func(v *s3vfs.VFS) error) (Result, error) {
	v, _, done, err := p.env.newVFS(p.Opts)
	if err != nil {
		return Result{}, err
	}
	defer done()
	return p.measure(v, func(opened func()) error { return fn(v) })
}

// withFile calls fn with the file at path open for reading.
func withFile(path string, fn func(f *os.File) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(f)
}

// newKey returns a fresh database name for the target.
func (p *Prepared) newKey() string {
	n := p.env.seq.Add(1)
	if p.Local {
		return filepath.Join(p.env.Dir, fmt.Sprintf("new-%d.db", n))
	}
	return fmt.Sprintf("bench/new-%d.db", n)
}
