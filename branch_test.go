package s3vfs_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// fillBranchRows creates table t in the database at key with rows rows of
// about 200 bytes each, in one transaction.
func fillBranchRows(t *testing.T, e *env, key string, rows int) {
	t.Helper()
	db := e.open(key)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?) INSERT INTO t SELECT i, printf('%0200d', i) FROM c", rows)
	db.Close()
}

// rowState returns the row count and the sum of ids of table t of the
// database at key, read through a new VFS, as another process would.
func rowState(t *testing.T, e *env, key string) string {
	t.Helper()
	db := openDB(t, e.register(e.newVFS(nil)), key)
	defer db.Close()
	var n, sum int64
	if err := db.QueryRow("SELECT count(*), coalesce(sum(id), 0) FROM t").Scan(&n, &sum); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var ok string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("%s: integrity_check: %q, %v", key, ok, err)
	}
	return fmt.Sprintf("%d rows, sum %d", n, sum)
}

func TestBranch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	fillBranchRows(t, e, "src.db", 2000)
	src := e.open("src.db")
	mustExec(t, src, "UPDATE t SET v = 'x' WHERE id = 7") // a version-2 commit with its page inline
	before := rowState(t, e, "src.db")

	head, err := e.vfs.Info(ctx, "src.db")
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.vfs.Branch(ctx, "src.db", 0, "try.db")
	if err != nil {
		t.Fatal(err)
	}
	if n != head.Commit+1 {
		t.Fatalf("the branch's first commit is %d, want %d", n, head.Commit+1)
	}
	if got := rowState(t, e, "try.db"); got != before {
		t.Fatalf("the branch reads %s, the source %s", got, before)
	}
	info, err := e.vfs.Info(ctx, "try.db")
	if err != nil || info.BranchOf != "src.db" || info.BranchPoint != head.Commit || info.Commit != n {
		t.Fatalf("Info of the branch: %+v, %v", info, err)
	}

	// Each side's writes leave the other alone, both ways.
	try := e.open("try.db")
	mustExec(t, try, "DELETE FROM t WHERE id > 1000")
	if got := rowState(t, e, "src.db"); got != before {
		t.Fatalf("after a write to the branch, the source reads %s, want %s", got, before)
	}
	mustExec(t, src, "INSERT INTO t VALUES (5000, 'new')")
	if got, want := rowState(t, e, "try.db"), "1000 rows, sum 500500"; got != want {
		t.Fatalf("after a write to the source, the branch reads %s, want %s", got, want)
	}
	// Every commit of a branch says it is one (its objects depend on it).
	for _, v := range []*s3vfs.VFS{e.vfs, e.newVFS(nil)} {
		info, err := v.Info(ctx, "try.db")
		if err != nil || info.BranchOf != "src.db" || info.Commit != n+1 {
			t.Fatalf("Info of the branch after a commit: %+v, %v", info, err)
		}
	}
	if got, want := rowState(t, e, "src.db"), "2001 rows, sum 2006000"; got != want {
		t.Fatalf("the source reads %s, want %s", got, want)
	}

	// A branch of a branch, and of an older commit of the source.
	if _, err := e.vfs.Branch(ctx, "try.db", 0, "try2.db"); err != nil {
		t.Fatal(err)
	}
	if got, want := rowState(t, e, "try2.db"), "1000 rows, sum 500500"; got != want {
		t.Fatalf("a branch of the branch reads %s, want %s", got, want)
	}
	if _, err := e.vfs.Branch(ctx, "src.db", head.Commit, "old.db"); err != nil {
		t.Fatal(err)
	}
	if got := rowState(t, e, "old.db"); got != before {
		t.Fatalf("a branch of commit %d reads %s, want %s", head.Commit, got, before)
	}
}

func TestBranchRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "a.db", 10)
	fillBranchRows(t, e, "b.db", 10)
	for _, c := range []struct {
		src, dst string
		n        uint64
		want     error
		text     string
	}{
		{"a.db", "b.db", 0, s3vfs.ErrExists, "holds a database already"},
		{"missing.db", "c.db", 0, s3vfs.ErrNoDatabase, "missing.db"},
		{"a.db", "a.db", 0, nil, "branch of itself"},
		{"a.db", "c.db", 99, s3vfs.ErrNoCommit, "commit 99"},
		{"a.db", "x/_branches/c.db", 0, nil, "reserved segment"},
	} {
		_, err := e.vfs.Branch(ctx, c.src, c.n, c.dst)
		if err == nil || c.want != nil && !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("branch %s@%d to %s: %v, want %v with %q", c.src, c.n, c.dst, err, c.want, c.text)
		}
	}
	// Nothing was written at c.db.
	if _, err := e.vfs.Info(ctx, "c.db"); !errors.Is(err, s3vfs.ErrNoDatabase) {
		t.Fatalf("after refused branches, c.db: %v", err)
	}
}

// TestBranchRequests: making a branch costs the same requests whatever
// the size of the database, and writes no block; merging one changed row
// back costs the same requests at both sizes too.
func TestBranchRequests(t *testing.T) {
	ctx := context.Background()
	counts, merges := map[int]map[string]int{}, map[int]map[string]int{}
	for _, rows := range []int{3000, 30000} {
		e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
		fillBranchRows(t, e, "src.db", rows)
		v := e.newVFS(&s3vfs.Options{BlockSize: 4096}) // a new process: nothing cached
		if _, err := v.CheckStore(ctx); err != nil {
			t.Fatal(err)
		}
		e.proxy.Reset()
		if _, err := v.Branch(ctx, "src.db", 0, "dst.db"); err != nil {
			t.Fatal(err)
		}
		counts[rows] = map[string]int{}
		for k, n := range e.proxy.Counts() {
			counts[rows][string(k)] = n
		}
		for _, name := range e.proxy.Written() {
			if strings.Contains(name, "/_blocks/") {
				t.Errorf("%d rows: the branch wrote block %s", rows, name)
			}
		}

		// A merge of one changed row, from a new process.
		mustExec(t, e.open("dst.db"), "UPDATE t SET v = 'merged' WHERE id = 7")
		v = e.newVFS(&s3vfs.Options{BlockSize: 4096})
		if _, err := v.CheckStore(ctx); err != nil {
			t.Fatal(err)
		}
		e.proxy.Reset()
		if _, err := v.Merge(ctx, "dst.db", "src.db"); err != nil {
			t.Fatal(err)
		}
		merges[rows] = map[string]int{}
		for k, n := range e.proxy.Counts() {
			merges[rows][string(k)] = n
		}
	}
	if !maps.Equal(counts[3000], counts[30000]) {
		t.Fatalf("requests of a branch: %v for 3,000 rows, %v for 30,000", counts[3000], counts[30000])
	}
	if !maps.Equal(merges[3000], merges[30000]) {
		t.Fatalf("requests of a merge of one row: %v for 3,000 rows, %v for 30,000", merges[3000], merges[30000])
	}
	t.Logf("requests of a branch: %v; of a merge of one row: %v for 3,000 rows, %v for 30,000", counts[3000], merges[3000], merges[30000])
}

// TestBranchCollection: a collection of the source keeps what a branch
// reads; a collection of the branch leaves the source's objects alone;
// removing the branch releases them at the source's next collection.
func TestBranchCollection(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	fillBranchRows(t, e, "src.db", 2000)
	before := rowState(t, e, "src.db")
	if _, err := e.vfs.Branch(ctx, "src.db", 0, "b.db"); err != nil {
		t.Fatal(err)
	}
	src := e.open("src.db")
	mustExec(t, src, "DELETE FROM t")
	mustExec(t, src, "VACUUM") // every block rewritten
	time.Sleep(2500 * time.Millisecond)
	opts := &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second}
	rep, err := e.vfs.GC(ctx, "src.db", opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Branches != 1 {
		t.Fatalf("the source's collection counts %d branches, want 1", rep.Branches)
	}
	if _, err := e.vfs.GC(ctx, "b.db", opts); err != nil {
		t.Fatal(err)
	}
	if got := rowState(t, e, "b.db"); got != before {
		t.Fatalf("after both collections the branch reads %s, want %s", got, before)
	}
	if err := e.vfs.Remove(ctx, "src.db"); !errors.Is(err, s3vfs.ErrBranchesLive) || !strings.Contains(err.Error(), "b.db") {
		t.Fatalf("removing a source with a branch: %v", err)
	}
	live := rep.Live.Blocks

	if err := e.vfs.Remove(ctx, "b.db"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vfs.Info(ctx, "b.db"); !errors.Is(err, s3vfs.ErrNoDatabase) {
		t.Fatalf("after Remove, Info: %v", err)
	}
	time.Sleep(2500 * time.Millisecond)
	rep, err = e.vfs.GC(ctx, "src.db", opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Branches != 0 || rep.Live.Blocks >= live || rep.Deleted.Blocks == 0 {
		t.Fatalf("after the branch is removed, the source's collection: %d branches, %d live blocks (%d before), %d deleted",
			rep.Branches, rep.Live.Blocks, live, rep.Deleted.Blocks)
	}
	if got := rowState(t, e, "src.db"); got != "0 rows, sum 0" {
		t.Fatalf("the source reads %s", got)
	}
	left, err := server.Keys(ctx, e.bucket, "b.db/")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range left {
		if !strings.Contains(key, "/_commits/") {
			t.Fatalf("after Remove, %s is left", key)
		}
	}
	// Run again past the retention, it deletes the records it kept but
	// the removed record, which keeps the key's numbering.
	if err := e.newVFS(&s3vfs.Options{Retention: time.Second}).Remove(ctx, "b.db"); err != nil {
		t.Fatal(err)
	}
	if left, err = server.Keys(ctx, e.bucket, "b.db/"); err != nil || len(left) != 1 {
		t.Fatalf("after Remove past the retention, objects of b.db are left: %v (%v), want the removed record", left, err)
	}
}

// TestBranchWhileSourceWritten: another process writes the source while
// this one reads and writes the branch; neither sees the other's writes.
func TestBranchWhileSourceWritten(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	db := e.open("counter.db")
	mustExec(t, db, "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER)")
	mustExec(t, db, "INSERT INTO counter VALUES (1, 0)")
	db.Close()
	if _, err := e.vfs.Branch(ctx, "counter.db", 0, "what-if.db"); err != nil {
		t.Fatal(err)
	}
	child := e.startChild("increment", "counter.db", "60")
	branch := e.open("what-if.db")
	for i := range 30 {
		if got := queryInt(t, branch, "SELECT n FROM counter WHERE id = 1"); got != int64(-i) {
			t.Fatalf("the branch reads %d after %d of its own decrements", got, i)
		}
		mustExec(t, branch, "UPDATE counter SET n = n - 1 WHERE id = 1")
	}
	if err := child.cmd.Wait(); err != nil {
		t.Fatalf("the source's writer: %v", err)
	}
	src := openDB(t, e.register(e.newVFS(nil)), "counter.db")
	if got := queryInt(t, src, "SELECT n FROM counter WHERE id = 1"); got != 60 {
		t.Fatalf("the source reads %d, want 60", got)
	}
	if got := queryInt(t, openDB(t, e.register(e.newVFS(nil)), "what-if.db"), "SELECT n FROM counter WHERE id = 1"); got != -30 {
		t.Fatalf("the branch reads %d, want -30", got)
	}
}

// TestBranchSeenAfterEmpty: a process that knew the key empty (it opened
// it before the branch was made) finds the branch, although the branch's
// numbering jumps past the record that reserved the key.
func TestBranchSeenAfterEmpty(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "src.db", 10)
	early := e.open("dst.db")
	if got := queryInt(t, early, "SELECT count(*) FROM sqlite_schema"); got != 0 {
		t.Fatalf("dst.db before the branch has %d schema rows", got)
	}
	if _, err := e.newVFS(nil).Branch(ctx, "src.db", 0, "dst.db"); err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, early, "SELECT count(*) FROM t"); got != 10 {
		t.Fatalf("the process that knew dst.db empty reads %d rows of the branch, want 10", got)
	}
}

// TestBranchReservedKey: a key reserved for a branch that was never made
// (its maker failed between the reservation and the branch's record) is
// no database: reading says so, writing fails (no commit would be hidden
// by the branch), and Remove clears it.
func TestBranchReservedKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	reserveKey(e, "r.db", "src.db", 4, 65536)
	if _, err := e.vfs.Info(ctx, "r.db"); !errors.Is(err, s3vfs.ErrNoDatabase) || !strings.Contains(err.Error(), "reserved for a branch of src.db") {
		t.Fatalf("Info of a reserved key: %v", err)
	}
	db := e.open("r.db")
	if _, err := db.Exec("CREATE TABLE t(x)"); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("a write to a reserved key: %v", err)
	}
	db.Close()
	if err := e.vfs.Remove(ctx, "r.db"); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, e.register(e.newVFS(nil)), "r.db")
	mustExec(t, db, "CREATE TABLE t(x)")
}

// TestBranchTimeTravel: the versions of a branch are read by commit=, as
// any database's.
func TestBranchTimeTravel(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "src.db", 10)
	n, err := e.vfs.Branch(ctx, "src.db", 0, "b.db")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, e.open("b.db"), "DELETE FROM t")
	if got := queryInt(t, e.open("b.db", fmt.Sprintf("commit=%d", n)), "SELECT count(*) FROM t"); got != 10 {
		t.Fatalf("the branch at its first commit reads %d rows, want 10", got)
	}
	if got := queryInt(t, e.open("b.db"), "SELECT count(*) FROM t"); got != 0 {
		t.Fatalf("the branch's head reads %d rows, want 0", got)
	}
}

// TestBranchRestore: a restore on a branch, by a writer of either format
// setting, keeps it a branch that reads the source's blocks it shares.
func TestBranchRestore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	fillBranchRows(t, e, "src.db", 1000)
	want := rowState(t, e, "src.db")
	n, err := e.vfs.Branch(ctx, "src.db", 0, "b.db")
	if err != nil {
		t.Fatal(err)
	}
	for _, fv := range []int{2, 1} {
		mustExec(t, e.open("b.db"), "DELETE FROM t WHERE id > 10")
		v := e.newVFS(&s3vfs.Options{BlockSize: 4096, FormatVersion: fv})
		if _, err := v.Restore(ctx, "b.db", n); err != nil {
			t.Fatal(err)
		}
		if got := rowState(t, e, "b.db"); got != want {
			t.Fatalf("format setting %d: the branch restored to its first commit reads %s, want %s", fv, got, want)
		}
		if info, err := v.Info(ctx, "b.db"); err != nil || info.BranchOf != "src.db" {
			t.Fatalf("format setting %d: Info after the restore: %+v, %v", fv, info, err)
		}
	}
}

// TestBranchHistory: a branch's history starts at its first commit,
// marked as a branch; the record that reserved its key is no version.
func TestBranchHistory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	db := e.open("src.db")
	mustExec(t, db, "CREATE TABLE t(x)") // commit 1: the branch's record 1 reserves, its first is 2
	n, err := e.vfs.Branch(ctx, "src.db", 1, "b.db")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, e.open("b.db"), "INSERT INTO t VALUES (1)")
	var got []string
	for c, err := range e.vfs.History(ctx, "b.db") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %d %s", c.N, c.Made, c.From, c.Source))
	}
	want := []string{fmt.Sprintf("%d  0 ", n+1), fmt.Sprintf("%d branch 1 src.db", n)}
	if !slices.Equal(got, want) {
		t.Fatalf("history of the branch: %q, want %q", got, want)
	}
}

// TestMergeDisjoint: the branch and its source change different rows
// (different pages); the merge brings the branch's into the source in
// one commit, keeping the source's, and marks it.
func TestMergeDisjoint(t *testing.T) {
	ctx := context.Background()
	e := branchedEnv(t, "b.db")
	mustExec(t, e.open("b.db"), "UPDATE t SET v = 'branch' WHERE id = 10")
	mustExec(t, e.open("src.db"), "UPDATE t SET v = 'source' WHERE id = 2990")
	n, err := e.newVFS(nil).Merge(ctx, "b.db", "src.db")
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, e.register(e.newVFS(nil)), "src.db")
	var a, b string
	if err := db.QueryRow("SELECT (SELECT v FROM t WHERE id = 10), (SELECT v FROM t WHERE id = 2990)").Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if a != "branch" || b != "source" {
		t.Fatalf("after the merge: row 10 %q, row 2990 %q", a, b)
	}
	integrityOK(t, db)
	if got := queryInt(t, db, "SELECT count(*) FROM t"); got != 3000 {
		t.Fatalf("after the merge: %d rows", got)
	}
	c := firstCommit(t, e.vfs, "src.db")
	if c.N != n || c.Made != "merge" || c.Source != "b.db" {
		t.Fatalf("the merge's commit: %+v (want %d, made merge of b.db)", c, n)
	}
	// The branch is unchanged, still a branch.
	if info, err := e.vfs.Info(ctx, "b.db"); err != nil || info.BranchOf != "src.db" {
		t.Fatalf("the branch after the merge: %+v, %v", info, err)
	}
}

// TestMergeConflict: both change the same row; the merge is refused,
// naming the count, and publishes nothing.
func TestMergeConflict(t *testing.T) {
	ctx := context.Background()
	e := branchedEnv(t, "b.db")
	mustExec(t, e.open("b.db"), "UPDATE t SET v = 'branch' WHERE id = 10")
	mustExec(t, e.open("src.db"), "UPDATE t SET v = 'source' WHERE id = 11")
	head, err := e.vfs.Info(ctx, "src.db")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.newVFS(nil).Merge(ctx, "b.db", "src.db")
	if !errors.Is(err, s3vfs.ErrMergeConflict) || !strings.Contains(err.Error(), "1 page changed") || !strings.Contains(err.Error(), "table t (1)") {
		t.Fatalf("a conflicting merge: %v", err)
	}
	after, err := e.newVFS(nil).Info(ctx, "src.db")
	if err != nil || after.Commit != head.Commit {
		t.Fatalf("after a refused merge the head is %d (%v), want %d", after.Commit, err, head.Commit)
	}
}

// firstCommit returns the newest commit History lists for key.
func firstCommit(t *testing.T, v *s3vfs.VFS, key string) s3vfs.Commit {
	t.Helper()
	for c, err := range v.History(context.Background(), key) {
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Fatalf("%s has no history", key)
	return s3vfs.Commit{}
}

// TestMergeLosesRace: a commit of the source lands between the merge's
// reading and its create. The merge loses the race, checks the new
// commit's pages, and lands on top of it when they are other pages; it
// is refused, with nothing published, when they are the branch's.
func TestMergeLosesRace(t *testing.T) {
	for _, c := range []struct {
		name, interloper string
		conflict         bool
	}{
		{"other pages", "UPDATE t SET v = 'late' WHERE id = 2990", false},
		{"the same page", "UPDATE t SET v = 'late' WHERE id = 11", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			e := branchedEnv(t, "b.db")
			mustExec(t, e.open("b.db"), "UPDATE t SET v = 'branch' WHERE id = 10")
			writer := openDB(t, e.register(e.newVFS(nil)), "src.db")

			merger := vfsWithHook(t, e, "src.db", func() {
				mustExec(t, writer, c.interloper)
			})
			n, err := merger.Merge(ctx, "b.db", "src.db")
			if lost := merger.Stats().Conflicts; lost != 1 {
				t.Errorf("the merge lost %d races, want 1", lost)
			}
			head := firstCommit(t, e.newVFS(nil), "src.db")
			if c.conflict {
				if !errors.Is(err, s3vfs.ErrMergeConflict) || head.Made == "merge" {
					t.Fatalf("a merge over a conflicting commit: %v; the head %+v", err, head)
				}
				return
			}
			if err != nil || head.N != n || head.Made != "merge" {
				t.Fatalf("merge: %d, %v; the head %+v", n, err, head)
			}
			db := openDB(t, e.register(e.newVFS(nil)), "src.db")
			var a, b string
			if err := db.QueryRow("SELECT (SELECT v FROM t WHERE id = 10), (SELECT v FROM t WHERE id = 2990)").Scan(&a, &b); err != nil {
				t.Fatal(err)
			}
			if a != "branch" || b != "late" {
				t.Fatalf("after the merge: row 10 %q, row 2990 %q", a, b)
			}
			integrityOK(t, db)
		})
	}
}

// TestBranchDuringCollection: a branch made while a collection of its
// source runs, after the collection listed the source's branches (so it
// does not know of it), reads its version intact after that collection
// and after the next ones, which do know of it; removing the branch
// releases the version.
func TestBranchDuringCollection(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	fillBranchRows(t, e, "src.db", 2000)
	src := e.open("src.db")
	mustExec(t, src, "UPDATE t SET v = 'old' WHERE id < 500") // garbage for the collection, once past the retention
	time.Sleep(2500 * time.Millisecond)
	want := rowState(t, e, "src.db")

	proxy, err := s3proxy.New(server.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	listed, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind != s3proxy.LIST || !strings.HasSuffix(r.URL.Query().Get("prefix"), "/_branches/") {
			return false
		}
		handled := false
		once.Do(func() {
			proxy.Pass(w, r) // the listing, before the branch
			close(listed)
			<-resume
			handled = true
		})
		return handled
	})
	collector, err := s3vfs.New(server.Client(proxy.URL), e.bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second}
	done := make(chan error, 1)
	go func() {
		_, err := collector.GC(ctx, "src.db", opts)
		done <- err
	}()
	<-listed
	if _, err := e.vfs.Branch(ctx, "src.db", 0, "b.db"); err != nil {
		close(resume)
		t.Fatal(err)
	}
	mustExec(t, src, "DELETE FROM t") // the branch's version is no longer the head
	mustExec(t, src, "VACUUM")
	close(resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := rowState(t, e, "b.db"); got != want {
		t.Fatalf("after the collection that did not know of it, the branch reads %s, want %s", got, want)
	}
	time.Sleep(2500 * time.Millisecond) // the branch's version is past the retention (1 s) and the clock slack (1 s) now
	rep, err := e.vfs.GC(ctx, "src.db", opts)
	if err != nil || rep.Branches != 1 {
		t.Fatalf("the next collection: %d branches, %v", rep.Branches, err)
	}
	if got := rowState(t, e, "b.db"); got != want {
		t.Fatalf("after a collection that knew of it, the branch reads %s, want %s", got, want)
	}
}

// TestBranchCollectionUnderWriters: processes write the source and the
// branch while both are collected again and again with a short retention;
// after every collection both pass integrity_check, and in the end every
// increment of each is there, and only there.
func TestBranchCollectionUnderWriters(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	db := e.open("counter.db")
	mustExec(t, db, "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER)")
	mustExec(t, db, "INSERT INTO counter VALUES (1, 0)")
	mustExec(t, db, "CREATE TABLE bulk(v TEXT)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 500) INSERT INTO bulk SELECT printf('%0200d', i) FROM c")
	db.Close()
	if _, err := e.vfs.Branch(ctx, "counter.db", 0, "what-if.db"); err != nil {
		t.Fatal(err)
	}
	const each = 600
	children := []*childProc{e.startChild("increment", "counter.db", strconv.Itoa(each)), e.startChild("increment", "what-if.db", strconv.Itoa(each))}
	done := make(chan struct{})
	go func() {
		for _, c := range children {
			c.cmd.Wait()
		}
		close(done)
	}()
	opts := &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second}
	check := func(key string) int64 {
		db := openDB(t, e.register(e.newVFS(nil)), key)
		defer db.Close()
		integrityOK(t, db)
		return queryInt(t, db, "SELECT n FROM counter WHERE id = 1")
	}
	deleted := 0
	for rounds := 0; ; rounds++ {
		select {
		case <-done:
			for _, c := range children {
				if c.cmd.ProcessState.ExitCode() != 0 {
					t.Fatalf("a writer failed: %s", c.lastLine())
				}
			}
			if src, branch := check("counter.db"), check("what-if.db"); src != each || branch != each {
				t.Fatalf("after %d collection rounds: the source counts %d, the branch %d, want %d each", rounds, src, branch, each)
			}
			t.Logf("%d collection rounds of both under writers deleted %d objects", rounds, deleted)
			if deleted == 0 {
				t.Fatal("the collections deleted nothing: the test tests nothing")
			}
			return
		default:
		}
		for _, key := range []string{"counter.db", "what-if.db"} {
			rep, err := e.vfs.GC(ctx, key, opts)
			if err != nil {
				t.Fatalf("collection of %s: %v", key, err)
			}
			deleted += rep.Deleted.Objects()
			check(key)
		}
	}
}

// TestNewerRecordRefused: a record of a format version this release does
// not know (one a later release wrote) is refused, saying so, and nothing
// is written over it.
func TestNewerRecordRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "a.db", 10)
	info, err := e.vfs.Info(ctx, "a.db")
	if err != nil {
		t.Fatal(err)
	}
	name := format.RecordName("a.db", info.Commit)
	data := e.readObject(name)
	data[6] = '9'
	e.writeObject(name, data)
	_, err = e.newVFS(nil).Info(ctx, "a.db")
	if !errors.Is(err, s3vfs.ErrUnknownVersion) || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("a version-9 record: %v", err)
	}
	db := openDB(t, e.register(e.newVFS(nil)), "a.db")
	if _, err := db.Exec("INSERT INTO t VALUES (100, 'x')"); err == nil {
		t.Fatal("a write over a record of a newer version succeeded")
	}
	keys, err := server.Keys(ctx, e.bucket, format.RecordName("a.db", info.Commit+1))
	if err != nil || len(keys) != 0 {
		t.Fatalf("a record was written over the newer one: %v, %v", keys, err)
	}
}

// branchedEnv returns a new env (4 KiB blocks) holding src.db, 3,000 rows
// of fillBranchRows, and dst, a branch of its newest commit (n = 0).
func branchedEnv(t *testing.T, dst string) *env {
	t.Helper()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	fillBranchRows(t, e, "src.db", 3000)
	if _, err := e.vfs.Branch(context.Background(), "src.db", 0, dst); err != nil {
		t.Fatal(err)
	}
	return e
}
