package s3vfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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

	// errNotImplemented reports a request the store does not implement
	// (501), such as a conditional create on a store without them.
	errNotImplemented = errors.New("not implemented by the store")
)

// store is the narrow S3 interface the rest of the package uses. Every call
// takes a context, counts itself in stats, and returns errors wrapped once
// with the operation and key and classified by classify.
type store struct {
	client  *s3.Client
	bucket  string
	stats   *counters
	timeout time.Duration // per request attempt chain; 0 means none

	attemptTimeout time.Duration // per attempt; 0 means none
	retryer        aws.Retryer   // for every request but the conditional create
	condRetryer    aws.Retryer   // for the conditional create
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
// empty); otherwise it fails with an error matching ErrExists (412). The
// ETag of the answer is compared too, for stores that ignore If-Match.
func (s *store) getIfMatch(ctx context.Context, key, etag string) ([]byte, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.stats.gets.Add(1)
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if etag != "" {
		in.IfMatch = &etag
	}
	out, err := s.client.GetObject(ctx, in, s.requestOptions(false, true))
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	defer out.Body.Close()
	if got := aws.ToString(out.ETag); etag != "" && got != "" && got != etag {
		return nil, s.wrap("get", key, &classified{kind: ErrExists, err: fmt.Errorf("ETag %s, want %s", got, etag)})
	}
	size := aws.ToInt64(out.ContentLength)
	buf := bytes.NewBuffer(make([]byte, 0, max(size, 0)))
	n, err := io.Copy(buf, out.Body)
	s.stats.received.Add(n)
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	if size >= 0 && n != size {
		return nil, s.wrap("get", key, fmt.Errorf("short body: %d of %d bytes", n, size))
	}
	return buf.Bytes(), nil
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
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if ifNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	s.stats.puts.Add(1)
	if _, err := s.client.PutObject(ctx, in, s.requestOptions(ifNoneMatch, false)); err != nil {
		return s.wrap(op, key, err)
	}
	s.stats.sent.Add(int64(len(data)))
	return nil
}

// first returns the first key under prefix, in listing order, that accept
// accepts, or "" if there is none. One LIST of one key answers when the
// first key is accepted; other keys (a folder marker the S3 console made,
// a stray upload) are stepped over with further pages.
func (s *store) first(ctx context.Context, prefix string, accept func(string) bool) (string, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix, MaxKeys: aws.Int32(1)}
	for {
		s.stats.lists.Add(1)
		out, err := s.client.ListObjectsV2(ctx, in, s.requestOptions(false, false))
		if err != nil {
			return "", s.wrap("list", prefix, err)
		}
		for _, o := range out.Contents {
			if key := aws.ToString(o.Key); accept(key) {
				return key, nil
			}
		}
		if len(out.Contents) == 0 || !aws.ToBool(out.IsTruncated) {
			return "", nil
		}
		in.StartAfter = out.Contents[len(out.Contents)-1].Key
		in.MaxKeys = aws.Int32(1000)
	}
}

// object is one entry of a listing.
type object struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string
}

// list calls fn for every object under prefix, in key order.
func (s *store) list(ctx context.Context, prefix string, fn func(object) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		s.stats.lists.Add(1)
		page, err := p.NextPage(ctx, s.requestOptions(false, false))
		if err != nil {
			return s.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(object{aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToTime(o.LastModified), aws.ToString(o.ETag)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// remove deletes objects in batches of up to 1000 (DeleteObjects).
// Missing objects are not an error.
func (s *store) remove(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 1000)]
		keys = keys[len(batch):]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(batch[i])}
		}
		s.stats.deletes.Add(1)
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		}, s.requestOptions(false, false))
		if err != nil {
			return s.wrap("delete", batch[0], err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				return s.wrap("delete", aws.ToString(e.Key), fmt.Errorf("%s: %s", aws.ToString(e.Code), aws.ToString(e.Message)))
			}
		}
	}
	return nil
}

// wrap names the operation, bucket and key, and classifies err.
func (s *store) wrap(op, key string, err error) error {
	return &Error{Op: op, Bucket: s.bucket, Key: key, Err: classify(err)}
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
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// classified pairs a sentinel with the underlying SDK error.
type classified struct {
	kind error
	err  error
}

func (c *classified) Error() string   { return c.kind.Error() + ": " + c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.kind, c.err} }

// classify is the one place that interprets S3 error codes.
func classify(err error) error {
	var kind error
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound":
			kind = ErrNotFound
		case "NoSuchBucket":
			kind = ErrNoBucket
		case "PreconditionFailed", "ConditionalRequestConflict":
			kind = ErrExists
		case "NotImplemented":
			kind = errNotImplemented
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden", "ExpiredToken", "InvalidToken",
			"XAdminUserNotFound": // versitygw's answer (404) to an unknown access key
			kind = ErrAccessDenied
		}
	}
	if kind == nil {
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) {
			switch re.HTTPStatusCode() {
			case http.StatusNotFound:
				kind = ErrNotFound
			case http.StatusPreconditionFailed:
				kind = ErrExists
			case http.StatusForbidden:
				kind = ErrAccessDenied
			case http.StatusNotImplemented:
				kind = errNotImplemented
			}
		}
	}
	if kind == nil {
		return err
	}
	return &classified{kind: kind, err: err}
}
