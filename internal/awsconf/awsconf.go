// Package awsconf loads the AWS configuration the way every s3vfs program
// does (the embed package and the s3vfs command): from the standard chain,
// with a default region and credentials checked up front, and builds the S3
// client from it.
package awsconf

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

// DefaultRegion is the region of a configuration that names none.
const DefaultRegion = "us-east-1"

// EnvPathStyle names the environment variable that, set to 1, addresses
// buckets as ENDPOINT/BUCKET (MinIO, versitygw).
const EnvPathStyle = "S3VFS_PATH_STYLE"

// Options select what [Load] reads. The zero value reads the standard
// chain as it is.
type Options struct {
	Profile string // shared config profile; empty: $AWS_PROFILE or "default"
	Region  string // region; empty: $AWS_REGION or the profile's

	// CredentialsTimeout bounds the retrieval of the credentials; zero
	// leaves it to ctx.
	CredentialsTimeout time.Duration
}

// CredentialsError reports a configuration without usable credentials.
type CredentialsError struct {
	Err error // why the provider failed; nil when the chain has no provider
}

// Error implements error.
func (e *CredentialsError) Error() string {
	if e.Err == nil {
		return "no AWS credentials"
	}
	return "no AWS credentials: " + e.Err.Error()
}

// Unwrap returns the provider's failure.
func (e *CredentialsError) Unwrap() error { return e.Err }

// Load loads the configuration from the standard chain (environment
// variables, then ~/.aws/config and ~/.aws/credentials) and o, sets the
// region to [DefaultRegion] where none is configured, and retrieves the
// credentials once, so that a missing login is reported before the first
// request. A failure to load is the SDK's error, unwrapped; missing or
// failing credentials are a [*CredentialsError].
//
// The configuration logs nothing: the SDK's default logger writes to
// stderr, and what it writes unasked (such as a DEBUG line for every GET
// from a store that sends no response checksum, MinIO among them) is noise
// to the user of a command or of a program embedding s3vfs, which report
// failures themselves.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithLogger(logging.Nop{}),
		config.WithClientLogMode(0),
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, err
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Credentials == nil {
		return cfg, &CredentialsError{}
	}
	cctx := ctx
	if o.CredentialsTimeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, o.CredentialsTimeout)
		defer cancel()
	}
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		return cfg, &CredentialsError{Err: err}
	}
	return cfg, nil
}

// S3Client returns the S3 client of cfg. A non-empty endpoint replaces the
// configured one; buckets are addressed path-style if pathStyle or if
// $S3VFS_PATH_STYLE is 1.
//
// Response checksums are validated only where an operation requires it
// (none of those s3vfs makes): the objects of the s3vfs format carry
// CRC-32C checksums of their own, checked on every store, whereas the
// SDK's validation depends on the store sending checksum headers (MinIO
// does not) and otherwise logs that it skipped. Request checksums stay as
// configured (by default computed and sent with every upload).
func S3Client(cfg aws.Config, endpoint string, pathStyle bool) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle || os.Getenv(EnvPathStyle) == "1"
	})
}
