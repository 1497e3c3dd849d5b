package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The retry policy of every request the VFS makes. Failed attempts that
// the SDK deems transient (5xx, SlowDown, connection resets, timeouts of
// one attempt, bodies cut short) are retried with jittered exponential
// backoff, up to maxAttempts in all, within the request timeout of the
// Store (the root's Options.RequestTimeout).
const (
	maxAttempts = 10
	baseBackoff = 20 * time.Millisecond
	maxBackoff  = 2 * time.Second
)

// newRetryer returns the SDK standard retryer with the VFS's policy:
// more attempts than the SDK default, a short jittered backoff, and no
// retry quota (a quota shared by every connection would turn a burst of
// faults into failed transactions). Every request the VFS makes is either
// idempotent (GET, LIST, DELETE, PUT of an immutable object under a name
// unique to the commit attempt) or settled by reading back (the
// conditional create of a commit record, see the engine's CreateRecord), so
// retrying is always safe.
func newRetryer(conditional bool) aws.Retryer {
	r := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.Backoff = retry.BackoffDelayerFunc(backoff)
		o.RateLimiter = ratelimit.None
	})
	if conditional {
		// S3 answers 409 ConditionalRequestConflict to a conditional write
		// that races another on the same key and asks for a retry; a retry
		// then gets 412 if the other write won.
		return retry.AddWithErrorCodes(r, "ConditionalRequestConflict")
	}
	return r
}

// backoff is "full jitter" exponential backoff: a random delay up to
// baseBackoff·2^attempt, at most maxBackoff.
func backoff(attempt int, _ error) (time.Duration, error) {
	ceil := maxBackoff
	if attempt < 20 {
		ceil = min(maxBackoff, baseBackoff<<attempt)
	}
	return time.Duration(rand.Int64N(int64(ceil)) + 1), nil
}

// requestOptions configures one S3 operation of the store: the retry
// policy, a timeout per attempt (so a hung connection is retried rather
// than waited on until the whole request times out), and, for GETs,
// reading the body inside the attempt so that a body cut short is retried
// by the SDK like any other transient failure.
//
// It also turns off the SDK's validation of response checksums, whatever
// the client's setting: the objects of the format carry CRC-32C checksums
// of their own, checked on every read and on every store, while the SDK
// validates only where the store sends checksum headers and, where it does
// not (MinIO), logs a line per GET through the client's logger, which
// writes to stderr by default. The client's logger and log mode are left
// as the caller set them.
func (s *S3) requestOptions(conditional, readBody bool) func(*s3.Options) {
	return func(o *s3.Options) {
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
		if conditional {
			o.Retryer = s.condRetryer
		} else {
			o.Retryer = s.retryer
		}
		if s.attemptTimeout > 0 && o.HTTPClient != nil {
			o.HTTPClient = attemptClient{o.HTTPClient, s.attemptTimeout}
		}
		if readBody {
			o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
				return st.Deserialize.Add(readBodyMiddleware, middleware.After)
			})
		}
	}
}

// attemptClient bounds each HTTP attempt, the reading of its body
// included, by timeout.
type attemptClient struct {
	next    s3.HTTPClient
	timeout time.Duration
}

// Do implements the SDK's HTTP client.
func (c attemptClient) Do(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), c.timeout)
	resp, err := c.next.Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		return resp, err
	}
	resp.Body = &cancelBody{resp.Body, cancel}
	return resp, nil
}

// cancelBody releases the attempt's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

// Close implements [io.Closer].
func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// readBodyMiddleware reads a successful response's body in full, inside
// the retry loop: an error or a short read becomes a retryable error.
var readBodyMiddleware = middleware.DeserializeMiddlewareFunc("s3vfsReadBody",
	func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
		middleware.DeserializeOutput, middleware.Metadata, error,
	) {
		out, md, err := next.HandleDeserialize(ctx, in)
		if err != nil {
			return out, md, err
		}
		resp, ok := out.RawResponse.(*smithyhttp.Response)
		if !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 || resp.Body == nil {
			return out, md, err
		}
		data, rerr := readAll(resp.Body, resp.ContentLength)
		resp.Body.Close()
		if rerr != nil {
			return out, md, &bodyError{rerr}
		}
		resp.Body = &readBody{bytes.NewReader(data), data}
		return out, md, nil
	})

// readBody is a response body read in full by readBodyMiddleware. Its
// bytes are handed over as they are (getObject), not copied: a block GET
// then allocates its block once.
type readBody struct {
	*bytes.Reader
	data []byte
}

// Close implements [io.Closer].
func (*readBody) Close() error { return nil }

// bodyError is a response body that could not be read in full; the SDK
// retries it.
type bodyError struct{ err error }

// Error implements error.
func (e *bodyError) Error() string { return "reading response body: " + e.err.Error() }

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *bodyError) Unwrap() error { return e.err }

// RetryableError tells the SDK's retryer to try again.
func (e *bodyError) RetryableError() bool { return true }

// readAll reads a body of size bytes (-1: unknown) in full. A body of
// known size goes into a buffer of exactly that size: a bytes.Buffer would
// grow to twice a block to find the end, and the block cache would then
// hold (and the collector reclaim) the larger buffer.
func readAll(body io.Reader, size int64) ([]byte, error) {
	if size > 0 {
		buf := make([]byte, size)
		n, err := io.ReadFull(body, buf)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, fmt.Errorf("short body: %d of %d bytes", n, size)
		}
		if err != nil {
			return nil, err
		}
		if m, _ := body.Read(make([]byte, 1)); m > 0 {
			return nil, fmt.Errorf("body longer than its %d bytes", size)
		}
		return buf, nil
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, body); err != nil {
		return nil, err
	}
	if size >= 0 && int64(buf.Len()) != size {
		return nil, fmt.Errorf("short body: %d of %d bytes", buf.Len(), size)
	}
	return buf.Bytes(), nil
}
