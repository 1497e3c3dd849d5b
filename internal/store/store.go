package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors that classify S3 failures; match them with [errors.Is]. The root
// package exports the same values.
var (
	// ErrNotFound reports an object or bucket that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists reports a conditional create that lost: the object exists.
	ErrExists = errors.New("object already exists")
	// ErrAccessDenied reports rejected credentials or missing permissions.
	ErrAccessDenied = errors.New("access denied")
	// ErrNoBucket reports a bucket that does not exist.
	ErrNoBucket = errors.New("bucket does not exist")

	// errUnreachable reports a store no connection could be opened to.
	errUnreachable = errors.New("cannot reach S3")

	// errNotImplemented reports a request the store does not implement
	// (501), such as a conditional create on a store without them.
	errNotImplemented = errors.New("not implemented by the store")
)

// Objects is the seam between the VFS and the place its objects live: a
// bucket reached through the S3 API ([S3]) or kept in memory ([Mem]). One
// bucket stands behind each value. Every implementation keeps the contract
// of the package doc, checked by storetest.Run; [Store] adds what they
// all share.
type Objects interface {
	GetObject(ctx context.Context, key, ifMatch string) ([]byte, error)
	// GetObjectRange returns the bytes of key from off, at most n of
	// them (fewer at the object's end), and the object's whole size. off
	// must be below the size, or it fails.
	GetObjectRange(ctx context.Context, key string, off, n int64) (data []byte, size int64, err error)
	PutObject(ctx context.Context, key string, data []byte, ifNoneMatch bool) error
	ListObjects(ctx context.Context, prefix, startAfter string, limit int) (objs []Object, more bool, err error)
	RemoveObjects(ctx context.Context, keys []string) error
}

// MaxRemoveBatch is the most keys one RemoveObjects call takes: S3's
// DeleteObjects limit.
const MaxRemoveBatch = 1000

// listPage is the number of keys a listing asks for at once: S3's limit.
const listPage = 1000

// Object is one entry of a listing.
type Object struct {
	Key          string
	Size         int64     // in bytes
	LastModified time.Time // by the store's clock
	ETag         string    // as the store quotes it; GetObject's ifMatch takes it as it is
}

// Store is the narrow object interface the layers above use, over one
// bucket's [Objects]. Every call takes a context, runs within Timeout,
// counts itself in Counters, and returns errors wrapped once with the
// operation and key (an [*Error]) and classified by the Objects.
type Store struct {
	Objects  Objects       // the bucket's objects
	Bucket   string        // the bucket's name, for errors and the verdict of its self-test
	Counters *Counters     // where the requests count; must be set before a request
	Timeout  time.Duration // per request, retries included; 0 means none

	// Endpoint names where the bucket is (engine.EndpointOf), for the
	// verdict of its self-test kept in the disk cache; "" keeps none.
	Endpoint string
}

func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.Timeout)
}

// Get returns the bytes of an object, or an error matching ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	return s.GetIfMatch(ctx, key, "")
}

// GetIfMatch is Get of the object only while its ETag is etag (any if
// empty); otherwise it fails with an error matching ErrExists.
func (s *Store) GetIfMatch(ctx context.Context, key, etag string) ([]byte, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.Counters.Gets.Add(1)
	data, err := s.Objects.GetObject(ctx, key, etag)
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	s.Counters.Received.Add(int64(len(data)))
	return data, nil
}

// GetRange returns at most n bytes of an object from off, fewer at its
// end, and the object's size; off must be below the size.
func (s *Store) GetRange(ctx context.Context, key string, off, n int64) ([]byte, int64, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.Counters.Gets.Add(1)
	data, size, err := s.Objects.GetObjectRange(ctx, key, off, n)
	if err != nil {
		return nil, 0, s.wrap("get", key, err)
	}
	s.Counters.Received.Add(int64(len(data)))
	return data, size, nil
}

// Put writes an object unconditionally, replacing any object of that
// name. Callers use it for names no other writer creates (for the commit
// protocol, names unique per commit attempt); a name several writers may
// race for takes Create.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	return s.putObject(ctx, "put", key, data, false)
}

// Create writes an object only if no object of that name exists
// (If-None-Match: *). It fails with an error matching ErrExists otherwise.
func (s *Store) Create(ctx context.Context, key string, data []byte) error {
	return s.putObject(ctx, "create", key, data, true)
}

func (s *Store) putObject(ctx context.Context, op, key string, data []byte, ifNoneMatch bool) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.Counters.Puts.Add(1)
	if err := s.Objects.PutObject(ctx, key, data, ifNoneMatch); err != nil {
		return s.wrap(op, key, err)
	}
	s.Counters.Sent.Add(int64(len(data)))
	return nil
}

// listPage is one LIST request, within the request timeout.
func (s *Store) listPage(ctx context.Context, prefix, startAfter string, limit int) ([]Object, bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.Counters.Lists.Add(1)
	objs, more, err := s.Objects.ListObjects(ctx, prefix, startAfter, limit)
	if err != nil {
		return nil, false, s.wrap("list", prefix, err)
	}
	return objs, more, nil
}

// First returns the first key under prefix, in listing order, that accept
// accepts, or "" if there is none. One LIST of one key answers when the
// first key is accepted; other keys (a folder marker the S3 console made,
// a stray upload) are stepped over with further pages.
func (s *Store) First(ctx context.Context, prefix string, accept func(string) bool) (string, error) {
	after, limit := "", 1
	for {
		objs, more, err := s.listPage(ctx, prefix, after, limit)
		if err != nil {
			return "", err
		}
		for _, o := range objs {
			if accept(o.Key) {
				return o.Key, nil
			}
		}
		if len(objs) == 0 || !more {
			return "", nil
		}
		after, limit = objs[len(objs)-1].Key, listPage
	}
}

// List calls fn for every object under prefix, in key order. Each page is
// one request within the request timeout; fn's time does not count.
func (s *Store) List(ctx context.Context, prefix string, fn func(Object) error) error {
	after := ""
	for {
		objs, more, err := s.listPage(ctx, prefix, after, listPage)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(objs) == 0 || !more {
			return nil
		}
		after = objs[len(objs)-1].Key
	}
}

// Remove deletes objects, in batches of up to MaxRemoveBatch, each one
// request within the request timeout. Missing objects are not an error.
func (s *Store) Remove(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), MaxRemoveBatch)]
		keys = keys[len(batch):]
		if err := s.removeBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) removeBatch(ctx context.Context, batch []string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.Counters.Deletes.Add(1)
	if err := s.Objects.RemoveObjects(ctx, batch); err != nil {
		var one *removeError
		if errors.As(err, &one) {
			return s.wrap("delete", one.key, one.err)
		}
		return s.wrap("delete", batch[0], err)
	}
	return nil
}

// removeError names the one key of a batch that could not be removed.
type removeError struct {
	key string
	err error
}

// Error implements error.
func (e *removeError) Error() string { return e.key + ": " + e.err.Error() }

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *removeError) Unwrap() error { return e.err }

// wrap names the operation, bucket and key of an error the Objects
// classified.
func (s *Store) wrap(op, key string, err error) error {
	return &Error{Op: op, Bucket: s.Bucket, Key: key, Err: err}
}

// Error is an S3 failure: the operation, the object, and the cause. Its
// cause matches one of ErrNotFound, ErrExists, ErrAccessDenied or
// ErrNoBucket where the failure is one of those.
type Error struct {
	Op     string // get, put, create, list or delete
	Bucket string
	Key    string // the object, or the prefix of a listing
	Err    error  // the cause, classified
}

// Error names the operation and object, the cause, and the fix where known.
func (e *Error) Error() string {
	msg := fmt.Sprintf("s3vfs: %s s3://%s/%s: %v", e.Op, e.Bucket, e.Key, e.Err)
	switch {
	case errors.Is(e.Err, ErrNoBucket):
		msg += " (create the bucket, or fix the bucket name)"
	case errors.Is(e.Err, ErrAccessDenied):
		msg += " (check the AWS credentials and their permissions on this bucket)"
	case errors.Is(e.Err, errUnreachable):
		msg += " (check the endpoint, and that the server runs and the network reaches it)"
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// classified pairs a sentinel with the underlying error, and what its
// message says of it: the store's short account (an S3 error code and
// message, without the SDK's request and host IDs), or "" for the whole
// underlying message. The underlying error stays reachable (errors.As).
type classified struct {
	kind   error
	err    error
	detail string
}

// Error implements error.
func (c *classified) Error() string {
	if c.detail != "" {
		return c.kind.Error() + " (" + c.detail + ")"
	}
	return c.kind.Error() + ": " + c.err.Error()
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (c *classified) Unwrap() []error { return []error{c.kind, c.err} }

// WithKind returns err classified as kind, one of the sentinels above: it
// matches both, and its message is kind's, then err's. A store of records
// outside the bucket (the DynamoDB coordinator) classifies its errors with
// it, as the bucket's are.
func WithKind(kind, err error) error { return &classified{kind: kind, err: err} }
