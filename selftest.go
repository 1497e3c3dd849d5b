package s3vfs

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/s3vfs/s3vfs/internal/format"
)

// The self-test of a store (storecheck.go has why and when) sends its
// requests in rounds of parallel requests, each round waiting only for
// what it must observe:
//
//	round 1: create "1"; put "0"; create the kept object (If-None-Match: *)
//	round 2: get "1" (read after write); list the folder (order);
//	         get the kept object (a refused create left it alone)
//
// The conditional create of an existing object is tried on the kept
// object, which a former self-test of the same folder created and left:
// so two rounds tell every promise. The first self-test of a folder
// creates the kept object in round 1, tries again in round 2, and reads
// it back in a third round. [VFS.CheckStore] keeps nothing (its kept
// object is one of the folder's own, removed after), so it always takes
// three rounds.

// selfTestKept is the object a self-test before a write keeps under the
// database's self-test folder, K/_storecheck/: the existing object its
// conditional create is tried on. A few dozen bytes, never read by the
// database.
const selfTestKept = "exists"

// selfTestNames names the objects of one self-test.
type selfTestNames struct {
	dir   string // the folder of this run's objects, listed in round 2
	first string // created, read back, listed second
	zero  string // put after it, listed first
	kept  string // the existing object of the conditional create

	removeKept bool // kept is removed after the test with the others
}

// selfTest runs the checks of CheckStore on the objects names names and
// returns the report; the caller removes them after (all but a kept
// object meant to stay). The error is for a self-test that could not
// run; a store that breaks a promise is a report, not an error.
func (s *store) selfTest(ctx context.Context, names selfTestNames) (StoreReport, error) {
	r := StoreReport{Bucket: s.bucket}
	token := format.TokenString(newToken())

	// Round 1.
	var created, zeroPut, keptTry error
	var wg sync.WaitGroup
	wg.Go(func() { created = s.create(ctx, names.first, []byte("first")) })
	wg.Go(func() { zeroPut = s.put(ctx, names.zero, []byte("0")) })
	// Each create of the kept object carries bytes of its own, so that a
	// refused one can be told from whatever the object holds.
	refused := []byte("s3vfs self-test " + token + "\n")
	keptTry = s.create(ctx, names.kept, refused)
	wg.Wait()
	// A new name found there already means an attempt of this create
	// landed before a transient fault made the client retry it; the read
	// below checks its bytes.
	if created != nil && !errors.Is(created, ErrExists) {
		if errors.Is(created, errNotImplemented) {
			r.Checks = append(r.Checks, StoreCheck{Name: "conditional create", Found: found501, Fix: fix501})
			return r, nil
		}
		return r, created
	}
	if zeroPut != nil {
		return r, zeroPut
	}

	// Round 2, and a round 3 when the kept object was new.
	var got, kept []byte
	var gotErr, keptErr, listErr error
	var listed []string
	wg.Go(func() { got, gotErr = s.get(ctx, names.first) })
	wg.Go(func() {
		listErr = s.list(ctx, names.dir, func(o object) error {
			listed = append(listed, o.Key)
			return nil
		})
	})
	if keptTry == nil { // it was new: try again
		refused = []byte("s3vfs self-test " + token + ", again\n")
		keptTry = s.create(ctx, names.kept, refused)
		wg.Wait()
		if keptTry == nil || errors.Is(keptTry, ErrExists) {
			kept, keptErr = s.get(ctx, names.kept)
		}
	} else {
		wg.Go(func() { kept, keptErr = s.get(ctx, names.kept) })
		wg.Wait()
	}
	for _, err := range []error{listErr, orNotFound(gotErr), orNotFound(keptErr)} {
		if err != nil {
			return r, err
		}
	}

	cond := conditionalCreateCheck(keptTry, keptErr == nil && string(kept) == string(refused))
	if cond == nil {
		return r, keptTry
	}
	raw := StoreCheck{Name: "read after write", OK: gotErr == nil && string(got) == "first"}
	if !raw.OK {
		raw.Found = "an object just created did not read back as written"
		raw.Fix = "use a store with strong read-after-write consistency (docs/compatibility.md)"
	}
	order := StoreCheck{Name: "list order", OK: len(listed) == 2 && listed[0] == names.zero && listed[1] == names.first}
	if !order.OK {
		order.Found = fmt.Sprintf("LIST returned %q for %q and %q created in that order", listed, names.first, names.zero)
		order.Fix = "use a store whose listings are consistent and sorted by key (docs/compatibility.md)"
	}
	r.Checks = append(r.Checks, *cond, raw, order)
	return r, nil
}

// The store's answer to If-None-Match when it has no conditional writes.
const (
	found501 = "the store rejects If-None-Match: * (501 Not Implemented): it has no conditional writes"
	fix501   = "use a store with conditional writes (docs/compatibility.md)"
)

// conditionalCreateCheck judges the conditional create of an existing
// object: its outcome, and whether the object held the refused bytes
// after. It returns nil for an outcome that tells nothing (an error the
// caller returns).
func conditionalCreateCheck(outcome error, replaced bool) *StoreCheck {
	c := StoreCheck{Name: "conditional create"}
	switch {
	case errors.Is(outcome, ErrExists) && replaced:
		c.Found = "a refused conditional create replaced the object anyway"
		c.Fix = fix501
	case errors.Is(outcome, ErrExists):
		c.OK = true
	case outcome == nil:
		c.Found = "a conditional create (If-None-Match: *) of an existing object succeeded: the store ignores the condition"
		c.Fix = "use a store with conditional writes (docs/compatibility.md), or, only if a single process ever writes, set Options.UnsafeSkipStoreCheck"
	case errors.Is(outcome, errNotImplemented):
		c.Found, c.Fix = found501, fix501
	default:
		return nil
	}
	return &c
}

// orNotFound returns err unless it matches ErrNotFound, which a check
// judges.
func orNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
