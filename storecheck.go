package s3vfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/s3vfs/s3vfs/internal/format"
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
// [VFS.CheckStore]: writing to it could lose acknowledged commits, so
// s3vfs refuses to. The error names what the store did and the fix.
var ErrUnsafeStore = errors.New("s3vfs: the store does not keep a promise the commit protocol relies on")

// storeCheckPrefix is the folder of the self-test's objects when it tests
// a bucket without a database in view (s3vfs doctor). No database key may
// start with its first segment (format.ReservedRoot). Before a write, the
// self-test runs under the database's own prefix instead
// (format.StoreCheckDir), so that nothing is written outside it.
const storeCheckPrefix = format.ReservedRoot + "/storecheck/"

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
func (r StoreReport) Err() error {
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

// storeCheckState caches the self-test of one VFS's bucket.
type storeCheckState struct {
	mu     sync.Mutex
	report *StoreReport // set once the self-test has run; guarded by mu
}

// CheckStore tests the VFS's bucket for the promises the commit protocol
// relies on: a conditional create of an existing object is refused (412,
// or 409 while a race is in progress), an object reads back as written
// right after its create, and a listing returns keys in order. The first
// call costs seven requests (three PUTs, two GETs, a LIST, a DELETE) under the
// reserved prefix "_s3vfs/storecheck/", cleaned up after; the result is
// kept, and later calls cost nothing. (Before a write the same test runs
// under the database's own reserved folder, K/_storecheck/.) A VFS runs it before its first write
// (unless [Options.UnsafeSkipStoreCheck] is set) and refuses to write to a
// store that fails it. The error is for a self-test that could not run
// (no bucket, no permission, the network); the verdict is in the report.
func (v *VFS) CheckStore(ctx context.Context) (StoreReport, error) {
	return v.checkStoreUnder(ctx, storeCheckPrefix)
}

// checkStoreUnder is CheckStore with the self-test's objects under prefix.
func (v *VFS) checkStoreUnder(ctx context.Context, prefix string) (StoreReport, error) {
	v.storeCheck.mu.Lock()
	defer v.storeCheck.mu.Unlock()
	if r := v.storeCheck.report; r != nil {
		return *r, nil
	}
	r, err := v.store.selfTest(ctx, prefix+format.TokenString(newToken())+"/")
	if err != nil {
		return StoreReport{}, err
	}
	_, inBucket := v.records.(bucketRecords)
	for i, c := range r.Checks {
		// With a coordinator outside the bucket, the bucket's conditional
		// creates and listing order are not relied on; read-after-write is.
		r.Checks[i].Relied = inBucket || c.Name == "read after write"
	}
	v.storeCheck.report = &r
	return r, nil
}

// requireSafeStore returns nil if the VFS may write the database at key
// to its bucket: the store passed the self-test (run under the database's
// own prefix, the first time), or the check is turned off.
func (v *VFS) requireSafeStore(ctx context.Context, key string) error {
	if v.opts.UnsafeSkipStoreCheck {
		return nil
	}
	r, err := v.checkStoreUnder(ctx, key+"/"+format.StoreCheckDir+"/")
	if err != nil {
		return fmt.Errorf("s3vfs: checking the store before the first write: %w", err)
	}
	return r.Err()
}

// selfTest runs the checks of CheckStore under prefix and removes what it
// wrote.
func (s *store) selfTest(ctx context.Context, prefix string) (StoreReport, error) {
	r := StoreReport{Bucket: s.bucket}
	first, second := prefix+"1", prefix+"0"
	defer func() {
		// Best effort: a leftover is two tiny objects under the reserved prefix.
		_ = s.remove(context.WithoutCancel(ctx), []string{first, second})
	}()

	// A conditional create of a new object succeeds, and reads back. The
	// name is new (a random token): finding it there already means an
	// attempt of this create landed before a transient fault made the
	// client retry it, and the read below checks its bytes.
	if err := s.create(ctx, first, []byte("first")); err != nil && !errors.Is(err, ErrExists) {
		if errors.Is(err, errNotImplemented) {
			r.Checks = append(r.Checks, StoreCheck{Name: "conditional create",
				Found: "the store rejects If-None-Match: * (501 Not Implemented): it has no conditional writes",
				Fix:   "use a store with conditional writes (docs/compatibility.md)"})
			return r, nil
		}
		return r, err
	}
	got, err := s.get(ctx, first)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return r, err
	}
	raw := StoreCheck{Name: "read after write", OK: err == nil && string(got) == "first"}
	if !raw.OK {
		raw.Found = "an object just created did not read back as written"
		raw.Fix = "use a store with strong read-after-write consistency (docs/compatibility.md)"
	}

	// A conditional create of the same name must be refused.
	cond := StoreCheck{Name: "conditional create"}
	switch err := s.create(ctx, first, []byte("second")); {
	case errors.Is(err, ErrExists):
		cond.OK = true
	case err == nil:
		cond.Found = "a conditional create (If-None-Match: *) of an existing object succeeded: the store ignores the condition"
		cond.Fix = "use a store with conditional writes (docs/compatibility.md), or, only if a single process ever writes, set Options.UnsafeSkipStoreCheck"
	case errors.Is(err, errNotImplemented):
		cond.Found = "the store rejects If-None-Match: * (501 Not Implemented): it has no conditional writes"
		cond.Fix = "use a store with conditional writes (docs/compatibility.md)"
	default:
		return r, err
	}
	r.Checks = append(r.Checks, cond, raw)

	// A listing returns keys in order: the head is the first record listed.
	if err := s.put(ctx, second, []byte("0")); err != nil {
		return r, err
	}
	var listed []string
	if err := s.list(ctx, prefix, func(o object) error {
		listed = append(listed, o.Key)
		return nil
	}); err != nil {
		return r, err
	}
	order := StoreCheck{Name: "list order", OK: len(listed) == 2 && listed[0] == second && listed[1] == first}
	if !order.OK {
		order.Found = fmt.Sprintf("LIST returned %q for %q and %q created in that order", listed, first, second)
		order.Fix = "use a store whose listings are consistent and sorted by key (docs/compatibility.md)"
	}
	r.Checks = append(r.Checks, order)

	// The refused create left the first object as it was.
	if cond.OK {
		if got, err := s.get(ctx, first); err == nil && !bytes.Equal(got, []byte("first")) {
			r.Checks[0].OK = false
			r.Checks[0].Found = "a refused conditional create replaced the object anyway"
			r.Checks[0].Fix = "use a store with conditional writes (docs/compatibility.md)"
		}
	}
	return r, nil
}
