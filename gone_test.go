package s3vfs_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
	"github.com/s3vfs/s3vfs/internal/s3test"
)

// TestCollectedVersionIsNamed checks every way to read a past version when
// that version was collected by a collection with a shorter retention
// than the reader's (a version-2 record of it may stay, for the pages later
// versions overlay, while its checkpoint and blocks are gone): each fails
// with ErrNoCommit and a message saying it is no longer kept, never with a
// store's "not found".
func TestCollectedVersionIsNamed(t *testing.T) {
	ctx := context.Background()
	opts := &s3vfs.Options{BlockSize: 4096, WriterID: "gone"}
	e := newEnv(t, opts)
	key := "gone/db.sqlite"
	db := e.open(key)
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 400) INSERT INTO kv SELECT i, printf('%0100d', i) FROM c")
	// Small commits that overlay pages of folded blocks, then large ones
	// that fold them again: commit 3's pages stay needed or not, the test
	// checks every old commit.
	for i := range 6 {
		mustExec(t, db, fmt.Sprintf("UPDATE kv SET v = printf('%%0100d', k + %d) WHERE k %% 7 = %d", i, i))
		mustExec(t, db, fmt.Sprintf("UPDATE kv SET v = printf('%%0100d', k * %d)", i+2))
	}
	head := uint64(queryInt(t, db, "PRAGMA s3vfs_commit"))
	time.Sleep(2500 * time.Millisecond)
	rep, err := e.vfs.GC(ctx, key, &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("collected: %v", rep)

	// A reader that keeps versions for the default retention believes the
	// old ones are still kept.
	reader := e.newVFS(&s3vfs.Options{BlockSize: 4096, WriterID: "reader", Retention: time.Hour})
	name := e.register(reader)
	checked := 0
	for n := uint64(1); n < head; n++ {
		checks := map[string]error{}
		_, checks["Restore"] = reader.Restore(ctx, key, n)
		for _, err := range reader.SerializeAt(ctx, key, n) {
			if err != nil {
				checks["SerializeAt"] = err
				break
			}
		}
		old := openDB(t, name, key, fmt.Sprintf("commit=%d", n))
		var count int
		checks["commit=N"] = old.QueryRow("SELECT count(*) FROM kv").Scan(&count)
		old.Close()
		for what, err := range checks {
			switch {
			case err == nil:
				// This version was still readable: nothing to check.
			case errors.Is(err, s3vfs.ErrNoCommit) || errors.Is(err, s3vfs.ErrNoDatabase):
				t.Logf("%s %d: %v", what, n, err)
				checked++
			default:
				t.Errorf("%s of collected commit %d: %v, want ErrNoCommit", what, n, err)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no old version was collected: the test checked nothing")
	}
}

// TestVersionCollectedWhileRead checks the race: a version that is still
// kept when Restore, SerializeAt or a connection opened at commit=N starts
// to read it, and collected before its blocks are read, fails with
// ErrNoCommit, not with a store's "not found".
func TestVersionCollectedWhileRead(t *testing.T) {
	ctx := context.Background()
	const retention = time.Second
	opts := &s3vfs.Options{BlockSize: 4096, Retention: retention, ReadAhead: 1}
	for _, how := range []string{"Restore", "SerializeAt", "commit=N"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, opts)
			key := "gone/race.sqlite"
			db := e.open(key)
			db.SetMaxOpenConns(1)
			mustExec(t, db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
			mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 4000) INSERT INTO kv SELECT i, printf('%0100d', i) FROM c") // 2: folded, over the inline bound
			mustExec(t, db, "UPDATE kv SET v = printf('%0100d', k * 3)")                                                                                        // 3: every block again

			// The reader keeps versions for an hour, so commit 2 is kept
			// for it when it starts.
			reader := e.newVFS(&s3vfs.Options{BlockSize: 4096, Retention: time.Hour, ReadAhead: 1, CacheSize: -1})
			var old *sql.DB
			if how == "commit=N" {
				old = openDB(t, e.register(reader), key, "commit=2")
				old.SetMaxOpenConns(1)
				var n int
				if err := old.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
					t.Fatal(err)
				}
			}
			paused := s3test.PauseFirst(e.proxy, isBlockGet, 4*time.Second)
			done := make(chan error, 1)
			go func() {
				switch how {
				case "Restore":
					_, err := reader.Restore(ctx, key, 2)
					done <- err
				case "SerializeAt":
					for _, err := range reader.SerializeAt(ctx, key, 2) {
						if err != nil {
							done <- err
							return
						}
					}
					done <- nil
				default:
					var sum int
					done <- old.QueryRow("SELECT sum(length(v)) FROM kv").Scan(&sum)
				}
			}()
			<-paused
			time.Sleep(retention + 1500*time.Millisecond) // commit 2 is now outside the collection's retention
			rep, err := e.vfs.GC(ctx, key, &s3vfs.GCOptions{Retention: retention, Grace: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Deleted.Blocks == 0 {
				t.Fatalf("the collection deleted no block: %v", rep)
			}
			err = <-done
			e.proxy.SetHook(nil)
			if !errors.Is(err, s3vfs.ErrNoCommit) || !strings.Contains(err.Error(), "collected while it was read") {
				t.Errorf("%s of a version collected meanwhile: %v, want ErrNoCommit", how, err)
			}
		})
	}
}

// isBlockGet matches the GET of a block object.
func isBlockGet(req s3proxy.Request) bool {
	return req.Kind == s3proxy.GET && strings.Contains(req.Key, "/_blocks/")
}
