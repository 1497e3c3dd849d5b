package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
)

// logEntry is one commit as "s3vfs log --format json" prints it.
type logEntry struct {
	Commit     uint64    `json:"commit"`
	Time       time.Time `json:"time"`
	Size       int64     `json:"size"`
	Blocks     int       `json:"blocks"`
	Checkpoint bool      `json:"checkpoint"`
	Writer     string    `json:"writer"`
	Made       string    `json:"made"`
	From       uint64    `json:"from"`
	Source     string    `json:"source"`
}

func (c *cli) log(args ...string) []logEntry {
	c.t.Helper()
	r := c.ok("", append([]string{"log", "--format", "json"}, args...)...)
	var l []logEntry
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		c.t.Fatalf("log json: %v\n%s", err, r.stdout)
	}
	return l
}

// export writes commit args of db to a file in the scratch directory,
// replacing it, and returns its contents.
func (c *cli) export(name string, args ...string) []byte {
	c.t.Helper()
	c.ok("", append(append([]string{"export", "--force"}, args...), name)...)
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

type gcJSON struct {
	DryRun  bool   `json:"dry_run"`
	Head    uint64 `json:"head"`
	Oldest  uint64 `json:"oldest_retained"`
	Live    gcCnt  `json:"live"`
	Pending gcCnt  `json:"pending"`
	Garbage gcCnt  `json:"garbage"`
	Deleted gcCnt  `json:"deleted"`
}

type gcCnt struct {
	Objects, Blocks, Records, Checkpoints int
	Bytes                                 int64
}

func (c *cli) keys(prefix string) []string {
	c.t.Helper()
	keys, err := server.Keys(context.Background(), c.bucket, prefix)
	if err != nil {
		c.t.Fatal(err)
	}
	return keys
}

// TestHistoryCommands makes commits, lists them, exports old ones and
// checks them against copies taken at the time, restores one, and
// collects the rest.
func TestHistoryCommands(t *testing.T) {
	c := newCLI(t)
	db := c.url("h.db")
	src := c.localDB("src.db", 2000)
	c.ok("", "import", "--block-size", "4096", src, db)
	// want[n] is the database at commit n, exported when it was the newest.
	want := map[uint64][]byte{1: c.export("at1.db", db)}
	for n := uint64(2); n <= 4; n++ {
		c.ok("", "query", db, "BEGIN; UPDATE t SET name = 'commit ' || ?1 WHERE id = ?1 * 100; INSERT INTO t(name) VALUES ('row of ' || ?); COMMIT",
			strconv.FormatUint(n, 10), strconv.FormatUint(n, 10))
		want[n] = c.export("at"+strconv.FormatUint(n, 10)+".db", db)
	}

	// log: newest first, one row per commit, in each format.
	l := c.log(db)
	if len(l) != 4 {
		t.Fatalf("log lists %d commits, want 4: %+v", len(l), l)
	}
	for i, e := range l {
		n := uint64(4 - i)
		if e.Commit != n || e.Size != int64(len(want[n])) || e.Writer == "" || time.Since(e.Time) > time.Minute {
			t.Errorf("log row %d = %+v, want commit %d of %d bytes", i, e, n, len(want[n]))
		}
		if i > 0 && e.Time.After(l[i-1].Time) {
			t.Errorf("commit %d is later than commit %d", e.Commit, l[i-1].Commit)
		}
	}
	if e := l[3]; !e.Checkpoint || e.Blocks != len(want[1])/4096 || e.Made != "deserialize" || e.From != 0 || e.Source != "" {
		t.Errorf("import commit: %+v, want a checkpoint, %d blocks, made by deserialize", e, len(want[1])/4096)
	}
	for _, e := range l[:3] {
		if e.Made != "" || e.From != 0 || e.Source != "" {
			t.Errorf("commit %d, a transaction, is listed as made: %+v", e.Commit, e)
		}
	}
	if e := l[0]; e.Blocks == 0 || e.Blocks >= len(want[4])/4096 {
		t.Errorf("commit 4 wrote %d blocks, want some but not all", e.Blocks)
	}
	r := c.ok("", "log", "--limit", "2", db) // CSV when not on a terminal
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != "commit,time,size,blocks,checkpoint,writer,made" ||
		recs[1][0] != "4" || recs[2][0] != "3" || recs[1][6] != "" || recs[2][6] != "" {
		t.Errorf("log --limit 2: %q", recs)
	}
	r = c.ok("", "history", "--format", "table", db)
	for _, w := range []string{"commit", "writer", "(4 commits)", "yes", l[0].Writer} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("history table lacks %q:\n%s", w, r.stdout)
		}
	}

	// export --commit and --asof give the database as it was then.
	for n := uint64(1); n <= 4; n++ {
		got := c.export("old.db", "--commit", strconv.FormatUint(n, 10), db)
		if !sameDB(got, want[n]) {
			t.Errorf("export --commit %d differs from the copy taken then (%d vs %d bytes)", n, len(got), len(want[n]))
		}
	}
	r = c.ok("", "export", "--commit", "2", db, "-")
	if !sameDB([]byte(r.stdout), want[2]) || r.stderr != "" {
		t.Errorf("export --commit 2 to stdout: %d bytes, stderr %q", len(r.stdout), r.stderr)
	}
	asof := l[2].Time.Add(l[1].Time.Sub(l[2].Time) / 2).Format(time.RFC3339Nano) // after commit 2, before 3
	if got := c.export("asof.db", "--asof", asof, db); !sameDB(got, want[2]) {
		t.Errorf("export --asof %s is not commit 2", asof)
	}
	if r := c.ok("", "export", "--commit", "3", db, "three.db"); !strings.Contains(r.stderr, "(commit 3,") {
		t.Errorf("export --commit 3 said %q", r.stderr)
	}
	if got := c.export("asof.db", "--asof", time.Now().Add(time.Hour).Format(time.RFC3339), db); !sameDB(got, want[4]) {
		t.Errorf("export --asof a future time is not the newest commit")
	}

	// query and shell read an old version, read-only.
	if r := c.ok("", "query", "--commit", "2", db, "SELECT count(*), max(name) FROM t WHERE id > 2000"); r.stdout != "count(*),max(name)\n1,row of 2\n" {
		t.Errorf("query --commit 2: %q", r.stdout)
	}
	if r := c.ok("", "query", "--asof", asof, db, "SELECT count(*) FROM t"); r.stdout != "count(*)\n2001\n" {
		t.Errorf("query --asof: %q", r.stdout)
	}
	if r := c.ok("SELECT name FROM t WHERE id = 300;\n", "shell", "--format", "csv", "--commit", "3", db); r.stdout != "name\ncommit 3\n" {
		t.Errorf("shell --commit 3: %q", r.stdout)
	}
	if r := c.run("", "query", "--commit", "3", db, "DELETE FROM t"); r.code != 1 || !strings.Contains(r.stderr, "readonly") {
		t.Errorf("a write to an old version: exit %d, %q", r.code, r.stderr)
	}

	// restore --dry-run publishes nothing; a commit not made yet fails.
	r = c.ok("", "restore", "--dry-run", db, "2")
	if r.stdout != "" || !strings.Contains(r.stderr, "would restore "+db+" to commit 2 as a new commit after 4") {
		t.Errorf("restore --dry-run: stdout %q stderr %q", r.stdout, r.stderr)
	}
	c.fails(1, []string{"commit 9 of " + db + " does not exist"}, "restore", "--dry-run", db, "9")

	// restore publishes commit 2 as commit 5; the history is kept.
	r = c.ok("", "restore", db, "2")
	if r.stdout != "5\n" || !strings.Contains(r.stderr, "to commit 2 as commit 5") {
		t.Fatalf("restore: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if got := c.export("now.db", db); !sameDB(got, want[2]) {
		t.Errorf("after restore the newest commit is not commit 2's data")
	}
	if r := c.ok("", "query", db, "SELECT count(*) FROM t"); r.stdout != "count(*)\n2001\n" {
		t.Errorf("after restore: %q", r.stdout)
	}
	if l := c.log(db); len(l) != 5 || l[0].Commit != 5 || !l[0].Checkpoint || l[0].Made != "restore" || l[0].From != 2 || l[0].Source != "" || l[1].Made != "" {
		t.Errorf("log after restore: %+v", l)
	}
	checkLogMarks(t, c, db)

	// gc --dry-run reports and deletes nothing.
	before := c.keys("h.db/")
	r = c.ok("", "gc", "--dry-run", "--json", db)
	var rep gcJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("gc json: %v\n%s", err, r.stdout)
	}
	if !rep.DryRun || rep.Head != 5 || rep.Oldest != 1 || rep.Deleted.Objects != 0 || rep.Live.Records != 5 ||
		rep.Live.Objects+rep.Pending.Objects+rep.Garbage.Objects != len(before) {
		t.Errorf("gc --dry-run: %+v, bucket holds %d objects", rep, len(before))
	}
	if after := c.keys("h.db/"); len(after) != len(before) {
		t.Errorf("gc --dry-run deleted %d objects", len(before)-len(after))
	}
	r = c.ok("", "gc", "--dry-run", db)
	for _, w := range []string{"newest commit:", "oldest kept:", "live:", "garbage:", "dry run: nothing deleted", "(retention 24h, grace 1h)"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("gc --dry-run lacks %q:\n%s", w, r.stdout)
		}
	}

	// With a tiny retention and grace, gc keeps only the newest version.
	time.Sleep(3 * time.Second)
	r = c.ok("", "gc", "--retention", "1s", "--grace", "1s", "--json", db)
	rep = gcJSON{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("gc json: %v\n%s", err, r.stdout)
	}
	after := c.keys("h.db/")
	if rep.DryRun || rep.Oldest != 5 || rep.Live.Records != 1 || rep.Deleted != rep.Garbage || rep.Deleted.Objects == 0 ||
		len(after) != rep.Live.Objects || len(before)-len(after) != rep.Deleted.Objects {
		t.Errorf("gc: %+v; bucket held %d objects, now %d", rep, len(before), len(after))
	}
	if l := c.log(db); len(l) != 1 || l[0].Commit != 5 {
		t.Errorf("log after gc: %+v", l)
	}
	if got := c.export("now.db", db); !sameDB(got, want[2]) {
		t.Errorf("after gc the newest commit lost data")
	}
	if r := c.ok("", "query", db, "PRAGMA integrity_check"); r.stdout != "integrity_check\nok\n" {
		t.Errorf("integrity_check after gc: %q", r.stdout)
	}
	// A second collection finds nothing more; its text report says so. The
	// head's checkpoint counts twice: it has inner pages beside it.
	r = c.ok("", "gc", "--retention", "1s", "--grace", "1s", db)
	if !strings.Contains(r.stdout, "oldest kept:    5") || !strings.Contains(r.stdout, "garbage:        none\n") ||
		!strings.Contains(r.stdout, "deleted:        none\n") || !strings.Contains(r.stdout, "1 record, 2 checkpoints") {
		t.Errorf("second gc:\n%s", r.stdout)
	}

	// Collected commits are refused with the cause and the fix.
	c.fails(1, []string{"commit 2 of " + db + " is no longer kept", "s3vfs log"}, "export", "--commit", "2", db, "gone.db")
	if _, err := os.Stat(filepath.Join(c.dir, "gone.db")); !os.IsNotExist(err) {
		t.Errorf("a failed export left a file: %v", err)
	}
	c.fails(1, []string{"commit 3 of " + db + " is no longer kept"}, "restore", db, "3")
	c.fails(1, []string{"commit 4 of " + db + " is no longer kept"}, "query", "--commit", "4", db, "SELECT 1")
	c.fails(1, []string{"no commit of " + db + " as of", "before the oldest commit kept"}, "query", "--asof", asof, db, "SELECT 1")
	c.fails(1, []string{"no commit of " + db + " as of", "before the oldest commit kept"}, "export", "--asof", asof, db, "gone.db")
}

// checkLogMarks checks how log prints the marks of db as TestHistoryCommands
// leaves it before collecting: commit 5 a restore of 2, commit 1 an import,
// the others transactions; in JSON without the keys a transaction lacks.
func checkLogMarks(t *testing.T, c *cli, db string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(c.ok("", "log", "--format", "csv", db).stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantMade := []string{"made", "restore of 2", "", "", "", "deserialize"}
	if len(recs) != len(wantMade) {
		t.Fatalf("log --format csv after restore: %q", recs)
	}
	for i, r := range recs {
		if r[len(r)-1] != wantMade[i] {
			t.Errorf("log --format csv after restore, row %d: made %q, want %q", i, r[len(r)-1], wantMade[i])
		}
	}
	table := c.ok("", "log", "--format", "table", db).stdout
	for _, w := range []string{" made ", "│ restore of 2 ", "│ deserialize "} {
		if !strings.Contains(table, w) {
			t.Errorf("log table after restore lacks %q:\n%s", w, table)
		}
	}
	var rows []map[string]any
	out := c.ok("", "log", "--json", db).stdout
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("log json: %v\n%s", err, out)
	}
	if len(rows) != 5 || rows[0]["made"] != "restore" || rows[0]["from"] != 2.0 || rows[4]["made"] != "deserialize" {
		t.Errorf("log --json after restore:\n%s", out)
	}
	for _, k := range []string{"made", "from", "source"} {
		if _, ok := rows[1][k]; ok {
			t.Errorf("log --json gives a transaction the key %q:\n%s", k, out)
		}
	}
	if _, ok := rows[0]["source"]; ok {
		t.Errorf("log --json gives a restore the key \"source\":\n%s", out)
	}
}

// The column made of log, for every way a commit is made; branches and
// merges name the database and the commit they were made from.
func TestLogMadeText(t *testing.T) {
	for _, tc := range []struct {
		cm   s3vfs.Commit
		want string
	}{
		{s3vfs.Commit{N: 3}, ""},
		{s3vfs.Commit{N: 13, Made: "restore", From: 12}, "restore of 12"},
		{s3vfs.Commit{N: 1, Made: "deserialize"}, "deserialize"},
		{s3vfs.Commit{N: 1, Made: "migrate"}, "migrate"},
		{s3vfs.Commit{N: 41, Made: "branch", From: 40, Source: "src.db"}, "branch of src.db@40"},
		{s3vfs.Commit{N: 52, Made: "merge", From: 44, Source: "try.db"}, "merge of try.db@44"},
	} {
		if got := madeText(tc.cm); got != tc.want {
			t.Errorf("madeText(%+v) = %q, want %q", tc.cm, got, tc.want)
		}
	}
}

// Bad input to the history commands: one line naming the cause and the
// fix, and a non-zero exit status.
func TestHistoryErrors(t *testing.T) {
	c := newCLI(t)
	src := c.localDB("src.db", 10)
	db := c.url("app.db")
	c.ok("", "import", src, db)
	cases := []struct {
		name string
		code int
		want []string
		args []string
	}{
		{"restore future commit", 1, []string{"commit 9 of " + db + " does not exist", "the newest is 1", "s3vfs log"}, []string{"restore", db, "9"}},
		{"restore negative", 2, []string{"\"-1\" is not a commit number", "from 1"}, []string{"restore", db, "-1"}},
		{"restore zero", 2, []string{"\"0\" is not a commit number"}, []string{"restore", db, "0"}},
		{"restore word", 2, []string{"\"last\" is not a commit number"}, []string{"restore", db, "last"}},
		{"restore missing arg", 2, []string{"restore needs a database and a commit number"}, []string{"restore", db}},
		{"restore missing database", 1, []string{"no database at", "s3vfs import"}, []string{"restore", c.url("none.db"), "1"}},
		{"export future commit", 1, []string{"commit 7 of " + db + " does not exist", "the newest is 1"}, []string{"export", "--commit", "7", db, "x.db"}},
		{"export bad commit", 2, []string{"--commit \"x\" is not a commit number"}, []string{"export", "--commit", "x", db, "x.db"}},
		{"export commit and asof", 2, []string{"--commit and --asof", "use one"}, []string{"export", "--commit", "1", "--asof", "2026-01-01T00:00:00Z", db, "x.db"}},
		{"export bad asof", 2, []string{"--asof \"yesterday\" is not a time", "RFC 3339"}, []string{"export", "--asof", "yesterday", db, "x.db"}},
		{"export asof too old", 1, []string{"no commit of " + db + " as of 2000-01-01T00:00:00Z", "before the oldest commit kept"}, []string{"export", "--asof", "2000-01-01T00:00:00Z", db, "x.db"}},
		{"export asof missing database", 1, []string{"no database at"}, []string{"export", "--asof", "2000-01-01T00:00:00Z", c.url("none.db"), "x.db"}},
		{"log negative limit", 2, []string{"--limit -1 is negative"}, []string{"log", "--limit", "-1", db}},
		{"log bad format", 2, []string{"unknown --format \"xml\""}, []string{"log", "--format", "xml", db}},
		{"log missing database", 1, []string{"no database at", "s3vfs import"}, []string{"log", c.url("none.db")}},
		{"log missing bucket", 1, []string{"does not exist", "create it"}, []string{"history", "s3://no-such-bucket-s3vfs/app.db"}},
		{"gc bad retention", 2, []string{"invalid value \"soon\" for flag -retention", "such as 24h"}, []string{"gc", "--retention", "soon", db}},
		{"gc short grace", 2, []string{"invalid value \"10ms\" for flag -grace", "at least 1s"}, []string{"gc", "--grace", "10ms", db}},
		{"gc negative retention", 2, []string{"invalid value \"-1h\" for flag -retention"}, []string{"gc", "--retention", "-1h", db}},
		{"gc missing database", 1, []string{"no database at"}, []string{"gc", c.url("none.db")}},
		{"gc two databases", 2, []string{"gc needs one database"}, []string{"gc", db, db}},
		{"query future commit", 1, []string{"commit 5 of " + db + " does not exist", "the newest is 1"}, []string{"query", "--commit", "5", db, "SELECT 1"}},
		{"shell bad commit", 2, []string{"--commit \"-3\" is not a commit number"}, []string{"shell", "--commit", "-3", db}},
		{"query asof too old", 1, []string{"no commit of " + db + " as of 2000-01-01T00:00:00Z"}, []string{"query", "--asof", "2000-01-01T00:00:00Z", db, "SELECT 1"}},
		{"query bad retention", 2, []string{"invalid value \"1\" for flag -retention"}, []string{"query", "--retention", "1", db, "SELECT 1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			r := c.run("", tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			t.Logf("exit %d: %s", r.code, r.stderr)
			checkOneLine(t, r.stderr, tc.want...)
		})
	}
	if _, err := os.Stat(filepath.Join(c.dir, "x.db")); !os.IsNotExist(err) {
		t.Errorf("a failed export left x.db: %v", err)
	}
	// A --retention that is accepted is used: the write goes through.
	c.t = t
	c.ok("", "query", "--retention", "2h", db, "INSERT INTO t(name) VALUES ('r')")
}
