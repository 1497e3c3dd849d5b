package s3vfs_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	osexec "os/exec"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
)

func init() {
	childModes["increment"] = childIncrement
	childModes["append"] = childAppend
}

// A reader keeps its snapshot while a writer in the same process commits;
// its next transaction sees the new data.
func TestReaderKeepsSnapshot(t *testing.T) {
	e := newEnv(t, nil)
	db := e.open("snap.db")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")

	ctx := context.Background()
	reader, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	writer, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()

	if _, err := reader.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("reader: %d rows, %v", n, err)
	}
	if _, err := writer.ExecContext(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("reader inside its transaction after a commit: %d rows, %v (want its snapshot: 1)", n, err)
	}
	// A reader whose snapshot is stale cannot publish a write that
	// conflicts with the newer commit: both insert into the last page. In
	// format version 2 the write proceeds and its COMMIT fails (SQLite
	// then ends the transaction); in version 1 the write lock is refused.
	_, err = reader.ExecContext(ctx, "INSERT INTO t VALUES (3)")
	if err == nil {
		_, err = reader.ExecContext(ctx, "COMMIT")
	} else if _, err := reader.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("write on a stale snapshot: %v, want SQLITE_BUSY", err)
	}
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("reader's next transaction: %d rows, %v (want 2)", n, err)
	}
}

// Two processes each run 100 increments of one counter, retrying on
// SQLITE_BUSY: none is lost.
func TestTwoProcessCounter(t *testing.T) {
	runTwoProcessCounter(t, newEnv(t, nil), 100, "")
}

// runTwoProcessCounter has two child processes increment one counter each
// times, with the URI parameters params, and checks that every increment
// landed.
func runTwoProcessCounter(t *testing.T, e *env, each int, params string) {
	db := e.open("counter.db")
	mustExec(t, db, "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER)")
	mustExec(t, db, "INSERT INTO counter VALUES (1, 0)")
	db.Close()

	var cmds []*childProc
	for range 2 {
		cmds = append(cmds, e.startChild("increment", "counter.db", strconv.Itoa(each), params))
	}
	for _, c := range cmds {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	db = openDB(t, e.register(e.newVFS(nil)), "counter.db")
	if got := queryInt(t, db, "SELECT n FROM counter WHERE id = 1"); got != int64(2*each) {
		t.Fatalf("counter = %d, want %d: %d acknowledged increments lost", got, 2*each, int64(2*each)-got)
	}
	integrityOK(t, db)
}

// childIncrement increments the counter ARG times, retrying each
// transaction on SQLITE_BUSY.
func childIncrement() int {
	db, _ := childDB()
	arg, _ := strconv.Atoi(os.Getenv(childArgEnv))
	conflicts := 0
	for i := 0; i < arg; {
		_, err := db.Exec("UPDATE counter SET n = n + 1 WHERE id = 1")
		switch {
		case err == nil:
			i++
		case errors.Is(err, sqlite3.BUSY):
			conflicts++
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		default:
			fmt.Fprintln(os.Stderr, "increment:", err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "increment: %d done, %d conflicts retried\n", arg, conflicts)
	return 0
}

// childDB opens the child's database on a fresh VFS.
func childDB() (*sql.DB, *s3vfs.VFS) {
	srv, bucket, key, _ := childServer()
	client, opts := childCoordinated(srv.Client(""), nil)
	v, err := s3vfs.New(client, bucket, opts)
	if err != nil {
		panic(err)
	}
	vfs.Register("s3child", v)
	dsn := "file:" + key + "?vfs=s3child"
	if p := os.Getenv(childParamsEnv); p != "" {
		dsn += "&" + p
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(1)
	return db, v
}

// A writer killed with SIGKILL at random moments during a stream of
// commits leaves a database at a committed state that holds every commit
// that returned OK.
func TestKilledWriter(t *testing.T) {
	runKilledWriter(t, newEnv(t, nil))
}

// runKilledWriter is TestKilledWriter's workload on e.
func runKilledWriter(t *testing.T, e *env) {
	db := e.open("killed.db")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB)")
	db.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	acked := 0
	for round := range 5 {
		c := e.startChild("append", "killed.db", "")
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
		last := c.lastLine()
		if last != "" {
			n, err := strconv.Atoi(last)
			if err != nil {
				t.Fatalf("child said %q", last)
			}
			acked = max(acked, n)
		}
		v := e.newVFS(nil)
		check := openDB(t, e.register(v), "killed.db")
		integrityOK(t, check)
		// Rows are appended in order: every acknowledged id is there, and
		// no gap (a torn commit) exists.
		count := queryInt(t, check, "SELECT count(*) FROM t")
		maxID := queryInt(t, check, "SELECT coalesce(max(id), 0) FROM t")
		if count != maxID || maxID < int64(acked) {
			t.Fatalf("round %d: %d rows, max id %d, %d acknowledged", round, count, maxID, acked)
		}
		check.Close()
		t.Logf("round %d: %d rows, %d acknowledged", round, count, acked)
	}
	if acked == 0 {
		t.Fatal("the writer never committed")
	}
}

// childAppend appends rows with increasing ids, one commit each, printing
// each id once its COMMIT returned OK.
func childAppend() int {
	db, _ := childDB()
	w := bufio.NewWriter(os.Stdout)
	pad := strings.Repeat("x", 3000)
	for {
		var next int64
		if err := db.QueryRow("SELECT coalesce(max(id), 0) + 1 FROM t").Scan(&next); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			return 1
		}
		if _, err := db.Exec("INSERT INTO t VALUES (?, ?)", next, pad); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			return 1
		}
		fmt.Fprintln(w, next)
		w.Flush()
	}
}

// childProc is a running child process whose stdout lines are collected.
type childProc struct {
	cmd   *osexec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func (e *env) startChild(mode, key, arg string, params ...string) *childProc {
	e.t.Helper()
	cmd := e.childCommand(mode, key, arg, params...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	c := &childProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
	}()
	return c
}

// lastLine waits for the child's output to end and returns its last line.
func (c *childProc) lastLine() string {
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) == 0 {
		return ""
	}
	return c.lines[len(c.lines)-1]
}
