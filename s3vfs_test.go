package s3vfs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs"
	"github.com/ncruces/go-sqlite3/vfs/adiantum"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3test"
	"github.com/s3vfs/s3vfs/internal/sqltest"
	"github.com/s3vfs/s3vfs/internal/testproc"
)

// The scenario suite: one set of SQLite-level scenarios (scenarios below)
// that every configuration runs — each store the VFS can stand on, and
// every pair of values of the Options and SQLite settings that change the
// read and write paths (scenarioAxes). The cross product of all of them
// is too large to run; every pair of values appears together in at least
// one configuration (pairwise coverage), and every configuration runs on
// the in-memory store as well as on its real one.

// scenarioConfig is one configuration of the suite.
type scenarioConfig struct {
	store     string // "memory", "s3", "s3+faults" or "s3+dynamodb"
	blockSize int    // Options.BlockSize; 0 for the default
	pageSize  int
	journal   string
	cacheOff  bool          // Options.CacheSize < 0
	readAhead bool          // Options.ReadAhead default, or off
	staleness time.Duration // Options.Staleness
	encrypted bool          // the vfs/adiantum wrapper
	spill     int64         // Options.WriteBuffer: 0 for the default; 64 KiB, past which a transaction uploads blocks early; 1, every block
	diskCache bool          // Options.CacheDir: one directory every process of the configuration shares
	format1   bool          // Options.FormatVersion 1: databases stay in format version 1
}

func (c scenarioConfig) String() string {
	s := fmt.Sprintf("%s/block=%d/page=%d/%s", c.store, c.blockSize, c.pageSize, c.journal)
	if c.cacheOff {
		s += "/cache=off"
	}
	if !c.readAhead {
		s += "/readahead=off"
	}
	if c.staleness > 0 {
		s += "/staleness=" + c.staleness.String()
	}
	if c.encrypted {
		s += "/adiantum"
	}
	if c.spill > 0 {
		s += fmt.Sprintf("/spill=%d", c.spill)
	}
	if c.diskCache {
		s += "/diskcache"
	}
	if c.format1 {
		s += "/format=1"
	}
	return s
}

// mergeable reports whether a branch merges in c: its blocks hold whole
// SQLite pages (of any size, if the header is encrypted).
func (c scenarioConfig) mergeable() bool {
	bs := c.blockSize
	if bs == 0 {
		bs = s3vfs.DefaultBlockSize
	}
	if c.encrypted {
		return bs >= 65536 && bs&(bs-1) == 0
	}
	return bs%c.pageSize == 0
}

func (c scenarioConfig) options() *s3vfs.Options {
	o := &s3vfs.Options{BlockSize: c.blockSize, Staleness: c.staleness}
	if c.cacheOff {
		o.CacheSize = -1
	}
	if !c.readAhead {
		o.ReadAhead = -1
	}
	o.WriteBuffer = c.spill
	if c.format1 {
		o.FormatVersion = 1
	}
	return o
}

// scenarioAxes are the values of each setting; realStores are the stores
// that stand on the real server (memory runs every configuration).
var (
	realStores   = []string{"s3", "s3+faults", "s3+dynamodb"}
	scenarioAxes = [][]any{
		{"s3", "s3+faults", "s3+dynamodb"},
		{4096, 4097, 0},
		{1024, 4096, 65536},
		{"DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF"},
		{false, true},
		{true, false},
		{time.Duration(0), 200 * time.Millisecond},
		{false, true},
		{int64(0), int64(64 << 10), int64(1)},
		{false, true},
		{false, true},
	}
)

func configOf(row []int) scenarioConfig {
	v := func(axis int) any { return scenarioAxes[axis][row[axis]] }
	return scenarioConfig{
		store: v(0).(string), blockSize: v(1).(int), pageSize: v(2).(int), journal: v(3).(string),
		cacheOff: v(4).(bool), readAhead: v(5).(bool), staleness: v(6).(time.Duration),
		encrypted: v(7).(bool), spill: v(8).(int64), diskCache: v(9).(bool),
		format1: v(10).(bool),
	}
}

// pairwise returns rows (an index into each axis) such that every pair of
// values of two axes appears in at least one row. It is greedy and
// seeded, so the rows are the same at every run.
func pairwise(sizes []int) [][]int {
	type pair struct{ a, va, b, vb int }
	uncovered := map[pair]bool{}
	for a := range sizes {
		for b := a + 1; b < len(sizes); b++ {
			for va := range sizes[a] {
				for vb := range sizes[b] {
					uncovered[pair{a, va, b, vb}] = true
				}
			}
		}
	}
	firstPair := func(m map[pair]bool) pair {
		var first pair
		found := false
		for p := range m {
			if !found || p.a < first.a || p.a == first.a && (p.b < first.b || p.b == first.b &&
				(p.va < first.va || p.va == first.va && p.vb < first.vb)) {
				first, found = p, true
			}
		}
		return first
	}
	covers := func(row []int) (n int) {
		for a := range row {
			for b := a + 1; b < len(row); b++ {
				if uncovered[pair{a, row[a], b, row[b]}] {
					n++
				}
			}
		}
		return n
	}
	rng := rand.New(rand.NewPCG(12, 34))
	var rows [][]int
	for len(uncovered) > 0 {
		var best []int
		bestN := -1
		for range 50 {
			row := make([]int, len(sizes))
			for i, s := range sizes {
				row[i] = rng.IntN(s)
			}
			// Start from the first uncovered pair, so every row makes
			// progress (the first, not any: map order is random, and the
			// rows must be the same at every run).
			p := firstPair(uncovered)
			row[p.a], row[p.b] = p.va, p.vb
			if n := covers(row); n > bestN {
				best, bestN = row, n
			}
		}
		for a := range best {
			for b := a + 1; b < len(best); b++ {
				delete(uncovered, pair{a, best[a], b, best[b]})
			}
		}
		rows = append(rows, best)
	}
	return rows
}

// scenarioConfigs returns the configurations: the pairwise rows on their
// real store, and each again on the in-memory store. With -short (the
// race detector's run) the real stores run every third row.
func scenarioConfigs(short bool) []scenarioConfig {
	sizes := make([]int, len(scenarioAxes))
	for i, a := range scenarioAxes {
		sizes[i] = len(a)
	}
	var configs []scenarioConfig
	for i, row := range pairwise(sizes) {
		c := configOf(row)
		if !short || i%3 == 0 {
			configs = append(configs, c)
		}
		c.store = "memory"
		configs = append(configs, c)
	}
	return configs
}

// TestScenarios runs every scenario in every configuration.
func TestScenarios(t *testing.T) {
	for _, c := range scenarioConfigs(testing.Short()) {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, c)
			for _, s := range scenarios {
				if s.skip != nil && s.skip(c) {
					continue
				}
				t.Run(s.name, func(t *testing.T) {
					h.t = t
					s.run(t, h)
				})
			}
		})
	}
}

// TestScenarioCoverage checks that the configurations cover every pair of
// settings, and every setting on every store.
func TestScenarioCoverage(t *testing.T) {
	configs := scenarioConfigs(false)
	seen := map[string]bool{}
	for _, c := range configs {
		seen[c.store] = true
	}
	for _, s := range append([]string{"memory"}, realStores...) {
		if !seen[s] {
			t.Errorf("no configuration runs on store %s", s)
		}
	}
	sizes := make([]int, len(scenarioAxes))
	for i, a := range scenarioAxes {
		sizes[i] = len(a)
	}
	rows := pairwise(sizes)
	for a := range sizes {
		for b := a + 1; b < len(sizes); b++ {
			for va := range sizes[a] {
				for vb := range sizes[b] {
					found := false
					for _, r := range rows {
						found = found || (r[a] == va && r[b] == vb)
					}
					if !found {
						t.Errorf("no configuration has %v together with %v", scenarioAxes[a][va], scenarioAxes[b][vb])
					}
				}
			}
		}
	}
	t.Logf("%d configurations", len(configs))
}

// harness is one configuration's store and settings: it makes VFSs (as
// many processes would) and opens databases with the configuration's
// SQLite settings.
type harness struct {
	t      *testing.T
	config scenarioConfig
	newVFS func() *s3vfs.VFS // another process on the same bucket
	main   string            // the registered name of the first process's VFS
}

func newHarness(t *testing.T, c scenarioConfig) *harness {
	h := &harness{t: t, config: c}
	opts := c.options()
	if c.diskCache {
		opts.CacheDir = t.TempDir()
	}
	switch c.store {
	case "memory":
		bucket := s3vfs.NewMemoryBucket()
		h.newVFS = func() *s3vfs.VFS {
			v, err := bucket.NewVFS(opts)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	case "s3", "s3+faults", "s3+dynamodb":
		var e *env
		if c.store == "s3+dynamodb" {
			e = newCoordinatedEnv(t, opts)
		} else {
			e = newEnv(t, opts)
		}
		if c.store == "s3+faults" {
			// Transient faults at 5%: every one is retried, and no
			// scenario may notice them.
			f := s3test.NewFaults(uint64(len(c.String())), 0.05,
				s3test.InternalError, s3test.SlowDown, s3test.Reset, s3test.Truncate, s3test.Conflict)
			f.Install(e.proxy)
			t.Cleanup(func() {
				if n, _ := f.Total(); n == 0 {
					t.Error("no fault was injected: the configuration tested nothing more than s3")
				}
				t.Logf("%v", f)
			})
		}
		h.newVFS = func() *s3vfs.VFS { return e.newVFS(opts) }
	default:
		t.Fatalf("unknown store %q", c.store)
	}
	h.main = h.register(h.newVFS())
	return h
}

// register registers v (wrapped for encryption if the configuration
// says so) under a fresh name, unregistered at cleanup.
func (h *harness) register(v *s3vfs.VFS) string {
	var w vfs.VFS = v
	if h.config.encrypted {
		w = adiantum.Wrap(v, nil)
	}
	name := "scenario-" + testproc.RandomHex(6)
	vfs.Register(name, w)
	h.t.Cleanup(func() { vfs.Unregister(name) })
	return name
}

// open opens key on the VFS registered as name with the configuration's
// settings on every connection.
func (h *harness) openOn(name, key string, params ...string) *sql.DB {
	h.t.Helper()
	dsn := "file:" + key + "?vfs=" + name
	for _, p := range params {
		dsn += "&" + p
	}
	c := h.config
	db, err := driver.Open(dsn, func(conn *sqlite3.Conn) error {
		if c.encrypted {
			if err := conn.Exec("PRAGMA hexkey='" + exampleHexKey + "'"); err != nil {
				return err
			}
		}
		if ro, _ := conn.ReadOnly("main"); ro {
			return nil
		}
		return conn.Exec(fmt.Sprintf("PRAGMA page_size=%d; PRAGMA journal_mode=%s", c.pageSize, c.journal))
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { db.Close() })
	return db
}

// open opens key on the first process's VFS.
func (h *harness) open(key string, params ...string) *sql.DB {
	return h.openOn(h.main, key, params...)
}

// reopen opens key on a new VFS: another process, with a cold cache.
func (h *harness) reopen(key string, params ...string) *sql.DB {
	return h.openOn(h.register(h.newVFS()), key, params...)
}

// scenario is one behaviour every configuration must show.
type scenario struct {
	name string
	skip func(scenarioConfig) bool // configurations it does not apply to
	run  func(t *testing.T, h *harness)
}

var scenarios = []scenario{
	{name: "write, then read from another process", run: scenarioWriteRead},
	{name: "rollback leaves nothing", skip: func(c scenarioConfig) bool { return c.journal == "OFF" }, run: scenarioRollback},
	{name: "no lost update between processes", run: scenarioNoLostUpdate},
	{name: "serializable interleavings", run: scenarioInterleavings},
	{name: "connections of two processes at once", run: scenarioGroupCommit},
	{name: "large transaction", run: scenarioLarge},
	{name: "vacuum", run: scenarioVacuum},
	{name: "time travel", run: scenarioTimeTravel},
	{name: "serialize and deserialize", run: scenarioSerialize},
	{name: "branch, merge and remove", run: scenarioBranch},
}

// fill inserts n rows with ids from first into t(id, v, pad) in one
// transaction and returns the sum of v.
func fill(t *testing.T, db *sql.DB, first, n int) int64 {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i := first; i < first+n; i++ {
		v := int64(i*7919%10007 - 5000)
		sum += v
		if _, err := tx.Exec("INSERT INTO t(id, v, pad) VALUES (?, ?, ?)", i, v, strings.Repeat(fmt.Sprint(i%10), 50+i%200)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return sum
}

func createT(t *testing.T, db *sql.DB) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
	mustExec(t, db, "CREATE INDEX t_v ON t(v)")
}

// checkT checks the row count and sum of v, and the database's integrity.
func checkT(t *testing.T, db *sql.DB, rows, sum int64) {
	t.Helper()
	if got := queryInt(t, db, "SELECT count(*) FROM t"); got != rows {
		t.Fatalf("%d rows, want %d", got, rows)
	}
	if got := queryInt(t, db, "SELECT coalesce(sum(v), 0) FROM t"); got != sum {
		t.Fatalf("sum %d, want %d", got, sum)
	}
	// The index agrees with the table.
	if got := queryInt(t, db, "SELECT coalesce(sum(v), 0) FROM t INDEXED BY t_v WHERE v > -100000"); got != sum {
		t.Fatalf("sum through the index %d, want %d", got, sum)
	}
	integrityOK(t, db)
}

func scenarioWriteRead(t *testing.T, h *harness) {
	db := h.open("writeread.db")
	createT(t, db)
	sum := fill(t, db, 1, 300)
	mustExec(t, db, "UPDATE t SET v = v + 1 WHERE id % 3 = 0")
	mustExec(t, db, "DELETE FROM t WHERE id % 5 = 0")
	var want int64
	if err := db.QueryRow("SELECT sum(v) FROM t").Scan(&want); err != nil {
		t.Fatal(err)
	}
	if want == sum {
		t.Fatal("the update and delete changed nothing: the scenario checks too little")
	}
	checkT(t, db, 240, want)
	if got := queryInt(t, db, "PRAGMA page_size"); got != int64(h.config.pageSize) {
		t.Fatalf("page_size %d, want %d", got, h.config.pageSize)
	}
	checkT(t, h.reopen("writeread.db"), 240, want)
}

func scenarioRollback(t *testing.T, h *harness) {
	db := h.open("rollback.db")
	db.SetMaxOpenConns(1)
	createT(t, db)
	sum := fill(t, db, 1, 100)
	rollbackEach(t, db, []string{
		"INSERT INTO t(id, v, pad) SELECT id + 1000, v, pad FROM t",
		"UPDATE t SET v = 0, pad = ''",
		"DELETE FROM t",
	}, func(string) { checkT(t, db, 100, sum) })
	checkT(t, h.reopen("rollback.db"), 100, sum)
}

// rollbackEach runs each statement in a transaction of its own, rolls it
// back, and calls check.
func rollbackEach(t *testing.T, db *sql.DB, stmts []string, check func(stmt string)) {
	t.Helper()
	for _, stmt := range stmts {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(stmt); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		check(stmt)
	}
}

// scenarioInterleavings: two processes' overlapping transactions commit
// in a serial order, rebased or failing (runInterleavings).
func scenarioInterleavings(t *testing.T, h *harness) {
	const rows = 200
	setup := h.open("interleave.db")
	mustExec(t, setup, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
	mustExec(t, setup, "INSERT INTO t SELECT value, 0, printf('%0100d', value) FROM generate_series(1, ?)", rows)
	var dbs [2]*sql.DB
	for i := range dbs {
		v := h.newVFS()
		if _, err := v.CheckStore(context.Background()); err != nil {
			t.Fatal(err)
		}
		dbs[i] = h.openOn(h.register(v), "interleave.db")
		dbs[i].SetMaxOpenConns(1)
	}
	runInterleavings(t, dbs[0], dbs[1], rows, 25, 9)
	integrityOK(t, dbs[0])
}

func scenarioNoLostUpdate(t *testing.T, h *harness) {
	const procs, each = 2, 15
	db := h.open("counter.db")
	mustExec(t, db, "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER)")
	mustExec(t, db, "INSERT INTO counter VALUES (1, 0)")
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for range procs {
		// Each process's self-test of the store runs before the race, one
		// at a time: the test server keeps objects as files in folders,
		// and two self-tests cleaning up their folders at once can race
		// inside it (409 ExistingObjectIsDirectory), which no S3 does.
		v := h.newVFS()
		if _, err := v.CheckStore(context.Background()); err != nil {
			t.Fatal(err)
		}
		p := h.openOn(h.register(v), "counter.db")
		p.SetMaxOpenConns(1)
		wg.Go(func() {
			for done := 0; done < each; {
				_, err := p.Exec("UPDATE counter SET n = n + 1 WHERE id = 1")
				switch {
				case err == nil:
					done++
				case errors.Is(err, sqlite3.BUSY):
					time.Sleep(time.Duration(rand.IntN(10)) * time.Millisecond)
				default:
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := queryInt(t, h.reopen("counter.db"), "SELECT n FROM counter"); got != procs*each {
		t.Fatalf("counter %d, want %d: acknowledged increments lost", got, procs*each)
	}
}

// scenarioGroupCommit: two processes of three connections each move
// amounts between accounts at once, each transaction writing balances it
// computed from what it read (transferOnce); transactions of one process
// are published together (group commit) and rebased over the other's.
// Every account must end as the committed transfers say.
func scenarioGroupCommit(t *testing.T, h *harness) {
	const accounts, procs, conns, each = 60, 2, 3, 4
	setup := h.open("transfers.db")
	mustExec(t, setup, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
	mustExec(t, setup, "INSERT INTO t SELECT value, 0, printf('%0100d', value) FROM generate_series(1, ?)", accounts)
	var dbs []*sql.DB
	for range procs {
		v := h.newVFS()
		if _, err := v.CheckStore(context.Background()); err != nil {
			t.Fatal(err)
		}
		db := h.openOn(h.register(v), "transfers.db", "_pragma=busy_timeout(10000)")
		db.SetMaxOpenConns(conns)
		dbs = append(dbs, db)
	}
	runTransfers(t, dbs, accounts, conns, each, h.reopen("transfers.db"))
}

func scenarioLarge(t *testing.T, h *harness) {
	db := h.open("large.db")
	createT(t, db)
	// About 1 MB in one transaction: many blocks of every block size, and
	// well past a spilling WriteBuffer.
	sum := fill(t, db, 1, 6000)
	checkT(t, h.reopen("large.db"), 6000, sum)
}

func scenarioVacuum(t *testing.T, h *harness) {
	db := h.open("vacuum.db")
	db.SetMaxOpenConns(1)
	createT(t, db)
	fill(t, db, 1, 2000)
	mustExec(t, db, "DELETE FROM t WHERE id > 500")
	var sum int64
	if err := db.QueryRow("SELECT sum(v) FROM t").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	before := queryInt(t, db, "PRAGMA page_count")
	mustExec(t, db, "VACUUM")
	if after := queryInt(t, db, "PRAGMA page_count"); after >= before {
		t.Fatalf("VACUUM left %d pages of %d", after, before)
	}
	checkT(t, db, 500, sum)
	checkT(t, h.reopen("vacuum.db"), 500, sum)
}

func scenarioTimeTravel(t *testing.T, h *harness) {
	ctx := context.Background()
	db := h.open("travel.db")
	createT(t, db)
	sum1 := fill(t, db, 1, 100)
	v := h.newVFS()
	info, err := v.Info(ctx, "travel.db")
	if err != nil {
		t.Fatal(err)
	}
	sum2 := sum1 + fill(t, db, 101, 100)
	checkT(t, h.reopen("travel.db"), 200, sum2)
	old := h.openOn(h.register(v), "travel.db", fmt.Sprintf("commit=%d", info.Commit))
	checkT(t, old, 100, sum1)
	if _, err := old.Exec("INSERT INTO t(id, v) VALUES (0, 0)"); err == nil {
		t.Fatal("a write to an old version succeeded")
	}
}

func scenarioSerialize(t *testing.T, h *harness) {
	ctx := context.Background()
	db := h.open("serialize.db")
	createT(t, db)
	sum := fill(t, db, 1, 500)
	v := h.newVFS()
	var image bytes.Buffer
	for b, err := range v.Serialize(ctx, "serialize.db") {
		if err != nil {
			t.Fatal(err)
		}
		image.Write(b)
	}
	if n := image.Len(); n%h.config.pageSize != 0 || n == 0 {
		t.Fatalf("serialized %d bytes: not whole pages of %d", n, h.config.pageSize)
	}
	if !h.config.encrypted {
		// Plain SQLite opens the image.
		path := filepath.Join(t.TempDir(), "image.db")
		if err := os.WriteFile(path, image.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		checkT(t, sqltest.OpenLocal(t, path), 500, sum)
	}
	err := v.Deserialize(ctx, "serialize-copy.db", &unevenReader{data: image.Bytes()})
	if h.config.encrypted {
		// The image is ciphertext; Deserialize takes plain SQLite images
		// only, and says so.
		if err == nil || !strings.Contains(err.Error(), "SQLite header") {
			t.Fatalf("Deserialize of an encrypted image: %v, want a refusal naming the SQLite header", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	checkT(t, h.reopen("serialize-copy.db"), 500, sum)
}

// scenarioBranch: a branch reads as its source did, merges back a change
// the source did not touch, keeps to itself and leaves its source alone
// after, is branched again, has a conflicting merge refused, and is
// removed.
func scenarioBranch(t *testing.T, h *harness) {
	ctx := context.Background()
	db := h.open("trunk.db")
	createT(t, db)
	sum := fill(t, db, 1, 300)
	if _, err := h.newVFS().Branch(ctx, "trunk.db", 0, "twig.db"); err != nil {
		t.Fatal(err)
	}
	twig := h.reopen("twig.db")
	checkT(t, twig, 300, sum)

	mustExec(t, twig, "UPDATE t SET pad = 'merged' WHERE id = 1")
	_, err := h.newVFS().Merge(ctx, "twig.db", "trunk.db")
	if !h.config.mergeable() {
		// Blocks that cut pages: a merge could mix two versions of one.
		if err == nil || !strings.Contains(err.Error(), "a merge takes whole pages") {
			t.Fatalf("a merge with blocks that do not hold whole pages: %v", err)
		}
		mustExec(t, h.reopen("trunk.db"), "UPDATE t SET pad = 'merged' WHERE id = 1")
	} else if err != nil {
		t.Fatal(err)
	}
	trunk := h.reopen("trunk.db")
	checkT(t, trunk, 300, sum)
	var pad string
	if err := trunk.QueryRow("SELECT pad FROM t WHERE id = 1").Scan(&pad); err != nil || pad != "merged" {
		t.Fatalf("after the merge the trunk's row 1 has pad %q (%v)", pad, err)
	}

	twigSum := sum + fill(t, twig, 1001, 50)
	trunkSum := sum + fill(t, h.reopen("trunk.db"), 2001, 50) // db's snapshot may be older than the merge (staleness=)
	checkT(t, h.reopen("trunk.db"), 350, trunkSum)
	checkT(t, h.reopen("twig.db"), 350, twigSum)
	if _, err := h.newVFS().Branch(ctx, "twig.db", 0, "leaf.db"); err != nil {
		t.Fatal(err)
	}
	checkT(t, h.reopen("leaf.db"), 350, twigSum)

	// Both appended rows to t: its last page changed both ways.
	v := h.newVFS()
	before, err := v.Info(ctx, "trunk.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Merge(ctx, "twig.db", "trunk.db"); h.config.mergeable() && !errors.Is(err, s3vfs.ErrMergeConflict) || err == nil {
		t.Fatalf("a merge of pages changed both ways: %v, want a conflict", err)
	}
	if after, err := h.newVFS().Info(ctx, "trunk.db"); err != nil || after.Commit != before.Commit {
		t.Fatalf("a refused merge moved the trunk from %d to %d (%v)", before.Commit, after.Commit, err)
	}

	if err := v.Remove(ctx, "twig.db"); !errors.Is(err, s3vfs.ErrBranchesLive) {
		t.Fatalf("removing a branch that has a branch: %v", err)
	}
	for _, key := range []string{"leaf.db", "twig.db"} {
		if err := v.Remove(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	checkT(t, h.reopen("trunk.db"), 350, trunkSum)
}
