package s3vfs_test

import (
	"strconv"
	"strings"
	"testing"
)

// parseStats parses the name=value pairs of PRAGMA s3vfs_stats.
func parseStats(t *testing.T, s string) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, kv := range strings.Fields(s) {
		k, v, ok := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			t.Fatalf("PRAGMA s3vfs_stats: %q is not name=number in %q", kv, s)
		}
		m[k] = f
	}
	return m
}

func TestPragmaStats(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("pragma/stats.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (randomblob(1000))")

	got := parseStats(t, queryString(t, db, "PRAGMA s3vfs_stats"))
	want := e.vfs.Stats()
	for k, v := range map[string]int64{
		"requests": want.Requests(), "get": want.Gets, "put": want.Puts, "list": want.Lists,
		"delete": want.Deletes, "bytes_sent": want.BytesSent,
		"bytes_received": want.BytesReceived, "cache_hits": want.CacheHits,
		"cache_misses": want.CacheMisses, "commits": want.Commits, "conflicts": want.Conflicts,
		"rebases": want.Rebases,
	} {
		if _, ok := got[k]; !ok {
			t.Errorf("s3vfs_stats lacks %s", k)
		}
		if got[k] != float64(v) {
			t.Errorf("s3vfs_stats %s = %v, Stats says %d", k, got[k], v)
		}
	}
	if got["commits"] != 2 || got["put"] == 0 || got["requests"] != got["get"]+got["put"]+got["list"]+got["delete"] {
		t.Errorf("s3vfs_stats = %v", got)
	}
	if r, ok := got["cache_hit_rate"]; !ok || r < 0 || r > 1 {
		t.Errorf("cache_hit_rate = %v", r)
	}
}

func TestPragmaCommit(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("pragma/commit.db")
	db.SetMaxOpenConns(1)
	if got := queryInt(t, db, "PRAGMA s3vfs_commit"); got != 0 {
		t.Errorf("empty database: commit %d, want 0", got)
	}
	mustExec(t, db, "CREATE TABLE t(x)")
	for i := 1; i <= 3; i++ {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
	}
	if got := queryInt(t, db, "PRAGMA s3vfs_commit"); got != 4 {
		t.Errorf("after 4 commits: commit %d", got)
	}
	// Another process's VFS sees the same number once it reads.
	db2 := openDB(t, e.register(e.newVFS(nil)), "pragma/commit.db")
	if got := queryInt(t, db2, "SELECT count(*) FROM t"); got != 3 {
		t.Fatalf("count %d", got)
	}
	if got := queryInt(t, db2, "PRAGMA s3vfs_commit"); got != 4 {
		t.Errorf("second VFS: commit %d, want 4", got)
	}
	// An unknown s3vfs_ pragma is left to SQLite, which ignores it.
	if _, err := db.Exec("PRAGMA s3vfs_nonsense"); err != nil {
		t.Errorf("unknown pragma: %v", err)
	}
}
