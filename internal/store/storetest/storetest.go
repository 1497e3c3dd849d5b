// Package storetest is the conformance suite of the store contract (the
// doc of package store): every implementation of store.Objects runs it,
// [store.Mem] on its own and [store.S3] against a real server (the root's
// tests).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/s3vfs/s3vfs/internal/store"
)

// Run checks that objs keeps the contract of store.Objects (the doc of
// package store). Each subtest works under a prefix of its own, conf/…,
// so the bucket may be shared; it is left holding their objects.
func Run(t *testing.T, objs store.Objects) {
	s := &suite{ctx: context.Background(), objs: objs}
	t.Run("get of a missing object is ErrNotFound", s.getMissing)
	t.Run("put then get returns the bytes; put replaces", s.putThenGet)
	t.Run("conditional create refuses an existing object", s.createRefusesExisting)
	t.Run("of racing creates exactly one wins", s.racingCreates)
	t.Run("get if-match holds only while the ETag does", s.getIfMatch)
	t.Run("ranged get returns the range and the object's size", s.ranged)
	t.Run("listing is ordered, paged and sees every completed put", s.listingOrderedPaged)
	t.Run("remove deletes a batch; missing keys are no error", s.removeBatch)
	t.Run("a cancelled context fails every call", s.cancelledContext)
}

// suite is one run of the conformance suite: the objects under test.
type suite struct {
	ctx  context.Context
	objs store.Objects
}

// getMissing checks that GetObject of a missing key fails with ErrNotFound.
func (s *suite) getMissing(t *testing.T) {
	_, err := s.objs.GetObject(s.ctx, "conf/missing/x", "")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}
}

// putThenGet checks that GetObject returns the bytes PutObject wrote, empty
// and large ones too, and that a put replaces the object.
func (s *suite) putThenGet(t *testing.T) {
	key := "conf/put/x"
	for _, data := range [][]byte{[]byte("first"), {}, bytes.Repeat([]byte{0, 1, 2}, 100_000)} {
		if err := s.objs.PutObject(s.ctx, key, data, false); err != nil {
			t.Fatalf("put %d bytes: %v", len(data), err)
		}
		got, err := s.objs.GetObject(s.ctx, key, "")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("get after put of %d bytes: got %d bytes that differ", len(data), len(got))
		}
	}
}

// createRefusesExisting checks that a conditional create of an existing
// object fails with ErrExists and leaves the object as it was.
func (s *suite) createRefusesExisting(t *testing.T) {
	key := "conf/create/x"
	if err := s.objs.PutObject(s.ctx, key, []byte("one"), true); err != nil {
		t.Fatalf("first create: %v", err)
	}
	err := s.objs.PutObject(s.ctx, key, []byte("two"), true)
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if got, _ := s.objs.GetObject(s.ctx, key, ""); string(got) != "one" {
		t.Fatalf("after the refused create the object holds %q, want %q", got, "one")
	}
}

// racingCreates checks that of concurrent conditional creates of one key
// exactly one succeeds, the others fail with ErrExists, and the winner's
// bytes stay.
func (s *suite) racingCreates(t *testing.T) {
	const racers = 8
	key := "conf/race/x"
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() { errs[i] = s.objs.PutObject(s.ctx, key, []byte(fmt.Sprint(i)), true) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both created %s", winner, i, key)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrExists):
			t.Fatalf("racer %d: %v, want ErrExists or success", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer created the object")
	}
	if got, _ := s.objs.GetObject(s.ctx, key, ""); string(got) != fmt.Sprint(winner) {
		t.Fatalf("object holds %q, the winner wrote %d", got, winner)
	}
}

// getIfMatch checks that a get if-match the listed ETag succeeds while the
// object is unchanged and fails with ErrExists once it is replaced.
func (s *suite) getIfMatch(t *testing.T) {
	key := "conf/ifmatch/x"
	if err := s.objs.PutObject(s.ctx, key, []byte("v1"), false); err != nil {
		t.Fatal(err)
	}
	l, _, err := s.objs.ListObjects(s.ctx, key, "", 10)
	if err != nil || len(l) != 1 || l[0].ETag == "" {
		t.Fatalf("listing of %s: %v, %v: want one entry with an ETag", key, l, err)
	}
	if got, err := s.objs.GetObject(s.ctx, key, l[0].ETag); err != nil || string(got) != "v1" {
		t.Fatalf("get if-match the current ETag: %q, %v", got, err)
	}
	if err := s.objs.PutObject(s.ctx, key, []byte("v2"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.objs.GetObject(s.ctx, key, l[0].ETag); !errors.Is(err, store.ErrExists) {
		t.Fatalf("get if-match an old ETag: %v, want ErrExists", err)
	}
}

// listingOrderedPaged checks that ListObjects lists every key under a prefix
// in byte order, with sizes and times, in pages of any limit, and nothing
// after the last key.
func (s *suite) listingOrderedPaged(t *testing.T) {
	prefix := "conf/list/"
	// Byte order: '!' < '0' < 'A' < '_' < 'a' < 'é'.
	names := []string{"_commits/!marker", "_commits/0001", "_commits/0002", "a b", "A", "é", "0", "_x"}
	for _, n := range names {
		if err := s.objs.PutObject(s.ctx, prefix+n, []byte(n), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.objs.PutObject(s.ctx, "conf/lis", []byte("outside the prefix"), false); err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(names))
	for i, n := range names {
		want[i] = prefix + n
	}
	slices.Sort(want)
	for _, limit := range []int{1, 3, 1000} {
		if got := s.listPaged(t, prefix, limit, len(want)); !slices.Equal(got, want) {
			t.Fatalf("limit %d: listed %q, want %q", limit, got, want)
		}
	}
	page, more, err := s.objs.ListObjects(s.ctx, prefix, want[len(want)-1], 10)
	if err != nil || len(page) != 0 || more {
		t.Fatalf("listing after the last key: %v, %v, %v", page, more, err)
	}
}

// listPaged lists the keys under prefix page by page, limit at a time,
// checking each page's length and each entry's size (that of its name
// under prefix) and time. An empty page that announces more, or more
// still announced past page maxPages+1, fails the test.
func (s *suite) listPaged(t *testing.T, prefix string, limit, maxPages int) []string {
	t.Helper()
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		page, more, err := s.objs.ListObjects(s.ctx, prefix, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > limit {
			t.Fatalf("limit %d: page of %d", limit, len(page))
		}
		for _, o := range page {
			got = append(got, o.Key)
			if o.Size != int64(len(o.Key)-len(prefix)) || o.LastModified.IsZero() {
				t.Fatalf("entry %+v: wrong size or no time", o)
			}
		}
		if !more {
			return got
		}
		if len(page) == 0 || pages > maxPages {
			t.Fatalf("limit %d: more pages announced but none come", limit)
		}
		after = page[len(page)-1].Key
	}
}

// removeBatch checks that RemoveObjects deletes a full batch of keys and
// that the missing keys among them are no error.
func (s *suite) removeBatch(t *testing.T) {
	prefix := "conf/remove/"
	keys := make([]string, store.MaxRemoveBatch)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	for _, k := range keys[:5] {
		if err := s.objs.PutObject(s.ctx, k, []byte("x"), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.objs.RemoveObjects(s.ctx, keys); err != nil {
		t.Fatalf("remove %d keys, %d of them missing: %v", len(keys), len(keys)-5, err)
	}
	for _, k := range keys[:5] {
		if _, err := s.objs.GetObject(s.ctx, k, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get %s after remove: %v, want ErrNotFound", k, err)
		}
	}
	if page, _, err := s.objs.ListObjects(s.ctx, prefix, "", 10); err != nil || len(page) != 0 {
		t.Fatalf("listing after remove: %v, %v", page, err)
	}
}

// cancelledContext checks that every call fails with a cancelled context.
func (s *suite) cancelledContext(t *testing.T) {
	cctx, cancel := context.WithCancel(s.ctx)
	cancel()
	key := "conf/cancel/x"
	if err := s.objs.PutObject(cctx, key, []byte("x"), false); err == nil {
		t.Error("put with a cancelled context succeeded")
	}
	if err := s.objs.PutObject(cctx, key, []byte("x"), true); err == nil {
		t.Error("create with a cancelled context succeeded")
	}
	if _, err := s.objs.GetObject(cctx, key, ""); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("get with a cancelled context: %v, want a cancellation", err)
	}
	if _, _, err := s.objs.ListObjects(cctx, "conf/", "", 10); err == nil {
		t.Error("list with a cancelled context succeeded")
	}
	if err := s.objs.RemoveObjects(cctx, []string{key}); err == nil {
		t.Error("remove with a cancelled context succeeded")
	}
	if !errors.Is(context.Cause(cctx), context.Canceled) {
		t.Fatal("context not cancelled")
	}
}
