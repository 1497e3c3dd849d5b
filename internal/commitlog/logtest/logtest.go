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
	s := &suite{ctx: context.Background(), log: log, prefix: "logtest-" + rand.Text()[:10]}
	t.Run("a database without records", s.withoutRecords)
	t.Run("create then get returns the bytes", s.createThenGet)
	t.Run("create refuses an existing record", s.createRefusesExisting)
	t.Run("overwrite replaces an existing record's bytes", s.overwriteReplaces)
	t.Run("of racing creates exactly one wins", s.racingCreates)
	t.Run("newest is the highest number", s.newestIsHighest)
	t.Run("list gives every record once, with its size and time", s.listEveryRecord)
	t.Run("remove deletes records; missing ones are no error", s.removeDeletes)
	t.Run("the records of one key are never another's", s.keysApart)
	t.Run("a cancelled context fails every call", s.cancelledContext)
}

// suite is one run of the conformance suite: the log under test, and the
// prefix drawn for the run under which every subtest's keys lie.
type suite struct {
	ctx    context.Context
	log    commitlog.Log
	prefix string
}

// key is the database key name under the run's prefix.
func (s *suite) key(name string) string { return s.prefix + "/" + name }

// create creates record n of k holding data, failing the test if it fails.
func (s *suite) create(t *testing.T, k string, n uint64, data []byte) {
	t.Helper()
	if err := s.log.Create(s.ctx, k, n, data); err != nil {
		t.Fatalf("create record %d of %s: %v", n, k, err)
	}
}

// newest fails the test unless the newest record of k is want.
func (s *suite) newest(t *testing.T, k string, want uint64) {
	t.Helper()
	if got, err := s.log.Newest(s.ctx, k); err != nil || got != want {
		t.Fatalf("newest of %s: %d, %v; want %d", k, got, err, want)
	}
}

// list is the records of k as List reports them, by number; a record
// listed twice is an error.
func (s *suite) list(t *testing.T, k string) map[uint64]listed {
	t.Helper()
	got := map[uint64]listed{}
	err := s.log.List(s.ctx, k, func(n uint64, size int64, created time.Time) error {
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

// withoutRecords checks a key with no records: Get finds nothing, Newest
// is 0, List is empty, and Remove of missing or no records succeeds.
func (s *suite) withoutRecords(t *testing.T) {
	k := s.key("none")
	if _, err := s.log.Get(s.ctx, k, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get of a missing record: %v, want ErrNotFound", err)
	}
	s.newest(t, k, 0)
	if got := s.list(t, k); len(got) != 0 {
		t.Errorf("list: %d records, want none", len(got))
	}
	if err := s.log.Remove(s.ctx, k, []uint64{1, 2}); err != nil {
		t.Errorf("remove of missing records: %v", err)
	}
	if err := s.log.Remove(s.ctx, k, nil); err != nil {
		t.Errorf("remove of no records: %v", err)
	}
}

// createThenGet checks that Get returns the bytes Create wrote, up to a
// large record, and ErrNotFound past the newest.
func (s *suite) createThenGet(t *testing.T) {
	k := s.key("get")
	large := make([]byte, largeRecord)
	for i := range large {
		large[i] = byte(i * 7)
	}
	records := [][]byte{[]byte("one"), {0, 1, 2, 0xff}, large}
	for i, data := range records {
		s.create(t, k, uint64(i+1), data)
	}
	for i, data := range records {
		got, err := s.log.Get(s.ctx, k, uint64(i+1))
		if err != nil {
			t.Fatalf("get record %d: %v", i+1, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("record %d: got %d bytes that differ from the %d created", i+1, len(got), len(data))
		}
	}
	if _, err := s.log.Get(s.ctx, k, uint64(len(records)+1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get of the record after the newest: %v, want ErrNotFound", err)
	}
}

// createRefusesExisting checks that Create of an existing record fails
// with ErrExists and leaves the record as it was.
func (s *suite) createRefusesExisting(t *testing.T) {
	k := s.key("exists")
	s.create(t, k, 1, []byte("first"))
	if err := s.log.Create(s.ctx, k, 1, []byte("second")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create of record 1: %v, want ErrExists", err)
	}
	if got, err := s.log.Get(s.ctx, k, 1); err != nil || string(got) != "first" {
		t.Fatalf("after the refused create record 1 holds %q, %v; want %q", got, err, "first")
	}
	s.create(t, k, 2, []byte("next"))
}

// overwriteReplaces checks that Overwrite replaces one record's bytes and
// size, leaving the others and the newest alone.
func (s *suite) overwriteReplaces(t *testing.T) {
	k := s.key("overwrite")
	s.create(t, k, 1, []byte("first"))
	s.create(t, k, 2, []byte("second"))
	if err := s.log.Overwrite(s.ctx, k, 1, []byte("removed, longer")); err != nil {
		t.Fatalf("overwrite of record 1: %v", err)
	}
	if got, err := s.log.Get(s.ctx, k, 1); err != nil || string(got) != "removed, longer" {
		t.Fatalf("after the overwrite record 1 holds %q, %v", got, err)
	}
	if got, err := s.log.Get(s.ctx, k, 2); err != nil || string(got) != "second" {
		t.Fatalf("after the overwrite of record 1, record 2 holds %q, %v", got, err)
	}
	if got := s.list(t, k); len(got) != 2 || got[1].size != int64(len("removed, longer")) {
		t.Fatalf("list after the overwrite: %+v", got)
	}
	s.newest(t, k, 2)
}

// racingCreates checks that of concurrent Creates of one record exactly
// one succeeds, the others fail with ErrExists, and the winner's bytes stay.
func (s *suite) racingCreates(t *testing.T) {
	const racers = 8
	k := s.key("race")
	for n := uint64(1); n <= 2; n++ {
		var wg sync.WaitGroup
		errs := make([]error, racers)
		for i := range racers {
			wg.Go(func() { errs[i] = s.log.Create(s.ctx, k, n, []byte(fmt.Sprint(i))) })
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
		if got, err := s.log.Get(s.ctx, k, n); err != nil || string(got) != fmt.Sprint(winner) {
			t.Fatalf("record %d holds %q, %v; the winner wrote %d", n, got, err, winner)
		}
	}
	s.newest(t, k, 2)
}

// newestIsHighest checks that Newest is the highest record number, across
// decimal carries and beyond 32 bits, and after removals.
func (s *suite) newestIsHighest(t *testing.T) {
	k := s.key("newest")
	// Across the digits' carries, and beyond 32 bits.
	ns := []uint64{1, 2, 9, 10, 11, 99, 100, 101, 1 << 33}
	for _, n := range ns {
		s.create(t, k, n, []byte(fmt.Sprint(n)))
		s.newest(t, k, n)
	}
	if err := s.log.Remove(s.ctx, k, []uint64{1 << 33}); err != nil {
		t.Fatal(err)
	}
	s.newest(t, k, 101)
	if err := s.log.Remove(s.ctx, k, []uint64{1, 2, 9}); err != nil {
		t.Fatal(err)
	}
	s.newest(t, k, 101)
}

// listEveryRecord checks that List reports every record once with its size
// and a time within the span of its create, and stops at fn's error.
func (s *suite) listEveryRecord(t *testing.T) {
	k := s.key("list")
	const records = 30
	begun := time.Now()
	want := map[uint64]int{}
	for n := uint64(1); n <= records; n++ {
		want[n] = int(n) * 10
		s.create(t, k, n, bytes.Repeat([]byte{byte(n)}, want[n]))
	}
	ended := time.Now()
	got := s.list(t, k)
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
	err := s.log.List(s.ctx, k, func(uint64, int64, time.Time) error { calls++; return errStop })
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("list whose fn fails: %v after %d calls, want fn's error after 1", err, calls)
	}
}

// removeDeletes checks that Remove deletes the records named, in more than
// one batch, and that missing records among them are no error.
func (s *suite) removeDeletes(t *testing.T) {
	k := s.key("remove")
	const records = 30 // more than one batch of DynamoDB's BatchWriteItem
	var all, odd []uint64
	for n := uint64(1); n <= records; n++ {
		s.create(t, k, n, []byte("x"))
		all = append(all, n)
		if n%2 == 1 {
			odd = append(odd, n)
		}
	}
	if err := s.log.Remove(s.ctx, k, odd); err != nil {
		t.Fatalf("remove %d records: %v", len(odd), err)
	}
	for n := uint64(1); n <= records; n++ {
		_, err := s.log.Get(s.ctx, k, n)
		switch {
		case n%2 == 1 && !errors.Is(err, store.ErrNotFound):
			t.Fatalf("get removed record %d: %v, want ErrNotFound", n, err)
		case n%2 == 0 && err != nil:
			t.Fatalf("get kept record %d: %v", n, err)
		}
	}
	if got := s.list(t, k); len(got) != records/2 {
		t.Fatalf("after removing the odd records %d are listed, want %d", len(got), records/2)
	}
	s.newest(t, k, records)
	if err := s.log.Remove(s.ctx, k, append(all, records+1, records+2)); err != nil {
		t.Fatalf("remove %d records, %d of them missing: %v", len(all)+2, len(odd)+2, err)
	}
	if got := s.list(t, k); len(got) != 0 {
		t.Fatalf("after removing every record %d are listed", len(got))
	}
	s.newest(t, k, 0)
}

// keysApart checks that the records of a key are not another key's, for
// keys below it and keys it is a prefix of.
func (s *suite) keysApart(t *testing.T) {
	// A key, a key below it, and keys it is a prefix of.
	keys := []string{s.key("db"), s.key("db/sub"), s.key("db2"), s.key("db_commits")}
	for i, k := range keys {
		for n := uint64(1); n <= uint64(i+1); n++ {
			s.create(t, k, n, []byte(k))
		}
	}
	for i, k := range keys {
		s.newest(t, k, uint64(i+1))
		if got := s.list(t, k); len(got) != i+1 {
			t.Errorf("%s: %d records listed, want %d", k, len(got), i+1)
		}
		if got, err := s.log.Get(s.ctx, k, 1); err != nil || string(got) != k {
			t.Errorf("%s: record 1 holds %q, %v", k, got, err)
		}
	}
	if err := s.log.Remove(s.ctx, keys[0], []uint64{1}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[1:] {
		if _, err := s.log.Get(s.ctx, k, 1); err != nil {
			t.Errorf("%s: record 1 after removing %s's: %v", k, keys[0], err)
		}
	}
}

// cancelledContext checks that every call fails with a cancelled context.
func (s *suite) cancelledContext(t *testing.T) {
	k := s.key("cancel")
	s.create(t, k, 1, []byte("x"))
	cctx, cancel := context.WithCancel(s.ctx)
	cancel()
	if err := s.log.Create(cctx, k, 2, []byte("x")); err == nil {
		t.Error("create with a cancelled context succeeded")
	}
	if _, err := s.log.Get(cctx, k, 1); err == nil {
		t.Error("get with a cancelled context succeeded")
	}
	if _, err := s.log.Newest(cctx, k); err == nil {
		t.Error("newest with a cancelled context succeeded")
	}
	if err := s.log.List(cctx, k, func(uint64, int64, time.Time) error { return nil }); err == nil {
		t.Error("list with a cancelled context succeeded")
	}
	if err := s.log.Remove(cctx, k, []uint64{1}); err == nil {
		t.Error("remove with a cancelled context succeeded")
	}
}
