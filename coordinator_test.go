package s3vfs_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/dynamodb"
	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// Configuration (b): a store that ignores conditional creates, with the
// DynamoDB coordinator. The scenario workloads lose nothing.
func TestCoordinatedWorkloads(t *testing.T) {
	t.Run("two processes", func(t *testing.T) {
		runTwoProcessCounter(t, newCoordinatedEnv(t, nil), 100, "")
	})
	t.Run("killed writer", func(t *testing.T) {
		runKilledWriter(t, newCoordinatedEnv(t, nil))
	})
	t.Run("faults", func(t *testing.T) {
		runFaults(t, newCoordinatedEnv, func(name string) bool { return name == "mixed" })
	})
	t.Run("gc under writers", func(t *testing.T) {
		runGCWhileProcesses(t, newCoordinatedEnv)
	})
	t.Run("contention", func(t *testing.T) {
		runContention(t, newCoordinatedEnv(t, &s3vfsOptsSmall))
	})
	t.Run("settings", func(t *testing.T) {
		for _, c := range settingsCases() {
			if strings.Contains(c.name, "spill=true") || strings.Contains(c.name, "sync=FULL") || strings.Contains(c.name, "sync=EXTRA") {
				continue // the conflict path is the same: keep the run short
			}
			t.Run(c.name, func(t *testing.T) { runSettingsCaseIn(t, c, newCoordinatedEnv(t, &s3vfs.Options{BlockSize: 4096})) })
		}
	})
}

// A commit through the coordinator costs the block PUTs and one DynamoDB
// write; no record object is written to the bucket (its marker aside,
// once, at the first commit), and history, time travel and GC work from
// the table.
func TestCoordinatedCommitAndHistory(t *testing.T) {
	e := newCoordinatedEnv(t, &s3vfs.Options{BlockSize: 4096})
	// A VFS whose DynamoDB client counts its operations.
	var mu sync.Mutex
	ops := map[string]int{}
	dc := dynamoServer(t).Client().Options()
	dc.APIOptions = append(dc.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("Count",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				mu.Lock()
				ops[middleware.GetOperationName(ctx)]++
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
	client, _ := coordinated(server.Client(e.proxy.URL), nil, e.table)
	v, err := s3vfs.New(client, e.bucket, &s3vfs.Options{BlockSize: 4096,
		Coordinator: dynamodb.NewCoordinator(awsdynamodb.New(dc), e.table)})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, e.register(v), "coord.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")
	e.proxy.Reset()
	mu.Lock()
	clear(ops)
	mu.Unlock()
	for i := range 5 {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
	}
	// In format version 2 a small commit's pages ride in its record, the
	// table's item: nothing goes to the bucket.
	if puts := e.proxy.Counts()[s3proxy.PUT]; puts != 0 {
		t.Fatalf("5 one-block commits made %d PUTs to the bucket, want none (the pages are in the records)", puts)
	}
	mu.Lock()
	if ops["PutItem"] != 5 || ops["GetItem"] != 5 {
		t.Errorf("5 commits made DynamoDB operations %v, want 5 PutItem (the commits) and 5 GetItem (the freshness checks)", ops)
	}
	mu.Unlock()
	for _, k := range e.keys("coord.db") {
		if strings.Contains(k, "/_commits/") && !strings.HasSuffix(k, "!coordinator") {
			t.Fatalf("record object %s in the bucket", k)
		}
	}
	ctx := context.Background()
	var ns []uint64
	for c, err := range e.vfs.History(ctx, "coord.db") {
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, c.N)
	}
	if len(ns) != 6 || ns[0] != 6 {
		t.Fatalf("history %v, want commits 6..1", ns)
	}
	old := openDB(t, e.name, "coord.db", "commit=3")
	if n := queryInt(t, old, "SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("commit 3 holds %d rows, want 2", n)
	}
	// Records whose pages later versions still overlay stay (format
	// version 2): enough commits that block 0 folds make the older ones
	// garbage.
	for i := 5; i < 40; i++ {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
	}
	time.Sleep(2 * time.Second) // every version but the head older than the retention
	rep, err := e.vfs.GC(ctx, "coord.db", &s3vfs.GCOptions{Retention: time.Second, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Deleted.Records == 0 {
		t.Fatalf("GC with a tiny retention deleted no record: %v", rep)
	}
	if n := queryInt(t, openDB(t, e.register(e.newVFS(nil)), "coord.db"), "SELECT count(*) FROM t"); n != 40 {
		t.Fatalf("after GC: %d rows, want 40", n)
	}
}

// Processes that disagree about the coordinator are refused rather than
// fork the history: the bucket's coordinator refuses a database the
// DynamoDB one keeps, and the DynamoDB one a database kept in the bucket.
func TestCoordinatorMismatchRefused(t *testing.T) {
	e := newCoordinatedEnv(t, nil)
	mustExec(t, e.open("d.db"), "CREATE TABLE t(x)")
	plain, err := s3vfs.New(server.Client(e.proxy.URL), e.bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = openDB(t, e.register(plain), "d.db").Exec("INSERT INTO t VALUES (1)")
	if err == nil || !strings.Contains(err.Error(), "DynamoDB table") {
		t.Fatalf("the bucket's coordinator on a DynamoDB-kept database: %v, want an error naming the table", err)
	}
	mustExec(t, openDB(t, e.register(plain), "b.db"), "CREATE TABLE t(x)")
	_, err = e.open("b.db").Exec("INSERT INTO t VALUES (1)")
	if err == nil || !strings.Contains(err.Error(), "the bucket") {
		t.Fatalf("the DynamoDB coordinator on a bucket-kept database: %v, want an error naming the bucket", err)
	}
	if errors.Is(err, s3vfs.ErrUnsafeStore) {
		t.Fatal("the coordinated VFS failed the store check")
	}
}

// A DynamoDB table that does not exist fails the write with the fix,
// naming the real bucket and table rather than placeholders.
func TestCoordinatorMissingTable(t *testing.T) {
	const table = "s3vfs-no-such-table"
	e := newEnv(t, &s3vfs.Options{Coordinator: dynamodb.NewCoordinator(dynamoServer(t).Client(), table)})
	_, err := e.open("d.db").Exec("CREATE TABLE t(x)")
	want := "s3vfs doctor --dynamodb-table " + table + " --create-table s3://" + e.bucket + ")"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "BUCKET") {
		t.Fatalf("a write with a missing table: %v, want an error that says %q", err, want)
	}
}

// With the coordinator, the store's ignored conditional creates are
// reported but not relied on: writes go ahead.
func TestCoordinatedStoreCheck(t *testing.T) {
	e := newCoordinatedEnv(t, nil)
	r, err := e.vfs.CheckStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Checks) == 0 || r.Checks[0].Name != "conditional create" || r.Checks[0].OK || r.Checks[0].Relied || !r.OK() {
		t.Fatalf("report %+v: want the conditional create failed, not relied on, and the store fit", r)
	}
	mustExec(t, e.open("ok.db"), "CREATE TABLE t(x)")
}
