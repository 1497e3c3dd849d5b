package commitlog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/commitlog/logtest"
	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// memBucket returns a log in the bucket over a fresh store.Mem, and the
// store, whose counters count its requests.
func memBucket() (commitlog.Bucket, *store.Store) {
	st := &store.Store{Objects: store.NewMem(), Bucket: "mem", Counters: &store.Counters{}}
	return commitlog.NewBucket(st), st
}

// TestBucketConformance runs the log contract on Bucket over Mem; it
// needs no server.
func TestBucketConformance(t *testing.T) {
	log, _ := memBucket()
	logtest.Run(t, log)
}

// TestBucketNewest: the head is one LIST, stepping over names under
// _commits/ that are not records; a database coordinated elsewhere is
// refused with the name its marker holds, after one more GET.
func TestBucketNewest(t *testing.T) {
	ctx := context.Background()
	log, st := memBucket()
	const key = "db"
	for n := uint64(1); n <= 3; n++ {
		if err := log.Create(ctx, key, n, []byte("r")); err != nil {
			t.Fatal(err)
		}
	}
	lists, gets := st.Counters.Lists.Load(), st.Counters.Gets.Load()
	if n, err := log.Newest(ctx, key); err != nil || n != 3 {
		t.Fatalf("newest: %d, %v; want 3", n, err)
	}
	if l, g := st.Counters.Lists.Load()-lists, st.Counters.Gets.Load()-gets; l != 1 || g != 0 {
		t.Errorf("newest sent %d LISTs and %d GETs, want one LIST", l, g)
	}

	if err := st.Put(ctx, commitlog.Marker(key), []byte("DynamoDB table T")); err != nil {
		t.Fatal(err)
	}
	lists, gets = st.Counters.Lists.Load(), st.Counters.Gets.Load()
	_, err := log.Newest(ctx, key)
	const want = "s3vfs: db: its commits are kept by DynamoDB table T: open it with that coordinator (Options.Coordinator); " +
		"writing here would fork its history"
	if err == nil || err.Error() != want {
		t.Fatalf("newest of a database coordinated elsewhere: %v, want %q", err, want)
	}
	if l, g := st.Counters.Lists.Load()-lists, st.Counters.Gets.Load()-gets; l != 1 || g != 1 {
		t.Errorf("refusing the marker sent %d LISTs and %d GETs, want one of each", l, g)
	}
	if err := st.Remove(ctx, []string{commitlog.Marker(key)}); err != nil {
		t.Fatal(err)
	}

	// A folder marker, and a name that is no record, both sorting first.
	for _, name := range []string{format.RecordPrefix(key), format.RecordPrefix(key) + "0"} {
		if err := st.Put(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := log.Newest(ctx, key); err != nil || n != 3 {
		t.Fatalf("newest after names that are no records: %d, %v; want 3", n, err)
	}
	var listed []uint64
	if err := log.List(ctx, key, func(n uint64, _ int64, _ time.Time) error {
		listed = append(listed, n)
		return nil
	}); err != nil || len(listed) != 3 {
		t.Errorf("list: %v, %v; want the 3 records alone", listed, err)
	}
}

// TestMarker: the marker sorts before every record of its database, and
// is not a record.
func TestMarker(t *testing.T) {
	const key = "a/db"
	m := commitlog.Marker(key)
	if m != "a/db/_commits/!coordinator" {
		t.Errorf("Marker(%q) = %q", key, m)
	}
	if _, ok := format.ParseRecordName(key, m); ok {
		t.Error("the marker parses as a record name")
	}
	for _, n := range []uint64{1, format.RecordBase - 1} {
		if r := format.RecordName(key, n); strings.Compare(m, r) >= 0 {
			t.Errorf("the marker %q does not sort before record %d (%q)", m, n, r)
		}
	}
}
