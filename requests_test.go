package s3vfs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// Request counts do not depend on machine speed: these are the costs the
// design promises, in either format.
func TestRequestCounts(t *testing.T) {
	for _, format := range []int{1, 2} {
		t.Run(fmt.Sprintf("format=%d", format), func(t *testing.T) { testRequestCounts(t, format) })
	}
}

func testRequestCounts(t *testing.T, format int) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096, FormatVersion: format})
	db := e.open("counts.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA page_size=4096")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	tx, _ := db.Begin()
	for i := range 2000 {
		tx.Exec("INSERT INTO t VALUES (?, ?)", i, strings.Repeat("v", 100))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	t.Run("warm point query", func(t *testing.T) {
		queryString(t, db, "SELECT v FROM t WHERE id = 1500") // warm the cache
		before := e.vfs.Stats()
		queryString(t, db, "SELECT v FROM t WHERE id = 1500")
		d := e.vfs.Stats().Sub(before)
		if d.Requests() > 1 {
			t.Fatalf("warm point query cost %d requests (%v), want at most 1", d.Requests(), d)
		}
	})

	t.Run("commit of k blocks", func(t *testing.T) {
		// Rows 0, 250, 500, … live on distinct pages (about 38 rows a page):
		// touching k of them dirties k blocks (block = page).
		for _, k := range []int{1, 3, 8} {
			ids := make([]any, k)
			marks := make([]string, k)
			for i := range k {
				ids[i] = i * 250
				marks[i] = "?"
			}
			// Warm every page the update reads.
			queryInt(t, db, "SELECT count(*) FROM t WHERE id IN ("+strings.Join(marks, ",")+")", ids...)
			before := e.vfs.Stats()
			e.proxy.Reset()
			args := append([]any{fmt.Sprint("changed by k=", k)}, ids...)
			mustExec(t, db, "UPDATE t SET v = ? WHERE id IN ("+strings.Join(marks, ",")+")", args...)
			d := e.vfs.Stats().Sub(before)
			// PUTs: in format version 1, k blocks and 1 record; in
			// version 2, the record, which carries the pages; +1 if this
			// commit writes a checkpoint.
			want := int64(k) + 1
			if format == 2 {
				want = 1
			}
			if d.Puts != want && d.Puts != want+1 {
				t.Errorf("k=%d: %d PUTs (%v), want %d", k, d.Puts, d, want)
			}
			if d.Lists != 0 || d.Deletes != 0 {
				t.Errorf("k=%d: unexpected requests on the commit path: %v", k, d)
			}
			if d.Gets > 1 {
				t.Errorf("k=%d: %d GETs, want only the freshness check", k, d.Gets)
			}
			if c := e.proxy.Counts(); int64(c["PUT"]) != d.Puts {
				t.Errorf("proxy saw %d PUTs, Stats %d", c["PUT"], d.Puts)
			}
		}
	})

	t.Run("no LIST on the read or commit path", func(t *testing.T) {
		before := e.vfs.Stats()
		for i := range 20 {
			mustExec(t, db, "UPDATE t SET v = ? WHERE id = ?", fmt.Sprint(i), i)
			queryInt(t, db, "SELECT count(*) FROM t WHERE id < ?", i*50)
		}
		if d := e.vfs.Stats().Sub(before); d.Lists != 0 {
			t.Fatalf("%d LISTs on the read and commit path", d.Lists)
		}
	})

	t.Run("nothing written outside the key", func(t *testing.T) {
		for _, w := range e.proxy.Written() {
			if !strings.HasPrefix(w, e.bucket+"/counts.db/") {
				t.Errorf("wrote %s", w)
			}
		}
	})
}

// TestStatsMatchServer: Stats counts every request the server sees, by
// kind, and prints only the kinds s3vfs sends: no HEAD.
func TestStatsMatchServer(t *testing.T) {
	e := newEnv(t, &s3vfs.Options{BlockSize: 4096})
	db := e.open("stats.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t SELECT randomblob(3000) FROM generate_series(1, 30)")
	mustExec(t, db, "DELETE FROM t WHERE rowid % 2 = 0")
	v2 := e.newVFS(nil) // another process, with a cold cache
	queryInt(t, openDB(t, e.register(v2), "stats.db"), "SELECT count(*) FROM t")
	for _, err := range e.vfs.Serialize(context.Background(), "stats.db") {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.vfs.GC(context.Background(), "stats.db", &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second}); err != nil {
		t.Fatal(err)
	}
	pragma := queryString(t, db, "PRAGMA s3vfs_stats")

	for kind, n := range e.proxy.Counts() {
		if kind == s3proxy.OTHER || kind == s3proxy.HEAD {
			t.Errorf("the server saw %d requests of kind %s", n, kind)
		}
	}
	all, other := e.vfs.Stats(), v2.Stats()
	all.Gets, all.Puts, all.Lists, all.Deletes = all.Gets+other.Gets, all.Puts+other.Puts, all.Lists+other.Lists, all.Deletes+other.Deletes
	if s := e.proxy.Counts(); int64(s[s3proxy.GET]) != all.Gets || int64(s[s3proxy.PUT]) != all.Puts ||
		int64(s[s3proxy.LIST]) != all.Lists || int64(s[s3proxy.DELETE]) != all.Deletes || int64(e.proxy.Total()) != all.Requests() {
		t.Errorf("Stats %v, the server saw %v", all, s)
	}
	for _, out := range []string{all.String(), pragma} {
		if strings.Contains(strings.ToLower(out), "head") {
			t.Errorf("stats print a count of HEAD requests, which s3vfs never sends: %s", out)
		}
	}
}
