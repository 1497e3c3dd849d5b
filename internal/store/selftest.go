package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
)

// The self-test of a store (internal/engine/storecheck.go has why and when)
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
// it back in a third round (refusedCreate); so does a run whose refused
// create a transient fault made ambiguous. The root's VFS.CheckStore
// keeps nothing (its kept object is one of the folder's own, removed
// after), so it always takes three rounds.

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

// Report is what the self-test of a bucket found; the root converts it
// into its StoreReport.
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

	// Relied is whether the VFS relies on the promise, which the self-test
	// leaves false and the engine sets: with a coordinator outside the
	// bucket, the bucket's conditional creates and listing order are not.
	Relied bool
}

// SelfTest runs the checks of the root's CheckStore (a conditional create
// of an existing object refused, read after write, list order) on the
// objects names names, and returns the report; the caller removes them
// after (names.Removable). The error is for a self-test that could not
// run; a store that breaks a promise is a report, not an error.
func (s *Store) SelfTest(ctx context.Context, names SelfTestNames) (Report, error) {
	r := Report{Bucket: s.Bucket}
	kept := keptProbe{key: names.Kept, token: names.Token}

	// Round 1.
	var created, zeroPut error
	var wg sync.WaitGroup
	wg.Go(func() { created = s.Create(ctx, names.First, []byte("first")) })
	wg.Go(func() { zeroPut = s.Put(ctx, names.Zero, []byte("0")) })
	kept.step(ctx, s)
	wg.Wait()
	if errors.Is(created, errNotImplemented) {
		r.Checks = append(r.Checks, Check{Name: "conditional create", Found: found501, Fix: fix501})
		return r, nil
	}
	// A new name found there already means an attempt of this create
	// landed before a transient fault made the client retry it; the read
	// below checks its bytes.
	if err := cmp.Or(orExists(created), zeroPut); err != nil {
		return r, err
	}

	// Round 2, then the kept object's further rounds, if it needs any.
	var got []byte
	var gotErr, listErr error
	var listed []string
	wg.Go(func() { got, gotErr = s.Get(ctx, names.First) })
	wg.Go(func() {
		listErr = s.List(ctx, names.Dir, func(o Object) error {
			listed = append(listed, o.Key)
			return nil
		})
	})
	kept.step(ctx, s)
	wg.Wait()
	for !kept.done() {
		kept.step(ctx, s)
	}
	if err := cmp.Or(listErr, orNotFound(gotErr), kept.err); err != nil {
		return r, err
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
	r.Checks = append(r.Checks, *kept.check, raw, order)
	return r, nil
}

// keptProbe judges the conditional create of an existing object, one
// request per step: it creates the kept object (If-None-Match: *) with
// bytes of its own, and when the store refuses, reads it back, which must
// not hold them. One try tells when the object existed (a former
// self-test left it) and no fault struck. A create that succeeded (the
// object was new, or the store ignores the condition), or a refused one
// whose bytes the object holds after (the store replaced it all the same,
// or an attempt of the create landed before a transient fault made the
// client retry it, and the retry found it), is tried once more, on an
// object that now exists: the second try tells.
type keptProbe struct {
	key, token string

	try      int    // creates sent
	data     []byte // the bytes of the latest
	outcome  error  // its outcome
	readNext bool   // the next step reads the object back

	check *Check // the verdict, once known
	err   error  // why there is none: the probe could not run
}

func (p *keptProbe) done() bool { return p.check != nil || p.err != nil }

// step sends the probe's next request, if it has one.
func (p *keptProbe) step(ctx context.Context, s *Store) {
	switch {
	case p.done():
	case p.readNext:
		p.readNext = false
		got, err := s.Get(ctx, p.key)
		if p.err = orNotFound(err); p.err != nil {
			return
		}
		mine := err == nil && bytes.Equal(got, p.data)
		if !mine || p.try > 1 {
			p.check = conditionalCreateCheck(p.outcome, mine)
		}
	default:
		p.try++
		p.data = fmt.Appendf(nil, "s3vfs self-test %s, try %d\n", p.token, p.try)
		p.outcome = s.Create(ctx, p.key, p.data)
		switch {
		case p.outcome == nil && p.try == 1: // tried again
		case errors.Is(p.outcome, ErrExists):
			p.readNext = true
		default:
			if p.check = conditionalCreateCheck(p.outcome, false); p.check == nil {
				p.err = p.outcome
			}
		}
	}
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

// orExists returns err unless it matches ErrExists.
func orExists(err error) error {
	if errors.Is(err, ErrExists) {
		return nil
	}
	return err
}

// orNotFound returns err unless it matches ErrNotFound, which a check
// judges.
func orNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
