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
	ctx := context.Background()
	runRanges(t, objs)
	t.Run("get of a missing object is ErrNotFound", func(t *testing.T) {
		_, err := objs.GetObject(ctx, "conf/missing/x", "")
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get missing: %v, want ErrNotFound", err)
		}
	})
	t.Run("put then get returns the bytes; put replaces", func(t *testing.T) {
		key := "conf/put/x"
		for _, data := range [][]byte{[]byte("first"), {}, bytes.Repeat([]byte{0, 1, 2}, 100_000)} {
			if err := objs.PutObject(ctx, key, data, false); err != nil {
				t.Fatalf("put %d bytes: %v", len(data), err)
			}
			got, err := objs.GetObject(ctx, key, "")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("get after put of %d bytes: got %d bytes that differ", len(data), len(got))
			}
		}
	})
	t.Run("conditional create refuses an existing object", func(t *testing.T) {
		key := "conf/create/x"
		if err := objs.PutObject(ctx, key, []byte("one"), true); err != nil {
			t.Fatalf("first create: %v", err)
		}
		err := objs.PutObject(ctx, key, []byte("two"), true)
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("second create: %v, want ErrExists", err)
		}
		if got, _ := objs.GetObject(ctx, key, ""); string(got) != "one" {
			t.Fatalf("after the refused create the object holds %q, want %q", got, "one")
		}
	})
	t.Run("of racing creates exactly one wins", func(t *testing.T) {
		const racers = 8
		key := "conf/race/x"
		var wg sync.WaitGroup
		errs := make([]error, racers)
		for i := range racers {
			wg.Go(func() { errs[i] = objs.PutObject(ctx, key, []byte(fmt.Sprint(i)), true) })
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
		if got, _ := objs.GetObject(ctx, key, ""); string(got) != fmt.Sprint(winner) {
			t.Fatalf("object holds %q, the winner wrote %d", got, winner)
		}
	})
	t.Run("get if-match holds only while the ETag does", func(t *testing.T) {
		key := "conf/ifmatch/x"
		if err := objs.PutObject(ctx, key, []byte("v1"), false); err != nil {
			t.Fatal(err)
		}
		l, _, err := objs.ListObjects(ctx, key, "", 10)
		if err != nil || len(l) != 1 || l[0].ETag == "" {
			t.Fatalf("listing of %s: %v, %v: want one entry with an ETag", key, l, err)
		}
		if got, err := objs.GetObject(ctx, key, l[0].ETag); err != nil || string(got) != "v1" {
			t.Fatalf("get if-match the current ETag: %q, %v", got, err)
		}
		if err := objs.PutObject(ctx, key, []byte("v2"), false); err != nil {
			t.Fatal(err)
		}
		if _, err := objs.GetObject(ctx, key, l[0].ETag); !errors.Is(err, store.ErrExists) {
			t.Fatalf("get if-match an old ETag: %v, want ErrExists", err)
		}
	})
	t.Run("listing is ordered, paged and sees every completed put", func(t *testing.T) {
		prefix := "conf/list/"
		// Byte order: '!' < '0' < 'A' < '_' < 'a' < 'é'.
		names := []string{"_commits/!marker", "_commits/0001", "_commits/0002", "a b", "A", "é", "0", "_x"}
		for _, n := range names {
			if err := objs.PutObject(ctx, prefix+n, []byte(n), false); err != nil {
				t.Fatal(err)
			}
		}
		if err := objs.PutObject(ctx, "conf/lis", []byte("outside the prefix"), false); err != nil {
			t.Fatal(err)
		}
		want := make([]string, len(names))
		for i, n := range names {
			want[i] = prefix + n
		}
		slices.Sort(want)
		for _, limit := range []int{1, 3, 1000} {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				page, more, err := objs.ListObjects(ctx, prefix, after, limit)
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
					break
				}
				if len(page) == 0 || pages > len(want) {
					t.Fatalf("limit %d: more pages announced but none come", limit)
				}
				after = page[len(page)-1].Key
			}
			if !slices.Equal(got, want) {
				t.Fatalf("limit %d: listed %q, want %q", limit, got, want)
			}
		}
		page, more, err := objs.ListObjects(ctx, prefix, want[len(want)-1], 10)
		if err != nil || len(page) != 0 || more {
			t.Fatalf("listing after the last key: %v, %v, %v", page, more, err)
		}
	})
	t.Run("remove deletes a batch; missing keys are no error", func(t *testing.T) {
		prefix := "conf/remove/"
		keys := make([]string, store.MaxRemoveBatch)
		for i := range keys {
			keys[i] = fmt.Sprintf("%s%04d", prefix, i)
		}
		for _, k := range keys[:5] {
			if err := objs.PutObject(ctx, k, []byte("x"), false); err != nil {
				t.Fatal(err)
			}
		}
		if err := objs.RemoveObjects(ctx, keys); err != nil {
			t.Fatalf("remove %d keys, %d of them missing: %v", len(keys), len(keys)-5, err)
		}
		for _, k := range keys[:5] {
			if _, err := objs.GetObject(ctx, k, ""); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("get %s after remove: %v, want ErrNotFound", k, err)
			}
		}
		if page, _, err := objs.ListObjects(ctx, prefix, "", 10); err != nil || len(page) != 0 {
			t.Fatalf("listing after remove: %v, %v", page, err)
		}
	})
	t.Run("a cancelled context fails every call", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		key := "conf/cancel/x"
		if err := objs.PutObject(cctx, key, []byte("x"), false); err == nil {
			t.Error("put with a cancelled context succeeded")
		}
		if err := objs.PutObject(cctx, key, []byte("x"), true); err == nil {
			t.Error("create with a cancelled context succeeded")
		}
		if _, err := objs.GetObject(cctx, key, ""); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("get with a cancelled context: %v, want a cancellation", err)
		}
		if _, _, err := objs.ListObjects(cctx, "conf/", "", 10); err == nil {
			t.Error("list with a cancelled context succeeded")
		}
		if err := objs.RemoveObjects(cctx, []string{key}); err == nil {
			t.Error("remove with a cancelled context succeeded")
		}
		if !errors.Is(context.Cause(cctx), context.Canceled) {
			t.Fatal("context not cancelled")
		}
	})
}
