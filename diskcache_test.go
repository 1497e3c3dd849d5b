package s3vfs_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

func init() {
	childModes["diskcache-scan"] = childDiskScan
	childModes["diskcache-stall"] = childDiskStall
}

// diskOpts are the options of the disk cache tests: 4 KiB blocks, so that
// the test database is many blocks, and the disk cache in dir.
func diskOpts(dir string, size int64) *s3vfs.Options {
	return &s3vfs.Options{BlockSize: 4096, CacheDir: dir, CacheDirSize: size}
}

// diskScan is a query that reads every block of the test database.
const diskScan = "SELECT count(*) || ':' || sum(length(v)) || ':' || sum(unicode(substr(v, 7, 1))) FROM t"

// fillDiskDB writes the test database at key (about 80 blocks of 4 KiB)
// and returns what diskScan answers.
func fillDiskDB(t *testing.T, e *env, key string) string {
	t.Helper()
	db := openDB(t, e.register(e.newVFS(&s3vfs.Options{BlockSize: 4096})), key)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 300)
		INSERT INTO t SELECT i, hex(randomblob(500)) FROM c`)
	want := queryString(t, db, diskScan)
	db.Close()
	return want
}

// countBlockGets counts, from now on, the GETs of block objects (and of
// checkpoints and their inner pages, which the disk cache keeps too) that
// pass through e's proxy.
func countBlockGets(e *env) *atomic.Int64 {
	var n atomic.Int64
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind == s3proxy.GET && (strings.Contains(req.Key, "/_blocks/") || strings.Contains(req.Key, "/_checkpoints/")) {
			n.Add(1)
		}
		return false
	})
	return &n
}

// diskFiles returns the entries (and, separately, the temporary files) of
// the disk cache in dir, with their sizes.
func diskFiles(t *testing.T, dir string) (entries, temps map[string]int64) {
	t.Helper()
	entries, temps = map[string]int64{}, map[string]int64{}
	filepath.WalkDir(filepath.Join(dir, s3vfs.DiskCacheLayout), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			temps[path] = fi.Size()
		} else {
			entries[path] = fi.Size()
		}
		return nil
	})
	return entries, temps
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// A new process whose disk cache holds the blocks (and the checkpoint and
// its inner pages) does the open and the freshness check, and no GET of
// a block or checkpoint: the open is the LIST and the record's GET.
func TestDiskCacheWarmLookup(t *testing.T) {
	e := newEnv(t, nil)
	fillDiskDB(t, e, "disk/warm.db")
	dir := t.TempDir()
	const lookup = "SELECT v FROM t WHERE id = 123"

	first := openDB(t, e.register(e.newVFS(diskOpts(dir, 0))), "disk/warm.db")
	want := queryString(t, first, lookup)
	first.Close()
	if entries, _ := diskFiles(t, dir); len(entries) == 0 {
		t.Fatal("the first process left nothing in the disk cache")
	}

	// The same lookup in a new process without the disk cache: the open,
	// the freshness checks and the block GETs.
	gets := countBlockGets(e)
	e.proxy.Reset()
	cold := openDB(t, e.register(e.newVFS(&s3vfs.Options{BlockSize: 4096})), "disk/warm.db")
	queryString(t, cold, lookup)
	coldTotal, coldBlocks := e.proxy.Total(), gets.Load()
	cold.Close()

	gets.Store(0)
	e.proxy.Reset()
	v := e.newVFS(diskOpts(dir, 0))
	db := openDB(t, e.register(v), "disk/warm.db")
	if got := queryString(t, db, lookup); got != want {
		t.Fatalf("lookup from the disk cache = %.20q…, want %.20q…", got, want)
	}
	st := v.Stats()
	if gets.Load() != 0 || st.DiskHits == 0 || st.DiskMisses != 0 {
		t.Fatalf("%d block GETs, %d disk hits, %d disk misses; want 0 GETs and only hits", gets.Load(), st.DiskHits, st.DiskMisses)
	}
	if total := e.proxy.Total(); total != coldTotal-int(coldBlocks) {
		t.Errorf("%d requests with a warm disk cache, want %d: the %d of a cold lookup less its %d block and checkpoint GETs",
			total, coldTotal-int(coldBlocks), coldTotal, coldBlocks)
	}
	t.Logf("cold lookup: %d requests, %d of them block and checkpoint GETs; with a warm disk cache: %s", coldTotal, coldBlocks, st)
}

// A new process with a warm disk cache opens a database in 2 round trips:
// the LIST and the head record; the checkpoint, its inner pages and block
// 0 come from the disk.
func TestDiskCacheWarmOpen(t *testing.T) {
	e := newEnv(t, nil)
	fillDiskDB(t, e, "disk/open.db")
	dir := t.TempDir()
	first := openDB(t, e.register(e.newVFS(diskOpts(dir, 0))), "disk/open.db")
	queryString(t, first, "SELECT v FROM t WHERE id = 7")
	first.Close()

	d := openDB(t, e.register(e.newVFS(diskOpts(dir, 0))), "disk/open.db")
	e.proxy.SetLatency(waveLatency)
	defer e.proxy.SetLatency(0)
	e.proxy.Reset()
	conn(t, d) // opens the file; SQLite reads the header
	counts, waves := e.proxy.Counts(), e.proxy.Waves()
	if counts[s3proxy.LIST] != 1 || counts[s3proxy.GET] != 1 || len(counts) != 2 || waves != 2 {
		t.Errorf("open with a warm disk cache: %v in %d round trips, want 1 LIST and 1 GET in 2", counts, waves)
	}
}

// cache_dir= gives one database a disk cache of its own.
func TestDiskCacheURIParam(t *testing.T) {
	e := newEnv(t, nil)
	want := fillDiskDB(t, e, "disk/param.db")
	dir := t.TempDir()
	first := openDB(t, e.register(e.newVFS(&s3vfs.Options{BlockSize: 4096})), "disk/param.db", "cache_dir="+dir)
	if got := queryString(t, first, diskScan); got != want {
		t.Fatalf("scan = %q, want %q", got, want)
	}
	first.Close()
	gets := countBlockGets(e)
	db := openDB(t, e.register(e.newVFS(nil)), "disk/param.db", "cache_dir="+dir)
	if got := queryString(t, db, diskScan); got != want || gets.Load() != 0 {
		t.Fatalf("scan = %q with %d block GETs, want %q with none", got, gets.Load(), want)
	}
}

// An entry changed on disk (bytes flipped) or cut short (a file torn by a
// power loss) is detected, deleted and read from S3 again: the reader sees
// the right bytes, and the entry is whole again.
func TestDiskCacheCorruptEntry(t *testing.T) {
	e := newEnv(t, nil)
	want := fillDiskDB(t, e, "disk/corrupt.db")
	dir := t.TempDir()
	first := openDB(t, e.register(e.newVFS(diskOpts(dir, 0))), "disk/corrupt.db")
	queryString(t, first, diskScan)
	first.Close()

	entries, _ := diskFiles(t, dir)
	var flipped, cut string
	var flippedData, cutData []byte
	for path, size := range entries {
		if size != 4096 {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case flipped == "":
			flipped, flippedData = path, data
			bad := bytes.Clone(data)
			bad[2000] ^= 0xff
			bad[2001] ^= 0x01
			os.WriteFile(path, bad, 0o644)
		case cut == "":
			cut, cutData = path, data
			os.WriteFile(path, data[:1000], 0o644)
		}
	}
	if cut == "" {
		t.Fatalf("only %d entries", len(entries))
	}

	gets := countBlockGets(e)
	v := e.newVFS(diskOpts(dir, 0))
	db := openDB(t, e.register(v), "disk/corrupt.db")
	if got := queryString(t, db, diskScan); got != want {
		t.Fatalf("scan over a corrupt disk cache = %q, want %q", got, want)
	}
	integrityOK(t, db)
	if gets.Load() != 2 || v.Stats().DiskMisses != 2 {
		t.Errorf("%d block GETs, %d disk misses; want 2 (the two bad entries)", gets.Load(), v.Stats().DiskMisses)
	}
	for path, data := range map[string][]byte{flipped: flippedData, cut: cutData} {
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
			t.Errorf("entry %s not restored (%v)", filepath.Base(path), err)
		}
	}
}

// A process killed while it writes an entry leaves a partial temporary
// file, never a partial entry: the next process ignores it, reads what it
// needs, and a sweep removes it once it is old.
func TestDiskCacheKilledWriter(t *testing.T) {
	e := newEnv(t, nil)
	want := fillDiskDB(t, e, "disk/killed.db")
	dir := t.TempDir()

	c := e.startChild("diskcache-stall", "disk/killed.db", dir)
	deadline := time.Now().Add(time.Minute)
	for {
		c.mu.Lock()
		stalled := len(c.lines) > 0 && c.lines[0] == "stalled"
		c.mu.Unlock()
		if stalled {
			break
		}
		if time.Now().After(deadline) {
			c.cmd.Process.Kill()
			t.Fatal("the child never started writing the disk cache")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()

	entries, temps := diskFiles(t, dir)
	if len(entries) != 0 || len(temps) == 0 {
		t.Fatalf("after the kill: %d entries, %d temporary files; want 0 and some", len(entries), len(temps))
	}
	// The open writes the checkpoint and its inner pages to the disk at
	// once: each writer stalls half way, and one may be killed before it
	// wrote a byte. Some temporary file is partial.
	old := time.Now().Add(-time.Hour)
	partial := false
	for path, size := range temps {
		partial = partial || size > 0
		os.Chtimes(path, old, old) // as a crash long ago would have left it
	}
	if !partial {
		t.Errorf("temporary files %v: want one with the half the writer wrote", temps)
	}

	v := e.newVFS(diskOpts(dir, 0))
	db := openDB(t, e.register(v), "disk/killed.db")
	if got := queryString(t, db, diskScan); got != want {
		t.Fatalf("scan = %q, want %q", got, want)
	}
	entries, temps = diskFiles(t, dir)
	if len(temps) != 0 || len(entries) == 0 {
		t.Fatalf("after the next reader: %d entries, %d temporary files; want some and 0", len(entries), len(temps))
	}
}

// childDiskStall reads the database with the disk cache in ARG, and stops
// half way through writing the first entry, saying "stalled" once it has.
func childDiskStall() int {
	var once sync.Once
	opts := s3vfs.WithDiskWrite(diskOpts(os.Getenv(childArgEnv), 0), func(f *os.File, data []byte) (int, error) {
		n, err := f.Write(data[:len(data)/2])
		if err == nil {
			once.Do(func() { fmt.Println("stalled") })
		}
		if err != nil {
			return n, err
		}
		select {} // until killed
	})
	db := childDiskDB(opts)
	var s string
	db.QueryRow(diskScan).Scan(&s)
	return 1 // never reached
}

// Processes share a disk cache: two fill it at once, a third reads
// everything from it, and two more share a cache far smaller than the
// database, filling and evicting at once, and still read the right bytes.
func TestDiskCacheProcesses(t *testing.T) {
	e := newEnv(t, nil)
	want := fillDiskDB(t, e, "disk/procs.db")
	dir := t.TempDir()
	run := func(n int, arg string) {
		t.Helper()
		var cs []*childProc
		for range n {
			cs = append(cs, e.startChild("diskcache-scan", "disk/procs.db", arg))
		}
		for _, c := range cs {
			got := c.lastLine() // before Wait, which closes the pipe
			if err := c.cmd.Wait(); err != nil {
				t.Fatalf("child: %v", err)
			}
			if got != want {
				t.Fatalf("child's scan = %q, want %q", got, want)
			}
		}
	}

	run(2, dir+"|0|3")
	gets := countBlockGets(e)
	run(1, dir+"|0|1")
	if gets.Load() != 0 {
		t.Errorf("a process after two others read %d blocks from S3, want 0", gets.Load())
	}

	small := t.TempDir()
	const limit = 20 << 10 // 5 of the ~80 blocks
	run(2, fmt.Sprintf("%s|%d|5", small, limit))
	entries, temps := diskFiles(t, small)
	if len(temps) != 0 || sum(entries) > limit+2*limit/8 {
		t.Errorf("a cache bounded to %d bytes holds %d bytes in %d entries and %d temporary files",
			limit, sum(entries), len(entries), len(temps))
	}
}

// childDiskScan runs diskScan ROUNDS times and integrity_check with the
// disk cache in DIR bounded to SIZE, ARG being DIR|SIZE|ROUNDS, and prints
// the scan's answer.
func childDiskScan() int {
	parts := strings.Split(os.Getenv(childArgEnv), "|")
	size, _ := strconv.ParseInt(parts[1], 10, 64)
	rounds, _ := strconv.Atoi(parts[2])
	db := childDiskDB(diskOpts(parts[0], size))
	var got string
	for range rounds {
		if err := db.QueryRow(diskScan).Scan(&got); err != nil {
			fmt.Fprintln(os.Stderr, "scan:", err)
			return 1
		}
		var ok string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
			fmt.Fprintln(os.Stderr, "integrity_check:", ok, err)
			return 1
		}
	}
	fmt.Println(got)
	return 0
}

// childDiskDB opens the child's database on a fresh VFS whose disk cache
// is in dir, bounded to size bytes (0: the default), without a memory
// cache, so that every read goes to the disk.
func childDiskDB(opts *s3vfs.Options) *sql.DB {
	srv, bucket, key, _ := childServer()
	opts.CacheSize = -1
	client, opts := childCoordinated(srv.Client(""), opts)
	v, err := s3vfs.New(client, bucket, opts)
	if err != nil {
		panic(err)
	}
	vfs.Register("s3child", v)
	db, err := sql.Open("sqlite3", "file:"+key+"?vfs=s3child")
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// A disk cache that cannot be written (a directory that cannot be
// created, a full disk) costs reads nothing but the disk: they go to S3,
// and the failure is logged once.
func TestDiskCacheUnwritable(t *testing.T) {
	e := newEnv(t, nil)
	want := fillDiskDB(t, e, "disk/unwritable.db")
	var mu sync.Mutex
	var logged []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
	}
	check := func(name string, opts *s3vfs.Options) {
		t.Helper()
		logged = nil
		for range 2 { // the second VFS logs its own line
			opts := s3vfs.WithLog(opts, logf)
			opts.CacheSize = -1 // every read tries the disk
			db := openDB(t, e.register(e.newVFS(opts)), "disk/unwritable.db")
			for range 2 {
				if got := queryString(t, db, diskScan); got != want {
					t.Fatalf("%s: scan = %q, want %q", name, got, want)
				}
			}
			db.Close()
		}
		mu.Lock()
		defer mu.Unlock()
		if len(logged) != 2 || !strings.Contains(logged[0], "disk cache") {
			t.Fatalf("%s: logged %q, want one line per VFS", name, logged)
		}
		t.Logf("%s: %s", name, logged[0])
	}

	// A directory under a regular file can never be created, even by root.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	check("unwritable", diskOpts(filepath.Join(file, "cache"), 0))

	// A full disk: every write fails half way.
	full := t.TempDir()
	check("full disk", s3vfs.WithDiskWrite(diskOpts(full, 0), func(f *os.File, data []byte) (int, error) {
		n, _ := f.Write(data[:len(data)/2])
		return n, syscall.ENOSPC
	}))
	if entries, temps := diskFiles(t, full); len(entries)+len(temps) != 0 {
		t.Errorf("a full disk kept %d entries and %d temporary files", len(entries), len(temps))
	}
}

// The disk cache stays within its bound, however often it is filled again.
func TestDiskCacheEviction(t *testing.T) {
	e := newEnv(t, nil)
	want := fillDiskDB(t, e, "disk/evict.db")
	dir := t.TempDir()
	const limit = 40 << 10 // 10 of the ~80 blocks
	for round := range 3 {
		v := e.newVFS(diskOpts(dir, limit))
		db := openDB(t, e.register(v), "disk/evict.db")
		if got := queryString(t, db, diskScan); got != want {
			t.Fatalf("scan = %q, want %q", got, want)
		}
		db.Close()
		entries, temps := diskFiles(t, dir)
		if sum(entries) > limit || len(entries) == 0 || len(temps) != 0 {
			t.Fatalf("round %d: %d bytes in %d entries and %d temporary files; bound %d",
				round, sum(entries), len(entries), len(temps), limit)
		}
	}
}

// Several VFSs fill and evict one small disk cache at once, reading and
// writing the database: every read is right (run it with -race).
func TestDiskCacheConcurrentFillEvict(t *testing.T) {
	e := newEnv(t, nil)
	want := fillDiskDB(t, e, "disk/concurrent.db")
	dir := t.TempDir()
	const limit = 64 << 10 // 16 of the ~80 blocks
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 4 {
		opts := diskOpts(dir, limit)
		opts.CacheSize = 16 << 10 // a few blocks: most reads go to the disk
		db := openDB(t, e.register(e.newVFS(opts)), "disk/concurrent.db")
		wg.Go(func() {
			for i := range 4 {
				var got string
				if err := db.QueryRow(diskScan).Scan(&got); err != nil || got != want {
					errs <- fmt.Errorf("VFS %d scan %d = %q (%v), want %q", w, i, got, err, want)
					return
				}
				var v string
				if err := db.QueryRow("SELECT v FROM t WHERE id = ?", 1+(w*71+i*37)%300).Scan(&v); err != nil || len(v) != 1000 {
					errs <- fmt.Errorf("VFS %d lookup %d: %d bytes (%v)", w, i, len(v), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	entries, _ := diskFiles(t, dir)
	if sum(entries) > 2*limit {
		t.Errorf("%d bytes in %d entries; bound %d", sum(entries), len(entries), limit)
	}
}

// A negative CacheDirSize is refused; zero is the default.
func TestDiskCacheOptions(t *testing.T) {
	client := server.Client("")
	if _, err := s3vfs.New(client, "b", &s3vfs.Options{CacheDir: t.TempDir(), CacheDirSize: -1}); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("CacheDirSize -1: %v, want an error", err)
	}
	if _, err := s3vfs.New(client, "b", &s3vfs.Options{CacheDir: t.TempDir()}); err != nil {
		t.Errorf("CacheDirSize 0: %v", err)
	}
}
