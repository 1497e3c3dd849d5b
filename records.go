package s3vfs

import (
	"context"
	"errors"
	"fmt"

	"github.com/s3vfs/s3vfs/internal/commitlog"
	"github.com/s3vfs/s3vfs/internal/format"
)

// Coordinator is where a VFS keeps the commit records of its databases,
// and so where a commit happens: by default the bucket (a conditional
// create of K/_commits/…), or a DynamoDB table ([NewDynamoDBCoordinator])
// for stores whose conditional creates cannot be trusted. Blocks and
// checkpoints stay in the bucket either way. Every process that writes a
// database must use the same coordinator: a database coordinated
// elsewhere than its bucket carries a marker that the bucket's own
// coordinator refuses to write past.
type Coordinator struct {
	name string // for String

	// where names it in the marker a database it coordinates leaves in
	// its bucket (commitlog.Marker), byte for byte: "DynamoDB table T".
	where string
	// uri names it as the URI parameters do: "dynamodb&table=T".
	uri string
	// maxRecordSize bounds the records it keeps; a commit whose record
	// would be larger writes a checkpoint. 0: any.
	maxRecordSize int
	// records returns its log for a VFS of bucket (named in the fix of
	// its errors).
	records func(bucket string) commitlog.Log
}

// checkCoordinator returns an error if the URI parameters p ask for
// another coordinator than the VFS's: the database would be written with
// two commit points.
func (v *VFS) checkCoordinator(p params) error {
	if p.coordinator == "" {
		return nil
	}
	have := "bucket"
	if c := v.opts.Coordinator; c != nil {
		have = c.uri
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

// recordsInBucket reports whether the VFS keeps its commit records in its
// bucket: it has no coordinator.
func (v *VFS) recordsInBucket() bool { return v.opts.Coordinator == nil }

// claimCoordination runs before the first record of a database is created.
// With a coordinator outside the bucket, it leaves the marker that makes
// the bucket's coordinator refuse the database (or finds it, naming this
// coordinator), and refuses a database whose records are in the bucket.
func (db *database) claimCoordination(ctx context.Context) error {
	c := db.vfs.opts.Coordinator
	if c == nil {
		return nil
	}
	st := &db.vfs.store
	where := c.where
	switch got, err := st.Get(ctx, commitlog.Marker(db.key)); {
	case errors.Is(err, ErrNotFound):
		if err := st.Put(ctx, commitlog.Marker(db.key), []byte(where)); err != nil {
			return err
		}
	case err != nil:
		return err
	case string(got) != where:
		return commitlog.CoordinatedElsewhere(db.key, string(got))
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
	return commitlog.CoordinatedElsewhere(db.key, "the bucket (its records are under "+format.RecordPrefix(db.key)+")")
}
