package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3 is the [Objects] of a bucket reached through the S3 API. It owns the
// SDK's part: the retry policy and per-attempt timeouts (s3retry.go),
// reading bodies inside the retry loop, and classify, the one place that
// interprets S3 error codes.
type S3 struct {
	client *s3.Client
	bucket string

	attemptTimeout time.Duration // per attempt; 0 means none
	retryer        aws.Retryer   // for every request but the conditional create
	condRetryer    aws.Retryer   // for the conditional create
}

var _ Objects = (*S3)(nil)

// NewS3 returns the objects of bucket, reached through client. Each
// attempt of a request is bounded by attemptTimeout (0: none); the
// request as a whole is bounded by the [Store] over it.
func NewS3(client *s3.Client, bucket string, attemptTimeout time.Duration) *S3 {
	return &S3{client: client, bucket: bucket, attemptTimeout: attemptTimeout,
		retryer: newRetryer(false), condRetryer: newRetryer(true)}
}

// GetObject is one S3 GetObject request, with If-Match when ifMatch is
// set. The ETag of the answer is compared too, for stores that ignore
// If-Match.
func (s *S3) GetObject(ctx context.Context, key, ifMatch string) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if ifMatch != "" {
		in.IfMatch = &ifMatch
	}
	out, err := s.client.GetObject(ctx, in, s.requestOptions(false, true))
	if err != nil {
		return nil, classify(err)
	}
	defer out.Body.Close()
	if got := aws.ToString(out.ETag); ifMatch != "" && got != "" && got != ifMatch {
		return nil, &classified{kind: ErrExists, err: fmt.Errorf("ETag %s, want %s", got, ifMatch)}
	}
	size := aws.ToInt64(out.ContentLength)
	if b, ok := out.Body.(*readBody); ok && (size < 0 || int64(len(b.data)) == size) {
		return b.data, nil // read in full inside the retry loop (s3retry.go)
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(size, 0)))
	n, err := io.Copy(buf, out.Body)
	if err != nil {
		return nil, classify(err)
	}
	if size >= 0 && n != size {
		return nil, fmt.Errorf("short body: %d of %d bytes", n, size)
	}
	return buf.Bytes(), nil
}

// GetObjectRange is one S3 GetObject request with a Range header. The
// object's size comes from the answer's Content-Range.
func (s *S3) GetObjectRange(ctx context.Context, key string, off, n int64) ([]byte, int64, error) {
	if off < 0 || n <= 0 {
		return nil, 0, fmt.Errorf("invalid range: %d bytes from %d", n, off)
	}
	rng := fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key, Range: &rng}, s.requestOptions(false, true))
	if err != nil {
		return nil, 0, classify(err)
	}
	defer out.Body.Close()
	data := []byte(nil)
	if b, ok := out.Body.(*readBody); ok {
		data = b.data // read in full inside the retry loop (s3retry.go)
	} else if data, err = readAll(out.Body, aws.ToInt64(out.ContentLength)); err != nil {
		return nil, 0, classify(err)
	}
	if aws.ToString(out.ContentRange) == "" {
		// A server that ignores Range sends the whole object.
		size := int64(len(data))
		if off >= size {
			return nil, 0, fmt.Errorf("ranged get from %d of an object of %d bytes", off, size)
		}
		return data[off:min(off+n, size):min(off+n, size)], size, nil
	}
	size, err := rangeTotal(aws.ToString(out.ContentRange), off)
	if err != nil {
		return nil, 0, err
	}
	if int64(len(data)) != min(n, size-off) {
		return nil, 0, fmt.Errorf("ranged get of %d bytes from %d of an object of %d: %d bytes came", n, off, size, len(data))
	}
	return data, size, nil
}

// rangeTotal returns the object size a Content-Range header ("bytes
// 0-99/1234") of a range from off gives.
func rangeTotal(header string, off int64) (int64, error) {
	var first, last, size int64
	if _, err := fmt.Sscanf(header, "bytes %d-%d/%d", &first, &last, &size); err != nil || first != off || last < first || last >= size {
		return 0, fmt.Errorf("ranged get: Content-Range %q does not answer a range from %d", header, off)
	}
	return size, nil
}

// PutObject is one S3 PutObject request, with If-None-Match: * when
// ifNoneMatch is set.
func (s *S3) PutObject(ctx context.Context, key string, data []byte, ifNoneMatch bool) error {
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if ifNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.client.PutObject(ctx, in, s.requestOptions(ifNoneMatch, false)); err != nil {
		return classify(err)
	}
	return nil
}

// ListObjects is one ListObjectsV2 request.
func (s *S3) ListObjects(ctx context.Context, prefix, startAfter string, limit int) ([]Object, bool, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix, MaxKeys: aws.Int32(int32(limit))}
	if startAfter != "" {
		in.StartAfter = &startAfter
	}
	out, err := s.client.ListObjectsV2(ctx, in, s.requestOptions(false, false))
	if err != nil {
		return nil, false, classify(err)
	}
	objs := make([]Object, len(out.Contents))
	for i, o := range out.Contents {
		objs[i] = Object{aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToTime(o.LastModified), aws.ToString(o.ETag)}
	}
	return objs, aws.ToBool(out.IsTruncated), nil
}

// RemoveObjects is one DeleteObjects request.
func (s *S3) RemoveObjects(ctx context.Context, keys []string) error {
	ids := make([]types.ObjectIdentifier, len(keys))
	for i := range keys {
		ids[i] = types.ObjectIdentifier{Key: aws.String(keys[i])}
	}
	out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: &s.bucket,
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	}, s.requestOptions(false, false))
	if err != nil {
		return classify(err)
	}
	for _, e := range out.Errors {
		if aws.ToString(e.Code) != "NoSuchKey" {
			return &removeError{aws.ToString(e.Key), fmt.Errorf("%s: %s", aws.ToString(e.Code), aws.ToString(e.Message))}
		}
	}
	return nil
}

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
	if op := (*net.OpError)(nil); kind == nil && errors.As(err, &op) && op.Op == "dial" {
		return &classified{kind: errUnreachable, err: err, detail: fmt.Sprintf("%v: %v", op.Addr, op.Err)}
	}
	if kind == nil {
		return err
	}
	return &classified{kind: kind, err: err, detail: s3Detail(err, kind)}
}

// s3Detail returns the short account of a classified S3 error: its code
// and message (the message left out when it only repeats the kind), or
// the HTTP status of an answer without a code.
func s3Detail(err, kind error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		if msg := api.ErrorMessage(); msg != "" && !strings.EqualFold(strings.TrimSuffix(msg, "."), kind.Error()) {
			return api.ErrorCode() + ": " + msg
		}
		return api.ErrorCode()
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("HTTP %d", re.HTTPStatusCode())
	}
	return ""
}
