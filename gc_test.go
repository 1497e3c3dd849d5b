package s3vfs_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

func init() {
	childModes["gc-writer"] = childGCWriter
}

// keys lists the objects of the database at key.
func (e *env) keys(key string) []string {
	e.t.Helper()
	ks, err := server.Keys(context.Background(), e.bucket, key+"/")
	if err != nil {
		e.t.Fatal(err)
	}
	// The store's self-test before a VFS's first write puts two objects
	// under the database's _storecheck/ for a moment; a cleanup the test
	// made fail leaves them there, and they are no commit's orphans.
	return slices.DeleteFunc(ks, func(k string) bool { return strings.HasPrefix(k, key+"/_storecheck/") })
}

// coldOpen opens key on a fresh VFS, as a new process would, runs one
// point query, and returns the requests it took.
func (e *env) coldOpen(opts *s3vfs.Options, key string) s3vfs.Stats {
	e.t.Helper()
	v := e.newVFS(opts)
	db := openDB(e.t, e.register(v), key)
	queryInt(e.t, db, "SELECT v FROM t WHERE id = 17")
	db.Close()
	return v.Stats()
}

// A database with 10,000 commits: checkpoints keep the cold open at the
// cost it had at 10 commits, and after the retention has passed garbage
// collection leaves exactly the blocks of the newest version, its record
// and its checkpoint. With -short it makes 1,000 commits.
func TestGC10000Commits(t *testing.T) {
	ctx := context.Background()
	commits := 10_000
	if testing.Short() {
		commits = 1_000
	}
	// Format version 1, whose objects the counts below describe; version 2
	// keeps the records later versions overlay (TestFormat2GCKeepsOverlayRecords).
	opts := &s3vfs.Options{BlockSize: 512, Retention: time.Second, FormatVersion: 1}
	e := newEnv(t, opts)
	key := "gc/many.db"
	// staleness: this process is the only writer, so every transaction
	// can trust the head its own last commit published.
	db := e.open(key, "staleness=60000")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA page_size=512")
	// One row per 512-byte page: the commits, one row each, rewrite blocks
	// all over the file, so records' deltas grow and checkpoints follow.
	mustExec(t, db, `BEGIN;
		CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad BLOB);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 200)
		INSERT INTO t SELECT i, 0, randomblob(300) FROM c;
		COMMIT;`)
	model := make([]int64, 201)
	rng := rand.New(rand.NewPCG(3, 4))

	start := time.Now()
	var cold10 s3vfs.Stats
	for i := 1; i <= commits-1; i++ { // the CREATE above was commit 1
		id := 1 + rng.IntN(200)
		mustExec(t, db, "UPDATE t SET v = v + 1 WHERE id = ?", id)
		model[id]++
		if i == 9 {
			cold10 = e.coldOpen(opts, key)
		}
	}
	elapsed := time.Since(start)
	t.Logf("writer: %v", e.vfs.Stats())
	if got := queryInt(t, db, "PRAGMA s3vfs_commit"); got != int64(commits) {
		t.Fatalf("head is commit %d, want %d", got, commits)
	}
	cold := e.coldOpen(opts, key)
	t.Logf("%d commits in %v (%v per commit)", commits, elapsed.Round(time.Millisecond), (elapsed / time.Duration(commits)).Round(time.Microsecond))
	t.Logf("cold open at 10 commits:  %v", cold10)
	t.Logf("cold open at %d commits: %v", commits, cold)
	if cold.Requests() != cold10.Requests() || cold.Lists != 1 || cold10.Lists != 1 {
		t.Errorf("cold open: %d requests (%d LISTs) at %d commits, %d (%d LISTs) at 10", cold.Requests(), cold.Lists, commits, cold10.Requests(), cold10.Lists)
	}

	// A dry run right away: the versions of the last second or two are
	// retained, the older ones are garbage, and nothing is deleted.
	rep, err := e.vfs.GC(ctx, key, &s3vfs.GCOptions{DryRun: true, Retention: time.Second, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dry run: %v", rep)
	if rep.Head != uint64(commits) || rep.Oldest <= 1 || rep.Oldest > rep.Head || rep.Garbage.Records != int(rep.Oldest)-1 ||
		rep.Deleted.Objects() != 0 {
		t.Errorf("dry run: %v", rep)
	}

	before := e.keys(key)
	var ckpts int
	for _, k := range before {
		if strings.Contains(k, "/_checkpoints/") {
			ckpts++
		}
	}
	t.Logf("before GC: %d objects, %d of them checkpoints", len(before), ckpts)
	if want := rep.Live.Objects() + rep.Garbage.Objects() + rep.Pending.Objects(); len(before) != want {
		t.Errorf("the dry run counted %d objects, the bucket holds %d", want, len(before))
	}
	if ckpts < commits/200 {
		t.Errorf("%d checkpoints in %d commits: checkpoints are not written as deltas grow", ckpts, commits)
	}

	// Past the retention, only the newest version stays.
	time.Sleep(3 * time.Second)
	pageCount := queryInt(t, db, "PRAGMA page_count")
	gcStart := e.proxy.Counts()
	rep, err = e.vfs.GC(ctx, key, &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gcEnd := e.proxy.Counts()
	t.Logf("GC: %v", rep)
	t.Logf("GC requests: LIST=%d GET=%d DELETE=%d", gcEnd[s3proxy.LIST]-gcStart[s3proxy.LIST],
		gcEnd[s3proxy.GET]-gcStart[s3proxy.GET], gcEnd[s3proxy.DELETE]-gcStart[s3proxy.DELETE])
	after := e.keys(key)
	want := int(pageCount) + 1 + 1 // the blocks (page size = block size), the head record, its checkpoint
	if len(after) != want || rep.Live.Objects() != want || rep.Live.Blocks != int(pageCount) {
		t.Errorf("after GC: %d objects, report says %d live (%d blocks); want %d blocks + 1 record + 1 checkpoint",
			len(after), rep.Live.Objects(), rep.Live.Blocks, pageCount)
	}
	if rep.Deleted != rep.Garbage || rep.Deleted.Objects() != len(before)-len(after) || rep.Pending.Objects() != 0 {
		t.Errorf("deleted %v, garbage %v, pending %v; %d objects before, %d after", rep.Deleted, rep.Garbage, rep.Pending, len(before), len(after))
	}
	if rep.Oldest != uint64(commits) {
		t.Errorf("oldest retained commit %d, want %d", rep.Oldest, commits)
	}

	// The database is whole, on a fresh VFS as on the writer's.
	for _, d := range []*sql.DB{db, openDB(t, e.register(e.newVFS(opts)), key)} {
		integrityOK(t, d)
		for id := 1; id <= 200; id += 37 {
			if got := queryInt(t, d, "SELECT v FROM t WHERE id = ?", id); got != model[id] {
				t.Fatalf("row %d = %d, want %d", id, got, model[id])
			}
		}
	}
	if c := e.coldOpen(opts, key); c.Requests() != cold10.Requests() {
		t.Errorf("cold open after GC: %v, want %d requests", c, cold10.Requests())
	}
	// Versions outside the retention are gone from time travel too.
	if _, err := e.open(key, "commit=5").Exec("SELECT 1 FROM t"); err == nil || !strings.Contains(err.Error(), "no such commit") {
		t.Errorf("open at a collected commit: %v", err)
	}
	n := 0
	for c, err := range e.vfs.History(ctx, key) {
		if err != nil || c.N != uint64(commits) {
			t.Errorf("history after GC: %+v, %v", c, err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("history after GC lists %d commits, want 1", n)
	}
	// A second collection finds nothing to do.
	rep, err = e.vfs.GC(ctx, key, &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second})
	if err != nil || rep.Garbage.Objects() != 0 || rep.Live.Objects() != want {
		t.Errorf("second GC: %v, %v", rep, err)
	}
}

// failRequests makes the proxy answer 400 to the requests fail picks.
func failRequests(p *s3proxy.Proxy, fail func(s3proxy.Request) bool) {
	p.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if !fail(req) {
			return false
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequest</Code><Message>injected</Message></Error>`)
		return true
	})
}

// isRecordPut reports whether req creates a commit record.
func isRecordPut(req s3proxy.Request) bool {
	return req.Kind == s3proxy.PUT && strings.Contains(req.Key, "/_commits/")
}

// newKeys returns the keys in after that are not in before.
func newKeys(before, after []string) []string {
	var out []string
	for _, k := range after {
		if !slices.Contains(before, k) {
			out = append(out, k)
		}
	}
	return out
}

// The leftovers of failed commit attempts stay until the grace period has
// passed, and go at the first collection after it; those named after a
// commit above the head stay until the head passes them, since a commit
// in flight may still publish them.
func TestGCOrphansAfterGrace(t *testing.T) {
	ctx := context.Background()
	// Format version 1: its small commits upload blocks, which a failed
	// commit leaves behind (in version 2 only large ones do).
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096, FormatVersion: 1})
	key := "gc/orphans.db"
	db := e.open(key)
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")        // commit 1
	mustExec(t, db, "INSERT INTO t VALUES (1)") // commit 2
	const grace = 3 * time.Second
	gc := func(what string) s3vfs.GCReport {
		t.Helper()
		rep, err := e.vfs.GC(ctx, key, &s3vfs.GCOptions{Grace: grace})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("GC %s: %v", what, rep)
		return rep
	}
	left := func(names []string) int {
		n := 0
		for _, k := range e.keys(key) {
			if slices.Contains(names, k) {
				n++
			}
		}
		return n
	}

	// The record of commit 3 cannot be written: its blocks stay behind,
	// named after a commit that does not exist.
	before := e.keys(key)
	failRequests(e.proxy, func(r s3proxy.Request) bool { return r.Kind == s3proxy.PUT && strings.Contains(r.Key, "/_commits/") })
	if _, err := db.Exec("INSERT INTO t VALUES (2)"); err == nil {
		t.Fatal("commit succeeded with its record PUT failing")
	}
	e.proxy.SetHook(nil)
	failed := newKeys(before, e.keys(key))
	if len(failed) == 0 {
		t.Fatal("the failed commit left nothing behind")
	}

	rep := gc("within the grace period")
	if got := left(failed); got != len(failed) || rep.Pending.Objects() != len(failed) || rep.Garbage.Objects() != 0 {
		t.Fatalf("%d of %d orphans left", got, len(failed))
	}
	time.Sleep(grace + 2*time.Second)
	rep = gc("past the grace period, orphans above the head")
	if got := left(failed); got != len(failed) || rep.Pending.Objects() != len(failed) {
		t.Fatalf("orphans named above the head: %d of %d left", got, len(failed))
	}

	// A commit that loses the race for commit 3 cannot delete its blocks.
	other := openDB(t, e.register(e.newVFS(&s3vfs.Options{BlockSize: 4096, FormatVersion: 1})), key)
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if got := queryIntTx(t, tx, "SELECT count(*) FROM t"); got != 1 {
		t.Fatalf("count = %d", got)
	}
	mustExec(t, db, "INSERT INTO t VALUES (3)") // commit 3
	before = e.keys(key)
	failRequests(e.proxy, func(r s3proxy.Request) bool { return r.Kind == s3proxy.DELETE })
	if _, err := tx.Exec("INSERT INTO t VALUES (4)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("racing commit: %v, want SQLITE_BUSY", err)
	}
	e.proxy.SetHook(nil)
	lost := newKeys(before, e.keys(key))
	if len(lost) == 0 {
		t.Fatal("the lost commit left nothing behind")
	}

	// The first orphans are now below the head and past the grace period;
	// the new ones are within it.
	rep = gc("with the head past the first orphans")
	if got := left(failed); got != 0 {
		t.Errorf("%d of %d orphans of the failed commit left", got, len(failed))
	}
	if got := left(lost); got != len(lost) || rep.Pending.Objects() != len(lost) {
		t.Errorf("within the grace period: %d of %d orphans of the lost race left", got, len(lost))
	}
	if rep.Deleted.Objects() != len(failed) {
		t.Errorf("deleted %v, want the %d orphans of the failed commit", rep.Deleted, len(failed))
	}
	time.Sleep(grace + 2*time.Second)
	rep = gc("past the grace period")
	if got := left(lost); got != 0 || rep.Deleted.Objects() != len(lost) {
		t.Errorf("past the grace period: %d of %d orphans of the lost race left", got, len(lost))
	}

	integrityOK(t, db)
	if got := queryString(t, db, "SELECT group_concat(x) FROM t"); got != "1,3" {
		t.Errorf("rows %q, want 1,3", got)
	}
	t.Logf("orphans: %d of a failed commit, %d of a lost race", len(failed), len(lost))
}

func queryIntTx(t testing.TB, tx *sql.Tx, query string) int64 {
	t.Helper()
	var v int64
	if err := tx.QueryRow(query).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// Garbage collection runs over and over while two processes write and
// read: no commit is lost, no reader fails, the database stays whole.
func TestGCWhileProcessesWriteAndRead(t *testing.T) {
	runGCWhileProcesses(t, newEnv)
}

// gcRetention is the retention of runGCWhileProcesses.
const gcRetention = 2 * time.Second

// runGCWhileProcesses is TestGCWhileProcessesWriteAndRead's workload, on
// an env made by newEnv.
func runGCWhileProcesses(t *testing.T, newEnv func(testing.TB, *s3vfs.Options) *env) {
	ctx := context.Background()
	const retention = gcRetention
	opts := &s3vfs.Options{Retention: retention, BlockSize: 4096}
	e := newEnv(t, opts)
	key := "gc/busy.db"
	db := e.open(key)
	mustExec(t, db, "CREATE TABLE rows(proc INTEGER, i INTEGER, payload BLOB, PRIMARY KEY (proc, i))")
	db.Close()

	const run = 8 * time.Second
	var children []*childProc
	for p := range 2 {
		children = append(children, e.startChild("gc-writer", key, fmt.Sprintf("%d,%s,%s", p, run, retention)))
	}

	var mu sync.Mutex
	var total s3vfs.GCReport
	runs := 0
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			case <-time.After(200 * time.Millisecond):
			}
			rep, err := e.vfs.GC(ctx, key, &s3vfs.GCOptions{Retention: retention, Grace: retention})
			if err != nil {
				done <- err
				return
			}
			mu.Lock()
			runs++
			total.Deleted.Blocks += rep.Deleted.Blocks
			total.Deleted.Records += rep.Deleted.Records
			total.Deleted.Checkpoints += rep.Deleted.Checkpoints
			total.Deleted.Bytes += rep.Deleted.Bytes
			mu.Unlock()
		}
	}()

	counts := map[int]int{}
	for p, c := range children {
		err := c.cmd.Wait()
		last := c.lastLine()
		if err != nil {
			t.Fatalf("process %d: %v", p, err)
		}
		n, err := strconv.Atoi(last)
		if err != nil {
			t.Fatalf("process %d said %q", p, last)
		}
		counts[p] = n
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("GC: %v", err)
	}
	t.Logf("%d collections deleted %v; commits per process: %v", runs, total.Deleted, counts)
	if total.Deleted.Blocks == 0 || total.Deleted.Records == 0 {
		t.Errorf("the collections deleted nothing: the test did not exercise GC")
	}

	check := func(d *sql.DB) {
		t.Helper()
		integrityOK(t, d)
		for p, n := range counts {
			if n == 0 {
				t.Errorf("process %d committed nothing", p)
			}
			got := queryInt(t, d, "SELECT count(*) FROM rows WHERE proc = ? AND i < ?", p, n)
			max := queryInt(t, d, "SELECT coalesce(max(i), -1) FROM rows WHERE proc = ?", p)
			if got != int64(n) || max != int64(n-1) {
				t.Errorf("process %d: %d of its %d acknowledged rows, max i %d", p, got, n, max)
			}
		}
	}
	fresh := openDB(t, e.register(e.newVFS(opts)), key)
	check(fresh)
	fresh.Close()

	// After the retention, a last collection leaves a whole database.
	time.Sleep(retention + 2*time.Second)
	rep, err := e.vfs.GC(ctx, key, &s3vfs.GCOptions{Retention: retention, Grace: retention})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("final GC: %v", rep)
	if rep.Oldest != rep.Head || rep.Pending.Objects() != 0 {
		t.Errorf("final GC kept more than the newest version: %v", rep)
	}
	check(openDB(t, e.register(e.newVFS(opts)), key))
}

// childGCWriter appends rows (proc, 0), (proc, 1), ... one commit each,
// for a while, and after each commit reads back the whole table. It prints
// the number of rows committed and exits 1 on any error but SQLITE_BUSY.
// ARG is "proc,duration,retention".
func childGCWriter() int {
	srv, bucket, key, arg := childServer()
	parts := strings.Split(arg, ",")
	proc, _ := strconv.Atoi(parts[0])
	run, _ := time.ParseDuration(parts[1])
	retention, _ := time.ParseDuration(parts[2])
	client, opts := childCoordinated(srv.Client(""), &s3vfs.Options{BlockSize: 4096})
	v, err := s3vfs.New(client, bucket, opts)
	if err != nil {
		panic(err)
	}
	vfs.Register("s3gc", v)
	// The retention URI parameter tells this process how the database is
	// collected (its Options say 24h).
	db, err := sql.Open("sqlite3", "file:"+key+"?vfs=s3gc&retention="+retention.String())
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(1)
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "gc-writer %d: %s: %v\n", proc, what, err)
		return 1
	}
	rng := rand.New(rand.NewPCG(uint64(proc), 9))
	n, busy := 0, 0
	lastOther := int64(0)
	for deadline := time.Now().Add(run); time.Now().Before(deadline); {
		_, err := db.Exec("INSERT INTO rows VALUES (?, ?, randomblob(?))", proc, n, 200+rng.IntN(800))
		switch {
		case errors.Is(err, sqlite3.BUSY):
			busy++
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
			continue
		case err != nil:
			return fail("insert", err)
		}
		n++
		fmt.Println(n)
		// Read every page: a block collected too early fails here.
		var mine, others, bytes int64
		err = db.QueryRow("SELECT sum(proc = ?), sum(proc != ?), sum(length(payload)) FROM rows", proc, proc).Scan(&mine, &others, &bytes)
		if errors.Is(err, sqlite3.BUSY) {
			continue
		}
		if err != nil {
			return fail("read", err)
		}
		if mine != int64(n) || others < lastOther {
			return fail("read", fmt.Errorf("%d rows of mine (want %d), %d of the other (was %d)", mine, n, others, lastOther))
		}
		lastOther = others
		if n%20 == 0 {
			var ok string
			if err := db.QueryRow("PRAGMA quick_check").Scan(&ok); err != nil || ok != "ok" {
				return fail("quick_check", fmt.Errorf("%q %v", ok, err))
			}
		}
	}
	fmt.Fprintf(os.Stderr, "gc-writer %d: %d commits, %d conflicts retried\n", proc, n, busy)
	return 0
}

// A transaction that outlives the retention cannot commit over a record
// name that garbage collection freed: the commit checks that its parent is
// still the newest, and fails with SQLITE_BUSY instead of forking history.
func TestGCLongTransactionCannotFork(t *testing.T) {
	ctx := context.Background()
	const retention = 2 * time.Second
	opts := &s3vfs.Options{Retention: retention, BlockSize: 4096}
	e := newEnv(t, opts)
	key := "gc/long.db"
	a := e.open(key)
	a.SetMaxOpenConns(1)
	mustExec(t, a, "CREATE TABLE t(x)")
	mustExec(t, a, "INSERT INTO t VALUES ('a1')") // commit 2

	tx, err := a.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if got := queryIntTx(t, tx, "SELECT count(*) FROM t"); got != 1 {
		t.Fatalf("count = %d", got)
	}
	b := openDB(t, e.register(e.newVFS(opts)), key)
	mustExec(t, b, "INSERT INTO t VALUES ('b1')") // commit 3
	mustExec(t, b, "INSERT INTO t VALUES ('b2')") // commit 4
	time.Sleep(retention + 2*time.Second)
	rep, err := e.vfs.GC(ctx, key, &s3vfs.GCOptions{Retention: retention, Grace: retention})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Oldest != 4 {
		t.Fatalf("GC kept commits from %d, want 4 (record 3 collected)", rep.Oldest)
	}

	if _, err := tx.Exec("INSERT INTO t VALUES ('a2')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("commit on a parent replaced long ago: %v, want SQLITE_BUSY", err)
	}
	mustExec(t, a, "INSERT INTO t VALUES ('a2')") // retried: commit 5
	for _, d := range []*sql.DB{a, openDB(t, e.register(e.newVFS(opts)), key)} {
		integrityOK(t, d)
		if got := queryString(t, d, "SELECT group_concat(x) FROM t"); got != "a1,b1,b2,a2" {
			t.Errorf("rows %q, want a1,b1,b2,a2", got)
		}
		if got := queryInt(t, d, "PRAGMA s3vfs_commit"); got != 5 {
			t.Errorf("head %d, want 5", got)
		}
	}
}

// A commit that has uploaded its blocks but not yet created its record,
// for longer than the grace period, keeps its blocks: they are named after
// a commit above the head the collector saw.
func TestGCSparesCommitInFlight(t *testing.T) {
	ctx := context.Background()
	// Format version 1: its small commits upload blocks before the record.
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096, FormatVersion: 1})
	key := "gc/inflight.db"
	db := e.open(key)
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")

	recordPut := s3test.PauseFirst(e.proxy, isRecordPut, 4*time.Second) // the commit stalls before its record
	committed := make(chan error, 1)
	go func() {
		_, err := db.Exec("INSERT INTO t VALUES (2)")
		committed <- err
	}()
	<-recordPut
	time.Sleep(2500 * time.Millisecond) // the blocks are now older than the grace period
	rep, err := e.vfs.GC(ctx, key, &s3vfs.GCOptions{Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GC during the commit: %v", rep)
	if rep.Pending.Blocks == 0 || rep.Garbage.Objects() != 0 {
		t.Errorf("GC during the commit: pending %v, garbage %v", rep.Pending, rep.Garbage)
	}
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	e.proxy.SetHook(nil)
	fresh := openDB(t, e.register(e.newVFS(nil)), key)
	integrityOK(t, fresh)
	if got := queryString(t, fresh, "SELECT group_concat(x) FROM t"); got != "1,2" {
		t.Errorf("rows %q, want 1,2", got)
	}
}

// A restore racing a collection that removes the very version it restores
// keeps what it needs: it copied the blocks the newest version does not
// share, under its own names.
func TestGCDuringRestore(t *testing.T) {
	ctx := context.Background()
	const retention = 2 * time.Second
	// Format version 1, whose records of replaced versions are garbage (in
	// version 2 a record may carry pages a later version overlays).
	opts := &s3vfs.Options{Retention: retention, BlockSize: 4096, FormatVersion: 1}
	e := newEnv(t, opts)
	key := "gc/restore.db"
	db := e.open(key)
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")                                                                        // 1
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 50) INSERT INTO kv SELECT i, 'old' || i FROM c") // 2
	want := dump(t, db)
	mustExec(t, db, "UPDATE kv SET v = 'new' WHERE k % 2 = 0") // 3
	mustExec(t, db, "DELETE FROM kv WHERE k > 40")             // 4

	recordPut := s3test.PauseFirst(e.proxy, isRecordPut, 5*time.Second) // the restore stalls before its record
	restored := make(chan error, 1)
	go func() {
		_, err := e.newVFS(opts).Restore(ctx, key, 2)
		restored <- err
	}()
	<-recordPut
	time.Sleep(retention + 1500*time.Millisecond) // commit 2 is now outside the retention
	rep, err := e.vfs.GC(ctx, key, &s3vfs.GCOptions{Retention: retention, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GC during the restore: %v", rep)
	if rep.Oldest != 4 || rep.Deleted.Records == 0 {
		t.Errorf("GC kept commits from %d (want 4), deleted %v", rep.Oldest, rep.Deleted)
	}
	if err := <-restored; err != nil {
		t.Fatal(err)
	}
	e.proxy.SetHook(nil)
	fresh := openDB(t, e.register(e.newVFS(opts)), key)
	integrityOK(t, fresh)
	if got := dump(t, fresh); got != want {
		t.Errorf("restored content differs from commit 2")
	}
	if got := queryInt(t, fresh, "PRAGMA s3vfs_commit"); got != 5 {
		t.Errorf("head %d, want 5", got)
	}
}
