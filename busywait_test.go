package s3vfs_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// TestBusyWaitOnOwnProcess: a connection whose BEGIN IMMEDIATE waits, in
// SQLite's busy handler, for another connection of its process to end its
// write transaction sends no request while it waits but one freshness
// check every two seconds (refusedFor), and then commits.
func TestBusyWaitOnOwnProcess(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("wait.db", busyWait)
	db.SetMaxOpenConns(2)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 0), (2, 0)")
	holder, waiter := conn(t, db), conn(t, db)
	mustExecConn(t, holder, "BEGIN IMMEDIATE")
	mustExecConn(t, holder, "UPDATE t SET n = n + 1 WHERE id = 1")

	var checks atomic.Int64
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		if req.Kind == s3proxy.GET && strings.Contains(req.Key, "/_commits/") {
			checks.Add(1)
		}
		return false
	})
	done := make(chan error, 1)
	go func() {
		_, err := waiter.ExecContext(ctx, "UPDATE t SET n = n + 1 WHERE id = 2")
		done <- err
	}()
	const hold = 3 * time.Second
	time.Sleep(hold)
	waited := checks.Load()
	mustExecConn(t, holder, "COMMIT")
	if err := <-done; err != nil {
		t.Fatalf("the waiter: %v", err)
	}
	e.proxy.SetHook(nil)
	// One check before the first refusal, then one per refusedFor; a
	// check reads up to two records at once. Without the refusal, SQLite's
	// busy handler checks every few milliseconds: over a thousand reads.
	if max := 2 * (int64(hold/(2*time.Second)) + 1); waited > max {
		t.Errorf("the waiter read %d records in %v of waiting on its own process, want at most %d", waited, hold, max)
	}
	if got := connInt(t, holder, "SELECT sum(n) FROM t"); got != 2 {
		t.Errorf("sum %d, want both updates", got)
	}
	t.Logf("record reads while waiting %v: %d", hold, waited)
}
