package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// Edges of branches, merges and removals found by review: each failed
// before its fix.

// TestMergeNewIndexRefused: an index made on one side is made from that
// side's rows; rows the other side changed would be missing from it, so
// the merge is refused, naming the index. A new column on the branch
// merges over rows the source changed.
func TestMergeNewIndexRefused(t *testing.T) {
	ctx := context.Background()
	e := branchedEnv(t, "b.db")
	mustExec(t, e.open("b.db"), "UPDATE t SET v = 'zzz' WHERE id = 10")
	mustExec(t, e.open("src.db"), "CREATE INDEX iv ON t(v)")
	_, err := e.newVFS(nil).Merge(ctx, "b.db", "src.db")
	if !errors.Is(err, s3vfs.ErrMergeConflict) || !strings.Contains(err.Error(), "index iv") {
		t.Fatalf("a merge over an index made on the other side: %v", err)
	}

	if _, err := e.vfs.Branch(ctx, "src.db", 0, "c.db"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e.open("c.db"), "ALTER TABLE t ADD COLUMN note TEXT DEFAULT 'none'")
	mustExec(t, e.open("src.db"), "UPDATE t SET v = 'late' WHERE id = 2990")
	if _, err := e.newVFS(nil).Merge(ctx, "c.db", "src.db"); err != nil {
		t.Fatalf("a new column merged over changed rows: %v", err)
	}
	db := openDB(t, e.register(e.newVFS(nil)), "src.db")
	integrityOK(t, db)
	var v, note string
	if err := db.QueryRow("SELECT v, note FROM t WHERE id = 2990").Scan(&v, &note); err != nil || v != "late" || note != "none" {
		t.Fatalf("after the merge, row 2990: %q %q (%v)", v, note, err)
	}
}

// TestRemoveRacesBranch: a branch made while its source is removed is
// refused, or makes the removal refused; never both succeed.
func TestRemoveRacesBranch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "src.db", 10)
	var branchErr error
	rm := vfsWithHook(t, e, "src.db", func() {
		// Remove's removed record: the branch is made at once, before
		// it lands.
		_, branchErr = e.newVFS(nil).Branch(ctx, "src.db", 0, "b.db")
	})
	removeErr := rm.Remove(ctx, "src.db")
	if (branchErr == nil) == (removeErr == nil) {
		t.Fatalf("branch: %v; remove: %v: exactly one must succeed", branchErr, removeErr)
	}
	if branchErr == nil && rowState(t, e, "b.db") != "10 rows, sum 55" {
		t.Fatal("the branch does not read its source")
	}
}

// TestBranchOfRemovedRefused: a source whose newest record says it is
// removed cannot be branched, at its old commits either.
func TestBranchOfRemovedRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "src.db", 10)
	info, err := e.vfs.Info(ctx, "src.db")
	if err != nil {
		t.Fatal(err)
	}
	rec := &format.Record{N: info.Commit + 1, Parent: info.Commit, Token: 1, BlockSize: info.BlockSize, Unit: info.BlockSize,
		Time: time.Now(), Writer: "test", Made: format.Made{By: format.Removed}}
	e.writeObject(format.RecordName("src.db", info.Commit+1), rec.Encode())
	if _, err := e.newVFS(nil).Branch(ctx, "src.db", info.Commit, "b.db"); err == nil {
		t.Fatal("a branch of a removed database was made")
	}
}

// TestRemoveStaleProcess: a process that knew the database before it was
// removed, by another process, finds it removed: it reads no stale rows
// and writes nothing; a new database made at the key numbers on and is
// not hidden by the old process.
func TestRemoveStaleProcess(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	db := e.open("x.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	if err := e.newVFS(nil).Remove(ctx, "x.db"); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err == nil {
		t.Fatalf("the old process read %d rows of the removed database", n)
	}
	if _, err := db.Exec("INSERT INTO t VALUES (2)"); err == nil {
		t.Fatal("the old process wrote to the removed database")
	}
	// The same process as the removal knows at once.
	if _, err := e.vfs.Info(ctx, "x.db"); !errors.Is(err, s3vfs.ErrNoDatabase) {
		t.Fatalf("Info after the removal: %v", err)
	}
	again := openDB(t, e.register(e.newVFS(nil)), "x.db")
	mustExec(t, again, "CREATE TABLE u(y)")
	mustExec(t, again, "INSERT INTO u VALUES (7)")
	if _, err := db.Exec("INSERT INTO t VALUES (3)"); err == nil {
		t.Fatal("the old process wrote over the new database")
	}
	fresh := openDB(t, e.register(e.newVFS(nil)), "x.db")
	if got := queryInt(t, fresh, "SELECT y FROM u"); got != 7 {
		t.Fatalf("the new database reads %d", got)
	}
	for c, err := range e.newVFS(nil).History(ctx, "x.db") {
		if err != nil {
			t.Fatal(err)
		}
		if c.Made != "" || c.N <= 3 {
			t.Fatalf("the new database's history shows %+v", c)
		}
	}
}

// TestRemoveReservedKey: removing a key a failed branch left reserved
// also deletes the registration the branch may have left in its source,
// which can then be removed.
func TestRemoveReservedKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "src.db", 10)
	info, err := e.vfs.Info(ctx, "src.db")
	if err != nil {
		t.Fatal(err)
	}
	reserveKey(e, "r.db", "src.db", info.Commit, 65536)
	e.writeObject(format.BranchName("src.db", info.Commit, "r.db"), []byte("s3vfs branch\n"))
	if err := e.vfs.Remove(ctx, "r.db"); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.Remove(ctx, "src.db"); err != nil {
		t.Fatalf("removing the source after its reserved branch key: %v", err)
	}
}

// TestReaderDuringBranch: a process that read the key while it was
// reserved finds the branch once it is made.
func TestReaderDuringBranch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "src.db", 10)
	early := e.open("dst.db")
	if got := queryInt(t, early, "SELECT count(*) FROM sqlite_schema"); got != 0 {
		t.Fatal(got)
	}
	n, err := e.newVFS(nil).Branch(ctx, "src.db", 0, "tmp.db") // its first record, copied below
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.vfs.Info(ctx, "src.db")
	if err != nil {
		t.Fatal(err)
	}
	reserveKey(e, "dst.db", "src.db", info.Commit, info.BlockSize)
	var c int64
	if err := early.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&c); err == nil {
		t.Fatal("a read of a reserved key succeeded")
	}
	e.writeObject(format.RecordName("dst.db", n), e.readObject(format.RecordName("tmp.db", n)))
	if got := queryInt(t, early, "SELECT count(*) FROM t"); got != 10 {
		t.Fatalf("after the branch is made, the process that read the reservation reads %d rows", got)
	}
}

// TestDeserializeOverBranchMadeMeanwhile: a Deserialize into an empty
// key that a branch takes before the Deserialize's record lands is not
// published over the branch with blocks its lineage would look for in
// the source.
func TestDeserializeOverBranchMadeMeanwhile(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "src.db", 10)
	fillBranchRows(t, e, "other.db", 50)
	r := e.vfs.SerializeReader(ctx, "other.db")
	file, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	d := vfsWithHook(t, e, "dst.db", func() {
		if _, err := e.newVFS(nil).Branch(ctx, "src.db", 0, "dst.db"); err != nil {
			t.Errorf("branch: %v", err)
		}
	})
	err = d.Deserialize(ctx, "dst.db", bytes.NewReader(file))
	if err == nil {
		if got := rowState(t, e, "dst.db"); got != "50 rows, sum 1275" {
			t.Fatalf("the deserialized database reads %s", got)
		}
		return
	}
	if got := rowState(t, e, "dst.db"); got != "10 rows, sum 55" {
		t.Fatalf("after a refused Deserialize the branch reads %s", got)
	}
}

// TestMergeOverlaidHead: a merge of one row over a source whose head
// reads many blocks through overlays (small commits not yet folded) is a
// commit like a transaction's: it writes no block of the source's.
func TestMergeOverlaidHead(t *testing.T) {
	ctx := context.Background()
	e := branchedEnv(t, "dst.db")
	src := e.open("src.db")
	for i := range 40 {
		mustExec(t, src, "UPDATE t SET v = 'src' WHERE id = ?", 100+i*70)
	}
	mustExec(t, e.open("dst.db"), "UPDATE t SET v = 'merged' WHERE id = 7")
	v := e.newVFS(&s3vfs.Options{BlockSize: 4096})
	if _, err := v.CheckStore(ctx); err != nil {
		t.Fatal(err)
	}
	e.proxy.Reset()
	if _, err := v.Merge(ctx, "dst.db", "src.db"); err != nil {
		t.Fatal(err)
	}
	if puts := e.proxy.Counts()[s3proxy.PUT]; puts != 1 {
		t.Fatalf("a merge of one row made %d PUTs (%v), want 1: its record", puts, e.proxy.Written())
	}
	db := openDB(t, e.register(e.newVFS(nil)), "src.db")
	integrityOK(t, db)
	if got := queryInt(t, db, "SELECT count(*) FROM t WHERE v IN ('src', 'merged')"); got != 41 {
		t.Fatalf("after the merge %d rows are the source's or the branch's, want 41", got)
	}
}

// reserveKey writes record 1 of key as a branch of src at commit would
// reserve it, as if that branch's maker had stopped right after.
func reserveKey(e *env, key, src string, commit uint64, blockSize int64) {
	rec := &format.Record{N: 1, Token: 1, BlockSize: blockSize, Unit: blockSize, Time: time.Now(), Writer: "test",
		Made: format.Made{By: format.Reserved, Commit: commit, Key: src}}
	e.writeObject(format.RecordName(key, 1), rec.Encode())
}

// TestMergeManyPages: a merge of rows spread over many blocks brings every
// one of them (the blocks are compared in parallel, and finish in any
// order), and its record passes integrity_check with the source's own
// change beside them.
func TestMergeManyPages(t *testing.T) {
	ctx := context.Background()
	for try := range 3 {
		e := branchedEnv(t, "b.db")
		mustExec(t, e.open("b.db"), "UPDATE t SET v = 'b' WHERE id IN (10, 700, 1500, 2200, 2900)")
		if try > 0 {
			mustExec(t, e.open("src.db"), "UPDATE t SET v = 's' WHERE id = 1200")
		}
		if _, err := e.newVFS(nil).Merge(ctx, "b.db", "src.db"); err != nil {
			t.Fatal(err)
		}
		db := openDB(t, e.register(e.newVFS(nil)), "src.db")
		integrityOK(t, db)
		if got := queryInt(t, db, "SELECT count(*) FROM t WHERE v = 'b'"); got != 5 {
			t.Fatalf("try %d: %d of the branch's 5 rows merged", try, got)
		}
	}
}

// TestMergeFreedPages: the branch frees pages (a DELETE of a range, a
// REINDEX) that the source writes (an insert into the index): SQLite does
// not write the pages it frees, so the page lists alone miss the clash.
// Each merge is refused, or passes integrity_check.
func TestMergeFreedPages(t *testing.T) {
	ctx := context.Background()
	type mergeCase struct{ name, branch, source string }
	cases := []mergeCase{{"reindex", "REINDEX iv", "INSERT INTO t VALUES (100000, '02500')"}}
	for _, k := range []int{1050, 1150, 1250, 1300, 1350, 1450, 1550} {
		// A short value of v sorts right before row k's, in an index leaf
		// the branch freed, and fits there: the source writes that page
		// and nothing else of the index, nor page 1.
		cases = append(cases, mergeCase{fmt.Sprintf("delete, insert at %d", k), "DELETE FROM t WHERE id BETWEEN 1000 AND 1600",
			fmt.Sprintf("INSERT INTO t VALUES (100000, '%05d')", k)})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
			src := e.open("src.db")
			mustExec(t, src, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
			mustExec(t, src, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 3000) INSERT INTO t SELECT i, printf('%05d', i) || printf('%0100d', 0) FROM c")
			mustExec(t, src, "CREATE INDEX iv ON t(v)")
			if _, err := e.vfs.Branch(ctx, "src.db", 0, "b.db"); err != nil {
				t.Fatal(err)
			}
			mustExec(t, e.open("b.db"), c.branch)
			mustExec(t, e.open("src.db"), c.source)
			_, err := e.newVFS(nil).Merge(ctx, "b.db", "src.db")
			if err != nil {
				if !errors.Is(err, s3vfs.ErrMergeConflict) {
					t.Fatal(err)
				}
				t.Logf("refused: %v", err)
				return
			}
			integrityOK(t, openDB(t, e.register(e.newVFS(nil)), "src.db"))
		})
	}
}

// TestMergeNewTablesAndIndexes: schema changes that build nothing from
// rows the other side changed merge: a new table with a UNIQUE constraint,
// an index on a table the other side did not touch.
func TestMergeNewTablesAndIndexes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	fillBranchRows(t, e, "src.db", 3000)
	mustExec(t, e.open("src.db"), "CREATE TABLE other(k INTEGER PRIMARY KEY, w TEXT)")
	mustExec(t, e.open("src.db"), "INSERT INTO other VALUES (1, 'a')")
	if _, err := e.vfs.Branch(ctx, "src.db", 0, "b.db"); err != nil {
		t.Fatal(err)
	}
	b := e.open("b.db")
	mustExec(t, b, "CREATE TABLE u(x TEXT UNIQUE)")
	mustExec(t, b, "INSERT INTO u VALUES ('one')")
	mustExec(t, b, "CREATE INDEX ow ON other(w)")
	mustExec(t, e.open("src.db"), "UPDATE t SET v = 'source' WHERE id = 2990")
	if _, err := e.newVFS(nil).Merge(ctx, "b.db", "src.db"); err != nil {
		t.Fatalf("a merge of new tables and an index on an untouched table: %v", err)
	}
	db := openDB(t, e.register(e.newVFS(nil)), "src.db")
	integrityOK(t, db)
	if got := queryInt(t, db, "SELECT count(*) FROM u"); got != 1 {
		t.Fatalf("the merged table u has %d rows", got)
	}
}

// TestRemovedVersionsGone: after a removal no version of the removed
// database can be read, restored or branched, by commit or by time, even
// one whose pages its records carried.
func TestRemovedVersionsGone(t *testing.T) {
	for _, coordinated := range []bool{false, true} {
		t.Run(fmt.Sprintf("coordinated=%v", coordinated), func(t *testing.T) {
			e := newEnv(t, nil)
			if coordinated {
				e = newCoordinatedEnv(t, nil)
			}
			checkRemovedVersionsGone(t, e)
		})
	}
}

func checkRemovedVersionsGone(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open("x.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES ('secret')") // commit 2, its page in its record
	at := time.Now()
	db.Close()
	if err := e.vfs.Remove(ctx, "x.db"); err != nil {
		t.Fatal(err)
	}
	v := e.newVFS(nil)
	for _, param := range []string{"commit=2", "asof=" + at.UTC().Format(time.RFC3339Nano)} {
		old := openDB(t, e.register(v), "x.db", param)
		var x string
		if err := old.QueryRow("SELECT x FROM t").Scan(&x); err == nil {
			t.Fatalf("%s of the removed database reads %q", param, x)
		}
	}
	if _, err := v.Restore(ctx, "x.db", 2); err == nil {
		t.Fatal("a version of the removed database was restored")
	}
	if _, err := v.Branch(ctx, "x.db", 2, "y.db"); err == nil {
		t.Fatal("a version of the removed database was branched")
	}
	for _, key := range e.keys("x.db") {
		if data := e.readObject(key); bytes.Contains(data, []byte("secret")) {
			t.Fatalf("%s still holds the removed database's bytes", key)
		}
	}
	log := s3vfs.CommitLogForTest(e.vfs)
	for n := uint64(1); n <= 3; n++ {
		if data, err := log.Get(ctx, "x.db", n); err == nil && bytes.Contains(data, []byte("secret")) {
			t.Fatalf("record %d still holds the removed database's bytes", n)
		}
	}
}

// TestRemoveTwiceThenNewDatabase: the remover, whose connection stays
// open, removes twice; another process makes a new database at the key;
// the remover's next write does not hide it.
func TestRemoveTwiceThenNewDatabase(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	db := e.open("x.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	for range 2 {
		if err := e.vfs.Remove(ctx, "x.db"); err != nil {
			t.Fatal(err)
		}
	}
	other := openDB(t, e.register(e.newVFS(nil)), "x.db")
	mustExec(t, other, "CREATE TABLE u(y)")
	mustExec(t, other, "INSERT INTO u VALUES (1)")
	db.Exec("CREATE TABLE IF NOT EXISTS t(x)") // refused or landing on top: either way u stays
	fresh := openDB(t, e.register(e.newVFS(nil)), "x.db")
	if got := queryInt(t, fresh, "SELECT count(*) FROM u"); got != 1 {
		t.Fatalf("the new database reads %d rows of u", got)
	}
}

// TestRemoveRacesDeserialize: a Deserialize whose record lands after a
// removal deleted the blocks it had uploaded is not published with them.
func TestRemoveRacesDeserialize(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "x.db", 10)
	fillBranchRows(t, e, "other.db", 50)
	r := e.vfs.SerializeReader(ctx, "other.db")
	file, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	d := vfsWithHook(t, e, "x.db", func() {
		if err := e.newVFS(nil).Remove(ctx, "x.db"); err != nil {
			t.Errorf("remove: %v", err)
		}
	})
	if err := d.Deserialize(ctx, "x.db", bytes.NewReader(file)); err == nil {
		if got := rowState(t, e, "x.db"); got != "50 rows, sum 1275" {
			t.Fatalf("the deserialized database reads %s", got)
		}
	}
}

// vfsWithHook returns a VFS on e's bucket, as another process's, that
// runs interlope once, right before its first PUT of a record of the
// database at key reaches the store: another process's step taken at
// the worst moment.
func vfsWithHook(t *testing.T, e *env, key string, interlope func()) *s3vfs.VFS {
	t.Helper()
	proxy, err := s3proxy.New(server.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	var once sync.Once
	proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind == s3proxy.PUT && strings.HasPrefix(req.Key, key+"/_commits/") {
			once.Do(interlope)
		}
		return false
	})
	v, err := s3vfs.New(server.Client(proxy.URL), e.bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBranchCreateAnswerLost: the branch's first record lands but a fault
// loses the answer; the client tries again and is refused as existing.
// The branch reads the record back, finds it its own, and is made (the
// same holds for the record that reserves the key).
func TestBranchCreateAnswerLost(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fillBranchRows(t, e, "src.db", 10)
	var mu sync.Mutex
	lostKeys := map[string]bool{} // the creates whose answer was lost: each record once, its retry passes
	lost := func() int { mu.Lock(); defer mu.Unlock(); return len(lostKeys) }
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind != s3proxy.PUT || !strings.HasPrefix(req.Key, "b.db/_commits/") {
			return false
		}
		mu.Lock()
		first := !lostKeys[req.Key]
		lostKeys[req.Key] = true
		mu.Unlock()
		if !first {
			return false
		}
		return landAnswerLost(t, e, w, r, req)
	})
	n, err := e.vfs.Branch(ctx, "src.db", 0, "b.db")
	e.proxy.SetHook(nil)
	if err != nil {
		t.Fatalf("branch whose creates lost their answers: %v", err)
	}
	if lost() != 2 {
		t.Fatalf("%d answers lost, want 2 (the reservation's and the branch record's): the test tests nothing", lost())
	}
	if got := queryInt(t, openDB(t, e.register(e.newVFS(nil)), "b.db"), "SELECT count(*) FROM t"); got != 10 {
		t.Fatalf("the branch (first commit %d) has %d rows, want 10", n, got)
	}
}

// TestMergeWritesCheckpoint: a merge that changes nearly every block
// writes a checkpoint (in segments, format version 3), over a head whose
// map is read from segments, and brings every row; the source then
// passes integrity_check from a new process.
func TestMergeWritesCheckpoint(t *testing.T) {
	ctx := context.Background()
	e := branchedEnv(t, "b.db")
	mustExec(t, e.open("b.db"), "UPDATE t SET v = 'b' || v")
	checkpoints := func() int {
		n := 0
		for _, k := range e.keys("src.db") {
			if strings.Contains(k, "/_checkpoints/") && !strings.HasSuffix(k, ".inner") && !strings.Contains(k, "/_checkpoints/gc.") {
				n++
			}
		}
		return n
	}
	before := checkpoints()
	if _, err := e.newVFS(nil).Merge(ctx, "b.db", "src.db"); err != nil {
		t.Fatalf("a merge that writes a checkpoint: %v", err)
	}
	if after := checkpoints(); after <= before {
		t.Fatalf("%d checkpoints after the merge, %d before: want the merge to write one", after, before)
	}
	db := openDB(t, e.register(e.newVFS(nil)), "src.db")
	integrityOK(t, db)
	if got := queryInt(t, db, "SELECT count(*) FROM t WHERE v LIKE 'b%'"); got != 3000 {
		t.Fatalf("%d of the branch's 3000 rows merged", got)
	}
}
