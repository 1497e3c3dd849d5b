package s3vfs_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// TestReadAheadStopsAtClose: closing a file cancels the read-ahead
// requests it still has in flight, rather than leaving them to run until
// the request timeout.
func TestReadAheadStopsAtClose(t *testing.T) {
	e := newEnv(t, &s3vfsOptsSmall)
	db := e.open("ra.db")
	mustExec(t, db, "PRAGMA page_size=4096")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t SELECT randomblob(3000) FROM generate_series(1, 20)")
	db.Close()

	// Blocks from stallFrom on hang until the client goes away.
	const stallFrom = 5
	var active, stalled atomic.Int64
	release := make(chan struct{})
	defer close(release)
	e.proxy.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		_, name, ok := strings.Cut(req.Key, "/_blocks/")
		if req.Kind != s3proxy.GET || !ok {
			return false
		}
		idx, err := strconv.Atoi(name[:12])
		if err != nil || idx < stallFrom {
			return false
		}
		stalled.Add(1)
		active.Add(1)
		defer active.Add(-1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	})
	defer e.proxy.SetHook(nil)

	// Another process, whose requests would wait a minute.
	v := e.newVFS(&s3vfs.Options{BlockSize: 4096, ReadAhead: 4, RequestTimeout: time.Minute, AttemptTimeout: time.Minute})
	f, _, err := v.Open("ra.db", vfs.OPEN_MAIN_DB|vfs.OPEN_READONLY)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Lock(vfs.LOCK_SHARED); err != nil {
		t.Fatal(err)
	}
	// Reading blocks 1 to 4 in order opens the read-ahead window past them.
	buf := make([]byte, 4096)
	for idx := int64(1); idx < stallFrom; idx++ {
		if _, err := f.ReadAt(buf, idx*4096); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for active.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no read-ahead request reached the server")
		}
		time.Sleep(5 * time.Millisecond)
	}

	start := time.Now()
	f.Close()
	deadline = time.Now().Add(2 * time.Second)
	for active.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d read-ahead requests still in flight %v after Close", active.Load(), time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%d read-ahead requests stalled; all gone %v after Close", stalled.Load(), time.Since(start).Round(time.Millisecond))
}
