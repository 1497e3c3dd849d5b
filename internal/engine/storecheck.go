package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/s3vfs/s3vfs/internal/cache"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// The commit protocol stands on promises of the store (docs/reliability.md,
// "Failure model"), above all that a conditional create (PutObject with
// If-None-Match: *) of an existing object fails. A store that ignores the
// condition lets two writers both create record N+1: the second silently
// replaces the first, and an acknowledged commit is lost. So before its
// first write to a bucket, a VFS tests the store, once, with a few
// requests under a reserved prefix that no database can own, and refuses
// to write (reads still work) if a promise is broken.

// ErrUnsafeStore reports a store that fails the self-test of
// the root's VFS.CheckStore: writing to it could lose acknowledged commits, so
// s3vfs refuses to. The error names what the store did and the fix.
var ErrUnsafeStore = errors.New("s3vfs: the store does not keep a promise the commit protocol relies on")

// storeCheckPrefix is the folder of the self-test's objects when it tests
// a bucket without a database in view (s3vfs doctor). No database key may
// start with its first segment (format.ReservedRoot). Before a write, the
// self-test runs under the database's own prefix instead
// (format.StoreCheckDir), so that nothing is written outside it.
const storeCheckPrefix = format.ReservedRoot + "/storecheck/"

// SelfTestKept is the object a self-test before a write keeps under the
// database's self-test folder, K/_storecheck/: the existing object its
// conditional create is tried on. A few dozen bytes, never read by the
// database.
const SelfTestKept = "exists"

// UnsafeStoreError returns nil if the store kept every promise of r the
// VFS relies on, else an error matching [ErrUnsafeStore] that names each
// broken promise, the consequence and the fix.
func UnsafeStoreError(r store.Report) error {
	var broken []string
	for _, c := range r.Checks {
		if !c.OK && c.Relied {
			broken = append(broken, fmt.Sprintf("%s: %s; %s", c.Name, c.Found, c.Fix))
		}
	}
	if len(broken) == 0 {
		return nil
	}
	return fmt.Errorf("%w: bucket %s: %s. Writing there could lose acknowledged commits, so s3vfs refuses to write (reads work); "+
		"docs/compatibility.md lists the stores and what to do", ErrUnsafeStore, r.Bucket, strings.Join(broken, "; "))
}

// CheckStore tests the VFS's bucket for the promises the commit protocol
// relies on: a conditional create of an existing object is refused (412,
// or 409 while a race is in progress), an object reads back as written
// right after its create, and a listing returns keys in order. The first
// call costs eight requests in three rounds (four PUTs, two GETs, a LIST,
// then a DELETE) under the reserved prefix "_s3vfs/storecheck/", cleaned
// up after; the result is kept, and later calls cost nothing. A VFS runs
// the same test before its first write (unless
// Config.SkipStoreCheck is set), under the database's own folder
// K/_storecheck/, and refuses to write to a store that fails it. The error
// is for a self-test that could not run (no bucket, no permission, the
// network); the verdict is in the report.
func (e *Env) CheckStore(ctx context.Context) (store.Report, error) {
	dir := storeCheckPrefix + format.TokenString(NewToken())
	names := selfTestFolder(dir, dir+"."+SelfTestKept)
	names.RemoveKept = true
	run := e.storeCheckFor(names, nil)
	r, err := e.awaitStoreCheck(ctx, run)
	if err == nil {
		run.settled(ctx)
	}
	return r, err
}

// storeCheckState is the self-test of one VFS's bucket: its verdict once
// known, and the run that decides it.
type storeCheckState struct {
	mu     sync.Mutex
	report *store.Report  // the verdict; guarded by mu
	run    *storeCheckRun // the latest run, nil after one that could not finish; guarded by mu
}

// storeCheckRun is one self-test, run in the background.
type storeCheckRun struct {
	done    chan struct{} // closed once report and err are set
	report  store.Report
	err     error
	cleaned chan struct{} // closed once the objects it wrote (but a kept one) are removed
}

// selfTestFolder names the objects of a self-test in the new folder dir,
// with kept as its existing object.
func selfTestFolder(dir, kept string) store.SelfTestNames {
	return store.SelfTestNames{Dir: dir + "/", First: dir + "/1", Zero: dir + "/0", Kept: kept,
		Token: format.TokenString(NewToken())}
}

// startStoreCheck starts the self-test that the first write to the
// database at key waits for, in the background: a write transaction
// starts it when it takes the write lock, so that the test overlaps the
// transaction. disk is the database's disk cache, which may hold a
// verdict; exists says the database has a commit. It does nothing when
// the check is off or a verdict is known, and for a new database, whose
// commit runs the test itself (RequireSafeStore says why).
func (e *Env) startStoreCheck(key string, disk *cache.Disk, exists bool) {
	if exists && !e.Cfg.SkipStoreCheck {
		e.storeCheckFor(e.writeSelfTest(key, exists), disk)
	}
}

// writeSelfTest names the objects of a self-test before a write to the
// database at key: a new folder under its K/_storecheck/, and the object
// kept there for later self-tests if the database exists (a write to a
// key that holds none may be refused, and must then leave nothing).
func (e *Env) writeSelfTest(key string, exists bool) store.SelfTestNames {
	root := key + "/" + format.StoreCheckDir + "/"
	names := selfTestFolder(root+format.TokenString(NewToken()), root+SelfTestKept)
	names.RemoveKept = !exists
	return names
}

// RequireSafeStore returns nil if the VFS may write the database at key
// to its bucket: the store passed the self-test (run under the
// database's own folder, the first time, unless a verdict younger than
// storeVerdictTTL is in disk), or the check is turned off. exists says
// the database has a commit (writeSelfTest).
func (e *Env) RequireSafeStore(ctx context.Context, key string, disk *cache.Disk, exists bool) error {
	if e.Cfg.SkipStoreCheck {
		return nil
	}
	run := e.storeCheckFor(e.writeSelfTest(key, exists), disk)
	r, err := e.awaitStoreCheck(ctx, run)
	if err != nil {
		return fmt.Errorf("s3vfs: checking the store before the first write: %w", err)
	}
	if !exists {
		// A new database's folder holds nothing but the self-test's
		// objects. On a store with directories (versitygw's posix
		// backend) their removal removes the folder, and a PUT into it
		// racing that fails (409 ExistingObjectIsDirectory): the writes
		// wait for the cleanup.
		run.settled(ctx)
	}
	return UnsafeStoreError(r)
}

// storeCheckFor returns the run that decides the verdict on the store:
// nil if it is known (in memory, or a passed self-test in disk), else the
// run under way, else a new one started on names.
func (e *Env) storeCheckFor(names store.SelfTestNames, disk *cache.Disk) *storeCheckRun {
	c := &e.storeCheck
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.report != nil:
		return nil
	case c.run != nil:
		return c.run
	case PassedOnDisk(&e.Store, disk):
		r := e.relied(passedReport(e.Store.Bucket))
		c.report = &r
		return nil
	}
	run := &storeCheckRun{done: make(chan struct{}), cleaned: make(chan struct{})}
	c.run = run
	go e.runStoreCheck(run, names, disk)
	return run
}

// runStoreCheck runs the self-test of run on names, settles the verdict
// (kept in disk, if it passed), then removes what it wrote.
func (e *Env) runStoreCheck(run *storeCheckRun, names store.SelfTestNames, disk *cache.Disk) {
	ctx := context.Background() // the store bounds each request
	sr, err := e.Store.SelfTest(ctx, names)
	r := sr
	c := &e.storeCheck
	c.mu.Lock()
	if err == nil {
		r = e.relied(r)
		c.report = &r
	} else {
		c.run = nil // the next write tries again
	}
	run.report, run.err = r, err
	c.mu.Unlock()
	close(run.done)
	if err == nil && passedAll(r) {
		KeepPassed(&e.Store, disk)
	}
	// Best effort: a leftover is two tiny objects under the reserved folder.
	_ = e.Store.Remove(ctx, names.Removable())
	close(run.cleaned)
}

// awaitStoreCheck waits for run's verdict, or returns the known one when
// run is nil.
func (e *Env) awaitStoreCheck(ctx context.Context, run *storeCheckRun) (store.Report, error) {
	if run == nil {
		e.storeCheck.mu.Lock()
		defer e.storeCheck.mu.Unlock()
		return *e.storeCheck.report, nil
	}
	select {
	case <-run.done:
		return run.report, run.err
	case <-ctx.Done():
		return store.Report{}, ctx.Err()
	}
}

// StoreCheckSettled waits (at most until ctx is done) for the latest
// self-test to remove its objects: the first write returns only after
// that, so that a process that exits right after it leaves nothing
// behind. The removal was sent with the verdict, so it overlaps the
// write's own requests.
func (e *Env) StoreCheckSettled(ctx context.Context) {
	e.storeCheck.mu.Lock()
	run := e.storeCheck.run
	e.storeCheck.mu.Unlock()
	run.settled(ctx)
}

// settled waits (at most until ctx is done) for run, if any, to remove
// its objects.
func (run *storeCheckRun) settled(ctx context.Context) {
	if run == nil {
		return
	}
	select {
	case <-run.cleaned:
	case <-ctx.Done():
	}
}

// relied marks which checks of r the VFS relies on: with a coordinator
// outside the bucket, the bucket's conditional creates and listing order
// are not; read-after-write is.
func (e *Env) relied(r store.Report) store.Report {
	inBucket := !e.Cfg.Coordinated
	for i, c := range r.Checks {
		r.Checks[i].Relied = inBucket || c.Name == "read after write"
	}
	return r
}

// passedAll reports whether the store kept every promise, relied on or
// not: only such a verdict is kept in disk.
func passedAll(r store.Report) bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Checks) > 0
}

// passedReport is the report of a self-test of bucket that every check
// passed.
func passedReport(bucket string) store.Report {
	r := store.Report{Bucket: bucket}
	for _, name := range []string{"conditional create", "read after write", "list order"} {
		r.Checks = append(r.Checks, store.Check{Name: name, OK: true})
	}
	return r
}
