package s3vfs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// recordStore keeps the commit records of databases, and with them the one
// commit point of the protocol: the create of record N succeeds for one
// writer only. Blocks and checkpoints always live in the bucket; records
// live in the bucket too (bucketRecords, the default), or with a
// coordinator for stores whose conditional creates cannot be trusted
// (docs/compatibility.md).
//
// The contract every implementation keeps:
//   - create makes record n of key hold data if no record n exists, and
//     fails with an error matching ErrExists if one does, even when
//     several writers race. Its outcome may be unknown on failure (a lost
//     answer): callers settle it with get.
//   - get returns what create stored, or an error matching ErrNotFound;
//     a record created before get was called is always found (strong
//     consistency).
//   - newest returns the highest record number, 0 if none, as of some
//     moment during the call.
//   - list calls fn for every record, in any order, with the time the
//     store created it by its clock (or the writer's, within the clock
//     skew docs/design.md assumes).
//   - remove deletes records; missing ones are not an error.
//
// Every method takes the caller's context and is safe for concurrent use.
type recordStore interface {
	create(ctx context.Context, key string, n uint64, data []byte) error
	get(ctx context.Context, key string, n uint64) ([]byte, error)
	newest(ctx context.Context, key string) (uint64, error)
	list(ctx context.Context, key string, fn func(n uint64, size int64, created time.Time) error) error
	remove(ctx context.Context, key string, ns []uint64) error
}

// bucketRecords keeps records as objects K/_commits/{…} of the bucket,
// created with If-None-Match: * (docs/format.md).
type bucketRecords struct{ st *store.Store }

func (b bucketRecords) create(ctx context.Context, key string, n uint64, data []byte) error {
	return b.st.Create(ctx, format.RecordName(key, n), data)
}

func (b bucketRecords) get(ctx context.Context, key string, n uint64) ([]byte, error) {
	return b.st.Get(ctx, format.RecordName(key, n))
}

// newest is one LIST of one key (records sort newest first); names under
// _commits/ that are not records (a folder marker) are stepped over, but
// the marker of a database coordinated elsewhere is refused.
func (b bucketRecords) newest(ctx context.Context, key string) (uint64, error) {
	marker := coordinatorMarker(key)
	name, err := b.st.First(ctx, format.RecordPrefix(key), func(name string) bool {
		_, ok := format.ParseRecordName(key, name)
		return ok || name == marker
	})
	if err != nil || name == "" {
		return 0, err
	}
	if name == marker {
		where, err := b.st.Get(ctx, marker)
		if err != nil {
			return 0, err
		}
		return 0, errCoordinatedElsewhere(key, string(where))
	}
	n, _ := format.ParseRecordName(key, name)
	return n, nil
}

func (b bucketRecords) list(ctx context.Context, key string, fn func(n uint64, size int64, created time.Time) error) error {
	return b.st.List(ctx, format.RecordPrefix(key), func(o store.Object) error {
		if n, ok := format.ParseRecordName(key, o.Key); ok {
			return fn(n, o.Size, o.LastModified)
		}
		return nil
	})
}

func (b bucketRecords) remove(ctx context.Context, key string, ns []uint64) error {
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = format.RecordName(key, n)
	}
	return b.st.Remove(ctx, names)
}

// Coordinator is where a VFS keeps the commit records of its databases,
// and so where a commit happens: by default the bucket (a conditional
// create of K/_commits/…), or a DynamoDB table ([NewDynamoDBCoordinator])
// for stores whose conditional creates cannot be trusted. Blocks and
// checkpoints stay in the bucket either way. Every process that writes a
// database must use the same coordinator: a database coordinated
// elsewhere than its bucket carries a marker that the bucket's own
// coordinator refuses to write past.
type Coordinator struct {
	name    string
	records recordStore
}

// checkCoordinator returns an error if the URI parameters p ask for
// another coordinator than the VFS's: the database would be written with
// two commit points.
func (v *VFS) checkCoordinator(p params) error {
	if p.coordinator == "" {
		return nil
	}
	have := "bucket"
	if d, ok := v.records.(dynamoRecords); ok {
		have = "dynamodb&table=" + d.table
	}
	want := p.coordinator
	if want == "dynamodb" {
		want += "&table=" + p.table
	}
	if have != want {
		return fmt.Errorf("s3vfs: the URI asks for coordinator=%s but this VFS keeps commits with coordinator=%s: "+
			"give the VFS that coordinator (Options.Coordinator), or fix the URI", want, have)
	}
	return nil
}

// String names the coordinator, for messages.
func (c *Coordinator) String() string { return c.name }

// coordinatorMarker is the object a database coordinated outside its
// bucket keeps among its record names, so that a process using the
// bucket's coordinator refuses it rather than fork its history. It sorts
// before every record, so the LIST that finds the head finds it first.
func coordinatorMarker(key string) string { return format.RecordPrefix(key) + "!coordinator" }

// errCoordinatedElsewhere reports a database whose commits are kept by
// another coordinator than the one in use.
func errCoordinatedElsewhere(key, where string) error {
	return fmt.Errorf("s3vfs: %s: its commits are kept by %s: open it with that coordinator (Options.Coordinator); "+
		"writing here would fork its history", key, where)
}

// claimCoordination runs before the first record of a database is created.
// With a coordinator outside the bucket, it leaves the marker that makes
// the bucket's coordinator refuse the database (or finds it, naming this
// coordinator), and refuses a database whose records are in the bucket.
func (db *database) claimCoordination(ctx context.Context) error {
	c, ok := db.vfs.records.(dynamoRecords)
	if !ok {
		return nil
	}
	st := &db.vfs.store
	where := "DynamoDB table " + c.table
	switch got, err := st.Get(ctx, coordinatorMarker(db.key)); {
	case errors.Is(err, ErrNotFound):
		if err := st.Put(ctx, coordinatorMarker(db.key), []byte(where)); err != nil {
			return err
		}
	case err != nil:
		return err
	case string(got) != where:
		return errCoordinatedElsewhere(db.key, string(got))
	}
	return db.refuseBucketRecords(ctx)
}

// refuseBucketRecords returns an error if the database has records in the
// bucket although a coordinator outside it is in use: it was created
// without the coordinator, and reading it through the coordinator would
// show it empty.
func (db *database) refuseBucketRecords(ctx context.Context) error {
	name, err := db.vfs.store.First(ctx, format.RecordPrefix(db.key), func(name string) bool {
		_, ok := format.ParseRecordName(db.key, name)
		return ok
	})
	if err != nil || name == "" {
		return err
	}
	return errCoordinatedElsewhere(db.key, "the bucket (its records are under "+format.RecordPrefix(db.key)+")")
}
