package commitlog

import (
	"context"
	"fmt"
	"time"

	"github.com/s3vfs/s3vfs/internal/format"
	"github.com/s3vfs/s3vfs/internal/store"
)

// Log keeps the commit records of databases, by database key and commit
// number: the five record operations of the commit protocol, and the
// overwrite of a removal. Its contract
// is the package doc's.
type Log interface {
	// Create makes record n of key hold data, if no record n exists.
	Create(ctx context.Context, key string, n uint64, data []byte) error
	// Get returns the bytes of record n of key.
	Get(ctx context.Context, key string, n uint64) ([]byte, error)
	// Newest returns the highest record number of key, 0 if none.
	Newest(ctx context.Context, key string) (uint64, error)
	// List calls fn for every record of key, in any order.
	List(ctx context.Context, key string, fn func(n uint64, size int64, created time.Time) error) error
	// Remove deletes the records ns of key.
	Remove(ctx context.Context, key string, ns []uint64) error
	// Overwrite makes record n of key, which exists, hold data instead:
	// the one write of a record that is not its create, by the removal of
	// a database, with a record that says it is removed. A record deleted
	// meanwhile may be made again or reported missing (ErrNotFound).
	Overwrite(ctx context.Context, key string, n uint64, data []byte) error
}

// Bucket keeps records as objects K/_commits/{…} of the bucket, created
// with If-None-Match: * (docs/format.md). It is the log of a VFS without
// a coordinator.
type Bucket struct{ st *store.Store }

var _ Log = Bucket{}

// NewBucket returns the log whose records are objects of st.
func NewBucket(st *store.Store) Bucket { return Bucket{st} }

// Create is one conditional PUT.
func (b Bucket) Create(ctx context.Context, key string, n uint64, data []byte) error {
	return b.st.Create(ctx, format.RecordName(key, n), data)
}

// Get is one GET.
func (b Bucket) Get(ctx context.Context, key string, n uint64) ([]byte, error) {
	return b.st.Get(ctx, format.RecordName(key, n))
}

// Newest is one LIST of one key (records sort newest first); names under
// _commits/ that are not records (a folder marker) are stepped over, but
// the marker of a database coordinated elsewhere ([Marker]) is refused
// with the error of [CoordinatedElsewhere], naming what the marker holds
// (one more GET).
func (b Bucket) Newest(ctx context.Context, key string) (uint64, error) {
	marker := Marker(key)
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
		return 0, CoordinatedElsewhere(key, string(where))
	}
	n, _ := format.ParseRecordName(key, name)
	return n, nil
}

// List lists the records' objects, with their LastModified; names that
// are not records are stepped over.
func (b Bucket) List(ctx context.Context, key string, fn func(n uint64, size int64, created time.Time) error) error {
	return b.st.List(ctx, format.RecordPrefix(key), func(o store.Object) error {
		if n, ok := format.ParseRecordName(key, o.Key); ok {
			return fn(n, o.Size, o.LastModified)
		}
		return nil
	})
}

// Overwrite is one plain PUT.
func (b Bucket) Overwrite(ctx context.Context, key string, n uint64, data []byte) error {
	return b.st.Put(ctx, format.RecordName(key, n), data)
}

// Remove deletes the records' objects in batches.
func (b Bucket) Remove(ctx context.Context, key string, ns []uint64) error {
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = format.RecordName(key, n)
	}
	return b.st.Remove(ctx, names)
}

// Marker is the name of the object a database coordinated outside its
// bucket keeps among its record names, holding the name of its
// coordinator, so that a process using the bucket's log refuses it
// rather than fork its history. It sorts before every record, so the
// LIST that finds the head finds it first.
func Marker(key string) string { return format.RecordPrefix(key) + "!coordinator" }

// CoordinatedElsewhere returns the error that reports the database at key
// as one whose commits are kept by where, another coordinator than the
// one in use.
func CoordinatedElsewhere(key, where string) error {
	return fmt.Errorf("s3vfs: %s: its commits are kept by %s: open it with that coordinator (Options.Coordinator); "+
		"writing here would fork its history", key, where)
}
