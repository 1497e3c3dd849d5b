// Package s3server runs a real S3 server for tests, the demo and the
// benchmarks.
//
// By default it builds (once per machine, cached by version) and starts
// versitygw with its POSIX backend on a loopback port, so no account and no
// network are needed. Set S3VFS_TEST_ENDPOINT (with AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and optionally AWS_REGION) to run against another
// S3-compatible server such as MinIO or AWS instead.
//
// Package s3proxy counts and slows down the requests a client sends it;
// package s3test injects faults for the tests.
package s3server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s3vfs/s3vfs/internal/testproc"
)

// VersitygwVersion is the version of versitygw that [Start] builds and runs.
const VersitygwVersion = "v1.8.0"

const versitygwModule = "github.com/versity/versitygw/cmd/versitygw"

// Environment variables that point the tests at an external server.
const (
	EnvEndpoint = "S3VFS_TEST_ENDPOINT" // e.g. http://127.0.0.1:9000
	EnvRegion   = testproc.EnvRegion
)

// Server is a running S3 server: either a versitygw process owned by this
// Server, or an external endpoint named by S3VFS_TEST_ENDPOINT.
type Server struct {
	testproc.Access // where it answers, and its credentials

	proc    *testproc.Proc // nil for an external server
	dataDir string

	mu      sync.Mutex
	buckets map[string]bool // made by CreateBucket and not yet removed; guarded by mu
	retried []string        // removals that took more than one round, with the first failure; guarded by mu
}

// Start returns a running server. Progress messages (such as the one-time
// build of versitygw) go to logf, which may be nil.
func Start(ctx context.Context, logf func(format string, args ...any)) (*Server, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if access, ok := testproc.ExternalAccess(EnvEndpoint); ok {
		return &Server{Access: access}, nil
	}
	bin, err := Binary(ctx, logf)
	if err != nil {
		return nil, err
	}
	return startVersitygw(ctx, bin)
}

// Binary returns the path of a versitygw binary: the one S3VFS_VERSITYGW
// names, or one of [VersitygwVersion] built with `go install` into the
// user cache directory the first time. Later calls, in this or any other
// process, reuse the cached binary.
func Binary(ctx context.Context, logf func(format string, args ...any)) (string, error) {
	if p := os.Getenv("S3VFS_VERSITYGW"); p != "" {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "s3vfs", "versitygw-"+VersitygwVersion)
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("s3server: create cache dir: %w", err)
	}
	// Serialise concurrent builds (several test packages start at once).
	unlock, err := testproc.Lock(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("s3server: lock build dir: %w", err)
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	goBin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("s3server: %w", err)
	}
	defer os.RemoveAll(tmp)
	logf("s3server: building versitygw %s into %s (first run on this machine only, about 2 minutes)", VersitygwVersion, dir)
	cmd := exec.CommandContext(ctx, goBin, "install", versitygwModule+"@"+VersitygwVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("s3server: no S3 server available: building versitygw failed: %w\n%s\n"+
			"Fix: make the Go module proxy reachable, or set S3VFS_VERSITYGW to a versitygw binary, "+
			"or set %s to an S3-compatible endpoint", err, out, EnvEndpoint)
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), bin); err != nil {
		return "", fmt.Errorf("s3server: %w", err)
	}
	return bin, nil
}

func startVersitygw(ctx context.Context, bin string) (*Server, error) {
	dataDir, err := os.MkdirTemp("", "s3vfs-s3-")
	if err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}
	a, err := testproc.FreeAddr()
	if err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}
	addr := a.String()

	s := &Server{Access: testproc.LocalAccess(addr), dataDir: dataDir}
	cmd := exec.Command(bin, "--port", addr, "--quiet", "--keep-alive", "posix", dataDir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	if s.proc, err = testproc.Start(cmd); err != nil {
		os.RemoveAll(dataDir)
		return nil, fmt.Errorf("s3server: start versitygw: %w", err)
	}

	err = s.proc.AwaitReady(ctx, 20*time.Millisecond, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err == nil {
		return s, nil
	}
	s.Close()
	switch {
	case errors.Is(err, testproc.ErrExited):
		return nil, fmt.Errorf("s3server: versitygw exited at start: %v\n%s", s.proc.State(), s.proc.Output())
	case errors.Is(err, testproc.ErrNotReady):
		return nil, errors.New("s3server: versitygw did not start listening within 30s")
	}
	return nil, err
}

// DataDir is the directory where the local server keeps objects, each as
// a plain file at DataDir/bucket/key (empty for an external server). Tests
// that change objects behind the library's back do it through the S3 API,
// which works on every server.
func (s *Server) DataDir() string { return s.dataDir }

// Close stops the server (if this process started it) and removes its data.
func (s *Server) Close() {
	if s.proc != nil {
		s.proc.Stop()
	}
	if s.dataDir != "" {
		os.RemoveAll(s.dataDir)
	}
}

var httpClientOnce = sync.OnceValue(func() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 64
	})
})

// Client returns an S3 client for endpoint (the server's own when empty),
// with path-style addressing and the server's static credentials.
func (s *Server) Client(endpoint string) *s3.Client {
	if endpoint == "" {
		endpoint = s.Endpoint
	}
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		UsePathStyle: true,
		HTTPClient:   httpClientOnce(),
	})
}

// AWSEnv returns the environment variables, as KEY=VALUE, that point the
// standard AWS configuration chain at s alone: its endpoint, region and
// credentials, path-style addressing, and no shared config or credentials
// file and no instance metadata.
func (s *Server) AWSEnv() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		"S3VFS_PATH_STYLE=1",
	}
}

// CreateBucket creates a bucket with a fresh random name and returns it.
// The server remembers it until [Server.RemoveBucket] removes it;
// [Server.RemoveBuckets] removes the ones still there.
func (s *Server) CreateBucket(ctx context.Context) (string, error) {
	// Read while the tests run, the variable keys go test's cache of their
	// results (what a TestMain reads before them does not), so that a run
	// against another server is not answered from the cache of this one.
	os.Getenv(EnvEndpoint)
	name := "s3vfs-" + testproc.RandomHex(8)
	_, err := s.Client("").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("s3server: create bucket %s at %s: %w", name, s.Endpoint, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets == nil {
		s.buckets = map[string]bool{}
	}
	s.buckets[name] = true
	return name, nil
}

// RemoveBucket deletes every object in bucket and then the bucket itself.
// A bucket that is gone already counts as removed. Objects that appear
// while it empties the bucket (a writer not yet stopped) are deleted in a
// later round, for up to about 15 seconds.
func (s *Server) RemoveBucket(ctx context.Context, bucket string) error {
	var err, first error
	for round := range 20 {
		if round > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("s3server: remove bucket %s: %w (%w)", bucket, ctx.Err(), err)
			case <-time.After(time.Duration(min(round, 10)) * 100 * time.Millisecond):
			}
		}
		if err = s.removeBucket(ctx, bucket); err == nil {
			s.mu.Lock()
			delete(s.buckets, bucket)
			if round > 0 {
				s.retried = append(s.retried, fmt.Sprintf("%s (%d rounds): %v", bucket, round+1, first))
			}
			s.mu.Unlock()
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return fmt.Errorf("s3server: remove bucket %s: %w", bucket, err)
}

// removeBucket is one attempt of RemoveBucket.
func (s *Server) removeBucket(ctx context.Context, bucket string) error {
	c := s.Client("")
	for {
		// Always the first page: the objects listed before are deleted.
		page, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if noSuchBucket(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			break
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	if noSuchBucket(err) {
		return nil
	}
	return err
}

func noSuchBucket(err error) bool {
	var nsb *types.NoSuchBucket
	var api smithy.APIError
	return errors.As(err, &nsb) || errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket"
}

// RemoveBuckets removes every bucket [Server.CreateBucket] made that
// [Server.RemoveBucket] has not removed: those of tests that keep theirs to
// the end (examples, fuzz targets) and of cleanups that failed. It returns
// how many it removed, and an error naming those it could not remove.
// Test binaries call it before they exit, so that no bucket outlives them
// on an external server.
func (s *Server) RemoveBuckets(ctx context.Context) (int, error) {
	s.mu.Lock()
	var names []string
	for b := range s.buckets {
		names = append(names, b)
	}
	s.mu.Unlock()
	sort.Strings(names)
	var errs []error
	for _, b := range names {
		if err := s.RemoveBucket(ctx, b); err != nil {
			errs = append(errs, err)
		}
	}
	return len(names) - len(errs), errors.Join(errs...)
}

// Sweep is [Server.RemoveBuckets] for the TestMain of a test binary that
// exits with code: it returns code, or 1 after reporting on stderr the
// buckets it could not remove.
func (s *Server) Sweep(code int) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n, err := s.RemoveBuckets(ctx)
	if n > 0 {
		fmt.Fprintf(os.Stderr, "s3server: removed %d buckets left at the end\n", n)
	}
	s.mu.Lock()
	for _, r := range s.retried {
		fmt.Fprintf(os.Stderr, "s3server: removed bucket %s\n", r)
	}
	s.mu.Unlock()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left buckets at %s that could not be removed:\n%v\n", s.Endpoint, err)
		return 1
	}
	return code
}

// Keys lists every object key in bucket under prefix, in order.
func (s *Server) Keys(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(""), &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}
