package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/dynamodb"
	"github.com/s3vfs/s3vfs/internal/awsconf"
)

// awsFlags are the flags every command that talks to S3 shares. Anything
// not set comes from the standard AWS chain: environment variables, then
// the shared config and credentials files (~/.aws/config, ~/.aws/credentials).
type awsFlags struct {
	profile   string
	region    string
	endpoint  string
	pathStyle bool
	blockSize int
	retention time.Duration // --retention, where the command has it
	table     string        // --dynamodb-table: the commits' DynamoDB table
	cacheDir  string        // --cache-dir: the disk cache of the blocks read
	timeout   time.Duration // --timeout: Options.RequestTimeout; 0 for the default

	cfg aws.Config // loaded by client
}

func (a *awsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.profile, "profile", "", "AWS shared config `profile` (default $AWS_PROFILE or \"default\")")
	fs.StringVar(&a.region, "region", "", "AWS `region` (default $AWS_REGION, the profile's region, or us-east-1)")
	fs.StringVar(&a.endpoint, "endpoint", "", "S3 endpoint `URL` for S3-compatible servers (default $AWS_ENDPOINT_URL_S3)")
	fs.BoolVar(&a.pathStyle, "path-style", false, "address buckets as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT (MinIO, versitygw)")
	fs.StringVar(&a.cacheDir, "cache-dir", "", "keep the blocks read in a disk cache in this `directory`, shared with later runs (at most 1 GiB)")
	fs.Var(durationFlag{&a.timeout}, "timeout", "give up on an S3 request, retries included, after this `duration` (default "+fmtDuration(s3vfs.DefaultRequestTimeout)+")")
	fs.StringVar(&a.table, "dynamodb-table", "", "keep the commits in this DynamoDB `table` (for stores without conditional writes; endpoint from $AWS_ENDPOINT_URL_DYNAMODB)")
}

// client builds an S3 client from the standard AWS configuration chain and
// the flags, and checks that credentials exist so that a missing login is
// reported up front rather than as a failed request.
func (a *awsFlags) client(ctx context.Context) (*s3.Client, error) {
	if a.endpoint != "" {
		if u, err := url.Parse(a.endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, usagef("--endpoint %q is not a URL: write it as http://host:port or https://host", a.endpoint)
		}
	}
	cfg, err := awsconf.Load(ctx, awsconf.Options{Profile: a.profile, Region: a.region, CredentialsTimeout: 10 * time.Second})
	var (
		noCreds *awsconf.CredentialsError
		missing config.SharedConfigProfileNotExistError
	)
	switch {
	case errors.As(err, &noCreds):
		if noCreds.Err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errNoCredentials
	case errors.As(err, &missing):
		return nil, fmt.Errorf("s3vfs: AWS profile %q does not exist: fix --profile or AWS_PROFILE, or add the profile to ~/.aws/config", missing.Profile)
	case err != nil:
		return nil, fmt.Errorf("s3vfs: loading the AWS configuration: %w (check AWS_* variables and ~/.aws/config)", err)
	}
	a.cfg = cfg
	return awsconf.S3Client(cfg, a.endpoint, a.pathStyle), nil
}

var errNoCredentials = errors.New("s3vfs: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pick a profile with --profile or AWS_PROFILE (see \"aws configure\")")

// vfs builds the VFS for t's bucket.
func (a *awsFlags) vfs(ctx context.Context, t target) (*s3vfs.VFS, error) {
	c, err := a.client(ctx)
	if err != nil {
		return nil, err
	}
	opts := &s3vfs.Options{BlockSize: a.blockSize, Retention: a.retention, CacheDir: a.cacheDir, RequestTimeout: a.timeout}
	if a.table != "" {
		opts.Coordinator = dynamodb.NewCoordinator(a.dynamodb(), a.table)
	}
	return s3vfs.New(c, t.bucket, opts)
}

// dynamodb returns a DynamoDB client from the configuration client loaded.
func (a *awsFlags) dynamodb() *awsdynamodb.Client { return awsdynamodb.NewFromConfig(a.cfg) }
