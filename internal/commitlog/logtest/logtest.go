// Package logtest is the conformance suite of the commit log's contract
// (the doc of package commitlog): every implementation of commitlog.Log
// runs it, [commitlog.Bucket] on store.Mem on its own (no server), on S3
// against a real server, and the DynamoDB coordinator's records against
// dynalite (the tests of s3vfs/dynamodb). It asks for nothing an implementation may
// leave free: List's order is not checked, and a listed time may be the
// store's or the writer's, truncated to the second.
package logtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/store"
)

// largeRecord is the size of the largest record Run creates: under the
// 350 KiB a DynamoDB item holds a record (larger ones are checkpoints).
const largeRecord = 300 << 10

// timeSlack is how far a listed time may be from the span of its create:
// a second for a store that lists times truncated to the second (the
// root's lastModifiedSlack), and a second for the skew between the test's
// clock and a local server's.
const timeSlack = 2 * time.Second

// listed is one record as List reports it.
type listed struct {
	size    int64
	created time.Time
}

// Run checks that log keeps the contract of commitlog.Log (the doc of
// package commitlog). Each subtest works on database keys of its own
// under a prefix drawn for the run, so the store may be shared and hold
// the records of earlier runs; it is left holding the records it made.
func Run(t *testing.T, log commitlog.Log) {
	ctx := context.Background()
	prefix := "logtest-" + rand.Text()[:10]
	key := func(name string) string { return prefix + "/" + name }
	create := func(t *testing.T, k string, n uint64, data []byte) {
		t.Helper()
		if err := log.Create(ctx, k, n, data); err != nil {
			t.Fatalf("create record %d of %s: %v", n, k, err)
		}
	}
	newest := func(t *testing.T, k string, want uint64) {
		t.Helper()
		if got, err := log.Newest(ctx, k); err != nil || got != want {
			t.Fatalf("newest of %s: %d, %v; want %d", k, got, err, want)
		}
	}
	list := func(t *testing.T, k string) map[uint64]listed {
		t.Helper()
		got := map[uint64]listed{}
		err := log.List(ctx, k, func(n uint64, size int64, created time.Time) error {
			if _, ok := got[n]; ok {
				t.Errorf("list of %s: record %d listed twice", k, n)
			}
			got[n] = listed{size, created}
			return nil
		})
		if err != nil {
			t.Fatalf("list of %s: %v", k, err)
		}
		return got
	}

	t.Run("a database without records", func(t *testing.T) {
		k := key("none")
		if _, err := log.Get(ctx, k, 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get of a missing record: %v, want ErrNotFound", err)
		}
		newest(t, k, 0)
		if got := list(t, k); len(got) != 0 {
			t.Errorf("list: %d records, want none", len(got))
		}
		if err := log.Remove(ctx, k, []uint64{1, 2}); err != nil {
			t.Errorf("remove of missing records: %v", err)
		}
		if err := log.Remove(ctx, k, nil); err != nil {
			t.Errorf("remove of no records: %v", err)
		}
	})
	t.Run("create then get returns the bytes", func(t *testing.T) {
		k := key("get")
		large := make([]byte, largeRecord)
		for i := range large {
			large[i] = byte(i * 7)
		}
		records := [][]byte{[]byte("one"), {0, 1, 2, 0xff}, large}
		for i, data := range records {
			create(t, k, uint64(i+1), data)
		}
		for i, data := range records {
			got, err := log.Get(ctx, k, uint64(i+1))
			if err != nil {
				t.Fatalf("get record %d: %v", i+1, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("record %d: got %d bytes that differ from the %d created", i+1, len(got), len(data))
			}
		}
		if _, err := log.Get(ctx, k, uint64(len(records)+1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get of the record after the newest: %v, want ErrNotFound", err)
		}
	})
	t.Run("create refuses an existing record", func(t *testing.T) {
		k := key("exists")
		create(t, k, 1, []byte("first"))
		if err := log.Create(ctx, k, 1, []byte("second")); !errors.Is(err, store.ErrExists) {
			t.Fatalf("second create of record 1: %v, want ErrExists", err)
		}
		if got, err := log.Get(ctx, k, 1); err != nil || string(got) != "first" {
			t.Fatalf("after the refused create record 1 holds %q, %v; want %q", got, err, "first")
		}
		create(t, k, 2, []byte("next"))
	})
	t.Run("overwrite replaces an existing record's bytes", func(t *testing.T) {
		k := key("overwrite")
		create(t, k, 1, []byte("first"))
		create(t, k, 2, []byte("second"))
		if err := log.Overwrite(ctx, k, 1, []byte("removed, longer")); err != nil {
			t.Fatalf("overwrite of record 1: %v", err)
		}
		if got, err := log.Get(ctx, k, 1); err != nil || string(got) != "removed, longer" {
			t.Fatalf("after the overwrite record 1 holds %q, %v", got, err)
		}
		if got, err := log.Get(ctx, k, 2); err != nil || string(got) != "second" {
			t.Fatalf("after the overwrite of record 1, record 2 holds %q, %v", got, err)
		}
		if got := list(t, k); len(got) != 2 || got[1].size != int64(len("removed, longer")) {
			t.Fatalf("list after the overwrite: %+v", got)
		}
		newest(t, k, 2)
	})
	t.Run("of racing creates exactly one wins", func(t *testing.T) {
		const racers = 8
		k := key("race")
		for n := uint64(1); n <= 2; n++ {
			var wg sync.WaitGroup
			errs := make([]error, racers)
			for i := range racers {
				wg.Go(func() { errs[i] = log.Create(ctx, k, n, []byte(fmt.Sprint(i))) })
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("record %d: racers %d and %d both created it", n, winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, store.ErrExists):
					t.Fatalf("record %d: racer %d: %v, want ErrExists or success", n, i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("record %d: no racer created it", n)
			}
			if got, err := log.Get(ctx, k, n); err != nil || string(got) != fmt.Sprint(winner) {
				t.Fatalf("record %d holds %q, %v; the winner wrote %d", n, got, err, winner)
			}
		}
		newest(t, k, 2)
	})
	t.Run("newest is the highest number", func(t *testing.T) {
		k := key("newest")
		// Across the digits' carries, and beyond 32 bits.
		ns := []uint64{1, 2, 9, 10, 11, 99, 100, 101, 1 << 33}
		for _, n := range ns {
			create(t, k, n, []byte(fmt.Sprint(n)))
			newest(t, k, n)
		}
		if err := log.Remove(ctx, k, []uint64{1 << 33}); err != nil {
			t.Fatal(err)
		}
		newest(t, k, 101)
		if err := log.Remove(ctx, k, []uint64{1, 2, 9}); err != nil {
			t.Fatal(err)
		}
		newest(t, k, 101)
	})
	t.Run("list gives every record once, with its size and time", func(t *testing.T) {
		k := key("list")
		const records = 30
		begun := time.Now()
		want := map[uint64]int{}
		for n := uint64(1); n <= records; n++ {
			want[n] = int(n) * 10
			create(t, k, n, bytes.Repeat([]byte{byte(n)}, want[n]))
		}
		ended := time.Now()
		got := list(t, k)
		if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
			t.Fatalf("listed records %v, want 1 to %d", slices.Sorted(maps.Keys(got)), records)
		}
		for n, l := range got {
			if l.size != int64(want[n]) {
				t.Fatalf("record %d: listed size %d, want %d", n, l.size, want[n])
			}
			if l.created.Before(begun.Add(-timeSlack)) || l.created.After(ended.Add(timeSlack)) {
				t.Fatalf("record %d: listed as created at %v, but the creates ran from %v to %v", n, l.created, begun, ended)
			}
		}
		errStop := errors.New("stop")
		calls := 0
		err := log.List(ctx, k, func(uint64, int64, time.Time) error { calls++; return errStop })
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("list whose fn fails: %v after %d calls, want fn's error after 1", err, calls)
		}
	})
	t.Run("remove deletes records; missing ones are no error", func(t *testing.T) {
		k := key("remove")
		const records = 30 // more than one batch of DynamoDB's BatchWriteItem
		var all, odd []uint64
		for n := uint64(1); n <= records; n++ {
			create(t, k, n, []byte("x"))
			all = append(all, n)
			if n%2 == 1 {
				odd = append(odd, n)
			}
		}
		if err := log.Remove(ctx, k, odd); err != nil {
			t.Fatalf("remove %d records: %v", len(odd), err)
		}
		for n := uint64(1); n <= records; n++ {
			_, err := log.Get(ctx, k, n)
			switch {
			case n%2 == 1 && !errors.Is(err, store.ErrNotFound):
				t.Fatalf("get removed record %d: %v, want ErrNotFound", n, err)
			case n%2 == 0 && err != nil:
				t.Fatalf("get kept record %d: %v", n, err)
			}
		}
		if got := list(t, k); len(got) != records/2 {
			t.Fatalf("after removing the odd records %d are listed, want %d", len(got), records/2)
		}
		newest(t, k, records)
		if err := log.Remove(ctx, k, append(all, records+1, records+2)); err != nil {
			t.Fatalf("remove %d records, %d of them missing: %v", len(all)+2, len(odd)+2, err)
		}
		if got := list(t, k); len(got) != 0 {
			t.Fatalf("after removing every record %d are listed", len(got))
		}
		newest(t, k, 0)
	})
	t.Run("the records of one key are never another's", func(t *testing.T) {
		// A key, a key below it, and keys it is a prefix of.
		keys := []string{key("db"), key("db/sub"), key("db2"), key("db_commits")}
		for i, k := range keys {
			for n := uint64(1); n <= uint64(i+1); n++ {
				create(t, k, n, []byte(k))
			}
		}
		for i, k := range keys {
			newest(t, k, uint64(i+1))
			if got := list(t, k); len(got) != i+1 {
				t.Errorf("%s: %d records listed, want %d", k, len(got), i+1)
			}
			if got, err := log.Get(ctx, k, 1); err != nil || string(got) != k {
				t.Errorf("%s: record 1 holds %q, %v", k, got, err)
			}
		}
		if err := log.Remove(ctx, keys[0], []uint64{1}); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys[1:] {
			if _, err := log.Get(ctx, k, 1); err != nil {
				t.Errorf("%s: record 1 after removing %s's: %v", k, keys[0], err)
			}
		}
	})
	t.Run("a cancelled context fails every call", func(t *testing.T) {
		k := key("cancel")
		create(t, k, 1, []byte("x"))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := log.Create(cctx, k, 2, []byte("x")); err == nil {
			t.Error("create with a cancelled context succeeded")
		}
		if _, err := log.Get(cctx, k, 1); err == nil {
			t.Error("get with a cancelled context succeeded")
		}
		if _, err := log.Newest(cctx, k); err == nil {
			t.Error("newest with a cancelled context succeeded")
		}
		if err := log.List(cctx, k, func(uint64, int64, time.Time) error { return nil }); err == nil {
			t.Error("list with a cancelled context succeeded")
		}
		if err := log.Remove(cctx, k, []uint64{1}); err == nil {
			t.Error("remove with a cancelled context succeeded")
		}
	})
}
