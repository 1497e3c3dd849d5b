package s3vfs

import (
	"context"

	"github.com/s3vfs/s3vfs/internal/engine"
	"github.com/s3vfs/s3vfs/internal/store"
)

// ErrUnsafeStore reports a store that fails the self-test of
// [VFS.CheckStore]: writing to it could lose acknowledged commits, so
// s3vfs refuses to. The error names what the store did and the fix.
var ErrUnsafeStore = engine.ErrUnsafeStore

// StoreReport is what the self-test of a bucket found.
type StoreReport struct {
	Bucket string
	Checks []StoreCheck // in the order they ran
}

// StoreCheck is one promise of the store and whether the store kept it.
type StoreCheck struct {
	Name  string // what is promised, such as "conditional create"
	OK    bool
	Found string // what the store did
	Fix   string // what to do about it; empty when OK

	// Relied is whether the VFS relies on the promise: with a coordinator
	// outside the bucket ([Options.Coordinator]), the bucket's conditional
	// creates and listing order are not.
	Relied bool
}

// OK reports whether the store kept every promise the VFS relies on.
func (r StoreReport) OK() bool {
	for _, c := range r.Checks {
		if !c.OK && c.Relied {
			return false
		}
	}
	return true
}

// Err returns nil if the store kept every promise, else an error matching
// [ErrUnsafeStore] that names each broken promise, the consequence and the
// fix.
func (r StoreReport) Err() error { return engine.UnsafeStoreError(r.internal()) }

// CheckStore tests the VFS's bucket for the promises the commit protocol
// relies on: a conditional create of an existing object is refused (412,
// or 409 while a race is in progress), an object reads back as written
// right after its create, and a listing returns keys in order. The first
// call costs eight requests in three rounds (four PUTs, two GETs, a LIST,
// then a DELETE) under the reserved prefix "_s3vfs/storecheck/", cleaned
// up after; the result is kept, and later calls cost nothing. A VFS runs
// the same test before its first write (unless
// [Options.UnsafeSkipStoreCheck] is set), under the database's own folder
// K/_storecheck/, and refuses to write to a store that fails it. The error
// is for a self-test that could not run (no bucket, no permission, the
// network); the verdict is in the report.
func (v *VFS) CheckStore(ctx context.Context) (StoreReport, error) {
	r, err := v.env.CheckStore(ctx)
	return storeReportOf(r), err
}

// storeReportOf is the report r of the store's self-test.
func storeReportOf(r store.Report) StoreReport {
	out := StoreReport{Bucket: r.Bucket}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, StoreCheck(c))
	}
	return out
}

// internal is r as the engine has it.
func (r StoreReport) internal() store.Report {
	out := store.Report{Bucket: r.Bucket}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, store.Check(c))
	}
	return out
}
