package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// branchJSON is what "s3vfs branch --json" prints.
type branchJSON struct {
	Source      string `json:"source"`
	Commit      uint64 `json:"commit"`
	Branch      string `json:"branch"`
	FirstCommit uint64 `json:"first_commit"`
}

// infoJSON is what "s3vfs info --json" prints of a branch.
type infoJSON struct {
	Commit      uint64  `json:"commit"`
	BranchOf    *string `json:"branch_of"`
	BranchPoint *uint64 `json:"branch_point"`
}

// info returns what "s3vfs info --json" says of db.
func (c *cli) info(db string) infoJSON {
	c.t.Helper()
	r := c.ok("", "info", "--json", "--no-list", db)
	var info infoJSON
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		c.t.Fatalf("info json: %v\n%s", err, r.stdout)
	}
	return info
}

// gcBranches returns the branches "s3vfs gc --dry-run --json" counts for db.
func (c *cli) gcBranches(db string) int {
	c.t.Helper()
	r := c.ok("", "gc", "--dry-run", "--json", db)
	var rep struct {
		Branches *int `json:"branches"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Branches == nil {
		c.t.Fatalf("gc json without branches: %v\n%s", err, r.stdout)
	}
	return *rep.Branches
}

// TestBranchCommand branches a database at its newest commit, at an older
// one named each way (@N, --commit, --asof), and checks that each branch
// reads as the source did then, that writes to either leave the other as
// it was, and what info and gc say of them.
func TestBranchCommand(t *testing.T) {
	c := newCLI(t)
	src := c.url("src.db")
	c.ok("", "import", "--block-size", "4096", c.localDB("src.db", 300), src)
	c.ok("", "query", src, "UPDATE t SET name = 'two' WHERE id = 1")        // commit 2
	c.ok("", "query", src, "INSERT INTO t(id, name) VALUES (301, 'three')") // commit 3
	all := func(db string) string { return c.ok("", "query", db, "SELECT * FROM t ORDER BY id").stdout }
	name1 := func(db string) string { return c.ok("", "query", db, "SELECT name FROM t WHERE id = 1").stdout }
	count := func(db string) string { return c.ok("", "query", db, "SELECT count(*) FROM t").stdout }
	before := all(src)

	// At the newest commit: the same rows, and its own commits from 4.
	r := c.ok("", "branch", src, c.url("b.db"))
	if want := "branched " + src + " at commit 3 to " + c.url("b.db") + " (its first commit: 4)\n"; r.stdout != want {
		t.Errorf("branch printed %q, want %q", r.stdout, want)
	}
	if got := all(c.url("b.db")); got != before {
		t.Errorf("the branch reads %d bytes of rows, the source %d", len(got), len(before))
	}
	if l := c.log(c.url("b.db")); len(l) == 0 || l[0].Commit != 4 {
		t.Errorf("the branch's log: %+v, want commit 4 first", l)
	}

	// Writes to the branch leave the source as it was, and the other way.
	c.ok("", "query", c.url("b.db"), "BEGIN; INSERT INTO t(id, name) VALUES (1000, 'branch only'); UPDATE t SET name = 'b' WHERE id = 2; COMMIT") // commit 5
	if got := all(src); got != before {
		t.Error("a write to the branch changed the source")
	}
	if l := c.log(src); l[0].Commit != 3 {
		t.Errorf("the source's newest commit is %d after a write to the branch, want 3", l[0].Commit)
	}
	c.ok("", "query", src, "DELETE FROM t WHERE id > 100") // commit 4 of the source
	if got := count(c.url("b.db")); got != "count(*)\n302\n" {
		t.Errorf("the branch counts %q after a delete in the source, want 302", got)
	}
	if got := count(src); got != "count(*)\n100\n" {
		t.Errorf("the source counts %q, want 100", got)
	}

	// An older commit: @N, --commit N (JSON), --asof TIME.
	r = c.ok("", "branch", src+"@1", c.url("at1.db"))
	if !strings.Contains(r.stdout, "at commit 1 to "+c.url("at1.db")+" (its first commit: 2)") {
		t.Errorf("branch @1 printed %q", r.stdout)
	}
	if got := name1(c.url("at1.db")); got != "name\nname 1\n" {
		t.Errorf("the branch of commit 1 reads name %q", got)
	}
	r = c.ok("", "branch", "--json", "--commit", "2", src, c.url("at2.db"))
	var bj branchJSON
	if err := json.Unmarshal([]byte(r.stdout), &bj); err != nil {
		t.Fatalf("branch --json: %v\n%s", err, r.stdout)
	}
	if want := (branchJSON{src, 2, c.url("at2.db"), 3}); bj != want {
		t.Errorf("branch --json = %+v, want %+v", bj, want)
	}
	if got := name1(c.url("at2.db")); got != "name\ntwo\n" {
		t.Errorf("the branch of commit 2 reads name %q", got)
	}
	l := c.log(src)                                                              // newest first: 4, 3, 2, 1
	asof := l[2].Time.Add(l[1].Time.Sub(l[2].Time) / 2).Format(time.RFC3339Nano) // after commit 2, before 3
	r = c.ok("", "branch", "--asof", asof, src, c.url("asof.db"))
	if !strings.Contains(r.stdout, "at commit 2 to") {
		t.Errorf("branch --asof %s printed %q, want commit 2", asof, r.stdout)
	}
	if got := count(c.url("asof.db")); got != "count(*)\n300\n" {
		t.Errorf("the branch as of commit 2 counts %q, want 300", got)
	}

	// A branch of a branch: made from the branch's own commit.
	c.ok("", "branch", c.url("b.db"), c.url("bb.db"))
	if got := count(c.url("bb.db")); got != "count(*)\n302\n" {
		t.Errorf("the branch of the branch counts %q, want 302", got)
	}

	// info says what a branch is a branch of, in text and JSON; not of a
	// database that is not one.
	r = c.ok("", "info", c.url("at2.db"))
	if got := labelled(strings.Split(r.stdout, "\n"))["branch of"]; got != src+" at commit 2" {
		t.Errorf("info of the branch says branch of %q, want %q:\n%s", got, src+" at commit 2", r.stdout)
	}
	if info := c.info(c.url("b.db")); info.BranchOf == nil || *info.BranchOf != src || info.BranchPoint == nil || *info.BranchPoint != 3 || info.Commit != 5 {
		t.Errorf("info --json of the branch: %+v", info)
	}
	if info := c.info(c.url("bb.db")); info.BranchOf == nil || *info.BranchOf != c.url("b.db") || *info.BranchPoint != 5 {
		t.Errorf("info --json of the branch of the branch: %+v", info)
	}
	if info := c.info(src); info.BranchOf != nil || info.BranchPoint != nil {
		t.Errorf("info --json of the source names a branch: %+v", info)
	}
	if r := c.ok("", "info", src); strings.Contains(r.stdout, "branch of") {
		t.Errorf("info of the source says it is a branch:\n%s", r.stdout)
	}

	// gc counts the branches made from the database, and keeps what they
	// read.
	if n := c.gcBranches(src); n != 4 {
		t.Errorf("gc counts %d branches of the source, want 4 (b, at1, at2, asof)", n)
	}
	if n := c.gcBranches(c.url("at1.db")); n != 0 {
		t.Errorf("gc counts %d branches of a branch that has none", n)
	}
	r = c.ok("", "gc", "--retention", "1s", "--grace", "1s", src)
	if got := labelled(strings.Split(r.stdout, "\n"))["branches"]; !strings.HasPrefix(got, "4 ") {
		t.Errorf("gc says branches %q, want 4:\n%s", got, r.stdout)
	}
	if r := c.ok("", "gc", "--dry-run", c.url("at1.db")); strings.Contains(r.stdout, "branches") {
		t.Errorf("gc of a database without branches prints a branches line:\n%s", r.stdout)
	}
	if got := name1(c.url("at1.db")); got != "name\nname 1\n" {
		t.Errorf("after the source's gc, the branch of commit 1 reads name %q", got)
	}
	if got := all(c.url("asof.db")); !strings.Contains(got, "\n1,two,") || strings.Contains(got, "three") {
		t.Error("after the source's gc, the branch of commit 2 does not read as commit 2")
	}
}

// TestBranchErrors: each refusal is one line naming the cause and the fix,
// and creates nothing.
func TestBranchErrors(t *testing.T) {
	c := newCLI(t)
	src := c.url("src.db")
	c.ok("", "import", c.localDB("src.db", 10), src)
	c.ok("", "import", c.localDB("other.db", 5), c.url("taken.db"))
	c.ok("", "query", c.url("v@2"), "CREATE TABLE k(x)")               // commit 1 of the key "v@2"
	c.ok("", "query", c.url("v@2"), "INSERT INTO k VALUES ('second')") // commit 2
	c.ok("", "query", c.url("at@home.db"), "CREATE TABLE h(x)")

	cases := []struct {
		name string
		code int
		want []string
		args []string
	}{
		{"other bucket", 2, []string{"different buckets", "cannot be named across buckets", "s3vfs export", "s3vfs import"},
			[]string{"branch", src, "s3://another-bucket/x.db"}},
		{"itself", 2, []string{"a branch of itself", "another key"}, []string{"branch", src, src}},
		{"one argument", 2, []string{"branch needs a database and the key of the branch"}, []string{"branch", src}},
		{"commit zero", 2, []string{"@0 is not a commit number", "--commit"}, []string{"branch", src + "@0", c.url("x.db")}},
		{"commit and asof", 2, []string{"--commit and --asof"}, []string{"branch", "--commit", "1", "--asof", "2026-01-01T00:00:00Z", src, c.url("x.db")}},
		{"future commit", 1, []string{"commit 9 of " + src + " does not exist", "the newest is 1"}, []string{"branch", src + "@9", c.url("x.db")}},
		{"asof too old", 1, []string{"no commit of " + src + " as of 2000-01-01T00:00:00Z"}, []string{"branch", "--asof", "2000-01-01T00:00:00Z", src, c.url("x.db")}},
		{"destination exists", 1, []string{c.url("taken.db") + " holds a database already", "new key", "s3vfs rm --yes " + c.url("taken.db")},
			[]string{"branch", src, c.url("taken.db")}},
		{"no source", 1, []string{"no database at " + c.url("none.db")}, []string{"branch", c.url("none.db"), c.url("x.db")}},
		// A trailing @digits names a commit: the source is "v", not "v@2".
		{"at suffix is a commit", 1, []string{"no database at " + c.url("v") + " (the trailing @2 named a commit of it)", "for the key v@2", "--commit"}, []string{"branch", c.url("v@2"), c.url("x.db")}},
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
	c.t = t
	if keys := c.keys("x.db"); len(keys) != 0 {
		t.Errorf("failed branches left objects: %q", keys)
	}
	if got := c.ok("", "query", c.url("taken.db"), "SELECT count(*) FROM t").stdout; got != "count(*)\n5\n" {
		t.Errorf("the database a branch was refused over counts %q", got)
	}

	// With --commit, the source is taken as written, "@2" and all; and
	// an "@" before the end is part of the key.
	r := c.ok("", "branch", "--commit", "1", c.url("v@2"), c.url("v1.db"))
	if !strings.Contains(r.stdout, "branched "+c.url("v@2")+" at commit 1") {
		t.Errorf("branch --commit 1 of the key v@2 printed %q", r.stdout)
	}
	if got := c.ok("", "query", c.url("v1.db"), "SELECT count(*) FROM k").stdout; got != "count(*)\n0\n" {
		t.Errorf("the branch of commit 1 of v@2 counts %q, want 0", got)
	}
	r = c.ok("", "branch", c.url("at@home.db"), c.url("home.db"))
	if !strings.Contains(r.stdout, "branched "+c.url("at@home.db")+" at commit 1") {
		t.Errorf("branch of the key at@home.db printed %q", r.stdout)
	}
}

// TestBranchCommitSuffix: only a trailing "@" and digits name a commit.
func TestBranchCommitSuffix(t *testing.T) {
	for _, tc := range []struct {
		arg, rest string
		n         uint64
		bad       bool
	}{
		{"s3://b/app.db", "s3://b/app.db", 0, false},
		{"s3://b/app.db@12", "s3://b/app.db", 12, false},
		{"s3://b/app.db@007", "s3://b/app.db", 7, false},
		{"s3://b/a@b.db", "s3://b/a@b.db", 0, false},
		{"s3://b/a@12/c.db", "s3://b/a@12/c.db", 0, false},
		{"s3://b/a@", "s3://b/a@", 0, false},
		{"s3://b/a@1x", "s3://b/a@1x", 0, false},
		{"s3://b/a@-1", "s3://b/a@-1", 0, false},
		{"s3://b/v@2@3", "s3://b/v@2", 3, false},
		{"s3://b/a@0", "", 0, true},
		{"s3://b/a@99999999999999999999999", "", 0, true},
	} {
		rest, n, err := cutCommitSuffix(tc.arg)
		if (err != nil) != tc.bad || rest != tc.rest || n != tc.n {
			t.Errorf("cutCommitSuffix(%q) = %q, %d, %v; want %q, %d, error %v", tc.arg, rest, n, err, tc.rest, tc.n, tc.bad)
		}
	}
}

// TestRmCommand removes databases: not without --yes, not a source while
// its branches exist, then each branch and the source, after which only
// their last records are left.
func TestRmCommand(t *testing.T) {
	c := newCLI(t)
	src := c.url("src.db")
	c.ok("", "import", "--block-size", "4096", c.localDB("src.db", 300), src)
	c.ok("", "query", src, "UPDATE t SET name = 'two' WHERE id = 1")
	c.ok("", "branch", src+"@1", c.url("b1.db"))
	c.ok("", "branch", src, c.url("b2.db"))
	c.ok("", "query", c.url("b2.db"), "INSERT INTO t(id, name) VALUES (1000, 'branch only')")
	c.ok("", "query", c.url("src.db/inner.db"), "CREATE TABLE x(y)") // a database in a folder under the key
	objects := c.keys("src.db/")

	// Without --yes: a usage error that says what would go, and nothing
	// goes.
	r := c.fails(2, []string{"would remove the database " + src, "--yes"}, "rm", src)
	if r.stdout != "" {
		t.Errorf("rm without --yes printed %q", r.stdout)
	}
	t.Log(r.stderr)
	c.fails(2, []string{"rm needs one database"}, "rm", "--yes")
	if got := c.keys("src.db/"); !slices.Equal(got, objects) {
		t.Errorf("rm without --yes changed the objects: %d before, %d after", len(objects), len(got))
	}

	// The source, while branches of it exist: refused, naming them.
	r = c.fails(1, []string{"cannot remove " + src, "b1.db (from commit 1)", "b2.db (from commit 2)", "remove the branches first"}, "rm", "--yes", src)
	t.Log(r.stderr)
	if got := c.ok("", "query", src, "SELECT name FROM t WHERE id = 1").stdout; got != "name\ntwo\n" {
		t.Errorf("after a refused rm the source reads %q", got)
	}

	// The branches, then the source.
	if r := c.ok("", "rm", "--yes", c.url("b1.db")); r.stdout != "removed "+c.url("b1.db")+"\n" {
		t.Errorf("rm printed %q", r.stdout)
	}
	if n := c.gcBranches(src); n != 1 {
		t.Errorf("gc counts %d branches after one of two was removed, want 1", n)
	}
	c.fails(1, []string{"b2.db (from commit 2)"}, "rm", "--yes", src)
	c.ok("", "rm", c.url("b2.db"), "--yes") // the flag after the database
	r = c.ok("", "rm", "--yes", src)
	if r.stdout != "removed "+src+"\n" {
		t.Errorf("rm printed %q", r.stdout)
	}
	for _, db := range []string{src, c.url("b1.db"), c.url("b2.db")} {
		c.fails(1, []string{"no database at " + db}, "info", db)
	}
	// Only the records of the retention are left, for processes that
	// still know the databases to learn of the removal.
	for _, prefix := range []string{"b1.db/", "b2.db/", "src.db/_"} {
		for _, key := range c.keys(prefix) {
			if !strings.Contains(key, "/_commits/") {
				t.Errorf("rm left %s", key)
			}
		}
	}
	if got := c.ok("", "query", c.url("src.db/inner.db"), "SELECT count(*) FROM x").stdout; got != "count(*)\n0\n" {
		t.Errorf("the database in a folder under the removed key reads %q", got)
	}
	c.ok("", "rm", "--yes", src) // again: finishes what is left to do, here nothing

	// The key is free again: a new database there numbers on, and its log
	// shows nothing of the removed one.
	c.ok("", "query", src, "CREATE TABLE t(x)")
	if l := c.log(src); len(l) != 1 || l[0].Commit <= 3 {
		t.Errorf("a new database at the removed key: log %+v", l)
	}
}

// TestMergeCommand merges a branch whose pages the source left alone, then
// refuses one that changed a page the source changed too.
func TestMergeCommand(t *testing.T) {
	c := newCLI(t)
	src := c.url("src.db")
	c.ok("", "import", "--block-size", "4096", c.localDB("src.db", 3000), src)
	c.ok("", "branch", src, c.url("b.db"))
	c.ok("", "query", c.url("b.db"), "UPDATE t SET score = -1 WHERE id = 1")
	c.ok("", "query", src, "UPDATE t SET score = -2 WHERE id = 3000")
	r := c.ok("", "merge", "--json", c.url("b.db"), src)
	var got struct {
		Branch, Into string
		Commit       uint64
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Commit == 0 || got.Into != src {
		t.Fatalf("merge --json printed %q (%v)", r.stdout, err)
	}
	if out := c.ok("", "query", src, "SELECT score FROM t WHERE id IN (1, 3000) ORDER BY id").stdout; out != "score\n-1.0\n-2.0\n" {
		t.Fatalf("after the merge the source reads %q", out)
	}
	if l := c.log(src); len(l) == 0 || l[0].Commit != got.Commit || !strings.Contains(c.ok("", "log", src).stdout, "merge of b.db@") {
		t.Fatalf("the source's log after the merge: %+v", l)
	}

	// Both rename a row: the same index page changes both ways.
	c.ok("", "query", c.url("b.db"), "UPDATE t SET name = 'zz branch' WHERE id = 2")
	c.ok("", "query", src, "UPDATE t SET name = 'zz source' WHERE id = 2")
	head := c.log(src)[0].Commit
	c.fails(1, []string{"merge conflict", "nothing was published", "index t_name ("}, "merge", c.url("b.db"), src)
	if l := c.log(src); l[0].Commit != head {
		t.Fatalf("a refused merge published commit %d", l[0].Commit)
	}
}
