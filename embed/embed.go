// Package embed registers the s3vfs VFS as "s3" with no code: import it for
// its side effect and name a bucket in the database URI.
//
//	import (
//		_ "github.com/ncruces/go-sqlite3/driver"
//		_ "github.com/s3vfs/s3vfs/embed"
//	)
//
//	db, err := sql.Open("sqlite3", "file:my/app.db?vfs=s3&bucket=my-bucket")
//
// The bucket comes from the URI parameter bucket or, when the URI has none,
// from the environment variable S3VFS_BUCKET. One [s3vfs.VFS] is made per
// bucket, on first use, and shared by every database in it.
//
// The S3 client is built once from the standard AWS configuration chain
// (environment variables such as AWS_REGION, AWS_PROFILE,
// AWS_ACCESS_KEY_ID and AWS_ENDPOINT_URL_S3, then ~/.aws/config and
// ~/.aws/credentials). Set S3VFS_PATH_STYLE=1 for servers that need
// path-style addressing (MinIO, versitygw). On a store whose conditional
// writes cannot be trusted, keep the commits in a DynamoDB table (created
// with [dynamodb.CreateTable]): file:my/app.db?vfs=s3&bucket=my-bucket&coordinator=dynamodb&table=my-table;
// its client comes from the same AWS configuration (AWS_ENDPOINT_URL_DYNAMODB
// for another endpoint), and every process must name the same table.
// Set S3VFS_CACHE_DIR to keep the blocks read in a disk cache in that
// directory ([s3vfs.Options].CacheDir, with its default size), shared by
// the processes of the machine.
// Registering never fails: a
// missing bucket or missing credentials is an error when a database is
// opened. Programs that need [s3vfs.Options] or their own client call
// [s3vfs.New] and vfs.Register instead.
package embed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/dynamodb"
	"github.com/s3vfs/s3vfs/internal/awsconf"
	"github.com/s3vfs/s3vfs/internal/superjournal"
	"github.com/s3vfs/s3vfs/internal/uriparams"
)

// Name is the name the VFS is registered under.
const Name = "s3"

// EnvBucket names the environment variable that gives the bucket of a
// database whose URI has no bucket parameter.
const EnvBucket = "S3VFS_BUCKET"

// EnvCacheDir names the environment variable that gives the directory of
// the disk cache of every VFS the package makes ([s3vfs.Options].CacheDir);
// unset or empty, there is none.
const EnvCacheDir = "S3VFS_CACHE_DIR"

func init() {
	vfs.Register(Name, &registry{buckets: map[string]*s3vfs.VFS{}, awsConfig: awsConfig()})
}

// registry is the registered VFS: it routes each open to the VFS of the
// database's bucket.
type registry struct {
	mu        sync.Mutex
	buckets   map[string]*s3vfs.VFS      // by bucket and coordinator table; guarded by mu
	awsConfig func() (aws.Config, error) // the AWS configuration, loaded at the first use
}

var (
	_ vfs.VFS         = &registry{}
	_ vfs.VFSFilename = &registry{}
)

// Bucket returns the VFS that the registered "s3" VFS uses for bucket,
// creating it if needed, so that a program can read its [s3vfs.VFS.Stats]
// or call [s3vfs.VFS.Serialize].
func Bucket(bucket string) (*s3vfs.VFS, error) {
	r, ok := vfs.Find(Name).(*registry)
	if !ok {
		return nil, errors.New("s3vfs/embed: the VFS registered as \"s3\" is not this package's")
	}
	return r.bucket(bucket, "")
}

// bucket returns the VFS of the bucket name whose commits are kept in the
// DynamoDB table (URI parameters coordinator=dynamodb&table=), or in the
// bucket if table is empty.
func (r *registry) bucket(name, table string) (*s3vfs.VFS, error) {
	if name == "" {
		name = os.Getenv(EnvBucket)
	}
	if name == "" {
		return nil, fmt.Errorf("s3vfs: no bucket for the database: add &bucket=NAME to its URI (file:KEY?vfs=s3&bucket=NAME) or set %s", EnvBucket)
	}
	id := name + "\x00" + table
	r.mu.Lock()
	v := r.buckets[id]
	r.mu.Unlock()
	if v != nil {
		return v, nil
	}
	// Not under r.mu, which every open takes: loading the configuration
	// may wait seconds on the network (credential providers).
	cfg, err := r.awsConfig()
	if err != nil {
		return nil, err
	}
	c := awsconf.S3Client(cfg, "", false)
	opts := s3vfs.Options{CacheDir: os.Getenv(EnvCacheDir)}
	if table != "" {
		opts.Coordinator = dynamodb.NewCoordinator(awsdynamodb.NewFromConfig(cfg), table)
	}
	v, err = s3vfs.New(c, name, &opts)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if first := r.buckets[id]; first != nil {
		return first, nil // another open got here first: every open shares its VFS
	}
	r.buckets[id] = v
	return v, nil
}

// awsConfig returns a function that loads the AWS configuration once and
// checks that it has credentials; a failure is retried at the next call.
func awsConfig() func() (aws.Config, error) {
	return onceOK(loadAWSConfig)
}

// loadAWSConfig loads the AWS configuration and checks that it has
// credentials.
func loadAWSConfig() (aws.Config, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := awsconf.Load(ctx, awsconf.Options{})
	var noCreds *awsconf.CredentialsError
	switch {
	case errors.As(err, &noCreds) && noCreds.Err == nil:
		return cfg, errNoCredentials
	case errors.As(err, &noCreds):
		return cfg, fmt.Errorf("%w (%v)", errNoCredentials, noCreds.Err)
	case err != nil:
		return cfg, fmt.Errorf("s3vfs: loading the AWS configuration: %w", err)
	}
	return cfg, nil
}

var errNoCredentials = errors.New("s3vfs: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or configure ~/.aws/credentials")

// onceOK is sync.OnceValues that forgets failures.
func onceOK[T any](f func() (T, error)) func() (T, error) {
	var mu sync.Mutex
	var done bool
	var v T
	return func() (T, error) {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return v, nil
		}
		r, err := f()
		if err != nil {
			return r, err
		}
		v, done = r, true
		return v, nil
	}
}

// Open implements [vfs.VFS]. Without a URI there is no bucket parameter,
// so the bucket comes from S3VFS_BUCKET.
func (r *registry) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	switch {
	case flags&vfs.OPEN_SUPER_JOURNAL != 0 && name != "":
		return superjournal.Open(name, flags)
	case flags&vfs.OPEN_MAIN_DB == 0 || name == "":
		return r.OpenFilename(nil, flags)
	}
	v, err := r.bucket("", "")
	if err != nil {
		return nil, flags, vfs.SystemError(err, sqlite3.CANTOPEN)
	}
	return v.Open(name, flags)
}

// OpenFilename implements [vfs.VFSFilename].
func (r *registry) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	bucket, table := "", ""
	if name != nil {
		bucket = name.URIParameter("bucket")
		if name.URIParameter("coordinator") == "dynamodb" {
			table = name.URIParameter("table")
		}
	}
	if flags&vfs.OPEN_SUPER_JOURNAL != 0 && name != nil {
		return superjournal.Open(name.String(), flags)
	}
	if flags&vfs.OPEN_MAIN_DB == 0 && (name == nil || bucket == "" && os.Getenv(EnvBucket) == "") {
		// Temporary files and journals live in memory in every bucket's
		// VFS; they need no bucket.
		return &vfsutil.SliceFile{}, flags | vfs.OPEN_MEMORY, nil
	}
	if name != nil {
		// A typo (&bucekt=) is named as one, not taken for a missing bucket.
		if err := uriparams.Check(name.URIParameters()); err != nil {
			return nil, flags, vfs.SystemError(err, sqlite3.CANTOPEN)
		}
	}
	v, err := r.bucket(bucket, table)
	if err != nil {
		return nil, flags, vfs.SystemError(err, sqlite3.CANTOPEN)
	}
	return v.OpenFilename(name, flags)
}

// Delete implements [vfs.VFS]; see [s3vfs.VFS.Delete].
func (r *registry) Delete(name string, syncDir bool) error { return superjournal.Delete(name, syncDir) }

// Access implements [vfs.VFS]; see [s3vfs.VFS.Access].
func (r *registry) Access(name string, flags vfs.AccessFlag) (bool, error) {
	exists, _, err := superjournal.Exists(name, flags)
	return exists, err
}

// FullPathname implements [vfs.VFS]: database names are S3 keys.
func (r *registry) FullPathname(name string) (string, error) { return name, nil }
