package s3vfs

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors that classify S3 failures; match them with [errors.Is].
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

// objectStore is the seam between the VFS and the place its objects live:
// the S3 API (s3Objects) or, in tests, memory. One bucket stands behind
// each value. The store wrapper below adds what every implementation
// shares: counting, the per-request timeout, naming the operation and key
// in errors, and paging.
//
// The contract every implementation keeps, checked by one conformance
// suite (store_conformance_test.go) that each of them runs:
//   - Errors are classified: a missing object matches ErrNotFound, a lost
//     conditional write ErrExists, refused credentials ErrAccessDenied, a
//     missing bucket ErrNoBucket, an unsupported request errNotImplemented.
//     Any other error is transient or unknown; it is not classified.
//   - getObject returns the whole object. With ifMatch set it returns it
//     only while its ETag is ifMatch, and fails matching ErrExists after
//     the object changed.
//   - putObject stores data under key. With ifNoneMatch it stores it only
//     if no object of that name exists, and fails matching ErrExists
//     otherwise — for exactly one of any number of racing writers. An
//     error may leave the outcome unknown (the answer was lost); callers
//     settle it by reading back.
//   - listObjects returns, in ascending byte order of key, up to limit
//     objects under prefix whose key sorts after startAfter ("" for the
//     first page), and whether more follow. A completed put is listed
//     (strong consistency).
//   - removeObjects deletes up to maxRemoveBatch objects in one request;
//     missing ones are not an error.
//   - Every method honours the cancellation of ctx, and is safe for
//     concurrent use.
type objectStore interface {
	getObject(ctx context.Context, key, ifMatch string) ([]byte, error)
	putObject(ctx context.Context, key string, data []byte, ifNoneMatch bool) error
	listObjects(ctx context.Context, prefix, startAfter string, limit int) (objs []object, more bool, err error)
	removeObjects(ctx context.Context, keys []string) error
}

// maxRemoveBatch is the most keys one removeObjects call takes: S3's
// DeleteObjects limit.
const maxRemoveBatch = 1000

// listPage is the number of keys a listing asks for at once: S3's limit.
const listPage = 1000

// object is one entry of a listing.
type object struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string
}

// store is the narrow object interface the rest of the package uses. Every
// call takes a context, runs within the VFS's request timeout, counts
// itself in stats, and returns errors wrapped once with the operation and
// key (an *Error) and classified by the objectStore.
type store struct {
	objects objectStore
	bucket  string
	stats   *counters
	timeout time.Duration // per request, retries included; 0 means none

	// endpoint names where the bucket is (endpointOf), for the verdict of
	// its self-test kept in disk (storeverdict.go); "" keeps none.
	endpoint string
}

func (s *store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.timeout)
}

// get returns the bytes of an object, or an error matching ErrNotFound.
func (s *store) get(ctx context.Context, key string) ([]byte, error) {
	return s.getIfMatch(ctx, key, "")
}

// getIfMatch is get of the object only while its ETag is etag (any if
// empty); otherwise it fails with an error matching ErrExists.
func (s *store) getIfMatch(ctx context.Context, key, etag string) ([]byte, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.stats.gets.Add(1)
	data, err := s.objects.getObject(ctx, key, etag)
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	s.stats.received.Add(int64(len(data)))
	return data, nil
}

// put writes an object unconditionally. Only block objects and checkpoints
// use it; their names are unique per commit attempt, so nothing is ever
// overwritten.
func (s *store) put(ctx context.Context, key string, data []byte) error {
	return s.putObject(ctx, "put", key, data, false)
}

// create writes an object only if no object of that name exists
// (If-None-Match: *). It fails with an error matching ErrExists otherwise.
func (s *store) create(ctx context.Context, key string, data []byte) error {
	return s.putObject(ctx, "create", key, data, true)
}

func (s *store) putObject(ctx context.Context, op, key string, data []byte, ifNoneMatch bool) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.stats.puts.Add(1)
	if err := s.objects.putObject(ctx, key, data, ifNoneMatch); err != nil {
		return s.wrap(op, key, err)
	}
	s.stats.sent.Add(int64(len(data)))
	return nil
}

// listPage is one LIST request, within the request timeout.
func (s *store) listPage(ctx context.Context, prefix, startAfter string, limit int) ([]object, bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.stats.lists.Add(1)
	objs, more, err := s.objects.listObjects(ctx, prefix, startAfter, limit)
	if err != nil {
		return nil, false, s.wrap("list", prefix, err)
	}
	return objs, more, nil
}

// first returns the first key under prefix, in listing order, that accept
// accepts, or "" if there is none. One LIST of one key answers when the
// first key is accepted; other keys (a folder marker the S3 console made,
// a stray upload) are stepped over with further pages.
func (s *store) first(ctx context.Context, prefix string, accept func(string) bool) (string, error) {
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

// list calls fn for every object under prefix, in key order. Each page is
// one request within the request timeout; fn's time does not count.
func (s *store) list(ctx context.Context, prefix string, fn func(object) error) error {
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

// remove deletes objects, in batches of up to maxRemoveBatch, each one
// request within the request timeout. Missing objects are not an error.
func (s *store) remove(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), maxRemoveBatch)]
		keys = keys[len(batch):]
		if err := s.removeBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) removeBatch(ctx context.Context, batch []string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.stats.deletes.Add(1)
	if err := s.objects.removeObjects(ctx, batch); err != nil {
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

func (e *removeError) Error() string { return e.key + ": " + e.err.Error() }
func (e *removeError) Unwrap() error { return e.err }

// wrap names the operation, bucket and key of an error the objectStore
// classified.
func (s *store) wrap(op, key string, err error) error {
	return &Error{Op: op, Bucket: s.bucket, Key: key, Err: err}
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

func (c *classified) Error() string {
	if c.detail != "" {
		return c.kind.Error() + " (" + c.detail + ")"
	}
	return c.kind.Error() + ": " + c.err.Error()
}
func (c *classified) Unwrap() []error { return []error{c.kind, c.err} }
