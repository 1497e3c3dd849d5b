package s3vfs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
)

// dump returns the whole content of table kv, in key order.
func dump(t testing.TB, db *sql.DB) string {
	t.Helper()
	return queryString(t, db, "SELECT coalesce(group_concat(k || '=' || v, ','), '') FROM (SELECT k, v FROM kv ORDER BY k)")
}

// version is what a reference model says the database held at one commit.
type version struct {
	n    uint64
	at   time.Time // a moment after the commit and before the next one
	dump string
}

// buildHistory makes a database with a few dozen commits of random
// inserts, updates and deletes, and returns what each commit held.
func buildHistory(t *testing.T, e *env, key string) []version {
	t.Helper()
	db := e.open(key)
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
	model := map[int]string{}
	rng := rand.New(rand.NewPCG(1, 2))
	var versions []version
	for i := 0; i < 40; i++ {
		switch k := rng.IntN(60); {
		case rng.IntN(4) == 0:
			mustExec(t, db, "DELETE FROM kv WHERE k = ?", k)
			delete(model, k)
		default:
			v := fmt.Sprintf("v%d-%s", i, strings.Repeat("x", rng.IntN(300)))
			mustExec(t, db, "INSERT OR REPLACE INTO kv VALUES (?, ?)", k, v)
			model[k] = v
		}
		n := uint64(queryInt(t, db, "PRAGMA s3vfs_commit"))
		got := dump(t, db)
		if want := modelDump(model); got != want {
			t.Fatalf("commit %d: the live database differs from the model", n)
		}
		versions = append(versions, version{n: n, at: time.Now(), dump: got})
	}
	return versions
}

func modelDump(m map[int]string) string {
	var parts []string
	for k := 0; k < 1000; k++ {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%d=%s", k, v))
		}
	}
	return strings.Join(parts, ",")
}

func TestTimeTravel(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	key := "tt/db.sqlite"
	versions := buildHistory(t, e, key)

	for _, i := range []int{0, 1, 7, 20, 33, len(versions) - 1} {
		want := versions[i]
		db := e.open(key, fmt.Sprintf("commit=%d", want.n))
		if got := dump(t, db); got != want.dump {
			t.Errorf("commit=%d: content differs from the model", want.n)
		}
		if got := uint64(queryInt(t, db, "PRAGMA s3vfs_commit")); got != want.n {
			t.Errorf("commit=%d: reads commit %d", want.n, got)
		}
		integrityOK(t, db)

		at := want.at.UTC().Format(time.RFC3339Nano)
		db2 := e.open(key, "asof="+at)
		if got := uint64(queryInt(t, db2, "PRAGMA s3vfs_commit")); got != want.n {
			t.Errorf("asof=%s: reads commit %d, want %d", at, got, want.n)
		}
		if got := dump(t, db2); got != want.dump {
			t.Errorf("asof=%s: content differs from the model at commit %d", at, want.n)
		}
	}

	// A pinned connection never moves, however the database changes.
	pinned := e.open(key, fmt.Sprintf("commit=%d", versions[5].n))
	pinned.SetMaxOpenConns(1)
	mustExec(t, e.open(key), "INSERT INTO kv VALUES (999, 'later')")
	if got := dump(t, pinned); got != versions[5].dump {
		t.Errorf("pinned connection moved")
	}

	// Writes are refused with an error that says why.
	_, err := pinned.Exec("INSERT INTO kv VALUES (1000, 'no')")
	if err == nil || !errors.Is(err, sqlite3.READONLY) {
		t.Errorf("write to a pinned version: err = %v, want a read-only error", err)
	}
	t.Logf("write to a pinned version: %v", err)

	// Before the first commit, after the last, and nonsense.
	for _, p := range []string{
		"asof=2000-01-01T00:00:00Z",
		fmt.Sprintf("commit=%d", versions[len(versions)-1].n+5),
		"commit=abc",
		"asof=yesterday",
		"commit=1&asof=2000-01-01T00:00:00Z",
	} {
		db := e.open(key, p)
		_, err := db.Exec("SELECT 1 FROM kv")
		if err == nil {
			t.Errorf("%s: opened", p)
		}
		t.Logf("%s: %v", p, err)
	}
	// A time after the newest commit reads the newest.
	db := e.open(key, "asof="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if got := queryInt(t, db, "SELECT count(*) FROM kv WHERE k = 999"); got != 1 {
		t.Errorf("asof in the future does not read the newest commit")
	}
}

func TestSerializeAtAndRestore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096, WriterID: "model-writer"})
	key := "tt/restore.sqlite"
	versions := buildHistory(t, e, key)
	head := versions[len(versions)-1]

	// Export as of a past commit, load it elsewhere, compare.
	old := versions[9]
	var buf bytes.Buffer
	for b, err := range e.vfs.SerializeAt(ctx, key, old.n) {
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
	}
	if err := e.vfs.Deserialize(ctx, "tt/copy.sqlite", &buf); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, e.open("tt/copy.sqlite")); got != old.dump {
		t.Errorf("SerializeAt(%d): content differs from the model", old.n)
	}
	for _, err := range e.vfs.SerializeAt(ctx, key, head.n+1) {
		if !errors.Is(err, s3vfs.ErrNoCommit) {
			t.Errorf("SerializeAt(head+1): err = %v, want ErrNoCommit", err)
		}
	}

	// A connection open on the database sees the restore as a new commit.
	live := e.open(key)
	live.SetMaxOpenConns(1)
	_ = dump(t, live)

	other := e.newVFS(&s3vfs.Options{BlockSize: 4096, WriterID: "restorer"})
	before := e.proxy.Counts()
	n, err := other.Restore(ctx, key, old.n)
	if err != nil {
		t.Fatal(err)
	}
	after := e.proxy.Counts()
	t.Logf("restore to %d: PUT=%d GET=%d LIST=%d", old.n, after["PUT"]-before["PUT"], after["GET"]-before["GET"], after["LIST"]-before["LIST"])
	if n != head.n+1 {
		t.Errorf("Restore returned commit %d, want %d", n, head.n+1)
	}
	if got := dump(t, live); got != old.dump {
		t.Errorf("after restore: content differs from the model at commit %d", old.n)
	}
	integrityOK(t, live)
	// The history is kept: the newest version before the restore is still there.
	if got := dump(t, e.open(key, fmt.Sprintf("commit=%d", head.n))); got != head.dump {
		t.Errorf("commit %d changed after the restore", head.n)
	}
	// And the database goes on.
	mustExec(t, live, "INSERT INTO kv VALUES (5000, 'after restore')")
	integrityOK(t, live)

	// History lists every version, newest first, with who made it.
	var commits []s3vfs.Commit
	for c, err := range e.vfs.History(ctx, key) {
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, c)
	}
	if len(commits) != int(n)+1 {
		t.Fatalf("History listed %d commits, want %d", len(commits), n+1)
	}
	for i, c := range commits {
		if c.N != uint64(len(commits)-i) {
			t.Fatalf("History[%d] is commit %d, want %d", i, c.N, len(commits)-i)
		}
		if i > 0 && c.Time.After(commits[i-1].Time) {
			t.Errorf("commit %d is later than commit %d", c.N, commits[i-1].N)
		}
		if c.Size == 0 || c.Size%4096 != 0 {
			t.Errorf("commit %d: size %d", c.N, c.Size)
		}
	}
	if c := commits[1]; c.N != n || c.Writer != "restorer" || !c.Checkpoint {
		t.Errorf("restore commit listed as %+v", c)
	}
	if c := commits[0]; c.Writer != "model-writer" || c.BlocksChanged == 0 {
		t.Errorf("last commit listed as %+v", c)
	}
	for _, c := range commits[:3] {
		t.Logf("%+v", c)
	}
}
