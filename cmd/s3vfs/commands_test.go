package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
	"github.com/s3vfs/s3vfs/internal/sqltest"
)

func TestHelp(t *testing.T) {
	c := newCLI(t)
	r := c.ok("", "help")
	for _, cmd := range []string{"demo", "import", "export", "query", "shell", "info", "log", "gc", "restore", "branch", "rm", "bench", "doctor"} {
		if !strings.Contains(r.stdout, cmd) {
			t.Errorf("help does not list %s", cmd)
		}
		h := c.ok("", cmd, "--help")
		if !strings.Contains(h.stdout, "Usage: s3vfs "+cmd) || !strings.Contains(h.stdout, "Example") {
			t.Errorf("%s --help lacks usage or an example:\n%s", cmd, h.stdout)
		}
		if cmd != "demo" && cmd != "bench" && !strings.Contains(h.stdout, "-endpoint") {
			t.Errorf("%s --help lacks the AWS flags:\n%s", cmd, h.stdout)
		}
		if h2 := c.ok("", "help", cmd); h2.stdout != h.stdout {
			t.Errorf("help %s differs from %s --help", cmd, cmd)
		}
	}
	if r := c.ok("", "version"); !strings.Contains(r.stdout, "storage format v3") {
		t.Errorf("version: %q", r.stdout)
	}
}

func TestImportExportRoundTrip(t *testing.T) {
	c := newCLI(t)
	src := c.localDB("src.db", 3000)
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	r := c.ok("", "import", "--block-size", "4096", src, c.url("dir/app.db"))
	if !strings.Contains(r.stderr, "commit 1") || strings.Contains(r.stderr, "\r") {
		t.Errorf("import said %q (want commit 1 and no progress bar when not on a terminal)", r.stderr)
	}

	c.ok("", "export", c.url("dir/app.db"), "out.db")
	got, err := os.ReadFile(filepath.Join(c.dir, "out.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !sameDB(got, want) {
		t.Fatalf("exported file differs from the imported one (%d vs %d bytes)", len(got), len(want))
	}
	// Plain SQLite opens the export.
	db := sqltest.OpenLocal(t, filepath.Join(c.dir, "out.db"))
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 3000 {
		t.Fatalf("count = %d, %v", n, err)
	}
	db.Close()

	// stdin and stdout.
	r = c.ok(string(want), "import", "--force", "-", c.url("piped.db"))
	r = c.ok("", "export", c.url("piped.db"), "-")
	if !sameDB([]byte(r.stdout), want) {
		t.Fatalf("export to stdout: %d bytes, want %d", len(r.stdout), len(want))
	}

	// --force replaces: the new commit holds the new contents.
	small := c.localDB("small.db", 5)
	c.ok("", "import", "--force", small, c.url("dir/app.db"))
	if r := c.ok("", "query", c.url("dir/app.db"), "SELECT count(*) FROM t"); r.stdout != "count(*)\n5\n" {
		t.Fatalf("after --force: %q", r.stdout)
	}
	// The block size chosen at import is kept.
	if r := c.ok("", "info", "--json", c.url("dir/app.db")); !strings.Contains(r.stdout, `"block_size": 4096`) {
		t.Errorf("info after replace: %s", r.stdout)
	}
}

func TestQueryFormats(t *testing.T) {
	c := newCLI(t)
	db := c.url("q.db")
	// A database that does not exist yet is created by the first write.
	c.ok("", "query", db, `CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT, price REAL, img BLOB);
		INSERT INTO p VALUES (1, 'tea', 2.5, x'CAFE'), (2, 'coffee, "strong"', 3, NULL)`)

	r := c.ok("", "query", db, "SELECT * FROM p ORDER BY id")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"id", "name", "price", "img"}, {"1", "tea", "2.5", "X'CAFE'"}, {"2", `coffee, "strong"`, "3.0", ""}}
	if len(recs) != len(want) || strings.Join(recs[1], "|") != strings.Join(want[1], "|") || strings.Join(recs[2], "|") != strings.Join(want[2], "|") {
		t.Fatalf("csv = %q, want %q", recs, want)
	}

	// Reals print as SQLite renders them, not in exponent form.
	r = c.ok("", "query", db, "SELECT sum(price) * 2270000 + 11.68 AS total FROM p")
	if got := strings.TrimSpace(r.stdout); got != "total\n12485011.68" {
		t.Errorf("a large real prints %q", got)
	}

	r = c.ok("", "query", "--format", "json", db, "SELECT * FROM p WHERE id = ?", "1")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if len(rows) != 1 || rows[0]["name"] != "tea" || rows[0]["price"] != 2.5 || rows[0]["img"] != "yv4=" {
		t.Fatalf("json rows = %v", rows)
	}
	if !strings.HasPrefix(r.stdout, "[\n  {\"id\": 1, \"name\"") {
		t.Errorf("json keys are not in column order: %s", r.stdout)
	}

	r = c.ok("", "query", "--format", "table", db, "SELECT id, name, img FROM p ORDER BY id")
	for _, w := range []string{"id", "coffee, \"strong\"", "NULL", "(2 rows)"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, r.stdout)
		}
	}

	// --stats reports the requests of the statement on stderr.
	r = c.ok("", "query", "--stats", db, "INSERT INTO p(name) VALUES ('juice')")
	if r.stdout != "" || !strings.Contains(r.stderr, "s3: requests=") || !strings.Contains(r.stderr, "commits=1") {
		t.Errorf("--stats: stdout %q stderr %q", r.stdout, r.stderr)
	}
	// --read-only refuses writes.
	r = c.run("", "query", "--read-only", db, "DELETE FROM p")
	if r.code == 0 || !strings.Contains(r.stderr, "readonly") {
		t.Errorf("read-only write: exit %d, %q", r.code, r.stderr)
	}
}

func TestInfo(t *testing.T) {
	c := newCLI(t)
	src := c.localDB("src.db", 2000)
	st, _ := os.Stat(src)
	c.ok("", "import", src, c.url("i.db"))
	c.ok("", "query", c.url("i.db"), "UPDATE t SET name = 'x' WHERE id = 1")

	r := c.ok("", "info", "--json", c.url("i.db"))
	var info map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{
		"commit": 2.0, "format_version": float64(s3vfs.FormatVersion), // the import's checkpoint is in segments "block_size": float64(s3vfs.DefaultBlockSize), "page_size": 4096.0,
		"file_size": float64(st.Size()), "database": c.url("i.db"),
	}
	for k, v := range checks {
		if info[k] != v {
			t.Errorf("info %s = %v, want %v", k, info[k], v)
		}
	}
	keys, err := server.Keys(context.Background(), c.bucket, "i.db/")
	if err != nil {
		t.Fatal(err)
	}
	if info["objects"] != float64(len(keys)) {
		t.Errorf("objects = %v, bucket holds %d", info["objects"], len(keys))
	}
	if ct, _ := time.Parse(time.RFC3339, info["commit_time"].(string)); time.Since(ct) > time.Minute {
		t.Errorf("commit_time %v", info["commit_time"])
	}

	r = c.ok("", "info", c.url("i.db"))
	for _, w := range []string{"commit:", "2", "page size:", "4096", "objects:", "format version:"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("info lacks %q:\n%s", w, r.stdout)
		}
	}
	if r := c.ok("", "info", "--no-list", c.url("i.db")); strings.Contains(r.stdout, "objects:") {
		t.Errorf("--no-list still lists:\n%s", r.stdout)
	}

	// The example of docs/cli.md shows the lines info prints, and what a
	// database imported with the defaults has.
	got := labelled(strings.Split(strings.TrimSpace(r.stdout), "\n"))
	doc := labelled(docExample(t, "s3vfs info"))
	if strings.Join(sortedKeys(doc), ",") != strings.Join(sortedKeys(got), ",") {
		t.Errorf("docs/cli.md's info example shows %q; info prints %q", sortedKeys(doc), sortedKeys(got))
	}
	for _, k := range []string{"format version", "block size", "page size"} {
		if doc[k] != got[k] {
			t.Errorf("docs/cli.md's info example shows %s %q; info prints %q", k, doc[k], got[k])
		}
	}
}

func TestShellStdin(t *testing.T) {
	c := newCLI(t)
	script := `.help
CREATE TABLE notes(id INTEGER PRIMARY KEY,
                   body TEXT);
INSERT INTO notes(body) VALUES ('one'), ('two');
CREATE TRIGGER t AFTER INSERT ON notes BEGIN
  UPDATE notes SET body = upper(body) WHERE id = new.id;
END;
INSERT INTO notes(body) VALUES ('three');
.tables
.schema notes
.format csv
SELECT body FROM notes ORDER BY id;
.stats
`
	r := c.ok(script, "shell", c.url("s.db"))
	for _, w := range []string{".tables", "notes\n", "CREATE TABLE notes(id INTEGER PRIMARY KEY,", "CREATE TRIGGER t", "body\none\ntwo\nTHREE\n", "requests="} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("shell output lacks %q:\n%s", w, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}

	// A failing statement is reported, the rest still runs, and the exit
	// status tells of the failure.
	r = c.run("SELECT * FROM nope;\n.bogus\nINSERT INTO notes(body) VALUES ('four');\n", "shell", c.url("s.db"))
	if r.code != 1 || !strings.Contains(r.stderr, "no such table: nope") || !strings.Contains(r.stderr, "unknown command .bogus") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r := c.ok("", "query", c.url("s.db"), "SELECT count(*) FROM notes"); r.stdout != "count(*)\n4\n" {
		t.Errorf("after failing script: %q", r.stdout)
	}

	// Piped, the output is CSV, as query's; .mode is sqlite3's name for
	// .format; a bad format fails the script too.
	if r := c.ok("SELECT count(*) AS n FROM notes;\n", "shell", c.url("s.db")); r.stdout != "n\n4\n" {
		t.Errorf("piped output %q, want CSV", r.stdout)
	}
	if r := c.ok(".mode box\nSELECT count(*) AS n FROM notes;\n", "shell", c.url("s.db")); !strings.Contains(r.stdout, "(1 row)") {
		t.Errorf(".mode box printed %q, want a table", r.stdout)
	}
	if r := c.run(".mode xml\n", "shell", c.url("s.db")); r.code != 1 || !strings.Contains(r.stderr, "unknown --format") {
		t.Errorf(".mode xml: exit %d, stderr %q", r.code, r.stderr)
	}
}

// proxied returns a CLI whose requests go through a proxy, for tests that
// stall S3 to interrupt the command mid-way.
func proxied(t *testing.T) (*cli, *s3proxy.Proxy) {
	c := newCLI(t)
	p, err := s3proxy.New(server.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c.env = append(c.env, "AWS_ENDPOINT_URL_S3="+p.URL)
	return c, p
}

// interrupt starts the binary, waits for held, sends SIGINT, and returns
// the exit status and stderr.
func (c *cli) interrupt(held <-chan struct{}, args ...string) (int, string) {
	c.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		c.t.Fatalf("no request was held; stderr: %s", errb.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return code, errb.String()
}

func TestImportInterruptedPublishesNothing(t *testing.T) {
	c, p := proxied(t)
	src := c.localDB("src.db", 5000) // several blocks of 4 KiB
	held := s3test.Stall(t, p, func(r s3proxy.Request) bool {
		return r.Kind == s3proxy.PUT && strings.Contains(r.Key, "/_blocks/000000000003")
	})
	code, stderr := c.interrupt(held, "import", "--block-size", "4096", src, c.url("big.db"))
	if code != exitInterrupted || !strings.Contains(stderr, "interrupted") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	p.SetHook(nil)
	keys, err := server.Keys(context.Background(), c.bucket, "big.db/_commits/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("an interrupted import published %v", keys)
	}
	r := c.run("", "info", c.url("big.db"))
	if r.code == 0 || !strings.Contains(r.stderr, "no database") {
		t.Fatalf("info after interrupted import: exit %d %q", r.code, r.stderr)
	}
}

func TestExportInterruptedLeavesNoFile(t *testing.T) {
	c, p := proxied(t)
	src := c.localDB("src.db", 5000)
	c.ok("", "import", "--block-size", "4096", src, c.url("big.db"))
	held := s3test.Stall(t, p, func(r s3proxy.Request) bool {
		return r.Kind == s3proxy.GET && strings.Contains(r.Key, "/_blocks/000000000020")
	})
	out := filepath.Join(c.dir, "out", "big.db")
	os.Mkdir(filepath.Dir(out), 0o755)
	code, stderr := c.interrupt(held, "export", c.url("big.db"), out)
	if code != exitInterrupted || !strings.Contains(stderr, "interrupted") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	left, _ := os.ReadDir(filepath.Dir(out))
	if len(left) != 0 {
		t.Fatalf("an interrupted export left %v", left)
	}
}

// sameDB compares two database files, except for the change counter and
// version-valid-for fields of the header, which the VFS serves as the
// commit number.
func sameDB(a, b []byte) bool {
	if len(a) != len(b) || len(a) < 100 {
		return false
	}
	a, b = bytes.Clone(a), bytes.Clone(b)
	for _, x := range [][]byte{a, b} {
		copy(x[24:28], make([]byte, 4))
		copy(x[92:96], make([]byte, 4))
	}
	return bytes.Equal(a, b)
}

// The bench command measures a workload end to end against its own server.
func TestBench(t *testing.T) {
	c := newCLI(t)
	r := c.ok("", "bench", "--size", "2000", "--latency", "0", "--workloads", "warm point lookup")
	for _, want := range []string{"| warm point lookup | local |", "| warm point lookup | s3vfs |", "| warm point lookup | per-page |"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("bench output lacks %q:\n%s", want, r.stdout)
		}
	}
	c.fails(exitUsage, []string{"--size"}, "bench", "--size", "tiny")
	c.fails(exitUsage, []string{"--latency"}, "bench", "--latency", "soon")
	c.fails(exitUsage, []string{"no arguments"}, "bench", "extra")
	c.fails(exitUsage, []string{"--targets"}, "bench", "--targets", "nowhere")

	r = c.ok("", "bench", "--size", "2000", "--latency", "0", "--targets", "s3vfs", "--workloads", "cold open")
	if !strings.Contains(r.stdout, "| cold open | s3vfs |") || strings.Contains(r.stdout, "| local |") {
		t.Errorf("bench --targets s3vfs --workloads \"cold open\": want only the s3vfs row:\n%s", r.stdout)
	}

	r = c.ok("", "bench", "--contention", "--latency", "0", "--targets", "s3vfs", "--commits", "40")
	if !strings.Contains(r.stdout, "| s3vfs | 0s | ") || strings.Contains(r.stdout, "s3vfs-v1") {
		t.Errorf("bench --contention --targets s3vfs: want one s3vfs row:\n%s", r.stdout)
	}
	c.fails(exitUsage, []string{"--commits"}, "bench", "--contention", "--commits", "0")
}

// --cache-dir keeps the blocks read on disk: the next run reads none
// from S3.
func TestQueryCacheDir(t *testing.T) {
	c, p := proxied(t)
	db, dir := c.url("cached.db"), t.TempDir()
	c.ok("", "query", db, "CREATE TABLE t(x); INSERT INTO t VALUES (42)")
	var gets, lists atomic.Int64
	p.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		switch req.Kind {
		case s3proxy.GET:
			gets.Add(1)
		case s3proxy.LIST:
			lists.Add(1)
		}
		return false
	})
	// The second run finds on disk the one object that holds the table
	// (block 0, or in format version 2 the record whose pages overlay
	// it); the head and freshness checks are requests in both runs. Each
	// run reads the head once: one LIST.
	var runs [2]int64
	for i := range runs {
		gets.Store(0)
		lists.Store(0)
		r := c.ok("", "query", "--cache-dir", dir, db, "SELECT x FROM t")
		if !strings.Contains(r.stdout, "42") {
			t.Errorf("run %d: stdout %q", i+1, r.stdout)
		}
		runs[i] = gets.Load()
		if n := lists.Load(); n != 1 {
			t.Errorf("run %d: %d LISTs, want 1: the head read once", i+1, n)
		}
	}
	if runs[0]-runs[1] != 1 {
		t.Errorf("GETs: %d in the first run, %d in the second; want one fewer", runs[0], runs[1])
	}
}

// TestQueryWritersRetry: two command lines updating one row at once, as
// two cron jobs would. A statement that is its own transaction and loses
// the race is run again (it wrote nothing), so every run succeeds and no
// update is lost.
func TestQueryWritersRetry(t *testing.T) {
	c := newCLI(t)
	db := c.url("counter.db")
	c.ok("", "query", db, "CREATE TABLE counter(id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO counter VALUES (1, 0)")
	const writers, runs = 2, 10
	var wg sync.WaitGroup
	failed := make(chan string, writers*runs)
	for range writers {
		wg.Go(func() {
			for range runs {
				if r := c.run("", "query", db, "UPDATE counter SET v = v + 1 WHERE id = 1"); r.code != 0 {
					failed <- r.stderr
				}
			}
		})
	}
	wg.Wait()
	close(failed)
	for msg := range failed {
		t.Errorf("a writer failed: %s", msg)
	}
	r := c.ok("", "query", db, "SELECT v FROM counter")
	if got := strings.TrimSpace(strings.TrimPrefix(r.stdout, "v\n")); got != fmt.Sprint(writers*runs) {
		t.Errorf("counter = %s, want %d", got, writers*runs)
	}
}

// TestImportWAL: a database in WAL mode whose writer is still open, with
// its commits in the -wal file, is imported with every commit, and the
// local files are left as they were.
func TestImportWAL(t *testing.T) {
	c := newCLI(t)
	path := filepath.Join(c.dir, "wal.db")
	local := sqltest.OpenLocal(t, path)
	for _, s := range []string{
		"PRAGMA journal_mode=WAL", "PRAGMA wal_autocheckpoint=0",
		"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)",
		"INSERT INTO t SELECT value, 'row ' || value FROM generate_series(1, 500)",
	} {
		if _, err := local.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	walBefore, err := os.ReadFile(path + "-wal")
	if err != nil || len(walBefore) == 0 {
		t.Fatalf("the test needs commits in the -wal file: %d bytes, %v", len(walBefore), err)
	}
	c.ok("", "import", path, c.url("wal.db"))
	r := c.ok("", "query", c.url("wal.db"), "SELECT count(*) FROM t")
	if got := strings.TrimSpace(strings.TrimPrefix(r.stdout, "count(*)\n")); got != "500" {
		t.Errorf("imported %s rows, want 500", got)
	}
	if walAfter, _ := os.ReadFile(path + "-wal"); !bytes.Equal(walAfter, walBefore) {
		t.Errorf("the -wal file changed: %d bytes, were %d", len(walAfter), len(walBefore))
	}
}
