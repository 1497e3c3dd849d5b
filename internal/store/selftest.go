package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// The self-test of a store (the root's storecheck.go has why and when)
// sends its requests in rounds of parallel requests, each round waiting
// only for what it must observe:
//
//	round 1: create "1"; put "0"; create the kept object (If-None-Match: *)
//	round 2: get "1" (read after write); list the folder (order);
//	         get the kept object (a refused create left it alone)
//
// The conditional create of an existing object is tried on the kept
// object, which a former self-test of the same folder created and left:
// so two rounds tell every promise. The first self-test of a folder
// creates the kept object in round 1, tries again in round 2, and reads
// it back in a third round. The root's VFS.CheckStore keeps nothing (its
// kept object is one of the folder's own, removed after), so it always
// takes three rounds.

// SelfTestNames names the objects of one self-test.
type SelfTestNames struct {
	Dir   string // the folder of this run's objects, listed in round 2
	First string // created, read back, listed second
	Zero  string // put after it, listed first
	Kept  string // the existing object of the conditional create
	Token string // unique to the run: its creates of Kept carry it in their bytes

	RemoveKept bool // Kept is removed after the test with the others (Removable)
}

// Removable returns the names of the objects of a self-test to remove
// after it.
func (n SelfTestNames) Removable() []string {
	if n.RemoveKept {
		return []string{n.First, n.Zero, n.Kept}
	}
	return []string{n.First, n.Zero}
}

// Report is what the self-test of a bucket found. The root converts it
// into its StoreReport, which adds whether the VFS relies on each check.
type Report struct {
	Bucket string
	Checks []Check // in the order they ran
}

// Check is one promise of the store and whether the store kept it.
type Check struct {
	Name  string // what is promised, such as "conditional create"
	OK    bool
	Found string // what the store did
	Fix   string // what to do about it; empty when OK
}

// SelfTest runs the checks of the root's CheckStore (a conditional create
// of an existing object refused, read after write, list order) on the
// objects names names, and returns the report; the caller removes them
// after (names.Removable). The error is for a self-test that could not
// run; a store that breaks a promise is a report, not an error.
func (s *Store) SelfTest(ctx context.Context, names SelfTestNames) (Report, error) {
	r := Report{Bucket: s.Bucket}
	token := names.Token

	// Round 1.
	var created, zeroPut, keptTry error
	var wg sync.WaitGroup
	wg.Go(func() { created = s.Create(ctx, names.First, []byte("first")) })
	wg.Go(func() { zeroPut = s.Put(ctx, names.Zero, []byte("0")) })
	// Each create of the kept object carries bytes of its own, so that a
	// refused one can be told from whatever the object holds.
	refused := []byte("s3vfs self-test " + token + "\n")
	keptTry = s.Create(ctx, names.Kept, refused)
	wg.Wait()
	// A new name found there already means an attempt of this create
	// landed before a transient fault made the client retry it; the read
	// below checks its bytes.
	if created != nil && !errors.Is(created, ErrExists) {
		if errors.Is(created, errNotImplemented) {
			r.Checks = append(r.Checks, Check{Name: "conditional create", Found: found501, Fix: fix501})
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
	wg.Go(func() { got, gotErr = s.Get(ctx, names.First) })
	wg.Go(func() {
		listErr = s.List(ctx, names.Dir, func(o Object) error {
			listed = append(listed, o.Key)
			return nil
		})
	})
	if keptTry == nil { // it was new: try again
		refused = []byte("s3vfs self-test " + token + ", again\n")
		keptTry = s.Create(ctx, names.Kept, refused)
		wg.Wait()
		if keptTry == nil || errors.Is(keptTry, ErrExists) {
			kept, keptErr = s.Get(ctx, names.Kept)
		}
	} else {
		wg.Go(func() { kept, keptErr = s.Get(ctx, names.Kept) })
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
	raw := Check{Name: "read after write", OK: gotErr == nil && string(got) == "first"}
	if !raw.OK {
		raw.Found = "an object just created did not read back as written"
		raw.Fix = "use a store with strong read-after-write consistency (docs/compatibility.md)"
	}
	order := Check{Name: "list order", OK: len(listed) == 2 && listed[0] == names.Zero && listed[1] == names.First}
	if !order.OK {
		order.Found = fmt.Sprintf("LIST returned %q for %q and %q created in that order", listed, names.First, names.Zero)
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
func conditionalCreateCheck(outcome error, replaced bool) *Check {
	c := Check{Name: "conditional create"}
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
