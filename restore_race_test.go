package s3vfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// Restore and Deserialize race another process that commits back to back:
// they back off and try again until they land, within a deadline, instead
// of giving up after a fixed number of lost races, and what they publish
// is exactly what they were asked to.
//
// Left alone, this writer rarely beats a restore a dozen times in a row
// on a local server (it did 3 times in 10 on a slower one); to make the
// old fixed count of 11 tries fail every time, a hook holds the
// restorer's record PUT until the writer has committed twice more, for
// the first 11 tries of the first Restore and of the Deserialize.
func TestRestoreRacingWriter(t *testing.T) {
	ctx := context.Background()
	opts := &s3vfs.Options{BlockSize: 4096}
	e := newEnv(t, opts)
	key := "race/restore.db"
	db := e.open(key)
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "CREATE TABLE c(n INTEGER)")
	mustExec(t, db, "INSERT INTO c VALUES (0)")

	// Two versions of kv, spread over several blocks.
	var targets []version
	for i, fill := range []string{"a", "b"} {
		mustExec(t, db, `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 60)
			INSERT OR REPLACE INTO kv SELECT i, ? || i || printf('%.*c', 150 + ? * 40, 'x') FROM s`, fill, i)
		targets = append(targets, version{n: uint64(queryInt(t, db, "PRAGMA s3vfs_commit")), dump: dump(t, db)})
	}
	if targets[0].dump == targets[1].dump {
		t.Fatal("the two versions are equal")
	}
	var image bytes.Buffer // the database at targets[0], for Deserialize
	for b, err := range e.vfs.SerializeAt(ctx, key, targets[0].n) {
		if err != nil {
			t.Fatal(err)
		}
		image.Write(b)
	}
	db.Close()

	// Another process commits back to back: one block per autocommit UPDATE.
	writer := openDB(t, e.register(e.newVFS(opts)), key)
	writer.SetMaxOpenConns(1)
	var stop atomic.Bool
	var commits, busy atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			_, err := writer.Exec("UPDATE c SET n = n + 1")
			switch {
			case err == nil:
				commits.Add(1)
				// A few milliseconds between commits at most: on a busy
				// machine a writer that never pauses can outpace every try
				// of a restore, which is starvation, not what is tested.
				time.Sleep(time.Duration(rand.IntN(8)) * time.Millisecond)
			case errors.Is(err, sqlite3.BUSY):
				busy.Add(1) // lost to a restore: try again
			default:
				t.Errorf("writer: %v", err)
				return
			}
		}
	}()
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	// The restorer talks through a proxy of its own, whose hook makes it
	// lose its next `forced` races for sure.
	proxy, err := s3proxy.New(server.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var forced atomic.Int64
	proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind != s3proxy.PUT || !strings.Contains(req.Key, "/_commits/") || !takeOne(&forced) {
			return false
		}
		// The writer's commit in flight may be the head the restorer saw;
		// the one after it is not.
		for c0, start := commits.Load(), time.Now(); commits.Load() < c0+2; time.Sleep(time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Error("the writer stopped committing")
				break
			}
		}
		return false
	})
	restorer, err := s3vfs.New(server.Client(proxy.URL), e.bucket, &s3vfs.Options{BlockSize: 4096, WriterID: "restorer"})
	if err != nil {
		t.Fatal(err)
	}

	// check reads commit n as it was published and compares it with want.
	check := func(what string, n uint64, want version) {
		t.Helper()
		at := openDB(t, e.name, key, fmt.Sprintf("commit=%d", n))
		defer at.Close()
		if got := dump(t, at); got != want.dump {
			t.Fatalf("%s: commit %d differs from commit %d", what, n, want.n)
		}
		if got := queryInt(t, at, "SELECT n FROM c"); got != 0 {
			t.Fatalf("%s: commit %d has counter %d, want the target's 0", what, n, got)
		}
		integrityOK(t, at)
	}

	const restores, forcedLosses = 8, 11 // the old limit was 11 tries
	for i := range restores {
		target := targets[i%2]
		if i == 0 {
			forced.Store(forcedLosses)
		}
		lost := restorer.Stats().Conflicts
		start := time.Now()
		n, err := restorer.Restore(ctx, key, target.n)
		lost = restorer.Stats().Conflicts - lost
		if err != nil {
			t.Fatalf("restore %d to commit %d, after %d lost races: %v", i, target.n, lost, err)
		}
		t.Logf("restore %d: commit %d after %d lost races in %v", i, n, lost, time.Since(start).Round(time.Millisecond))
		if i == 0 && lost < forcedLosses {
			t.Errorf("restore %d lost %d races, want at least the %d forced", i, lost, forcedLosses)
		}
		check(fmt.Sprintf("restore %d", i), n, target)
	}

	// Deserialize retries the same way.
	forced.Store(forcedLosses)
	lost := restorer.Stats().Conflicts
	if err := restorer.Deserialize(ctx, key, bytes.NewReader(image.Bytes())); err != nil {
		t.Fatalf("deserialize after %d lost races: %v", restorer.Stats().Conflicts-lost, err)
	}
	if lost = restorer.Stats().Conflicts - lost; lost < forcedLosses {
		t.Errorf("deserialize lost %d races, want at least the %d forced", lost, forcedLosses)
	}
	var published uint64 // the newest commit of the restorer: the deserialize's
	for c, err := range restorer.History(ctx, key) {
		if err != nil {
			t.Fatal(err)
		}
		if c.Writer == "restorer" {
			published = c.N
			break
		}
	}
	check("deserialize", published, targets[0])

	// A restore that cannot land gives up by the context's deadline.
	forced.Store(1 << 40)
	tctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	start := time.Now()
	_, err = restorer.Restore(tctx, key, targets[1].n)
	cancel()
	forced.Store(0)
	switch {
	case err != nil && strings.Contains(err.Error(), "lost the commit race"):
		t.Logf("a restore that always loses: %v", err)
	case errors.Is(err, context.DeadlineExceeded):
		// Its last try outlasted the one before it and met the deadline.
		t.Logf("a restore that always loses: %v", err)
	default:
		t.Errorf("a restore that always loses: got %v, want the lost race named", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a restore that always loses took %v with a 1.5s deadline", d)
	}

	stop.Store(true)
	wg.Wait()
	t.Logf("the writer made %d commits and lost %d", commits.Load(), busy.Load())
}

// takeOne decrements n if it is positive, and reports whether it did.
func takeOne(n *atomic.Int64) bool {
	for {
		v := n.Load()
		if v <= 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}
