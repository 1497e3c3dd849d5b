package testproc

import "os"

// Access is how a client reaches a test server: its base URL, its region
// and the static credentials it takes. The servers' packages embed it in
// their Server.
type Access struct {
	Endpoint  string // base URL, e.g. http://127.0.0.1:43121
	Region    string
	AccessKey string
	SecretKey string
}

// EnvRegion is the environment variable that gives an external server's
// region.
const EnvRegion = "AWS_REGION"

// defaultRegion is the region of a local server, and of an external one
// whose region EnvRegion does not give.
const defaultRegion = "us-east-1"

// ExternalAccess returns the Access of the external server the environment
// variable envEndpoint names: its region from AWS_REGION (us-east-1 when
// unset), its credentials from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY. It returns false when envEndpoint is unset or
// empty: the tests start a server of their own.
func ExternalAccess(envEndpoint string) (Access, bool) {
	ep := os.Getenv(envEndpoint)
	if ep == "" {
		return Access{}, false
	}
	region := os.Getenv(EnvRegion)
	if region == "" {
		region = defaultRegion
	}
	return Access{
		Endpoint:  ep,
		Region:    region,
		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}, true
}

// LocalAccess returns the Access of a server this process starts at addr
// (host:port): plain HTTP, the default region, and the fixed credentials
// [LocalAccessKey] and [LocalSecretKey], which such a server accepts.
func LocalAccess(addr string) Access {
	return Access{
		Endpoint:  "http://" + addr,
		Region:    defaultRegion,
		AccessKey: LocalAccessKey,
		SecretKey: LocalSecretKey,
	}
}

// The credentials of a server the tests start.
const (
	LocalAccessKey = "s3vfs-test"
	LocalSecretKey = "s3vfs-test-secret"
)
